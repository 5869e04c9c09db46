// A shard: one thread's io_context with its own listener, hub and Redis subscriber. The
// shard wires the hub's subscription wishes to the subscriber and the subscriber's
// messages to the hub. Nothing in it is touched from another thread except through post.
#pragma once

#include <atomic>
#include <memory>
#include <optional>

#include "hub/hub.hpp"
#include "redis/cluster_subscriber.hpp"
#include "redis/subscriber.hpp"
#include "server/server_context.hpp"
#include "util/net.hpp"

namespace wsgate {

class listener;

/// One event loop and everything that lives on it.
class shard final : public subscriptions, public redis::subscriber_events {
public:
    shard(std::size_t index, const config& cfg, const auth::verifier_store& verifiers,
          metrics_registry& registry, const std::atomic<bool>& stopping, admission& admission,
          const origin_policy& origins, demo_mode* demo = nullptr);
    ~shard();

    net::io_context& context() { return *ioc_; }

    /// Starts accepting on `acceptor` (bound on this shard's context), and on
    /// `metrics_acceptor` (--metrics-listen) when given, and connecting to Redis. Call
    /// before run().
    void start(tcp::acceptor acceptor, std::optional<tcp::acceptor> metrics_acceptor = {});
    /// Runs the event loop on the calling thread until the shard has no work left.
    void run();
    /// Stops accepting, closes every connection with 1001 and releases Redis. Shard
    /// thread only (post it).
    void begin_shutdown();

    // subscriptions
    void want(std::string_view channel) override;
    void drop(std::string_view channel) override;

    // redis::subscriber_events
    void on_message(std::string_view channel, std::string_view payload) override;
    void on_subscribed(std::string_view channel) override;
    void on_link_down() override;
    void on_channels_down(const std::vector<std::string>& channels) override;

    /// How often the shard sweeps its connections: a quarter of --ping-interval, at most a
    /// second (the precision of token expiry), at least 50 ms.
    static std::chrono::milliseconds sweep_interval(const config& cfg);

private:
    void sweep();
    void stop_redis();

    std::size_t index_;
    const config& cfg_;
    shard_metrics& metrics_;
    // An io_context whose pending handlers can be destroyed before the objects they use.
    struct io_context_t : net::io_context {
        using net::io_context::io_context;
        void destroy_pending_handlers() { shutdown(); }
    };
    // Declared before everything that does I/O on it, so it is destroyed last.
    std::unique_ptr<io_context_t> ioc_;
    hub hub_;
    // Exactly one of the two, by --redis-mode.
    std::unique_ptr<redis::subscriber> subscriber_;
    std::unique_ptr<redis::cluster_subscriber> cluster_;
    server_context ctx_;
    std::shared_ptr<listener> listener_;
    std::shared_ptr<listener> metrics_listener_;  // --metrics-listen, on one shard only
    // One timer for every connection's keepalive, token expiry and budget (see sweep()).
    net::steady_timer sweep_timer_;
    std::chrono::steady_clock::time_point budget_window_start_{};
};

}  // namespace wsgate
