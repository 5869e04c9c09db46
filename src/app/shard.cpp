// Shard wiring: hub ⇄ subscriber, message parsing once per shard, shutdown order.
#include "app/shard.hpp"

#include <algorithm>

#include "server/listener.hpp"
#include "util/log.hpp"
#include "util/utf8.hpp"

namespace wsgate {

namespace {
redis::subscriber_options subscriber_options_for(const config& cfg, std::size_t index) {
    redis::subscriber_options o;
    o.endpoint = cfg.redis;
    o.tls = cfg.redis_tls;
    o.timeout = cfg.redis_timeout;
    o.ping_interval = cfg.redis_ping_interval;
    o.backoff_max = cfg.redis_backoff_max;
    o.client_name = "wsgate-shard-" + std::to_string(index);
    o.sentinel = cfg.redis_sentinel;  // each shard resolves the master and watches failovers
    return o;
}

redis::cluster_subscriber_options cluster_options_for(const config& cfg, std::size_t index) {
    redis::cluster_subscriber_options o;
    o.seeds = cfg.redis_seeds.empty() ? std::vector{cfg.redis} : cfg.redis_seeds;
    o.node = subscriber_options_for(cfg, index);
    o.refresh_interval = cfg.redis_cluster_refresh_interval;
    return o;
}
}  // namespace

shard::shard(std::size_t index, const config& cfg, const auth::verifier_store& verifiers,
             metrics_registry& registry, const std::atomic<bool>& stopping, admission& admission,
             const origin_policy& origins, demo_mode* demo)
    : index_(index),
      cfg_(cfg),
      metrics_(registry.shard(index)),
      ioc_(std::make_unique<io_context_t>(1)),
      hub_(*this),
      ctx_{cfg, verifiers, registry, stopping, metrics_, hub_, admission, origins},
      sweep_timer_(ioc_->get_executor()) {
    ctx_.demo = demo;
    if (cfg.redis_mode == redis_mode::cluster)
        cluster_ = std::make_unique<redis::cluster_subscriber>(
            ioc_->get_executor(), cluster_options_for(cfg, index), *this, metrics_);
    else
        subscriber_ = std::make_unique<redis::subscriber>(
            ioc_->get_executor(), subscriber_options_for(cfg, index), *this, metrics_);
}

void shard::stop_redis() {
    if (subscriber_) subscriber_->stop();
    if (cluster_) cluster_->stop();
}

shard::~shard() {
    // After an orderly stop there is nothing pending. After a forced one, handlers still own
    // sessions whose destructors use the hub and the subscriber: close what is open, then
    // destroy those handlers now, while everything they use still exists. The io_context
    // itself goes last, after every I/O object of this shard.
    stop_redis();
    if (listener_) listener_->stop();
    if (metrics_listener_) metrics_listener_->stop();
    sweep_timer_.cancel();
    ioc_->destroy_pending_handlers();
}

void shard::start(tcp::acceptor acceptor, std::optional<tcp::acceptor> metrics_acceptor) {
    budget_window_start_ = std::chrono::steady_clock::now();
    listener_ = std::make_shared<listener>(std::move(acceptor), ctx_);
    listener_->run();
    if (metrics_acceptor) {
        metrics_listener_ =
            std::make_shared<listener>(std::move(*metrics_acceptor), ctx_, listener_role::metrics);
        metrics_listener_->run();
    }
    if (subscriber_) subscriber_->run();
    if (cluster_) cluster_->run();
    sweep();
}

void shard::run() { ioc_->run(); }

std::chrono::milliseconds shard::sweep_interval(const config& cfg) {
    using std::chrono::milliseconds;
    if (cfg.ping_interval.count() == 0) return milliseconds(1000);
    return std::clamp(cfg.ping_interval / 4, milliseconds(50), milliseconds(1000));
}

void shard::sweep() {
    sweep_timer_.expires_after(sweep_interval(cfg_));
    sweep_timer_.async_wait([this](error_code ec) {
        if (ec || ctx_.shutting_down) return;
        // One pass over the shard's connections instead of a timer wait pending on each:
        // at 100k connections a pass costs a few milliseconds a second.
        sweep_time t{std::chrono::steady_clock::now(), std::chrono::system_clock::now()};
        // Client budgets (--client-budget-*) restart together, on the first sweep after
        // each interval: a window is up to one sweep (at most a second) longer than set.
        if (t.now - budget_window_start_ >= cfg_.client_budget_interval) {
            t.new_budget_window = true;
            budget_window_start_ = t.now;
        }
        for (auto it = ctx_.connections.begin(); it != ctx_.connections.end();) (it++)->tick(t);
        sweep();
    });
}

void shard::begin_shutdown() {
    log::info("shard_stopping", {{"shard", static_cast<long long>(index_)},
                                 {"sessions", static_cast<long long>(hub_.sessions())}});
    ctx_.shutting_down = true;
    if (listener_) listener_->stop();
    if (metrics_listener_) metrics_listener_->stop();
    sweep_timer_.cancel();
    // Sessions unlink themselves only when destroyed, which never happens inside
    // shutdown(): their handlers still own them.
    for (auto it = ctx_.connections.begin(); it != ctx_.connections.end();) (it++)->shutdown();
    stop_redis();
}

void shard::want(std::string_view channel) {
    if (subscriber_)
        subscriber_->want(channel);
    else
        cluster_->want(channel);
}

void shard::drop(std::string_view channel) {
    if (subscriber_)
        subscriber_->drop(channel);
    else
        cluster_->drop(channel);
}

void shard::on_message(std::string_view channel, std::string_view payload) {
    // The hub is keyed by channel: a channel nobody here holds costs one lookup.
    hub_.publish(channel, [&](std::size_t recipients) -> message_ptr {
        bool text = is_valid_utf8(payload);
        if (!text && cfg_.invalid_utf8 == invalid_utf8_policy::drop) {
            // RFC 6455 forbids invalid UTF-8 in text frames and browsers fail the
            // connection on it, so such a payload is not sent (README, "Payloads").
            metrics_.count_drop(drop_reason::invalid_utf8, recipients);
            return nullptr;
        }
        // One copy out of the Redis reply, shared by every recipient on this shard.
        return std::make_shared<const message>(message{std::string(payload), !text});
    });
}

void shard::on_subscribed(std::string_view channel) { hub_.on_subscribed(channel); }

void shard::on_link_down() { hub_.on_unsubscribed_all(); }

void shard::on_channels_down(const std::vector<std::string>& channels) {
    // Only these channels lost their subscription (a node link lost, a slot migrated): only
    // their users wait for a confirmation again, in O(channels), not O(users).
    for (const auto& channel : channels) hub_.on_unsubscribed(channel);
}

}  // namespace wsgate
