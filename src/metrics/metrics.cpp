// Rendering of the shard counters as Prometheus metric families. The names are part of
// the operator contract (dashboards and alerts); keep them stable.
#include "metrics/metrics.hpp"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <span>
#include <sstream>

#include "auth/authorize.hpp"
#include "util/error.hpp"

namespace wsgate {
namespace {

constexpr const char* drop_labels[] = {"slow_consumer", "invalid_utf8", "closing"};
constexpr const char* reject_labels[] = {"not_found",   "upgrade_required", "method_not_allowed",
                                         "bad_request", "header_too_large", "timeout"};
constexpr const char* close_labels[] = {"slow_consumer", "shutdown", "subscribe_timeout",
                                        "client_protocol", "ping_timeout"};
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
    out.push_back(scalar("wsgate_shards", "Event-loop shards (threads).", MetricType::Gauge,
                         static_cast<double>(shards_.size())));

    std::ostringstream text;
    prometheus::TextSerializer{}.Serialize(text, out);
    return text.str();
}

}  // namespace wsgate
