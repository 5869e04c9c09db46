// The TCP socket under a session's websocket::stream, shared by two writers that take turns:
// Beast, for the frames it writes itself (the 101 response, pings, pongs and close frames),
// and the session, which writes the data frames itself: their headers are encoded once per
// message (message::header) and several queued frames go out in one gathered write. Beast
// cannot do either: its write op frames one message per call.
//
// Each write runs to completion (every byte) before the other writer's starts, so frames
// never interleave on the wire. Beast serializes its own writes and the session keeps one
// batch in flight, so at most one write runs and at most one waits.
//
// Lifetime: the socket lives inside its session, which pending handlers keep alive. A
// waiting write's handler also holds the session, so a running write whose handler is
// destroyed without being run (io_context shutdown) drops the waiter with it; otherwise the
// pair would keep each other alive.
//
// Reads go through a meter: every byte read from the client after the upgrade passes here,
// including the frames Beast reads and discards during a close handshake and what the
// teardown drains after it, so the session's byte budget holds in every phase. A read that
// takes the count past the cap cuts the socket.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/assert.hpp>
#include <cstdint>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "util/net.hpp"

namespace wsgate {

class gated_socket {
public:
    using executor_type = tcp::socket::executor_type;
    using next_layer_type = tcp::socket;
    using lowest_layer_type = tcp::socket;

    explicit gated_socket(tcp::socket s) : socket_(std::move(s)) {}

    executor_type get_executor() noexcept { return socket_.get_executor(); }
    tcp::socket& next_layer() noexcept { return socket_; }

    /// Reads as the socket does, through the meter: a read that takes bytes_read() past
    /// the cap closes the socket and completes with connection_aborted.
    template <class MutableBuffers, class Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token) {
        // async_compose passes the caller's associated executor, allocator and
        // cancellation slot on to the socket's read.
        return net::async_compose<Token, void(error_code, std::size_t)>(
            [this, buffers, started = false](auto& self, error_code ec = {},
                                             std::size_t n = 0) mutable {
                if (!started) {
                    started = true;
                    return socket_.async_read_some(buffers, std::move(self));
                }
                if (!ec && !meter(n)) ec = net::error::connection_aborted;
                self.complete(ec, n);
            },
            token, socket_);
    }

    /// Bytes read since the last reset_read_meter().
    std::uint32_t bytes_read() const noexcept { return bytes_read_; }
    /// A read went past the cap and the socket was cut.
    bool read_cut() const noexcept { return read_cut_; }
    /// Reads past `cap` bytes (since the last reset) cut the socket.
    void set_read_cap(std::uint32_t cap) noexcept { read_cap_ = cap; }
    /// Starts a new budget window. Shard thread.
    void reset_read_meter() noexcept { bytes_read_ = 0; }

    /// Beast's teardown (websocket::async_teardown for a TCP socket) with every byte
    /// drained through the meter: a peer that answers our close frame and then keeps
    /// sending is cut at the cap, not read until the close deadline. Otherwise the same:
    /// the server shuts down its sending side, reads until EOF so that unread data does not
    /// turn the close into a reset, then closes the socket.
    template <class Token>
    auto async_teardown(beast::role_type role, Token&& token) {
        return net::async_compose<Token, void(error_code)>(teardown_op{*this, role}, token,
                                                           socket_);
    }

    /// Writes *all* of `buffers` once no other write is running, then completes with the
    /// byte count. Beast's writes arrive here; the session's batches too.
    template <class ConstBuffers, class Token>
    auto async_write_some(const ConstBuffers& buffers, Token&& token) {
        return net::async_initiate<Token, void(error_code, std::size_t)>(
            [this](auto handler, const ConstBuffers& b) {
                if (!busy_) {
                    busy_ = true;
                    start(b, std::move(handler));
                    return;
                }
                // The other writer's write is running and this one is the only one that can
                // be waiting. Its buffers stay valid until it completes (the caller's
                // contract), so copying the descriptors is enough.
                BOOST_ASSERT(!waiting_);  // one writer each side, each one write at a time
                waiting_ = std::make_unique<waiting_write>(
                    std::vector<net::const_buffer>(net::buffer_sequence_begin(b),
                                                   net::buffer_sequence_end(b)),
                    std::move(handler));
            },
            token, buffers);
    }

private:
    struct waiting_write {
        // Constructed in place: Boost 1.81's any_completion_handler move assignment recurses
        // without end (it copies from an lvalue through its converting constructor).
        template <class Handler>
        waiting_write(std::vector<net::const_buffer> b, Handler&& h)
            : buffers(std::move(b)), handler(std::forward<Handler>(h)) {}

        std::vector<net::const_buffer> buffers;
        net::any_completion_handler<void(error_code, std::size_t)> handler;
    };

    // Completes the running write: starts the waiting one, if any, then calls the handler.
    template <class Handler>
    struct done_handler {
        gated_socket* gate;
        Handler handler;

        done_handler(gated_socket* g, Handler h) : gate(g), handler(std::move(h)) {}
        done_handler(done_handler&& o) noexcept
            : gate(std::exchange(o.gate, nullptr)), handler(std::move(o.handler)) {}
        done_handler& operator=(done_handler&&) = delete;
        ~done_handler() {
            // Destroyed without running (io_context shutdown): the waiter can never start.
            if (gate) gate->waiting_.reset();
        }

        void operator()(error_code ec, std::size_t n) {
            std::exchange(gate, nullptr)->next();
            std::move(handler)(ec, n);
        }
    };

    template <class ConstBuffers, class Handler>
    void start(const ConstBuffers& buffers, Handler handler) {
        auto ex = net::get_associated_executor(handler, socket_.get_executor());
        net::async_write(
            socket_, buffers,
            net::bind_executor(std::move(ex), done_handler<Handler>(this, std::move(handler))));
    }

    void next() {
        if (!waiting_) {
            busy_ = false;
            return;
        }
        auto w = std::move(waiting_);
        // Always an rvalue: the converting constructor of Boost 1.81's
        // any_completion_handler also accepts an lvalue and then wraps it in itself without
        // end. The write operation keeps its own copy of the descriptors.
        start(w->buffers, std::move(w->handler));
    }

    // Counts `n` bytes read; false (and the socket closed) once past the cap.
    bool meter(std::size_t n) noexcept {
        const std::uint32_t room = std::numeric_limits<std::uint32_t>::max() - bytes_read_;
        bytes_read_ += n < room ? static_cast<std::uint32_t>(n) : room;
        if (bytes_read_ <= read_cap_) return true;
        read_cut_ = true;
        error_code ignored;
        socket_.close(ignored);
        return false;
    }

    struct teardown_op {
        gated_socket& gate;
        beast::role_type role;
        enum class step : std::uint8_t { start, wait, finish } at = step::start;

        template <class Self>
        void operator()(Self& self, error_code ec = {}) {
            auto& s = gate.socket_;
            switch (at) {
                case step::start:
                    s.non_blocking(true, ec);
                    if (!ec && role == beast::role_type::server)
                        s.shutdown(net::socket_base::shutdown_send, ec);
                    if (!ec) ec = drain();
                    if (ec == net::error::would_block) break;
                    // Done without waiting: complete from the executor, not inside the
                    // initiating call.
                    at = step::finish;
                    return net::post(s.get_executor(),
                                     beast::bind_front_handler(std::move(self), ec));
                case step::wait:
                    if (!ec) ec = drain();
                    if (ec == net::error::would_block) break;
                    return self.complete(ec);
                case step::finish:
                    return self.complete(ec);
            }
            at = step::wait;
            s.async_wait(net::socket_base::wait_read, std::move(self));
        }

        // Reads what is there; would_block when it must wait, success at EOF (the socket
        // then closed), another error when the read failed or the peer went past the cap.
        error_code drain() {
            auto& s = gate.socket_;
            error_code ec;
            for (;;) {
                char buf[2048];
                const std::size_t n = s.read_some(net::buffer(buf), ec);
                if (ec == net::error::eof) break;
                if (ec) return ec;
                if (!gate.meter(n)) return net::error::connection_aborted;
                if (n == 0) break;  // https://github.com/boostorg/beast/issues/1373
            }
            ec = {};
            if (role == beast::role_type::client) s.shutdown(net::socket_base::shutdown_send, ec);
            if (!ec) s.close(ec);
            return ec;
        }
    };

    tcp::socket socket_;
    std::unique_ptr<waiting_write> waiting_;
    std::uint32_t bytes_read_ = 0;
    std::uint32_t read_cap_ = std::numeric_limits<std::uint32_t>::max();
    bool busy_ = false;
    bool read_cut_ = false;
};

// Beast's close handshake ends with a teardown of the next layer, found by ADL.
template <class Handler>
void async_teardown(beast::role_type role, gated_socket& s, Handler&& handler) {
    s.async_teardown(role, std::forward<Handler>(handler));
}
inline void teardown(beast::role_type role, gated_socket& s, error_code& ec) {
    beast::websocket::teardown(role, s.next_layer(), ec);
}

}  // namespace wsgate
