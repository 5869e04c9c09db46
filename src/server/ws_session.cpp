// WebSocket session: subscribe-then-accept, bounded fan-in, close handshakes.
//
// Lifetime: every async operation binds shared_from_this(); the hub holds a raw pointer
// that the destructor removes. Hazard: deliver() and subscribed() run inside the hub's
// fan-out walk, so they never touch the hub; anything that would is posted.
#include "server/ws_session.hpp"

#include <algorithm>

#include "auth/authorize.hpp"
#include "redis/channel.hpp"
#include "server/close_codes.hpp"
#include "util/log.hpp"

namespace wsgate {

ws_session::ws_session(tcp::socket socket, server_context& ctx)
    : ws_(std::move(socket)),
      ctx_(ctx),
      queue_(ctx.cfg.max_queue_messages, ctx.cfg.max_queue_bytes) {
    ctx_.connections.push_back(*this);
    // Past twice the byte budget the socket is cut (see enforce_budget for the first).
    // The flag is at most 256 MiB, so this fits.
    ws_.next_layer().set_read_cap(static_cast<std::uint32_t>(2 * ctx.cfg.client_budget_bytes));
}

ws_session::~ws_session() {
    leave_hub();
    // Everything, including a batch whose write handler was destroyed unrun (forced stop).
    drop_queue(false);
    if (counted_) {
        shard_metrics::add(ctx_.metrics.connections, -1);
        // close_code 0: the peer closed, reset or timed out; otherwise the code we sent.
        log::debug("ws_closed", {{"channel", channel_}, {"close_code", close_code_}});
    }
}

void ws_session::leave_hub() {
    if (!joined_) return;
    joined_ = false;
    ctx_.hub.leave(channel_, this);
    ctx_.metrics.users.store(static_cast<std::int64_t>(ctx_.hub.users()),
                             std::memory_order_relaxed);
}

void ws_session::drop_queue(bool keep_sending) {
    // The batch being written normally stays: the write still reads it, and on_write pops it.
    auto before = queue_.bytes();
    auto n = queue_.clear(keep_sending);
    if (n) ctx_.metrics.count_drop(drop_reason::closing, n);
    shard_metrics::add(ctx_.metrics.queued_bytes,
                       -static_cast<std::int64_t>(before - queue_.bytes()));
}

void ws_session::run(request req, result<auth::verified_token> auth, handshake_ticket handshake,
                     admission_ticket slot) {
    req_ = std::make_unique<request>(std::move(req));
    handshake_ = std::move(handshake);
    slot_ = std::move(slot);

    const auto& cfg = ctx_.cfg;
    // Beast's timer bounds only the opening and closing handshakes. Keepalive is the shard's
    // sweep (tick()): Beast's idle timeout keeps a timer wait pending on every connection,
    // which cost ~650 bytes each here.
    websocket::stream_base::timeout t{};
    t.handshake_timeout = cfg.handshake_timeout;
    t.idle_timeout = websocket::stream_base::none();
    // Must stay off: Beast's idle ping holds only a weak_ptr to the stream, so it could
    // complete after the session, and gated_socket's write handlers assume their session
    // (and so the gate) outlives them.
    t.keep_alive_pings = false;
    ws_.set_option(t);
    ws_.control_callback([this](websocket::frame_type, beast::string_view) {
        heard_ = true;
        count_frame();
    });
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "wsgate"); }));
    ws_.read_message_max(cfg.max_client_message_bytes);
    ws_.auto_fragment(false);

    if (!auth) {
        // Complete the upgrade, then close: a browser sees only 1006 for a refused
        // handshake, but it does see a close code and reason.
        ctx_.metrics.count_auth_failure(auth.error());
        if (log::enabled(log::level::debug)) {
            error_code ignored;
            auto peer = beast::get_lowest_layer(ws_).remote_endpoint(ignored);
            log::debug("auth_failed", {{"reason", auth::metric_reason(auth.error())},
                                       {"peer", peer.address().to_string()}});
        }
        close_code_ = close_codes::policy_violation;
        close_reason_ = auth::close_reason(auth.error());
        phase_ = phase::accepting;
        do_accept();
        return;
    }

    // The user is (issuer, user id), and its channel names both: hub, Redis and the
    // per-user limit all key on it, so equal user ids of two issuers never share anything.
    channel_ = channel_for_user(auth->user_id, auth->issuer);
    user_slot_ = ctx_.admission.try_user(channel_);
    if (!user_slot_.admitted()) {
        // Authorized, but the user holds too many connections: the close code tells the
        // client so (a refused handshake would show it only 1006).
        ctx_.metrics.count_close(close_cause::user_limit);
        log::debug("user_connection_limit", {{"channel", channel_}});
        close_code_ = close_codes::too_many_connections;
        close_reason_ = close_codes::reason_user_limit;
        phase_ = phase::accepting;
        do_accept();
        return;
    }
    if (cfg.close_on_token_expiry && auth->expires_at) {
        const auto leeway =
            std::chrono::duration_cast<std::chrono::system_clock::duration>(cfg.jwt.leeway);
        // The verifier clamps exp to the clock's range; keep exp + leeway inside it too.
        if (*auth->expires_at < std::chrono::system_clock::time_point::max() - leeway)
            expires_at_ = *auth->expires_at + leeway;
    }
    joined_ = true;
    bool confirmed = ctx_.hub.join(channel_, this);
    ctx_.metrics.users.store(static_cast<std::int64_t>(ctx_.hub.users()),
                             std::memory_order_relaxed);
    if (confirmed) {
        phase_ = phase::accepting;
        do_accept();
        return;
    }
    // Hold the 101 until Redis confirms the channel, so that a message published after
    // the client's `open` event cannot be missed.
    phase_ = phase::waiting;
    timer().expires_after(cfg.subscribe_timeout);
    timer().async_wait(
        beast::bind_front_handler(&ws_session::on_subscribe_timeout, shared_from_this()));
}

void ws_session::subscribed() {
    if (phase_ != phase::waiting) return;
    phase_ = phase::accepting;
    // Destroying the timer completes its wait with operation_aborted; that handler holds
    // the session, not the timer.
    timer_.reset();
    do_accept();
}

net::steady_timer& ws_session::timer() {
    if (!timer_) timer_ = std::make_unique<net::steady_timer>(ws_.get_executor());
    return *timer_;
}

void ws_session::cancel_timer() noexcept {
    if (timer_) timer_->cancel();
}

void ws_session::on_subscribe_timeout(error_code ec) {
    if (ec == net::error::operation_aborted || phase_ != phase::waiting) return;
    ctx_.metrics.count_close(close_cause::subscribe_timeout);
    // Counted above; during an outage every waiting client ends here, so no warn per client.
    log::debug("subscribe_timeout", {{"channel", channel_}});
    leave_hub();
    close_code_ = close_codes::try_again_later;
    close_reason_ = close_codes::reason_unavailable;
    phase_ = phase::accepting;
    do_accept();
}

void ws_session::do_accept() {
    ws_.async_accept(*req_, beast::bind_front_handler(&ws_session::on_accept, shared_from_this()));
}

void ws_session::on_accept(error_code ec) {
    req_.reset();
    handshake_.release();
    if (ec) {
        log::debug("ws_accept_failed", {{"error", ec.message()}});
        return;  // the socket goes with us; the destructor leaves the hub
    }
    phase_ = phase::open;
    if (close_code_ == 0 && !ctx_.shutting_down) {
        counted_ = true;
        shard_metrics::add(ctx_.metrics.connections, 1);
        shard_metrics::inc(ctx_.metrics.connections_total);
        log::debug("ws_open", {{"channel", channel_}});
    }
    do_read();
    if (close_code_ != 0) return do_close();
    if (ctx_.shutting_down) return close(close_codes::going_away, close_codes::reason_shutdown);
    idle_since_ = std::chrono::steady_clock::now();
    if (queue_.has_backlog()) do_write();
}

void ws_session::tick(const sweep_time& t) {
    if (t.new_budget_window) {
        // In every phase: a closing connection's reads are metered too.
        frames_ = 0;
        ws_.next_layer().reset_read_meter();
    }
    if (phase_ != phase::open || close_code_ != 0 || overflowed_ || finished_) return;
    // Wall clock, read on every sweep: a clock step cannot stretch a token's life.
    if (t.wall >= expires_at_) {
        ctx_.metrics.count_close(close_cause::token_expired);
        log::debug("token_expired", {{"channel", channel_}});
        return close(close_codes::policy_violation, close_codes::reason_token_expired);
    }
    const auto interval = ctx_.cfg.ping_interval;
    if (interval.count() == 0) return;
    if (heard_) {
        heard_ = false;
        ping_unanswered_ = false;
        idle_since_ = t.now;
    }
    // A ping after one interval of silence; the peer is gone after two.
    const auto idle = t.now - idle_since_;
    if (ping_unanswered_ && idle >= 2 * interval) {
        ctx_.metrics.count_close(close_cause::ping_timeout);
        log::debug("ping_timeout", {{"channel", channel_}});
        return abandon();
    }
    if (!ping_unanswered_ && idle >= interval) send_ping();
}

void ws_session::send_ping() {
    if (ping_in_flight_ || close_sent_) return;
    ping_in_flight_ = true;
    ping_unanswered_ = true;
    ws_.async_ping({}, [self = shared_from_this()](error_code) {
        self->ping_in_flight_ = false;
        if (self->close_after_ping_) {
            self->close_after_ping_ = false;
            self->do_close();
        }
    });
}

void ws_session::do_read() {
    // Clients have nothing to say, but control frames (ping, pong, close) are only
    // processed while a read is pending, so one read stays outstanding for the whole life.
    // What they say anyway lands in the shard's discard buffer, a kilobyte at a time.
    ws_.async_read_some(net::buffer(ctx_.discard_buffer),
                        beast::bind_front_handler(&ws_session::on_read, shared_from_this()));
}

void ws_session::count_frame() {
    ++frames_;
    // Called from Beast's control callback, inside its read operation: a close started
    // here would run into that operation, so the check runs from the queue.
    if (frames_ <= ctx_.cfg.client_budget_frames || budget_check_posted_ || close_code_ != 0)
        return;
    budget_check_posted_ = true;
    net::post(ws_.get_executor(), [self = shared_from_this()] {
        self->budget_check_posted_ = false;
        self->enforce_budget();
    });
}

void ws_session::enforce_budget() {
    if (phase_ != phase::open || close_code_ != 0 || overflowed_ || finished_) return;
    // The bytes are counted where they are read (gated_socket), frame headers included.
    // Frames that never reach on_read (empty fragments) meet the cut at twice the budget
    // there instead.
    if (ws_.next_layer().bytes_read() > ctx_.cfg.client_budget_bytes) {
        ctx_.metrics.count_close(close_cause::client_bytes);
        log::debug("client_over_budget", {{"channel", channel_}, {"budget", "bytes"}});
        return close(close_codes::policy_violation, close_codes::reason_client_bytes);
    }
    if (frames_ > ctx_.cfg.client_budget_frames) {
        ctx_.metrics.count_close(close_cause::client_frames);
        log::debug("client_over_budget", {{"channel", channel_}, {"budget", "frames"}});
        return close(close_codes::policy_violation, close_codes::reason_client_frames);
    }
}

void ws_session::on_read(error_code ec, std::size_t) {
    heard_ = true;
    if (ec) {
        // The read loop is over, so is the connection: nothing more can arrive, not even
        // the answer to a close. Close the socket (Beast leaves it open after e.g. a peer's
        // FIN), which also fails a write stuck behind a peer that does not read; only then
        // is the close deadline no longer needed.
        finished_ = true;
        error_code ignored;
        beast::get_lowest_layer(ws_).close(ignored);
        cancel_timer();
        if (ws_.next_layer().read_cut()) {
            // Still sending at twice the byte budget: after our close frame, or without a
            // frame boundary at which to send one. No close frame; the socket is gone.
            ctx_.metrics.count_close(close_cause::client_bytes_cut);
            log::debug("client_cut", {{"channel", channel_}});
            return;
        }
        // closed: the close handshake finished. message_too_big, bad UTF-8 and other
        // protocol errors: Beast has already sent 1009/1007/1002. operation_aborted: we
        // cut the socket and counted why. timeout: a close handshake we started was not
        // answered (its cause is counted).
        const bool ours = close_code_ != 0 || overflowed_;
        if (!ours && ec != websocket::error::closed && ec != net::error::operation_aborted &&
            ec != net::error::eof && ec != net::error::connection_reset &&
            ec != beast::error::timeout)
            ctx_.metrics.count_close(close_cause::client_protocol);
        return;
    }
    if (ws_.is_message_done()) ++frames_;  // control frames are counted in the callback
    enforce_budget();
    if (ws_.got_binary() && close_code_ == 0) {
        ctx_.metrics.count_close(close_cause::client_protocol);
        close(close_codes::unsupported_data, close_codes::reason_binary);
    }
    do_read();
}

void ws_session::deliver(const message_ptr& msg) {
    if (close_code_ != 0 || overflowed_) {
        ctx_.metrics.count_drop(drop_reason::closing);
        return;
    }
    if (!queue_.push(msg)) {
        // Over the bound: drop this client, not the shard. Close from our own completion
        // path, not inside the hub's walk.
        overflowed_ = true;
        ctx_.metrics.count_drop(drop_reason::slow_consumer);
        net::post(ws_.get_executor(), [self = shared_from_this()] {
            if (self->close_code_ != 0 || self->finished_) return;  // closing for another cause
            self->ctx_.metrics.count_close(close_cause::slow_consumer);
            self->close(close_codes::slow_consumer, close_codes::reason_slow);
        });
        return;
    }
    shard_metrics::add(ctx_.metrics.queued_bytes, static_cast<std::int64_t>(msg->payload.size()));
    if (phase_ == phase::open && !writing_) do_write();
}

void ws_session::do_write() {
    if (!ws_.is_open()) {
        // Beast is answering the client's close, or failing the connection for a protocol
        // error: its close frame is on the way and no data frame may follow it.
        return drop_queue();
    }
    writing_ = true;
    ws_.next_layer().async_write_some(
        queue_.start_send(max_batch, max_batch_bytes),
        beast::bind_front_handler(&ws_session::on_write, shared_from_this()));
}

void ws_session::on_write(error_code ec, std::size_t) {
    writing_ = false;
    const auto n = queue_.sending();
    const auto payload = queue_.finish_send();
    shard_metrics::add(ctx_.metrics.queued_bytes, -static_cast<std::int64_t>(payload));
    if (ec) {
        // The peer is gone. Stop taking messages now rather than when the read notices
        // (without pings a half-open socket may never fail a read). The batch is lost.
        ctx_.metrics.count_drop(drop_reason::closing, n);
        return abandon();
    }
    shard_metrics::inc(ctx_.metrics.messages_delivered_total, n);
    shard_metrics::inc(ctx_.metrics.bytes_sent_total, payload);
    if (close_code_ != 0) return do_close();  // the close deadline stays armed
    if (queue_.has_backlog()) do_write();
}

void ws_session::abandon() {
    // Leave the hub, drop the backlog and close the socket, which ends the pending read.
    overflowed_ = true;
    leave_hub();
    drop_queue();
    cancel_timer();
    error_code ignored;
    beast::get_lowest_layer(ws_).close(ignored);
}

void ws_session::shutdown() {
    if (finished_) return;
    if (!overflowed_ && (phase_ == phase::waiting || close_code_ == 0))
        ctx_.metrics.count_close(close_cause::shutdown);
    close(close_codes::going_away, close_codes::reason_shutdown);
}

void ws_session::close(std::uint16_t code, std::string_view reason) {
    if (close_code_ != 0) return;
    close_code_ = code;
    close_reason_ = reason;
    drop_queue();
    switch (phase_) {
        case phase::waiting:
            cancel_timer();
            leave_hub();
            phase_ = phase::accepting;
            do_accept();  // on_accept sends the close
            return;
        case phase::accepting:
            return;  // on_accept sends the close
        case phase::open:
            // The close frame may wait behind a write stuck on a client that does not read,
            // or behind a ping; Beast's own close timer starts only once the frame is out.
            // So bound the whole close here (well inside the shutdown timeout, so a stuck
            // client cannot hold up an orderly stop), then cut the socket: the close frame
            // is a courtesy, the bound on the connection's life is not.
            timer().expires_after(
                std::min(ctx_.cfg.handshake_timeout, ctx_.cfg.shutdown_timeout / 2));
            timer().async_wait([self = shared_from_this()](error_code ec) {
                if (ec || self->finished_) return;
                error_code ignored;
                beast::get_lowest_layer(self->ws_).close(ignored);
            });
            if (!writing_) do_close();
            return;
    }
}

void ws_session::do_close() {
    if (close_sent_) return;
    if (ping_in_flight_) {
        // Beast allows one ping or close at a time; the ping's completion closes.
        close_after_ping_ = true;
        return;
    }
    close_sent_ = true;
    leave_hub();
    // Beast bounds the close handshake with the handshake timeout set in run(); the
    // pending read completes with `closed` once the client answers.
    websocket::close_reason cr(static_cast<websocket::close_code>(close_code_), close_reason_);
    ws_.async_close(cr, [self = shared_from_this()](error_code) {});
}

}  // namespace wsgate
