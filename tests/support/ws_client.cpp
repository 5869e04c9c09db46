// ws_client over Beast with one persistent read per connection (control frames are only
// processed while a read is pending), run on demand under deadlines; http_request with its
// own io_context; raw_connection over a non-blocking socket and poll(2).
#include "ws_client.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <deque>
#include <functional>
#include <ostream>

namespace wsgate::test {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = net::ip::tcp;
using boost::system::error_code;
using steady = std::chrono::steady_clock;

namespace {

// Runs `ioc` until `done()` or the deadline. Returns done(). Stops early when the context
// has no work left, because then nothing can make done() true.
bool run_until(net::io_context& ioc, const std::function<bool()>& done,
               steady::time_point deadline) {
    while (!done()) {
        const auto now = steady::now();
        if (now >= deadline) return false;
        if (ioc.stopped()) ioc.restart();
        const auto n = ioc.run_one_for(deadline - now);
        if (n == 0 && ioc.stopped() && !done()) {
            ioc.restart();
            return false;
        }
    }
    return true;
}

void print_escaped(std::ostream& os, std::string_view s) {
    constexpr std::size_t max_shown = 80;
    os << '"';
    for (std::size_t i = 0; i < s.size() && i < max_shown; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            os << s[i];
        } else {
            static constexpr char hex[] = "0123456789abcdef";
            os << "\\x" << hex[c >> 4] << hex[c & 15];
        }
    }
    os << '"';
    if (s.size() > max_shown) os << "...(" << s.size() << " bytes)";
}

}  // namespace

std::ostream& operator<<(std::ostream& os, const ws_message& m) {
    os << (m.binary ? "binary " : "text ");
    print_escaped(os, m.payload);
    return os;
}

std::ostream& operator<<(std::ostream& os, const close_result& r) {
    if (!r.ended) return os << "close_result{still open}";
    if (r.got_close_frame) {
        os << "close_result{code=" << r.code << ", reason=";
        print_escaped(os, r.reason);
        return os << '}';
    }
    return os << "close_result{no close frame, error=" << r.error.message() << '}';
}

net::io_context& test_io_context() {
    static net::io_context ioc(1);
    return ioc;
}

void pump(std::chrono::milliseconds d, net::io_context& ioc) {
    const auto deadline = steady::now() + d;
    while (steady::now() < deadline) {
        if (ioc.stopped()) ioc.restart();
        if (ioc.run_one_until(deadline) == 0 && ioc.stopped()) {
            ioc.restart();
            // No work at all: nothing to pump, so waiting would only be a sleep.
            return;
        }
    }
}

// Everything a connection's handlers touch; handlers own it through shared_ptr, so a
// destroyed ws_client leaves nothing dangling in the shared io_context.
struct ws_client::state : std::enable_shared_from_this<ws_client::state> {
    explicit state(net::io_context& ioc) : ws(ioc) {}

    websocket::stream<tcp::socket> ws;
    beast::flat_buffer buffer;
    websocket::response_type response;
    std::string host;
    std::string target;
    header_list headers;
    int receive_buffer = 0;

    bool connecting = false;
    bool connected = false;  // handshake finished OK
    error_code connect_error;

    bool paused = false;
    bool reading = false;  // a read is pending
    bool ended = false;
    close_result end;

    std::deque<ws_message> inbox;
    std::size_t discarded = 0;
    std::size_t pongs = 0;
    std::size_t pings = 0;

    std::string outgoing;  // payload of the write in flight
    bool writing = false;
    error_code write_error;

    bool closing = false;  // our close handshake in flight
    bool pinging = false;  // our ping in flight
    error_code ping_error;

    void finish(error_code ec) {
        if (ended) return;
        ended = true;
        end.ended = true;
        if (ec == websocket::error::closed) {
            end.got_close_frame = true;
            end.code = static_cast<std::uint16_t>(ws.reason().code);
            end.reason = std::string(ws.reason().reason.data(), ws.reason().reason.size());
        } else {
            end.error = ec;
        }
    }

    void do_read() {
        if (reading || ended || paused || !connected) return;
        reading = true;
        ws.async_read(buffer, [self = shared_from_this()](error_code ec, std::size_t) {
            self->reading = false;
            // During our own close handshake Beast hands the read over to async_close and
            // ends it with operation_aborted; the close handler records the outcome.
            if (ec == net::error::operation_aborted && self->closing) return;
            if (ec) return self->finish(ec);
            self->inbox.push_back(
                ws_message{beast::buffers_to_string(self->buffer.data()), self->ws.got_binary()});
            self->buffer.consume(self->buffer.size());
            self->do_read();
        });
    }

    void start_connect(std::uint16_t port) {
        connecting = true;
        error_code ec;
        auto& sock = ws.next_layer();
        sock.open(tcp::v4(), ec);
        if (!ec && receive_buffer > 0)
            sock.set_option(net::socket_base::receive_buffer_size(receive_buffer), ec);
        if (ec) {
            connecting = false;
            connect_error = ec;
            return;
        }
        ws.control_callback([w = weak_from_this()](websocket::frame_type kind, auto) {
            auto self = w.lock();
            if (!self) return;
            if (kind == websocket::frame_type::pong) ++self->pongs;
            if (kind == websocket::frame_type::ping) ++self->pings;
        });
        ws.set_option(
            websocket::stream_base::decorator([h = headers](websocket::request_type& req) {
                req.set(http::field::user_agent, "wsgate-test");
                for (const auto& [name, value] : h) req.set(name, value);
            }));
        ws.read_message_max(64 * 1024 * 1024);
        tcp::endpoint ep(net::ip::make_address_v4("127.0.0.1"), port);
        sock.async_connect(ep, [self = shared_from_this()](error_code cec) {
            if (cec) {
                self->connecting = false;
                self->connect_error = cec;
                return;
            }
            error_code ignored;
            self->ws.next_layer().set_option(tcp::no_delay(true), ignored);
            self->ws.async_handshake(self->response, self->host, self->target,
                                     [self](error_code hec) {
                                         self->connecting = false;
                                         self->connect_error = hec;
                                         if (hec) return;
                                         self->connected = true;
                                         self->do_read();
                                     });
        });
    }

    void close_socket() {
        error_code ignored;
        ws.next_layer().close(ignored);
    }
};

ws_client::ws_client(net::io_context& ioc) : ioc_(ioc), st_(std::make_shared<state>(ioc)) {}

ws_client::~ws_client() {
    if (st_->ws.next_layer().is_open()) st_->close_socket();
    // Let the aborted handlers run now rather than in some later test's wait.
    auto st = st_;
    run_until(
        ioc_,
        [st] {
            return !st->reading && !st->connecting && !st->writing && !st->closing && !st->pinging;
        },
        steady::now() + 1s);
}

void ws_client::set_receive_buffer(int bytes) { st_->receive_buffer = bytes; }

void ws_client::pause_reading() { st_->paused = true; }

void ws_client::resume_reading() {
    st_->paused = false;
    st_->do_read();
}

void ws_client::start_connect(std::uint16_t port, std::string_view target,
                              const header_list& headers) {
    st_->host = "127.0.0.1:" + std::to_string(port);
    st_->target = std::string(target);
    st_->headers = headers;
    st_->start_connect(port);
}

bool ws_client::connect_done() const { return !st_->connecting; }

error_code ws_client::finish_connect(std::chrono::milliseconds timeout) {
    auto st = st_;
    if (!run_until(
            ioc_, [st] { return !st->connecting; }, steady::now() + timeout)) {
        st->close_socket();
        run_until(
            ioc_, [st] { return !st->connecting; }, steady::now() + 1s);
        return net::error::timed_out;
    }
    return st->connect_error;
}

error_code ws_client::connect(std::uint16_t port, std::string_view target,
                              const header_list& headers, std::chrono::milliseconds timeout) {
    start_connect(port, target, headers);
    return finish_connect(timeout);
}

int ws_client::http_status() const { return static_cast<int>(st_->response.result_int()); }

std::optional<ws_message> ws_client::read(std::chrono::milliseconds timeout) {
    auto st = st_;
    run_until(
        ioc_, [st] { return !st->inbox.empty() || st->ended; }, steady::now() + timeout);
    if (st->inbox.empty()) return std::nullopt;
    auto m = std::move(st->inbox.front());
    st->inbox.pop_front();
    return m;
}

std::optional<std::string> ws_client::read_text(std::chrono::milliseconds timeout) {
    auto m = read(timeout);
    if (!m) return std::nullopt;
    if (m->binary) {
        ADD_FAILURE() << "expected a text message, got " << *m;
        return std::nullopt;
    }
    return std::move(m->payload);
}

close_result ws_client::read_until_close(std::chrono::milliseconds timeout) {
    auto st = st_;
    if (st->paused) resume_reading();
    run_until(
        ioc_,
        [st] {
            st->discarded += st->inbox.size();
            st->inbox.clear();
            return st->ended;
        },
        steady::now() + timeout);
    return st->end;
}

error_code ws_client::send_text(std::string_view payload, std::chrono::milliseconds timeout) {
    return send_frame(false, payload, timeout);
}

error_code ws_client::send_binary(std::string_view payload, std::chrono::milliseconds timeout) {
    return send_frame(true, payload, timeout);
}

error_code ws_client::send_frame(bool binary, std::string_view payload,
                                 std::chrono::milliseconds timeout) {
    auto st = st_;
    auto& ioc = ioc_;
    if (!st->connected || st->ended) return net::error::not_connected;
    if (st->writing) return net::error::in_progress;
    st->outgoing.assign(payload);
    st->writing = true;
    st->write_error = {};
    st->ws.binary(binary);
    st->ws.async_write(net::buffer(st->outgoing), [st](error_code ec, std::size_t) {
        st->writing = false;
        st->write_error = ec;
    });
    if (!run_until(
            ioc, [st] { return !st->writing; }, steady::now() + timeout))
        return net::error::timed_out;
    return st->write_error;
}

bool ws_client::ping(std::chrono::milliseconds timeout) {
    auto st = st_;
    if (!st->connected || st->ended || !st->reading) return false;
    if (st->pinging) return false;
    const auto before = st->pongs;
    st->pinging = true;
    st->ws.async_ping({}, [st](error_code ec) {
        st->pinging = false;
        st->ping_error = ec;
    });
    const auto deadline = steady::now() + timeout;
    if (!run_until(
            ioc_, [st] { return !st->pinging; }, deadline) ||
        st->ping_error)
        return false;
    return run_until(
               ioc_, [st, before] { return st->pongs > before || st->ended; }, deadline) &&
           st->pongs > before;
}

close_result ws_client::close(std::uint16_t code, std::chrono::milliseconds timeout) {
    auto st = st_;
    if (!st->connected || st->ended) return st->end;
    if (st->paused) resume_reading();
    st->closing = true;
    st->ws.async_close(websocket::close_reason(code), [st](error_code ec) {
        st->closing = false;
        // Success means the server's close frame arrived: ws.reason() holds it.
        st->finish(ec ? ec : error_code(websocket::error::closed));
    });
    const auto deadline = steady::now() + timeout;
    run_until(
        ioc_, [st] { return !st->closing && st->ended; }, deadline);
    if (st->closing) {
        // The server never answered: cut the connection, but keep the handler's state alive.
        st->close_socket();
        run_until(
            ioc_, [st] { return !st->closing; }, steady::now() + 1s);
    }
    return st->end;
}

void ws_client::abort() {
    auto& sock = st_->ws.next_layer();
    if (sock.is_open()) {
        error_code ignored;
        sock.set_option(net::socket_base::linger(true, 0), ignored);
        sock.close(ignored);
    }
    st_->finish(net::error::connection_aborted);
}

bool ws_client::ended() const { return st_->ended; }

close_result ws_client::end_state() const { return st_->end; }

std::size_t ws_client::buffered() const { return st_->inbox.size(); }

std::size_t ws_client::discarded() const { return st_->discarded; }

std::size_t ws_client::pongs() const { return st_->pongs; }

std::size_t ws_client::pings() const { return st_->pings; }

std::vector<std::size_t> connect_all(const std::vector<ws_client*>& clients,
                                     std::chrono::milliseconds timeout) {
    std::vector<std::size_t> failed;
    if (clients.empty()) return failed;
    const auto deadline = steady::now() + timeout;
    auto& ioc = test_io_context();
    run_until(
        ioc,
        [&] {
            for (auto* c : clients)
                if (!c->connect_done()) return false;
            return true;
        },
        deadline);
    for (std::size_t i = 0; i < clients.size(); ++i) {
        // finish_connect() cuts any straggler and reports timed_out for it.
        if (clients[i]->finish_connect(0ms)) failed.push_back(i);
    }
    return failed;
}

// --- HTTP ---------------------------------------------------------------------------------

std::string http_result::header(std::string_view name) const {
    auto lower = [](std::string_view s) {
        std::string out(s);
        for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return out;
    };
    const auto want = lower(name);
    for (const auto& [k, v] : headers)
        if (lower(k) == want) return v;
    return {};
}

http_result http_request(std::uint16_t port, std::string_view method, std::string_view target,
                         const header_list& headers, std::chrono::milliseconds timeout) {
    net::io_context ioc(1);
    beast::tcp_stream stream(ioc);
    http::request<http::empty_body> req;
    req.method_string(method);
    req.target(target);
    req.version(11);
    req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
    req.set(http::field::user_agent, "wsgate-test");
    req.set(http::field::connection, "close");
    for (const auto& [name, value] : headers) req.insert(name, value);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    parser.skip(method == "HEAD");

    http_result out;
    bool done = false;
    stream.expires_after(timeout);
    stream.async_connect(
        tcp::endpoint(net::ip::make_address_v4("127.0.0.1"), port), [&](error_code ec) {
            if (ec) {
                out.error = ec;
                done = true;
                return;
            }
            http::async_write(stream, req, [&](error_code wec, std::size_t) {
                // A server that refuses early (431) may reset before reading everything;
                // the response can still be there, so read regardless.
                (void)wec;
                http::async_read(stream, buffer, parser, [&](error_code rec, std::size_t) {
                    out.error = rec;
                    done = true;
                });
            });
        });
    ioc.run_for(timeout + 1s);
    if (!done) out.error = net::error::timed_out;
    if (parser.is_header_done()) {
        const auto& res = parser.get();
        out.status = static_cast<int>(res.result_int());
        for (const auto& f : res) out.headers.emplace_back(f.name_string(), f.value());
        if (parser.is_done()) out.body = res.body();
    }
    return out;
}

// --- raw TCP ------------------------------------------------------------------------------

raw_connection::~raw_connection() { close(); }

void raw_connection::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

bool raw_connection::connect(std::uint16_t port, const char* source) {
    close();
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
        error_ = std::strerror(errno);
        return false;
    }
    if (source) {
        sockaddr_in local{};
        local.sin_family = AF_INET;
        if (::inet_pton(AF_INET, source, &local.sin_addr) != 1 ||
            ::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
            error_ = std::string("bind ") + source + ": " + std::strerror(errno);
            close();
            return false;
        }
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        error_ = std::strerror(errno);
        close();
        return false;
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
    return true;
}

void raw_connection::shutdown_write() {
    if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

bool raw_connection::send(std::string_view bytes, std::chrono::milliseconds timeout) {
    const auto deadline = steady::now() + timeout;
    while (!bytes.empty()) {
        const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n > 0) {
            bytes.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
            if (left.count() <= 0) {
                error_ = "send timed out";
                return false;
            }
            pollfd p{fd_, POLLOUT, 0};
            ::poll(&p, 1, static_cast<int>(left.count()));
            continue;
        }
        error_ = std::strerror(errno);
        return false;
    }
    return true;
}

bool raw_connection::read_available() {
    if (closed_by_peer_ || fd_ < 0) return false;
    char buf[16 * 1024];
    for (;;) {
        const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n > 0) {
            received_.append(buf, static_cast<std::size_t>(n));
            continue;
        }
        if (n == 0) {
            closed_by_peer_ = true;
            return false;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
        error_ = std::strerror(errno);
        closed_by_peer_ = true;
        return false;
    }
}

bool raw_connection::poll_closed() {
    read_available();
    return closed_by_peer_;
}

bool raw_connection::wait_closed(std::chrono::milliseconds timeout) {
    const auto deadline = steady::now() + timeout;
    while (!poll_closed()) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
        if (left.count() <= 0) return false;
        pollfd p{fd_, POLLIN, 0};
        ::poll(&p, 1, static_cast<int>(left.count()));
    }
    return true;
}

std::string raw_connection::read_until(std::string_view needle, std::chrono::milliseconds timeout) {
    const auto deadline = steady::now() + timeout;
    while (received_.find(needle) == std::string::npos) {
        if (!read_available()) break;
        if (received_.find(needle) != std::string::npos) break;
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
        if (left.count() <= 0) break;
        pollfd p{fd_, POLLIN, 0};
        ::poll(&p, 1, static_cast<int>(left.count()));
    }
    return received_;
}

std::string upgrade_request(std::uint16_t port, std::string_view target) {
    std::string req;
    req.append("GET ").append(target).append(" HTTP/1.1\r\n");
    req.append("Host: 127.0.0.1:").append(std::to_string(port)).append("\r\n");
    req.append(
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        "\r\n");
    return req;
}

std::string percent_encode(std::string_view s) {
    return boost::urls::encode(s, boost::urls::unreserved_chars);
}

}  // namespace wsgate::test
