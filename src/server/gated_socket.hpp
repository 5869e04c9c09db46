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
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/assert.hpp>
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

    template <class MutableBuffers, class Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token) {
        return socket_.async_read_some(buffers, std::forward<Token>(token));
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

    tcp::socket socket_;
    std::unique_ptr<waiting_write> waiting_;
    bool busy_ = false;
};

// Beast's close handshake ends with a teardown of the next layer, found by ADL.
template <class Handler>
void async_teardown(beast::role_type role, gated_socket& s, Handler&& handler) {
    beast::websocket::async_teardown(role, s.next_layer(), std::forward<Handler>(handler));
}
inline void teardown(beast::role_type role, gated_socket& s, error_code& ec) {
    beast::websocket::teardown(role, s.next_layer(), ec);
}

}  // namespace wsgate
