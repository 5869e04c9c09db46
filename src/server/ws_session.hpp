// One client's WebSocket: accepted only once its user's channel is confirmed by Redis,
// then fed from the hub through a bounded send queue with one write in flight: every
// queued frame, up to a batch, goes out in one gathered write of pre-encoded frames. Lives
// on its shard's thread and is owned by its pending completion handlers.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "auth/jwt_verifier.hpp"
#include "hub/hub.hpp"
#include "server/admission.hpp"
#include "server/gated_socket.hpp"
#include "server/send_queue.hpp"
#include "server/server_context.hpp"
#include "util/error.hpp"
#include "util/net.hpp"

namespace wsgate {

/// A client WebSocket session on one shard.
class ws_session final : public session_sink,
                         public closable,
                         public std::enable_shared_from_this<ws_session> {
public:
    using request = http::request<http::empty_body>;

    ws_session(tcp::socket socket, server_context& ctx);
    ~ws_session();

    /// Starts the session for an upgrade request. `auth` is the verified token, or the
    /// reason to complete the upgrade and close with 1008. `handshake` is held until the
    /// upgrade completes, `slot` (a place under --max-connections) for the whole life.
    void run(request req, result<auth::verified_token> auth, handshake_ticket handshake,
             admission_ticket slot);

    void deliver(const message_ptr& msg) override;
    void subscribed() override;
    void shutdown() override;
    /// Keepalive (ping after --ping-interval without a frame from the peer, drop after
    /// twice that), token expiry, and a new window of the client's budget.
    void tick(const sweep_time& t) override;

private:
    enum class phase : std::uint8_t { waiting, accepting, open };

    void do_accept();
    void on_accept(error_code ec);
    void do_read();
    void on_read(error_code ec, std::size_t n);
    /// Counts a frame from the client (a whole message, or a control frame).
    void count_frame();
    /// Closes with 1008 once the client is over its budget of bytes or frames for this
    /// window (--client-budget-*). Call from a completion handler, not from Beast's
    /// control callback.
    void enforce_budget();
    void do_write();
    void on_write(error_code ec, std::size_t n);
    void on_subscribe_timeout(error_code ec);
    void send_ping();
    /// The peer stopped answering, or a write failed: stop taking messages and cut the
    /// socket, which ends the pending read.
    void abandon();
    /// Idempotent. Sends a close frame once pending writes allow; nothing is written after.
    void close(std::uint16_t code, std::string_view reason);
    void do_close();
    void leave_hub();
    void drop_queue(bool keep_sending = true);

    /// A gathered write: at most 32 frames (two buffers each, within the 64 that Asio hands
    /// one sendmsg) and, past the first frame, 64 KiB of payload (what Asio's async_write
    /// hands one sendmsg), so that a pong or close frame waits behind one batch at most that
    /// long.
    static constexpr std::size_t max_batch = 32;
    static constexpr std::uint64_t max_batch_bytes = 64 * 1024;

    websocket::stream<gated_socket> ws_;
    server_context& ctx_;
    std::unique_ptr<request> req_;  // held only until the upgrade is accepted
    std::string channel_;           // the user's channel: names user and issuer (redis/channel.hpp)
    handshake_ticket handshake_;    // until the upgrade completes
    admission_ticket slot_;         // --max-connections
    user_ticket user_slot_;         // --max-connections-per-user
    // exp + leeway; max() when the token has no exp or expiry is not enforced.
    std::chrono::system_clock::time_point expires_at_ =
        std::chrono::system_clock::time_point::max();
    // Start of the current silence from the peer, as of the last sweep that saw a frame.
    std::chrono::steady_clock::time_point idle_since_{};
    send_queue queue_;
    // The subscribe wait, then the close deadline; made when needed and dropped once the
    // subscription is confirmed, since an open, idle connection needs none (~120 bytes).
    std::unique_ptr<net::steady_timer> timer_;
    net::steady_timer& timer();
    void cancel_timer() noexcept;
    std::string_view close_reason_;
    std::uint32_t frames_ = 0;  // from the client in this budget window (bytes: ws_.next_layer())
    std::uint16_t close_code_ = 0;  // set once closing; 0 while open
    phase phase_ = phase::waiting;
    bool joined_ = false;   // in the hub
    bool counted_ = false;  // counted in wsgate_connections
    bool writing_ = false;
    bool close_sent_ = false;
    bool overflowed_ = false;
    bool heard_ = false;            // a frame arrived since the last sweep
    bool ping_unanswered_ = false;  // we pinged and have heard nothing since
    bool ping_in_flight_ = false;   // async_ping pending: no close may start meanwhile
    bool close_after_ping_ = false;
    bool finished_ = false;  // the read loop has ended: the connection is over
    bool budget_check_posted_ = false;
};

}  // namespace wsgate
