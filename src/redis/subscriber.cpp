// The subscriber's connect / handshake / serve / back-off loop, written as coroutines
// because the flow is linear. Channel bookkeeping (want, drop, acks) is plain code.
//
// Ordering argument: Redis answers commands on a connection in order, and SUBSCRIBE and
// UNSUBSCRIBE answer once per channel. So for each channel we count commands in flight;
// when the count returns to zero the last acknowledgement is the server's state, and only
// then is a desired channel reported subscribed. A want → drop → want sequence therefore
// never reports a subscription that a later UNSUBSCRIBE is about to undo.
#include "redis/subscriber.hpp"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <optional>
#include <tuple>
#include <variant>
#include <vector>

#include "redis/connect.hpp"
#include "redis/pubsub_event.hpp"
#include "redis/resp_writer.hpp"
#include "redis/sentinel_query.hpp"
#include "redis/tls_context.hpp"
#include "util/log.hpp"

namespace wsgate::redis {

namespace asio = boost::asio;
using boost::system::error_code;
using namespace asio::experimental::awaitable_operators;
using clock = std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

// Channels per SUBSCRIBE or UNSUBSCRIBE command when (re)subscribing a large set: a few
// tens of kilobytes per command, and the acknowledgements stream back as they come.
constexpr std::size_t subscribe_batch = 1000;

}  // namespace

struct subscriber::tls_link {
    asio::ssl::context context;
    std::optional<asio::ssl::stream<asio::ip::tcp::socket&>> stream;  // this connection's
};

subscriber::subscriber(asio::any_io_executor ex, subscriber_options opts, subscriber_events& events,
                       shard_metrics& metrics)
    : ex_(ex),
      opts_(std::move(opts)),
      events_(events),
      metrics_(metrics),
      socket_(ex),
      write_signal_(ex),
      backoff_timer_(ex),
      rng_(std::random_device{}()),
      sentinel_deadline_(ex),
      sentinel_socket_(ex) {
    if (opts_.endpoint.tls) tls_.reset(new tls_link{make_tls_context(opts_.tls), std::nullopt});
}

subscriber::~subscriber() = default;

void subscriber::run() {
    asio::co_spawn(ex_, loop(), [](std::exception_ptr e) {
        // The loop handles every I/O error itself; an exception here is a bug.
        if (e) std::rethrow_exception(e);
    });
}

void subscriber::stop() {
    if (stopped_) return;
    stopped_ = true;
    error_code ignored;
    socket_.cancel(ignored);
    socket_.close(ignored);
    write_signal_.cancel();
    backoff_timer_.cancel();
    sentinel_deadline_.cancel();
    sentinel_socket_.close(ignored);
    set_ready(false);
}

void subscriber::want(std::string_view channel) {
    if (stopped_) return;
    auto it = channels_.find(channel);
    if (it == channels_.end()) it = channels_.emplace(std::string(channel), channel_state{}).first;
    auto& st = it->second;
    if (st.desired) return;
    st.desired = true;
    ++desired_;
    if (st.subscribed && st.expected && st.inflight == 0) {
        // Already subscribed (a drop was never sent): confirm, but not re-entrantly.
        asio::post(ex_, [this, ch = it->first] {
            auto i = channels_.find(ch);
            if (i != channels_.end() && i->second.desired && i->second.subscribed &&
                i->second.inflight == 0)
                events_.on_subscribed(ch);
        });
        return;
    }
    mark_dirty(it->first);
}

void subscriber::drop(std::string_view channel) {
    if (stopped_) return;
    auto it = channels_.find(channel);
    if (it == channels_.end() || !it->second.desired) return;
    auto& st = it->second;
    st.desired = false;
    --desired_;
    if (!st.expected && !st.subscribed && st.inflight == 0) {
        // Never sent (wanted and dropped while the link was down, or within one turn):
        // nothing to undo on the server.
        dirty_.erase(it->first);
        channels_.erase(it);
        return;
    }
    mark_dirty(it->first);
}

void subscriber::mark_dirty(std::string_view channel) {
    dirty_.emplace(channel);
    schedule_flush();
}

void subscriber::schedule_flush() {
    if (flush_scheduled_ || !connected_) return;
    flush_scheduled_ = true;
    // Batch every change made during this turn of the event loop into one command each,
    // so a connect storm costs one SUBSCRIBE per turn, not one per client.
    asio::post(ex_, [this] {
        flush_scheduled_ = false;
        flush();
    });
}

void subscriber::flush() {
    if (!connected_ || dirty_.empty()) return;
    std::vector<std::string_view> sub{opts_.sharded ? "SSUBSCRIBE" : "SUBSCRIBE"},
        unsub{opts_.sharded ? "SUNSUBSCRIBE" : "UNSUBSCRIBE"};
    // Sharded: one channel per command (pipelined), since a command's channels must share
    // a slot, and so that an error reply names exactly one channel.
    const std::size_t batch = opts_.sharded ? 1 : subscribe_batch;
    auto emit = [&](std::vector<std::string_view>& cmd) {
        if (cmd.size() > 1) append_command(out_, cmd);
        cmd.resize(1);
    };
    for (const auto& name : dirty_) {
        auto it = channels_.find(name);
        if (it == channels_.end()) continue;
        auto& st = it->second;
        if (st.desired == st.expected) {
            if (!st.desired && st.inflight == 0 && !st.subscribed) channels_.erase(it);
            continue;
        }
        st.expected = st.desired;
        ++st.inflight;
        auto& cmd = st.desired ? sub : unsub;
        cmd.push_back(it->first);
        if (opts_.sharded) sent_.push_back({it->first, st.desired});
        if (cmd.size() > batch) emit(cmd);
    }
    emit(sub);
    emit(unsub);
    dirty_.clear();
    notify_writer();
}

void subscriber::notify_writer() { write_signal_.cancel(); }

void subscriber::on_ack(std::string_view channel, bool subscribed) {
    auto it = channels_.find(channel);
    if (it == channels_.end()) return;  // not ours (cannot happen on a private connection)
    auto& st = it->second;
    if (st.inflight > 0) --st.inflight;
    if (st.subscribed != subscribed)
        shard_metrics::add(metrics_.redis_channels, subscribed ? 1 : -1);
    st.subscribed = subscribed;
    if (resubscribe_pending_ > 0 && subscribed && --resubscribe_pending_ == 0) set_ready(true);
    if (st.inflight != 0) return;
    if (st.desired && st.subscribed) {
        events_.on_subscribed(it->first);
    } else if (!st.desired && !st.subscribed) {
        channels_.erase(it);
    }
}

error_code subscriber::handle_reply(const redisReply& reply) {
    auto ev = classify(reply);
    if (!ev) return ev.error();
    if (auto* m = std::get_if<message_event>(&*ev)) {
        shard_metrics::inc(metrics_.redis_messages_total);
        events_.on_message(m->channel, m->payload);
    } else if (auto* s = std::get_if<subscribe_event>(&*ev)) {
        if (s->sharded != opts_.sharded) return make_error_code(errc::redis_unexpected_reply);
        if (opts_.sharded) take_sent(s->channel, true);
        on_ack(s->channel, true);
    } else if (auto* u = std::get_if<unsubscribe_event>(&*ev)) {
        if (u->sharded != opts_.sharded) return make_error_code(errc::redis_unexpected_reply);
        // Sharded: a sunsubscribe that answers nothing we sent is the server's own: the
        // channel's slot moved to another node (cluster spec, sharded Pub/Sub).
        if (opts_.sharded && !take_sent(u->channel, false))
            on_server_drop(u->channel, "sunsubscribe");
        else
            on_ack(u->channel, false);
    } else if (std::holds_alternative<pong_event>(*ev)) {
        on_pong();
    } else if (auto* e = std::get_if<error_event>(&*ev); e && opts_.sharded && !sent_.empty()) {
        // MOVED (the slot has another owner), CLUSTERDOWN...: refuses one channel's
        // command, not the link. Only PING's answer could also be an error, and it is
        // never one on a healthy server.
        on_command_failed(e->text);
    } else if (auto* e = std::get_if<error_event>(&*ev)) {
        log::warn("redis_error_reply", {{"error", e->text}});
        return make_error_code(errc::redis_error_reply);
    } else {
        return make_error_code(errc::redis_unexpected_reply);
    }
    return {};
}

bool subscriber::take_sent(std::string_view channel, bool subscribe) {
    if (sent_.empty() || sent_.front().subscribe != subscribe || sent_.front().channel != channel)
        return false;
    sent_.pop_front();
    return true;
}

void subscriber::on_server_drop(std::string_view channel, std::string_view reason) {
    auto it = channels_.find(channel);
    if (it == channels_.end()) return;
    auto& st = it->second;
    if (st.subscribed) shard_metrics::add(metrics_.redis_channels, -1);
    st.subscribed = false;
    if (st.inflight != 0) return;  // a later command of ours decides the state
    st.expected = false;
    if (!st.desired) {
        channels_.erase(it);
        return;
    }
    events_.on_dropped(channel, reason);  // last: it may drop the channel
}

void subscriber::on_command_failed(std::string_view reason) {
    const sent_command cmd = std::move(sent_.front());
    sent_.pop_front();
    log::debug("redis_command_refused", {{"channel", cmd.channel},
                                         {"error", std::string(reason.substr(0, 80))},
                                         {"url", redacted_url(opts_.endpoint)}});
    auto it = channels_.find(cmd.channel);
    if (it == channels_.end()) return;
    auto& st = it->second;
    if (st.inflight > 0) --st.inflight;
    // A refused SSUBSCRIBE or SUNSUBSCRIBE (MOVED) means this node does not serve the
    // slot, so it holds no subscription for the channel either way.
    if (cmd.subscribe && resubscribe_pending_ > 0 && --resubscribe_pending_ == 0) set_ready(true);
    on_server_drop(cmd.channel, reason);
}

void subscriber::on_pong() {
    // Only the watchdog sends PING, one at a time, so this answers probe_sent_'s PING.
    // last_rx_ is when the read that carried it completed.
    if (!probe_outstanding_) return;
    probe_outstanding_ = false;
    metrics_.observe_probe_rtt(last_rx_ - probe_sent_);
}

void subscriber::set_ready(bool r) {
    if (ready_ == r) return;
    ready_ = r;
    if (r) {
        down_reported_ = false;
        ready_since_ = clock::now();
    }
    if (opts_.report_up) metrics_.redis_up.store(r ? 1 : 0, std::memory_order_relaxed);
    events_.on_ready_changed(r);
}

void subscriber::link_down() {
    bool was_connected = connected_;
    connected_ = false;
    set_ready(false);
    error_code ignored;
    socket_.close(ignored);
    sentinel_socket_.close(ignored);
    if (tls_) tls_->stream.reset();  // an SSL stream is single-use; each connection gets one
    probe_outstanding_ = false;
    out_.clear();
    writing_.clear();
    dirty_.clear();
    sent_.clear();
    resubscribe_pending_ = 0;
    // Nothing is subscribed on a new connection: forget the server state, keep the wishes.
    for (auto it = channels_.begin(); it != channels_.end();) {
        auto& st = it->second;
        if (st.subscribed) shard_metrics::add(metrics_.redis_channels, -1);
        if (!st.desired) {
            it = channels_.erase(it);
            continue;
        }
        st = channel_state{.desired = true};
        ++it;
    }
    if (was_connected) events_.on_link_down();
}

std::chrono::milliseconds subscriber::next_backoff() {
    // Full jitter over an exponential ceiling: 100 ms × 2^failures, capped.
    auto shift = std::min(failures_, 16u);
    auto ceiling = std::min<std::int64_t>(opts_.backoff_max.count(), std::int64_t{100} << shift);
    std::uniform_int_distribution<std::int64_t> pick(ceiling / 2,
                                                     std::max<std::int64_t>(ceiling, 1));
    return std::chrono::milliseconds(pick(rng_));
}

asio::awaitable<void> subscriber::loop() {
    while (!stopped_) {
        auto ec = co_await connect_and_serve();
        // A link that stayed ready for a while starts the backoff over; one that Redis
        // drops right after the resubscription (output buffer limit, a kill loop) keeps
        // backing off, so the whole set is not resent every 100 ms.
        bool was_stable = ready_ && clock::now() - ready_since_ >= opts_.backoff_max;
        link_down();
        if (stopped_) break;
        if (master_switched_) {
            // Sentinel announced a failover: look the master up again right away (the
            // sentinels already name the new one), without counting a failure.
            master_switched_ = false;
            failures_ = 0;
            continue;
        }
        failures_ = was_stable ? 0 : failures_ + 1;
        auto delay = next_backoff();
        // Warn once per state change; the retries of one outage go to debug.
        if (!down_reported_) {
            down_reported_ = true;
            log::warn("redis_link_down", {{"reason", ec.message()},
                                          {"url", redacted_url(opts_.endpoint)},
                                          {"retry_ms", delay.count()}});
        } else {
            log::debug(
                "redis_retry_failed",
                {{"reason", ec.message()}, {"attempt", failures_}, {"retry_ms", delay.count()}});
        }
        backoff_timer_.expires_after(delay);
        co_await backoff_timer_.async_wait(use_tuple);
    }
}

asio::awaitable<error_code> subscriber::connect_and_serve() {
    asio::steady_timer deadline(ex_);
    if (opts_.sentinel) {
        if (auto ec = co_await resolve_master()) co_return ec;
        if (stopped_) co_return asio::error::operation_aborted;
    }

    socket_ = asio::ip::tcp::socket(ex_);
    auto connected = co_await with_deadline(
        resolve_and_connect(socket_, opts_.endpoint.host, opts_.endpoint.port), deadline,
        opts_.timeout);
    if (stopped_) {
        // stop() came during the resolve, which nothing can cancel, and the connect may
        // have opened the socket after stop() closed it.
        error_code ignored;
        socket_.close(ignored);
        co_return asio::error::operation_aborted;
    }
    if (connected) co_return connected;
    error_code opt_ec;
    socket_.set_option(asio::ip::tcp::no_delay(true), opt_ec);
    socket_.set_option(asio::socket_base::keep_alive(true), opt_ec);
    if (tls_) {
        if (auto ec = co_await with_deadline(tls_handshake(), deadline, opts_.timeout))
            co_return ec;
        if (stopped_) co_return asio::error::operation_aborted;
    }

    reader_ = std::make_unique<resp_reader>();
    last_rx_ = clock::now();
    probe_sent_ = last_rx_;
    probe_outstanding_ = false;
    if (auto ec = co_await with_deadline(handshake(), deadline, opts_.timeout)) co_return ec;

    connected_ = true;
    const bool reconnect = ever_connected_;
    if (reconnect) shard_metrics::inc(metrics_.redis_reconnects_total);
    ever_connected_ = true;

    // Resend the whole desired set; /readyz stays false until every channel is confirmed.
    // Count only desired channels: dirty_ may also hold channels wanted and dropped while
    // the link was down, which flush() forgets without sending (and so without an ack).
    std::size_t pending = 0;
    for (auto& [name, st] : channels_) {
        if (!st.desired) continue;
        dirty_.insert(name);
        ++pending;
    }
    resubscribe_pending_ = pending;
    if (reconnect) shard_metrics::inc(metrics_.redis_resubscribed_total, pending);
    flush();
    if (resubscribe_pending_ == 0) set_ready(true);
    log::info("redis_connected", {{"url", redacted_url(opts_.endpoint)},
                                  {"channels", static_cast<long long>(resubscribe_pending_)}});

    if (opts_.sentinel) {
        auto result = co_await (read_loop() || write_loop() || watchdog() || switch_watch());
        co_return std::visit([](auto ec) { return ec; }, result);
    }
    auto result = co_await (read_loop() || write_loop() || watchdog());
    co_return std::visit([](auto ec) { return ec; }, result);
}

asio::awaitable<error_code> subscriber::tls_handshake() {
    const std::string& name =
        opts_.tls.server_name.empty() ? opts_.endpoint.host : opts_.tls.server_name;
    auto& tls = tls_->stream.emplace(socket_, tls_->context);
    if (!prepare_tls_stream(tls, name)) co_return make_error_code(errc::redis_protocol);
    auto [ec] = co_await tls.async_handshake(asio::ssl::stream_base::client, use_tuple);
    if (ec && !down_reported_ && ec != asio::error::operation_aborted) {
        // A wrong CA, an expired or mismatched certificate, or a server that wants a client
        // certificate: configuration problems, reported once per outage like the link state.
        const long verify = SSL_get_verify_result(tls.native_handle());
        log::error("redis_tls_handshake_failed",
                   {{"error", ec.message()},
                    {"verify", verify == X509_V_OK ? std::string("ok")
                                                   : X509_verify_cert_error_string(verify)},
                    {"server_name", name},
                    {"url", redacted_url(opts_.endpoint)}});
    }
    co_return ec;
}

asio::awaitable<error_code> subscriber::handshake() {
    // AUTH and SELECT must precede SUBSCRIBE: a subscribed RESP2 connection accepts only
    // (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PING, QUIT and RESET.
    std::string out;
    std::size_t expected = 0;
    const auto& ep = opts_.endpoint;
    if (!ep.password.empty()) {
        if (ep.username.empty())
            append_command(out, {"AUTH", ep.password});
        else
            append_command(out, {"AUTH", ep.username, ep.password});
        ++expected;
    }
    if (ep.db != 0) {
        auto db = std::to_string(ep.db);
        append_command(out, {"SELECT", db});
        ++expected;
    }
    // The connection's name is for operators (CLIENT LIST); an ACL user without
    // +client|setname may still subscribe, so a refusal of this one command is not fatal.
    const std::size_t setname_reply = expected;  // replies before it: AUTH, SELECT
    append_command(out, {"CLIENT", "SETNAME", opts_.client_name});
    ++expected;
    std::size_t replies = 0;
    // Sentinel: the node named may have been demoted since (a stale answer during a
    // failover); subscribing on a replica would look healthy and miss whatever is published
    // on the real master, so ROLE must say "master". Its answer comes last.
    const bool check_role = opts_.sentinel.has_value();
    if (check_role) {
        append_command(out, {"ROLE"});
        ++expected;
    }

    std::tuple<error_code, std::size_t> wr;
    if (tls_)
        wr = co_await asio::async_write(*tls_->stream, asio::buffer(out), use_tuple);
    else
        wr = co_await asio::async_write(socket_, asio::buffer(out), use_tuple);
    if (auto wec = std::get<0>(wr)) co_return wec;

    char buf[4096];
    while (expected > 0) {
        std::tuple<error_code, std::size_t> rd;
        if (tls_)
            rd = co_await tls_->stream->async_read_some(asio::buffer(buf), use_tuple);
        else
            rd = co_await socket_.async_read_some(asio::buffer(buf), use_tuple);
        auto [ec, n] = rd;
        if (ec) co_return ec;
        metrics_.note_redis_frame();
        reader_->feed(buf, n);
        for (;;) {
            auto r = reader_->next();
            if (!r) co_return r.error();
            if (!*r) break;
            if (check_role && expected == 1) {
                const redisReply& role = **r;
                const bool master =
                    role.type == REDIS_REPLY_ARRAY && role.elements > 0 &&
                    role.element[0]->type == REDIS_REPLY_STRING &&
                    std::string_view(role.element[0]->str, role.element[0]->len) == "master";
                if (!master) {
                    // Ask another sentinel first next time: this one may lag behind.
                    ++sentinel_index_;
                    shard_metrics::inc(metrics_.redis_sentinel_resolutions_total[2]);
                    log::info("redis_sentinel_not_master", {{"url", redacted_url(opts_.endpoint)}});
                    co_return make_error_code(errc::redis_unexpected_reply);
                }
                shard_metrics::inc(metrics_.redis_sentinel_resolutions_total[0]);
                expected = 0;
                break;
            }
            auto ev = classify(**r);
            if (!ev) co_return ev.error();
            const bool setname = replies++ == setname_reply;
            if (auto* e = std::get_if<error_event>(&*ev);
                e && setname && e->text.starts_with("NOPERM")) {
                log::debug("redis_setname_refused", {{"error", e->text}});
                if (--expected == 0) break;
                continue;
            }
            if (auto* e = std::get_if<error_event>(&*ev)) {
                // WRONGPASS, NOAUTH, ERR invalid DB index...: a configuration problem,
                // reported once per outage like the link state.
                if (!down_reported_)
                    log::error("redis_handshake_failed",
                               {{"error", e->text}, {"url", redacted_url(opts_.endpoint)}});
                co_return make_error_code(errc::redis_error_reply);
            }
            if (!std::holds_alternative<status_event>(*ev))
                co_return make_error_code(errc::redis_unexpected_reply);
            if (--expected == 0) break;
        }
    }
    co_return error_code{};
}

asio::awaitable<error_code> subscriber::read_loop() {
    std::vector<char> buf(16 * 1024);
    for (;;) {
        std::tuple<error_code, std::size_t> rd;
        if (tls_)
            rd = co_await tls_->stream->async_read_some(asio::buffer(buf), use_tuple);
        else
            rd = co_await socket_.async_read_some(asio::buffer(buf), use_tuple);
        auto [ec, n] = rd;
        if (ec) co_return ec;
        last_rx_ = clock::now();
        metrics_.note_redis_frame();
        reader_->feed(buf.data(), n);
        for (;;) {
            auto r = reader_->next();
            if (!r) co_return r.error();
            if (!*r) break;
            if (auto hec = handle_reply(**r)) co_return hec;
        }
    }
}

asio::awaitable<error_code> subscriber::write_loop() {
    for (;;) {
        if (out_.empty()) {
            write_signal_.expires_at(clock::time_point::max());
            co_await write_signal_.async_wait(use_tuple);  // cancelled by notify_writer()
            // The same cancellation also arrives when a sibling in `a || b` finished;
            // awaiting again after that would throw, so leave.
            auto cs = co_await asio::this_coro::cancellation_state;
            if (stopped_ || cs.cancelled() != asio::cancellation_type::none)
                co_return asio::error::operation_aborted;
            continue;
        }
        writing_.swap(out_);
        std::tuple<error_code, std::size_t> wr;
        if (tls_)
            wr = co_await asio::async_write(*tls_->stream, asio::buffer(writing_), use_tuple);
        else
            wr = co_await asio::async_write(socket_, asio::buffer(writing_), use_tuple);
        if (auto ec = std::get<0>(wr)) co_return ec;
        writing_.clear();
    }
}

asio::awaitable<error_code> subscriber::watchdog() {
    // The probe runs every ping_interval even while messages flow. Its answer queues behind
    // every message Redis holds for us (RESP2 answers in order on a subscribed connection),
    // so a link that still trickles bytes but lags by more than `timeout` fails the probe
    // just like a dead one. Counting any byte as liveness (as a silence-only ping would)
    // would keep such a link "up" while every message arrives late.
    //
    // The timer waits for the next deadline itself (the next probe's send time, or the
    // outstanding one's answer deadline), not for a periodic tick, so a wedged link is
    // noticed within ping_interval + timeout of the last answered probe, late only by the
    // turn of the event loop that was running: the bound that /readyz documents. With a
    // timeout longer than the interval, a probe answered early must not delay the next one
    // until its deadline: the timer wakes at the send time first and looks.
    asio::steady_timer tick(ex_);
    for (;;) {
        const auto send_at = probe_sent_ + opts_.ping_interval;
        if (!probe_outstanding_)
            tick.expires_at(send_at);
        else
            tick.expires_at(clock::now() < send_at ? std::min(send_at, probe_sent_ + opts_.timeout)
                                                   : probe_sent_ + opts_.timeout);
        auto [ec] = co_await tick.async_wait(use_tuple);
        if (ec) co_return ec;
        auto now = clock::now();
        if (probe_outstanding_) {
            if (now - probe_sent_ < opts_.timeout) continue;
            // After a stall of this thread the answer may be read but not yet handled: let
            // every ready completion (the read loop's among them) run, then look again.
            co_await asio::post(ex_, asio::as_tuple(asio::use_awaitable));
            // A sibling of `a || b` may have finished meanwhile; awaiting again would throw.
            auto cs = co_await asio::this_coro::cancellation_state;
            if (cs.cancelled() != asio::cancellation_type::none)
                co_return asio::error::operation_aborted;
            if (!probe_outstanding_) continue;
            // Half-open TCP, a stuck server, or a backlog older than the deadline: rebuild
            // the link rather than wait for TCP (messages queued for us are lost either way).
            shard_metrics::inc(metrics_.redis_probe_timeouts_total);
            co_return make_error_code(errc::redis_timeout);
        }
        if (now - probe_sent_ >= opts_.ping_interval) {
            append_command(out_, {"PING"});
            probe_sent_ = now;
            probe_outstanding_ = true;
            notify_writer();
        }
    }
}

// --- Redis Sentinel ----------------------------------------------------------------------

asio::awaitable<error_code> subscriber::resolve_master() {
    const auto& sn = *opts_.sentinel;
    const std::size_t n = sn.sentinels.size();
    std::string why = "no sentinel";
    for (std::size_t k = 0; k < n && !stopped_; ++k) {
        const std::size_t i = (sentinel_index_ + k) % n;
        auto r = co_await query_master_address(ex_, sn.sentinels[i], sn.master_name, opts_.timeout,
                                               sentinel_deadline_);
        if (r) {
            sentinel_index_ = i;
            opts_.endpoint.host = r->host;
            opts_.endpoint.port = r->port;
            co_return error_code{};
        }
        why = r.error() == make_error_code(errc::redis_error_reply)
                  ? "the sentinel knows no master of that name"
                  : r.error().message();
    }
    if (stopped_) co_return asio::error::operation_aborted;
    shard_metrics::inc(metrics_.redis_sentinel_resolutions_total[1]);
    // A wrong master name or unreachable sentinels: reported once per outage, like the link.
    if (!down_reported_)
        log::error("redis_sentinel_no_master",
                   {{"master", sn.master_name}, {"url", redacted_url(sn)}, {"error", why}});
    co_return make_error_code(errc::redis_error_reply);
}

asio::awaitable<error_code> subscriber::switch_watch() {
    // A cancelled wait returns an error here instead of throwing, so the loop below can
    // look at the cancellation state and leave.
    co_await asio::this_coro::throw_if_cancelled(false);
    const auto& sn = *opts_.sentinel;
    asio::steady_timer pause(ex_);
    for (std::size_t k = 0;; ++k) {
        const auto& s = sn.sentinels[(sentinel_index_ + k) % sn.sentinels.size()];
        auto ec = co_await watch_one(s);
        auto cs = co_await asio::this_coro::cancellation_state;
        if (master_switched_ || stopped_ || cs.cancelled() != asio::cancellation_type::none)
            co_return ec ? ec : asio::error::operation_aborted;
        // The data link is unaffected: watch through the next sentinel after a pause.
        log::debug("redis_sentinel_watch_lost", {{"reason", ec.message()}});
        pause.expires_after(
            std::min<std::chrono::milliseconds>(opts_.backoff_max, std::chrono::seconds(1)));
        co_await pause.async_wait(use_tuple);
        cs = co_await asio::this_coro::cancellation_state;
        if (stopped_ || cs.cancelled() != asio::cancellation_type::none)
            co_return asio::error::operation_aborted;
    }
}

asio::awaitable<error_code> subscriber::watch_one(const redis_endpoint& sentinel) {
    const auto& sn = *opts_.sentinel;
    error_code ignored;
    sentinel_socket_.close(ignored);
    sentinel_socket_ = asio::ip::tcp::socket(ex_);
    asio::steady_timer deadline(ex_);
    auto open = [&]() -> asio::awaitable<error_code> {
        if (auto ec = co_await resolve_and_connect(sentinel_socket_, sentinel.host, sentinel.port))
            co_return ec;
        std::string cmd;
        append_command(cmd, {"SUBSCRIBE", "+switch-master"});
        auto [wec, wn] = co_await asio::async_write(sentinel_socket_, asio::buffer(cmd), use_tuple);
        co_return wec;
    };
    if (auto ec = co_await with_deadline(open(), deadline, opts_.timeout)) co_return ec;

    auto switched = [&](const master_address& to, const char* how) {
        master_switched_ = true;
        shard_metrics::inc(metrics_.redis_sentinel_switches_total);
        log::info("redis_sentinel_switch_master", {{"master", sn.master_name},
                                                   {"from", redacted_url(opts_.endpoint)},
                                                   {"to", to.host + ":" + std::to_string(to.port)},
                                                   {"seen", how}});
        return make_error_code(errc::redis_unexpected_reply);
    };
    resp_reader reader;
    std::vector<char> buf(4096);
    bool confirmed = false;
    for (;;) {
        auto [ec, n] = co_await sentinel_socket_.async_read_some(asio::buffer(buf), use_tuple);
        if (ec) co_return ec;
        reader.feed(buf.data(), n);
        for (;;) {
            auto r = reader.next();
            if (!r) co_return r.error();
            if (!*r) break;
            auto ev = classify(**r);
            if (!ev) co_return ev.error();
            if (std::holds_alternative<subscribe_event>(*ev) && !confirmed) {
                confirmed = true;
                // A failover may have finished between the look-up and this subscription,
                // and its +switch-master is gone: ask once more now that none can be missed.
                asio::steady_timer qt(ex_);
                auto now =
                    co_await query_master_address(ex_, sentinel, sn.master_name, opts_.timeout, qt);
                auto cs = co_await asio::this_coro::cancellation_state;
                if (cs.cancelled() != asio::cancellation_type::none)
                    co_return asio::error::operation_aborted;
                if (now && (now->host != opts_.endpoint.host || now->port != opts_.endpoint.port))
                    co_return switched(*now, "query");
            } else if (auto* m = std::get_if<message_event>(&*ev)) {
                if (m->channel != "+switch-master") continue;
                if (auto to = parse_switch_master(m->payload, sn.master_name))
                    co_return switched(*to, "event");
            }
        }
    }
}

}  // namespace wsgate::redis
