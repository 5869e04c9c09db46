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

// --- Redis link liveness ----------------------------------------------------------------

TEST(Metrics, RedisLivenessIsRenderedPerShard) {
    wsgate::metrics_registry reg(2);
    reg.shard(0).note_redis_frame();
    reg.shard(1).redis_last_frame_ns = wsgate::shard_metrics::steady_now_ns() - 3'000'000'000;
    reg.shard(1).observe_probe_rtt(std::chrono::microseconds(700));
    auto text = reg.render();
    // Shard 0 has no answered probe yet: no round trip rather than a made-up 0.
    EXPECT_EQ(text.find("wsgate_redis_probe_rtt_seconds{shard=\"0\"}"), std::string::npos) << text;
    EXPECT_TRUE(has_line(text, "wsgate_redis_probe_rtt_seconds{shard=\"1\"} 0.0007")) << text;
    auto age = [&](const char* shard) {
        const std::string key =
            std::string("wsgate_redis_last_frame_age_seconds{shard=\"") + shard + "\"} ";
        auto at = text.find(key);
        EXPECT_NE(at, std::string::npos) << text;
        return at == std::string::npos ? -1.0 : std::stod(text.substr(at + key.size()));
    };
    EXPECT_LT(age("0"), 1.0);
    EXPECT_GE(age("1"), 3.0);
    EXPECT_LT(age("1"), 60.0);
}

TEST(Metrics, ProbeRoundTripHistogramIsCumulativeOverShards) {
    wsgate::metrics_registry reg(2);
    reg.shard(0).observe_probe_rtt(std::chrono::microseconds(300));  // <= 0.0005
    reg.shard(1).observe_probe_rtt(std::chrono::milliseconds(20));   // <= 0.025
    reg.shard(1).observe_probe_rtt(std::chrono::seconds(7));         // +Inf only
    wsgate::shard_metrics::inc(reg.shard(0).redis_probe_timeouts_total);
    auto text = reg.render();
    EXPECT_TRUE(has_line(text, "wsgate_redis_probe_round_trip_seconds_bucket{le=\"0.0005\"} 1"))
        << text;
    EXPECT_TRUE(has_line(text, "wsgate_redis_probe_round_trip_seconds_bucket{le=\"0.01\"} 1"))
        << text;
    EXPECT_TRUE(has_line(text, "wsgate_redis_probe_round_trip_seconds_bucket{le=\"0.025\"} 2"))
        << text;
    EXPECT_TRUE(has_line(text, "wsgate_redis_probe_round_trip_seconds_bucket{le=\"5\"} 2")) << text;
    EXPECT_TRUE(has_line(text, "wsgate_redis_probe_round_trip_seconds_bucket{le=\"+Inf\"} 3"))
        << text;
    EXPECT_TRUE(has_line(text, "wsgate_redis_probe_round_trip_seconds_count 3")) << text;
    EXPECT_TRUE(has_line(text, "wsgate_redis_probe_round_trip_seconds_sum 7.0203")) << text;
    EXPECT_TRUE(has_line(text, "wsgate_redis_probe_timeouts_total 1")) << text;
}

// --- JWT key reloads (process-wide) ---------------------------------------------------------
TEST(Metrics, JwtReloadsAreProcessWideByResult) {
    wsgate::metrics_registry reg(2);
    auto text = reg.render();
    EXPECT_TRUE(has_line(text, "wsgate_jwt_reloads_total{result=\"ok\"} 0")) << text;
    EXPECT_TRUE(has_line(text, "wsgate_jwt_reloads_total{result=\"error\"} 0")) << text;
    reg.process().jwt_reloads_ok_total += 2;
    reg.process().jwt_reloads_error_total += 1;
    reg.process().jwt_keys_loaded = 3;
    text = reg.render();
    EXPECT_TRUE(has_line(text, "wsgate_jwt_reloads_total{result=\"ok\"} 2")) << text;
    EXPECT_TRUE(has_line(text, "wsgate_jwt_reloads_total{result=\"error\"} 1")) << text;
    EXPECT_TRUE(has_line(text, "wsgate_jwt_keys_loaded 3")) << text;
    EXPECT_TRUE(has_line(text, "# TYPE wsgate_jwt_reloads_total counter")) << text;
    EXPECT_TRUE(has_line(text, "# TYPE wsgate_jwt_keys_loaded gauge")) << text;
}
