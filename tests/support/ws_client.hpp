// Test clients for the gateway: a WebSocket client with a synchronous-looking API over Beast,
// a raw TCP connection for hand-made bytes, and a one-shot HTTP request helper. Every call
// takes a deadline, so a gateway bug fails a test instead of hanging it.
//
// Threading: WebSocket clients share one io_context (by default test_io_context()) that is
// run only from inside their calls, on the test's thread. While a client waits, every other
// client on the same context keeps reading into its own inbox, as a real client would. So
// 1000 clients cost 1000 sockets and one epoll descriptor. http_request() and
// raw_connection are self-contained and may be used from any thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wsgate::test {

using namespace std::chrono_literals;

/// Extra request headers, e.g. {{"Authorization", "Bearer ..."}}.
using header_list = std::vector<std::pair<std::string, std::string>>;

/// One data message as received.
struct ws_message {
    std::string payload;
    bool binary = false;
    friend bool operator==(const ws_message&, const ws_message&) = default;
};
std::ostream& operator<<(std::ostream& os, const ws_message& m);

/// How a connection ended, as the client saw it.
struct close_result {
    /// The read loop has ended (close frame, error, or abort); false means the deadline
    /// passed with the connection still open.
    bool ended = false;
    /// A close frame arrived; `code` and `reason` are the peer's.
    bool got_close_frame = false;
    std::uint16_t code = 0;  // 0 when the close frame carried no code
    std::string reason;
    /// The error that ended the connection without a close frame (EOF, reset, ...).
    boost::system::error_code error;
    friend bool operator==(const close_result&, const close_result&) = default;
};
std::ostream& operator<<(std::ostream& os, const close_result& r);

/// The io_context shared by ws_clients that are not given one. Test thread only.
boost::asio::io_context& test_io_context();

/// Runs `ioc` (the shared one by default) for `d`: lets clients answer pings and fill
/// their inboxes while the test waits on something else.
void pump(std::chrono::milliseconds d, boost::asio::io_context& ioc = test_io_context());

/// A WebSocket client for tests. Not thread-safe: use it from the thread that runs its
/// io_context (the test's thread for the shared one).
class ws_client {
public:
    explicit ws_client(boost::asio::io_context& ioc = test_io_context());
    /// Closes the socket (FIN, no close frame) if still open.
    ~ws_client();
    ws_client(const ws_client&) = delete;
    ws_client& operator=(const ws_client&) = delete;

    /// Shrinks SO_RCVBUF before connecting (slow-consumer tests). 0 = kernel default.
    void set_receive_buffer(int bytes);
    /// Stops issuing reads: the client never reads again until resume_reading(), so the
    /// kernel buffers fill and the server sees a slow consumer. Call before connect() to
    /// never read at all.
    void pause_reading();
    void resume_reading();

    /// Connects to 127.0.0.1:`port` and performs the upgrade for `target`. Returns the error
    /// (websocket::error::upgrade_declined for a non-101 answer; see http_status()).
    boost::system::error_code connect(std::uint16_t port, std::string_view target,
                                      const header_list& headers = {},
                                      std::chrono::milliseconds timeout = 5s);
    /// The asynchronous half of connect(), to open many connections at once; finish with
    /// finish_connect() or connect_all().
    void start_connect(std::uint16_t port, std::string_view target,
                       const header_list& headers = {});
    boost::system::error_code finish_connect(std::chrono::milliseconds timeout = 5s);
    /// True once the handshake has completed (successfully or not).
    bool connect_done() const;

    /// Status of the handshake response (101 on success), 0 before one arrived.
    int http_status() const;

    /// The next data message within `timeout`, or nothing.
    std::optional<ws_message> read(std::chrono::milliseconds timeout = 5s);
    /// The next message's payload if it is a text message; a binary one is a test failure
    /// (reported through gtest) and yields nothing.
    std::optional<std::string> read_text(std::chrono::milliseconds timeout = 5s);
    /// Waits for the end of the connection, discarding data messages on the way (they stay
    /// counted in discarded()). Answers a close frame, as Beast does.
    close_result read_until_close(std::chrono::milliseconds timeout = 5s);

    boost::system::error_code send_text(std::string_view payload,
                                        std::chrono::milliseconds timeout = 5s);
    boost::system::error_code send_binary(std::string_view payload,
                                          std::chrono::milliseconds timeout = 5s);
    /// Sends a ping and waits for a pong (the read loop must be running).
    bool ping(std::chrono::milliseconds timeout = 5s);
    /// Starts the close handshake with `code` and waits for its end; returns how it ended
    /// (normally the server's echoed close frame).
    close_result close(std::uint16_t code = 1000, std::chrono::milliseconds timeout = 5s);
    /// Resets the connection: SO_LINGER 0 and close, so the server sees RST.
    void abort();

    /// Connection ended (close frame, error or abort) as far as the client knows.
    bool ended() const;
    /// The end, once ended() (see close_result).
    close_result end_state() const;
    /// Data messages waiting in the inbox.
    std::size_t buffered() const;
    /// Data messages thrown away by read_until_close().
    std::size_t discarded() const;
    /// Pongs received so far.
    std::size_t pongs() const;
    /// Pings received from the server so far (Beast answers each one while reading).
    std::size_t pings() const;

private:
    struct state;
    boost::system::error_code send_frame(bool binary, std::string_view payload,
                                         std::chrono::milliseconds timeout);
    boost::asio::io_context& ioc_;
    std::shared_ptr<state> st_;
};

/// Finishes the start_connect() of every client (all on test_io_context()), concurrently;
/// returns the indexes of the clients that failed.
std::vector<std::size_t> connect_all(const std::vector<ws_client*>& clients,
                                     std::chrono::milliseconds timeout = 10s);

/// An HTTP response, or why there is none.
struct http_result {
    int status = 0;  // 0 when no response arrived
    std::string body;
    header_list headers;
    boost::system::error_code error;
    /// First value of a header (case-insensitive), or empty.
    std::string header(std::string_view name) const;
};

/// One HTTP/1.1 request to 127.0.0.1:`port` on its own connection ("Connection: close"),
/// with a deadline on the whole exchange. Any thread.
http_result http_request(std::uint16_t port, std::string_view method, std::string_view target,
                         const header_list& headers = {}, std::chrono::milliseconds timeout = 5s);
inline http_result http_get(std::uint16_t port, std::string_view target,
                            const header_list& headers = {},
                            std::chrono::milliseconds timeout = 5s) {
    return http_request(port, "GET", target, headers, timeout);
}

/// A plain TCP connection to 127.0.0.1 for hand-made bytes (garbage, a hand-written upgrade,
/// a peer that never answers pings). Non-blocking underneath; every wait has a deadline.
class raw_connection {
public:
    raw_connection() = default;
    ~raw_connection();
    raw_connection(const raw_connection&) = delete;
    raw_connection& operator=(const raw_connection&) = delete;

    /// Connects (blocking, loopback), from `source` (another 127.x address, so per-address
    /// limits see a different client) when given; false with errno text in error().
    bool connect(std::uint16_t port, const char* source = nullptr);
    /// Writes everything (waits for buffer space up to `timeout`).
    bool send(std::string_view bytes, std::chrono::milliseconds timeout = 5s);
    /// Reads until `needle` has been received; returns everything read so far (also on
    /// timeout or end of stream, so check with find()).
    std::string read_until(std::string_view needle, std::chrono::milliseconds timeout = 5s);
    /// Reads whatever is available now without waiting; returns true once the peer has
    /// closed (EOF or reset). Bytes read are appended to received().
    bool poll_closed();
    /// Waits up to `timeout` for the peer to close; true if it did.
    bool wait_closed(std::chrono::milliseconds timeout);
    /// Everything received so far.
    const std::string& received() const noexcept { return received_; }
    const std::string& error() const noexcept { return error_; }
    /// Sends FIN (half-close) and keeps the socket open for reading.
    void shutdown_write();
    void close();

private:
    bool read_available();  // false once EOF or error
    int fd_ = -1;
    bool closed_by_peer_ = false;
    std::string received_;
    std::string error_;
};

/// A hand-written upgrade request for `target` on 127.0.0.1:`port`.
std::string upgrade_request(std::uint16_t port, std::string_view target);

/// Percent-encodes everything but RFC 3986 unreserved characters (for path segments).
std::string percent_encode(std::string_view s);

}  // namespace wsgate::test
