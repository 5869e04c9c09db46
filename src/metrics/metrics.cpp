// Rendering of the shard counters as Prometheus metric families. The names are part of
// the operator contract (dashboards and alerts); keep them stable.
#include "metrics/metrics.hpp"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <limits>
#include <span>
#include <sstream>

#include "auth/authorize.hpp"
#include "util/error.hpp"

namespace wsgate {
namespace {

constexpr const char* drop_labels[] = {"slow_consumer", "invalid_utf8", "closing"};
constexpr const char* reject_labels[] = {
    "not_found",        "upgrade_required", "method_not_allowed",      "bad_request",
    "header_too_large", "timeout",          "over_capacity",           "handshake_limit",
    "rate_limited",     "origin",           "address_handshake_limit", "demo_forbidden"};
constexpr const char* close_labels[] = {
    "slow_consumer", "shutdown",   "subscribe_timeout", "client_protocol", "ping_timeout",
    "token_expired", "user_limit", "client_bytes",      "client_frames",   "client_bytes_cut"};
static_assert(std::size(drop_labels) == static_cast<std::size_t>(drop_reason::count_));
static_assert(std::size(reject_labels) == static_cast<std::size_t>(http_reject::count_));
static_assert(std::size(close_labels) == static_cast<std::size_t>(close_cause::count_));

using family = prometheus::MetricFamily;

template <class Field>
double sum(const std::vector<std::unique_ptr<shard_metrics>>& shards, Field field) {
    double total = 0;
    for (const auto& s : shards)
        total += static_cast<double>(field(*s).load(std::memory_order_relaxed));
    return total;
}

family scalar(std::string name, std::string help, prometheus::MetricType type, double value) {
    family f{std::move(name), std::move(help), type, {}};
    prometheus::ClientMetric m;
    if (type == prometheus::MetricType::Counter)
        m.counter.value = value;
    else
        m.gauge.value = value;
    f.metric.push_back(std::move(m));
    return f;
}

void add_labelled(family& f, const char* label, const char* value, double v) {
    prometheus::ClientMetric m;
    m.label.push_back({label, value});
    m.counter.value = v;
    f.metric.push_back(std::move(m));
}

}  // namespace

void shard_metrics::count_auth_failure(boost::system::error_code ec) noexcept {
    auto i = ec.category() == wsgate_category() ? static_cast<std::size_t>(ec.value()) : 0;
    if (i >= auth_failures_total.size()) i = 0;
    inc(auth_failures_total[i]);
}

// --- Redis link liveness -------------------------------------------------------------------
void shard_metrics::observe_probe_rtt(std::chrono::nanoseconds rtt) noexcept {
    const auto ns = std::max<std::int64_t>(rtt.count(), 0);
    redis_probe_rtt_ns.store(ns, std::memory_order_relaxed);
    const double seconds = static_cast<double>(ns) / 1e9;
    std::size_t i = 0;
    while (i < probe_rtt_bounds.size() && seconds > probe_rtt_bounds[i]) ++i;
    inc(redis_probe_rtt_buckets[i]);
    inc(redis_probe_rtt_sum_ns, static_cast<std::uint64_t>(ns));
}

namespace {

// Families of the liveness block: frame age and last probe round trip per shard, the
// probe round-trip histogram and the probe timeouts summed over shards.
void render_redis_liveness(const std::vector<std::unique_ptr<shard_metrics>>& shards,
                           std::vector<family>& out) {
    using prometheus::MetricType;
    const auto now = shard_metrics::steady_now_ns();
    family age{"wsgate_redis_last_frame_age_seconds",
               "Seconds since the shard last read anything from its Redis connection.",
               MetricType::Gauge,
               {}};
    family rtt{"wsgate_redis_probe_rtt_seconds",
               "Round trip of the shard's last answered liveness PING on its subscribed "
               "connection: the queueing delay of the Pub/Sub path.",
               MetricType::Gauge,
               {}};
    family hist{"wsgate_redis_probe_round_trip_seconds",
                "Round trips of answered liveness PINGs, all shards.",
                MetricType::Histogram,
                {}};
    prometheus::ClientMetric h;
    std::vector<std::uint64_t> buckets(shard_metrics::probe_rtt_bounds.size() + 1, 0);
    double sum_ns = 0;
    double timeouts = 0;
    for (std::size_t i = 0; i < shards.size(); ++i) {
        const auto& s = *shards[i];
        const auto label = std::to_string(i);
        prometheus::ClientMetric a;
        a.label.push_back({"shard", label});
        const auto last = s.redis_last_frame_ns.load(std::memory_order_relaxed);
        a.gauge.value = static_cast<double>(std::max<std::int64_t>(now - last, 0)) / 1e9;
        age.metric.push_back(std::move(a));
        // A shard without an answered probe has no round trip to show (not a fake 0).
        if (const auto r = s.redis_probe_rtt_ns.load(std::memory_order_relaxed); r >= 0) {
            prometheus::ClientMetric m;
            m.label.push_back({"shard", label});
            m.gauge.value = static_cast<double>(r) / 1e9;
            rtt.metric.push_back(std::move(m));
        }
        for (std::size_t b = 0; b < buckets.size(); ++b)
            buckets[b] += s.redis_probe_rtt_buckets[b].load(std::memory_order_relaxed);
        sum_ns += static_cast<double>(s.redis_probe_rtt_sum_ns.load(std::memory_order_relaxed));
        timeouts +=
            static_cast<double>(s.redis_probe_timeouts_total.load(std::memory_order_relaxed));
    }
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b < buckets.size(); ++b) {
        cumulative += buckets[b];
        h.histogram.bucket.push_back({cumulative, b < shard_metrics::probe_rtt_bounds.size()
                                                      ? shard_metrics::probe_rtt_bounds[b]
                                                      : std::numeric_limits<double>::infinity()});
    }
    h.histogram.sample_count = cumulative;
    h.histogram.sample_sum = sum_ns / 1e9;
    hist.metric.push_back(std::move(h));
    out.push_back(std::move(age));
    out.push_back(std::move(rtt));
    out.push_back(std::move(hist));
    out.push_back(scalar("wsgate_redis_probe_timeouts_total",
                         "Liveness PINGs not answered within --redis-timeout; each rebuilds the "
                         "link.",
                         MetricType::Counter, timeouts));
}

}  // namespace
// --- end of Redis link liveness -------------------------------------------------------------

// --- JWT key reloads (process-wide) ---------------------------------------------------------
namespace {

void render_jwt_reloads(const process_metrics& p, std::vector<family>& out) {
    family reloads{"wsgate_jwt_reloads_total",
                   "JWT key reloads (SIGHUP or a changed key file), by result; on error the "
                   "previous keys stay in force.",
                   prometheus::MetricType::Counter,
                   {}};
    add_labelled(reloads, "result", "ok",
                 static_cast<double>(p.jwt_reloads_ok_total.load(std::memory_order_relaxed)));
    add_labelled(reloads, "result", "error",
                 static_cast<double>(p.jwt_reloads_error_total.load(std::memory_order_relaxed)));
    out.push_back(std::move(reloads));
    out.push_back(scalar("wsgate_jwt_keys_loaded",
                         "JWT verification keys in force: public keys plus the shared secret.",
                         prometheus::MetricType::Gauge,
                         static_cast<double>(p.jwt_keys_loaded.load(std::memory_order_relaxed))));
}

}  // namespace
// --- end of JWT key reloads -------------------------------------------------------------------

metrics_registry::metrics_registry(std::size_t shards) {
    for (std::size_t i = 0; i < shards; ++i) shards_.push_back(std::make_unique<shard_metrics>());
}

std::string metrics_registry::render() const {
    using prometheus::MetricType;
    std::vector<family> out;
    auto counter = [&](const char* name, const char* help, auto field) {
        out.push_back(scalar(name, help, MetricType::Counter, sum(shards_, field)));
    };
    auto gauge = [&](const char* name, const char* help, auto field) {
        out.push_back(scalar(name, help, MetricType::Gauge, sum(shards_, field)));
    };

    gauge(
        "wsgate_connections", "Open WebSocket connections.",
        [](auto& s) -> auto& { return s.connections; });
    counter(
        "wsgate_connections_total", "WebSocket connections authorized and opened.",
        [](auto& s) -> auto& { return s.connections_total; });
    gauge(
        "wsgate_users", "Distinct users with an open connection, counted per shard.",
        [](auto& s) -> auto& { return s.users; });
    gauge(
        "wsgate_queued_bytes", "Payload bytes waiting in per-connection send queues.",
        [](auto& s) -> auto& { return s.queued_bytes; });
    counter(
        "wsgate_redis_messages_total", "Messages received from Redis Pub/Sub.",
        [](auto& s) -> auto& { return s.redis_messages_total; });
    counter(
        "wsgate_messages_delivered_total", "WebSocket frames written to clients.",
        [](auto& s) -> auto& { return s.messages_delivered_total; });
    counter(
        "wsgate_bytes_sent_total", "Payload bytes written to clients.",
        [](auto& s) -> auto& { return s.bytes_sent_total; });

    // A counter family with one series per label value; `array` picks the shard array.
    auto labelled = [&](const char* name, const char* help, const char* label,
                        std::span<const char* const> values, auto array) {
        family f{name, help, MetricType::Counter, {}};
        for (std::size_t i = 0; i < values.size(); ++i)
            add_labelled(f, label, values[i],
                         sum(
                             shards_, [&](auto& s) -> auto& { return array(s)[i]; }));
        out.push_back(std::move(f));
    };
    labelled(
        "wsgate_messages_dropped_total", "Messages not delivered to a connection, by reason.",
        "reason", drop_labels, [](auto& s) -> auto& { return s.messages_dropped_total; });

    // Auth failures are indexed by errc value; the labels come from auth::metric_reason.
    std::vector<std::string> auth_names(static_cast<std::size_t>(errc::client_id_mismatch) + 1);
    std::vector<const char*> auth_labels(auth_names.size(), nullptr);
    for (int e = static_cast<int>(errc::token_missing);
         e <= static_cast<int>(errc::client_id_mismatch); ++e) {
        auto i = static_cast<std::size_t>(e);
        auth_names[i] = auth::metric_reason(make_error_code(static_cast<errc>(e)));
        auth_labels[i] = auth_names[i].c_str();
    }
    labelled("wsgate_auth_failures_total", "Upgrades refused with close code 1008, by reason.",
             "reason", std::span(auth_labels).subspan(1),
             [](auto& s) { return std::span(s.auth_failures_total).subspan(1); });

    labelled(
        "wsgate_http_rejected_total", "HTTP requests answered without an upgrade, by reason.",
        "reason", reject_labels, [](auto& s) -> auto& { return s.http_rejected_total; });
    labelled(
        "wsgate_closes_total", "WebSocket connections closed by the gateway, by cause.", "cause",
        close_labels, [](auto& s) -> auto& { return s.closes_total; });

    double up = 1;
    for (const auto& s : shards_)
        up = std::min(up, static_cast<double>(s->redis_up.load(std::memory_order_relaxed)));
    out.push_back(scalar("wsgate_redis_up",
                         "1 when every shard's Redis link is connected and subscribed.",
                         MetricType::Gauge, shards_.empty() ? 0 : up));
    counter(
        "wsgate_redis_reconnects_total", "Redis subscriber connections re-established.",
        [](auto& s) -> auto& { return s.redis_reconnects_total; });
    counter(
        "wsgate_redis_resubscribed_total", "Channels subscribed again after a reconnect.",
        [](auto& s) -> auto& { return s.redis_resubscribed_total; });
    gauge(
        "wsgate_redis_channels", "Channels subscribed, summed over shard connections.",
        [](auto& s) -> auto& { return s.redis_channels; });
    render_redis_liveness(shards_, out);
    // Redis Cluster (zero in single mode). Labels are bounded: triggers only, no node names.
    labelled(
        "wsgate_redis_cluster_refreshes_total",
        "Cluster slot map reads that succeeded, by what triggered them.", "trigger",
        shard_metrics::cluster_refresh_triggers,
        [](auto& s) -> auto& { return s.redis_cluster_refreshes_total; });
    counter(
        "wsgate_redis_cluster_refresh_errors_total",
        "Cluster slot map reads for which no node answered.",
        [](auto& s) -> auto& { return s.redis_cluster_refresh_errors_total; });
    counter(
        "wsgate_redis_cluster_channels_moved_total",
        "Channels resubscribed on a new master after the slot map changed.",
        [](auto& s) -> auto& { return s.redis_cluster_channels_moved_total; });
    gauge(
        "wsgate_redis_cluster_node_links",
        "Subscriber links to cluster masters, summed over shards.",
        [](auto& s) -> auto& { return s.redis_cluster_nodes; });
    gauge(
        "wsgate_redis_cluster_node_links_ready",
        "Cluster master links connected with every channel confirmed, summed over shards.",
        [](auto& s) -> auto& { return s.redis_cluster_nodes_ready; });
    // Redis Sentinel (zero without a redis+sentinel:// URL). Bounded labels, no addresses.
    labelled(
        "wsgate_redis_sentinel_resolutions_total",
        "Master look-ups through the sentinels, by result.", "result",
        shard_metrics::sentinel_resolution_results,
        [](auto& s) -> auto& { return s.redis_sentinel_resolutions_total; });
    counter(
        "wsgate_redis_sentinel_switches_total",
        "+switch-master events for the monitored master seen by the shards.",
        [](auto& s) -> auto& { return s.redis_sentinel_switches_total; });
    out.push_back(scalar("wsgate_shards", "Event-loop shards (threads).", MetricType::Gauge,
                         static_cast<double>(shards_.size())));
    render_jwt_reloads(process_, out);

    std::ostringstream text;
    prometheus::TextSerializer{}.Serialize(text, out);
    return text.str();
}

}  // namespace wsgate
