// Metrics rendering: names, labels, and summing over shards.
#include "metrics/metrics.hpp"

#include <gtest/gtest.h>

#include "util/error.hpp"

namespace {
bool has_line(const std::string& text, const std::string& line) {
    return text.find("\n" + line + "\n") != std::string::npos;
}
}  // namespace

TEST(Metrics, SumsCountersAndGaugesOverShards) {
    wsgate::metrics_registry reg(2);
    wsgate::shard_metrics::add(reg.shard(0).connections, 3);
    wsgate::shard_metrics::add(reg.shard(1).connections, 4);
    wsgate::shard_metrics::inc(reg.shard(0).messages_delivered_total, 10);
    wsgate::shard_metrics::inc(reg.shard(1).messages_delivered_total, 5);
    auto text = reg.render();
    EXPECT_TRUE(has_line(text, "wsgate_connections 7")) << text;
    EXPECT_TRUE(has_line(text, "wsgate_messages_delivered_total 15")) << text;
}

TEST(Metrics, DropsAndAuthFailuresCarryReasons) {
    wsgate::metrics_registry reg(1);
    reg.shard(0).count_drop(wsgate::drop_reason::slow_consumer, 2);
    reg.shard(0).count_auth_failure(make_error_code(wsgate::errc::token_expired));
    reg.shard(0).count_auth_failure(make_error_code(wsgate::errc::client_id_mismatch));
    reg.shard(0).count_close(wsgate::close_cause::slow_consumer);
    auto text = reg.render();
    EXPECT_TRUE(has_line(text, "wsgate_messages_dropped_total{reason=\"slow_consumer\"} 2"))
        << text;
    EXPECT_TRUE(has_line(text, "wsgate_messages_dropped_total{reason=\"invalid_utf8\"} 0")) << text;
    EXPECT_TRUE(has_line(text, "wsgate_auth_failures_total{reason=\"expired\"} 1")) << text;
    EXPECT_TRUE(has_line(text, "wsgate_auth_failures_total{reason=\"mismatch\"} 1")) << text;
    EXPECT_TRUE(has_line(text, "wsgate_closes_total{cause=\"slow_consumer\"} 1")) << text;
}

TEST(Metrics, RedisUpOnlyWhenEveryShardIsUp) {
    wsgate::metrics_registry reg(2);
    reg.shard(0).redis_up = 1;
    EXPECT_TRUE(has_line(reg.render(), "wsgate_redis_up 0"));
    reg.shard(1).redis_up = 1;
    EXPECT_TRUE(has_line(reg.render(), "wsgate_redis_up 1"));
}

TEST(Metrics, EveryFamilyHasHelpAndType) {
    wsgate::metrics_registry reg(1);
    auto text = reg.render();
    for (auto name :
         {"wsgate_connections", "wsgate_users", "wsgate_messages_delivered_total",
          "wsgate_messages_dropped_total", "wsgate_bytes_sent_total", "wsgate_auth_failures_total",
          "wsgate_redis_up", "wsgate_redis_reconnects_total", "wsgate_queued_bytes"}) {
        EXPECT_NE(text.find(std::string("# HELP ") + name + " "), std::string::npos) << name;
        EXPECT_NE(text.find(std::string("# TYPE ") + name + " "), std::string::npos) << name;
    }
}
