// Gateway metrics. Each shard owns a shard_metrics and is its only writer (relaxed
// atomics, so a scrape on another thread reads without a data race and without a lock on
// the data plane). A scrape sums the shards and renders Prometheus text with prometheus-cpp.
#pragma once

#include <array>
#include <atomic>
#include <boost/system/error_code.hpp>
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
    count_
};
/// Why the gateway closed a WebSocket (auth failures are counted separately, by reason).
enum class close_cause : std::uint8_t {
    slow_consumer,
    shutdown,
    subscribe_timeout,
    client_protocol,
    ping_timeout,
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

    void count_drop(drop_reason r, std::uint64_t n = 1) noexcept {
        inc(messages_dropped_total[static_cast<std::size_t>(r)], n);
    }
    void count_auth_failure(boost::system::error_code ec) noexcept;
    void count_http_reject(http_reject r) noexcept {
        inc(http_rejected_total[static_cast<std::size_t>(r)]);
    }
    void count_close(close_cause c) noexcept { inc(closes_total[static_cast<std::size_t>(c)]); }
};

/// All shards' metrics; created before the shards start, read by scrapes on any thread.
class metrics_registry {
public:
    explicit metrics_registry(std::size_t shards);

    shard_metrics& shard(std::size_t i) { return *shards_[i]; }
    const shard_metrics& shard(std::size_t i) const { return *shards_[i]; }
    std::size_t shard_count() const { return shards_.size(); }

    /// Prometheus text exposition (version 0.0.4) of the sum over shards. Any thread.
    std::string render() const;

private:
    std::vector<std::unique_ptr<shard_metrics>> shards_;
};

}  // namespace wsgate
