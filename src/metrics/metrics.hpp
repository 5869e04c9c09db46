// Gateway metrics. Each shard owns a shard_metrics and is its only writer (relaxed
// atomics, so a scrape on another thread reads without a data race and without a lock on
// the data plane). A scrape sums the shards and renders Prometheus text with prometheus-cpp.
#pragma once

#include <array>
#include <atomic>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace wsgate {

/// Why a message for a connection was not sent.
enum class drop_reason : std::uint8_t { slow_consumer, invalid_utf8, closing, count_ };
/// Why the gateway answered an HTTP request without upgrading it.
enum class http_reject : std::uint8_t {
    not_found,
    upgrade_required,
    method_not_allowed,
    bad_request,
    header_too_large,
    timeout,
    over_capacity,            // 503: --max-connections reached
    handshake_limit,          // socket closed unanswered: --max-handshakes reached
    rate_limited,             // 429: --ip-connect-rate exceeded
    origin,                   // 403: Origin not in --allowed-origins
    address_handshake_limit,  // 429: the address holds --max-handshakes-per-address
    demo_forbidden,  // 403: a --demo endpoint refused the caller (address, proxy, host, key)
    count_
};
/// Why the gateway closed a WebSocket (auth failures are counted separately, by reason).
enum class close_cause : std::uint8_t {
    slow_consumer,
    shutdown,
    subscribe_timeout,
    client_protocol,
    ping_timeout,
    token_expired,     // 1008 at exp + leeway
    user_limit,        // 4029: --max-connections-per-user reached
    client_bytes,      // 1008: over --client-budget-bytes
    client_frames,     // 1008: over --client-budget-frames
    client_bytes_cut,  // socket cut: still sending at twice --client-budget-bytes
    count_
};

/// Counters and gauges of one shard; written by that shard's thread only.
struct shard_metrics {
    using counter = std::atomic<std::uint64_t>;
    using gauge = std::atomic<std::int64_t>;

    static void inc(counter& c, std::uint64_t n = 1) noexcept {
        c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    static void add(gauge& g, std::int64_t n) noexcept {
        g.store(g.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }

    counter connections_total{0};         // WebSocket sessions authorized and opened
    gauge connections{0};                 // sessions open now
    gauge users{0};                       // distinct users with a session on this shard
    gauge queued_bytes{0};                // payload bytes waiting in send queues
    counter redis_messages_total{0};      // messages read from Redis
    counter messages_delivered_total{0};  // frames written to clients
    counter bytes_sent_total{0};          // payload bytes written to clients
    std::array<counter, static_cast<std::size_t>(drop_reason::count_)> messages_dropped_total{};
    std::array<counter, 32> auth_failures_total{};  // indexed by wsgate::errc value
    std::array<counter, static_cast<std::size_t>(http_reject::count_)> http_rejected_total{};
    std::array<counter, static_cast<std::size_t>(close_cause::count_)> closes_total{};
    gauge redis_up{0};  // 1 while connected and every channel is subscribed
    counter redis_reconnects_total{0};
    counter redis_resubscribed_total{0};  // channels sent again after a reconnect
    gauge redis_channels{0};              // channels subscribed on this shard's connection

    // --- Redis Cluster (--redis-mode cluster; written by the cluster subscriber) ----------
    /// Label values of wsgate_redis_cluster_refreshes_total{trigger}, in the order of
    /// redis::refresh_trigger.
    static constexpr std::array<const char*, 7> cluster_refresh_triggers{
        "startup", "periodic", "moved", "migration", "link_down", "no_owner", "retry"};
    std::array<counter, cluster_refresh_triggers.size()> redis_cluster_refreshes_total{};
    counter redis_cluster_refresh_errors_total{0};  // no node answered with a slot map
    counter redis_cluster_channels_moved_total{0};  // channels re-routed to a new owner
    gauge redis_cluster_nodes{0};                   // node links (one per master)
    gauge redis_cluster_nodes_ready{0};             // of which connected and resubscribed
    // --- end of Redis Cluster --------------------------------------------------------------

    // --- Redis Sentinel (a redis+sentinel:// --redis-url; written by the subscriber) -------
    /// Label values of wsgate_redis_sentinel_resolutions_total{result}: a sentinel named a
    /// node that ROLE confirmed as master; no sentinel named one; the named node was not a
    /// master (a stale answer during a failover).
    static constexpr std::array<const char*, 3> sentinel_resolution_results{"ok", "no_master",
                                                                            "not_master"};
    std::array<counter, sentinel_resolution_results.size()> redis_sentinel_resolutions_total{};
    counter redis_sentinel_switches_total{0};  // +switch-master events seen for our master

    // --- Redis link liveness (written by the subscriber) -----------------------------------
    // Rendered per shard (label `shard`) where a sum would hide the one stuck link.

    /// Upper bounds (seconds) of the probe round-trip histogram; +Inf is implicit.
    static constexpr std::array<double, 12> probe_rtt_bounds{
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5};
    static std::int64_t steady_now_ns() noexcept {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::steady_clock::now().time_since_epoch())
            .count();
    }
    /// steady_clock time (ns since its epoch) of the last bytes read from Redis; starts at
    /// creation, so a link that never came up shows its age since start.
    gauge redis_last_frame_ns{steady_now_ns()};
    /// Round trip of the last answered liveness PING, ns; -1 before the first answer.
    gauge redis_probe_rtt_ns{-1};
    /// Per-bucket (not cumulative) counts; the last slot is +Inf.
    std::array<counter, probe_rtt_bounds.size() + 1> redis_probe_rtt_buckets{};
    counter redis_probe_rtt_sum_ns{0};
    counter redis_probe_timeouts_total{0};  // probes unanswered within the deadline

    void note_redis_frame() noexcept {
        redis_last_frame_ns.store(steady_now_ns(), std::memory_order_relaxed);
    }
    void observe_probe_rtt(std::chrono::nanoseconds rtt) noexcept;
    // --- end of Redis link liveness ---------------------------------------------------------

    void count_drop(drop_reason r, std::uint64_t n = 1) noexcept {
        inc(messages_dropped_total[static_cast<std::size_t>(r)], n);
    }
    void count_auth_failure(boost::system::error_code ec) noexcept;
    void count_http_reject(http_reject r) noexcept {
        inc(http_rejected_total[static_cast<std::size_t>(r)]);
    }
    void count_close(close_cause c) noexcept { inc(closes_total[static_cast<std::size_t>(c)]); }
};

// --- JWT key reloads (process-wide) ---------------------------------------------------------
/// Metrics of the gateway's control thread rather than of a shard: key reloads. Written by
/// the control thread only (relaxed atomics), read by scrapes on any thread.
struct process_metrics {
    std::atomic<std::uint64_t> jwt_reloads_ok_total{0};     // new keys published
    std::atomic<std::uint64_t> jwt_reloads_error_total{0};  // old keys kept: a file was bad
    std::atomic<std::int64_t> jwt_keys_loaded{0};           // public keys + the secret, now
};
// --- end of JWT key reloads -------------------------------------------------------------------

/// All shards' metrics; created before the shards start, read by scrapes on any thread.
class metrics_registry {
public:
    explicit metrics_registry(std::size_t shards);

    shard_metrics& shard(std::size_t i) { return *shards_[i]; }
    const shard_metrics& shard(std::size_t i) const { return *shards_[i]; }
    std::size_t shard_count() const { return shards_.size(); }
    /// Process-wide metrics (JWT key reloads); see process_metrics.
    process_metrics& process() noexcept { return process_; }

    /// Prometheus text exposition (version 0.0.4) of the sum over shards. Any thread.
    std::string render() const;

private:
    std::vector<std::unique_ptr<shard_metrics>> shards_;
    process_metrics process_;
};

}  // namespace wsgate
