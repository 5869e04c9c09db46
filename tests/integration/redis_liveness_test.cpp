// Liveness of the gateway's Redis links: the gateway reaches Redis through a tcp_proxy that
// wedges, slows or cuts the links, or Redis itself stalls (DEBUG SLEEP). Each test shows
// /readyz, the liveness metrics and the clients' experience: clients keep their WebSockets
// through the fault, and get what is published after the link is back.
#include <gtest/gtest.h>

#include <iostream>
#include <string>

#include "gateway_fixture.hpp"
#include "tcp_proxy.hpp"

namespace {

using namespace std::chrono_literals;
using namespace wsgate::test;
using steady = std::chrono::steady_clock;

constexpr auto ping_interval = 300ms;
constexpr auto redis_timeout = 300ms;
// Scheduling slack on a loaded 2-core machine (the watchdog ticks every timeout / 4).
constexpr auto slack = 1400ms;

class RedisLiveness : public gateway_fixture {
protected:
    virtual flag_list liveness_flags() const { return {}; }

    void SetUp() override {
        deadline_ = std::make_unique<hard_deadline>(test_limit());
        redis_server::options o;
        o.extra_args = {"--enable-debug-command", "yes"};
        redis_ = std::make_unique<redis_server>(o);
        proxy_ = std::make_unique<tcp_proxy>(redis_->port());
        publisher_ = std::make_unique<wsgate::publisher>(redis_->url(), 5s);
        flag_list flags = {{"--redis-ping-interval", "300ms"}, {"--redis-timeout", "300ms"}};
        for (auto& f : liveness_flags()) flags.push_back(f);
        gateway_ = std::make_unique<gateway_process>(
            "redis://127.0.0.1:" + std::to_string(proxy_->port()), flags, true);
    }

    void TearDown() override {
        gateway_fixture::TearDown();
        proxy_.reset();
    }

    static bool still_open(ws_client& c) {
        pump(20ms);
        return !c.ended();
    }
    /// A metric that may be absent (NaN then, without a test failure).
    double maybe(const std::string& key) {
        auto all = metrics();
        auto it = all.find(key);
        return it == all.end() ? std::nan("") : it->second;
    }
    static std::string shard(const std::string& name, int i) {
        return name + "{shard=\"" + std::to_string(i) + "\"}";
    }
    double frame_age(int i) { return maybe(shard("wsgate_redis_last_frame_age_seconds", i)); }

    /// Waits for /readyz 503 and returns how long it took (or nothing at `timeout`).
    std::optional<std::chrono::milliseconds> time_to_not_ready(steady::time_point since,
                                                               std::chrono::milliseconds timeout) {
        if (!wait_until([&] { return readyz() == 503; }, timeout, 10ms)) return std::nullopt;
        return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - since);
    }

    /// The client stayed connected and gets a message published now.
    void expect_delivery(ws_client& c, const std::string& user, const std::string& payload) {
        EXPECT_TRUE(still_open(c)) << user << " lost its WebSocket: " << c.end_state();
        EXPECT_EQ(publish(user, payload), 1);
        EXPECT_EQ(c.read_text(5s), payload);
        EXPECT_FALSE(c.ended()) << c.end_state();
    }

    std::unique_ptr<tcp_proxy> proxy_;
};

TEST_F(RedisLiveness, BlackholedLinkTurnsNotReadyWithinOneProbeAndRecovers) {
    auto alice = connect_user("alice");
    ASSERT_TRUE(alice);
    expect_delivery(*alice, "alice", "before");
    const double reconnects = metric("wsgate_redis_reconnects_total");
    const double timeouts = metric("wsgate_redis_probe_timeouts_total");
    EXPECT_LT(frame_age(0), 1.0);
    EXPECT_LT(frame_age(1), 1.0);

    const auto start = steady::now();
    proxy_->blackhole();
    const auto took = time_to_not_ready(start, 5s);
    ASSERT_TRUE(took) << "/readyz stayed 200 with a wedged link";
    std::cout << "[ measure  ] blackhole -> /readyz 503 in " << took->count() << " ms\n";
    EXPECT_LE(*took, ping_interval + redis_timeout + slack);
    EXPECT_EQ(metric("wsgate_redis_up"), 0);
    EXPECT_EQ(http_get(port(), "/healthz").status, 200);
    // Nothing arrives through the wedged proxy, not even on the reconnect attempts.
    ASSERT_TRUE(wait_until([&] { return frame_age(0) > 1.0 && frame_age(1) > 1.0; }, 5s))
        << "frame age did not grow: " << frame_age(0) << ", " << frame_age(1);
    EXPECT_GE(metric("wsgate_redis_probe_timeouts_total"), timeouts + 2) << "one per shard";
    EXPECT_TRUE(still_open(*alice));
    pump(500ms);
    EXPECT_EQ(readyz(), 503) << "still wedged";

    proxy_->resume();
    ASSERT_TRUE(wait_until([&] { return readyz() == 200; }, 5s)) << "no recovery after resume";
    EXPECT_GE(metric("wsgate_redis_reconnects_total"), reconnects + 2) << "both shards";
    EXPECT_LT(frame_age(0), 1.0);
    EXPECT_LT(frame_age(1), 1.0);
    expect_delivery(*alice, "alice", "after the blackhole");
}

TEST_F(RedisLiveness, CutAndRefusedLinksKeepClientsAndRecover) {
    auto alice = connect_user("alice");
    ASSERT_TRUE(alice);
    const double reconnects = metric("wsgate_redis_reconnects_total");
    const auto accepted = proxy_->accepted();

    proxy_->refuse();
    proxy_->cut();
    ASSERT_TRUE(wait_until([&] { return readyz() == 503; }, 2s)) << "a reset is seen at once";
    // Reconnects are attempted (and reset by the proxy) with backoff, not given up.
    ASSERT_TRUE(wait_until([&] { return proxy_->accepted() >= accepted + 4; }, 5s));
    // ... and with backoff: each delay is drawn from [ceiling / 2, ceiling], the ceiling
    // doubling from 100 ms up to --redis-backoff-max (300 ms here). So over 3 s each of the
    // two shards tries at most 3 s / 150 ms + 1 times (a loop without backoff would try
    // thousands of times), and, the cap holding, at least a handful.
    const auto window_start = proxy_->accepted();
    pump(3s);
    const auto attempts = proxy_->accepted() - window_start;
    std::cout << "[ measure  ] " << attempts << " reconnect attempts in 3 s (2 shards)\n";
    EXPECT_LE(attempts, 2u * (3000 / 150 + 1)) << "reconnecting without backoff";
    EXPECT_GE(attempts, 2u * 5) << "the backoff grew past --redis-backoff-max";
    EXPECT_EQ(readyz(), 503);
    EXPECT_TRUE(still_open(*alice));

    proxy_->resume();
    ASSERT_TRUE(wait_until([&] { return readyz() == 200; }, 5s));
    EXPECT_GE(metric("wsgate_redis_reconnects_total"), reconnects + 2);
    EXPECT_GE(metric("wsgate_redis_resubscribed_total"), 1) << "alice's channel";
    expect_delivery(*alice, "alice", "after the cut");
}

TEST_F(RedisLiveness, StalledServerTurnsNotReadyAndRecovers) {
    auto alice = connect_user("alice");
    auto bob = connect_user("bob");
    ASSERT_TRUE(alice && bob);
    const double timeouts = metric("wsgate_redis_probe_timeouts_total");

    // DEBUG SLEEP blocks the whole server: the sockets stay open and silent, as with a
    // server stuck on a slow command or a long fork. Sent without waiting for the answer.
    raw_connection sleeper;
    ASSERT_TRUE(sleeper.connect(redis().port())) << sleeper.error();
    const auto start = steady::now();
    ASSERT_TRUE(sleeper.send("DEBUG SLEEP 3\r\n"));
    const auto took = time_to_not_ready(start, 3s);
    ASSERT_TRUE(took) << "/readyz stayed 200 while Redis sleeps";
    std::cout << "[ measure  ] DEBUG SLEEP -> /readyz 503 in " << took->count() << " ms\n";
    EXPECT_LE(*took, ping_interval + redis_timeout + slack);
    EXPECT_TRUE(still_open(*alice));
    EXPECT_TRUE(still_open(*bob));

    EXPECT_NE(sleeper.read_until("+OK", 5s).find("+OK"), std::string::npos);
    ASSERT_TRUE(wait_until([&] { return readyz() == 200; }, 5s)) << "no recovery after the sleep";
    const auto total = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - start);
    std::cout << "[ measure  ] DEBUG SLEEP 3 -> /readyz 200 again after " << total.count()
              << " ms\n";
    EXPECT_GE(metric("wsgate_redis_probe_timeouts_total"), timeouts + 1);
    expect_delivery(*alice, "alice", "after the sleep");
    expect_delivery(*bob, "bob", "after the sleep too");
}

TEST_F(RedisLiveness, ProbeRoundTripIsExportedPerShard) {
    // A few probe intervals.
    ASSERT_TRUE(wait_until(
        [&] {
            return metric("wsgate_redis_probe_round_trip_seconds_count") >= 4 &&
                   maybe(shard("wsgate_redis_probe_rtt_seconds", 0)) > 0 &&
                   maybe(shard("wsgate_redis_probe_rtt_seconds", 1)) > 0;
        },
        5s));
    const auto all = metrics();
    for (int i = 0; i < 2; ++i) {
        const double rtt = all.at(shard("wsgate_redis_probe_rtt_seconds", i));
        std::cout << "[ measure  ] shard " << i << " probe rtt " << rtt * 1e3 << " ms\n";
        EXPECT_GT(rtt, 0);
        EXPECT_LT(rtt, redis_timeout.count() / 1e3) << "an idle loopback link answers fast";
    }
    const double count = all.at("wsgate_redis_probe_round_trip_seconds_count");
    EXPECT_EQ(all.at("wsgate_redis_probe_round_trip_seconds_bucket{le=\"+Inf\"}"), count);
    EXPECT_GT(all.at("wsgate_redis_probe_round_trip_seconds_sum"), 0);
    EXPECT_EQ(all.at("wsgate_redis_probe_timeouts_total"), 0);
}

// One shard, so the only link carries the traffic: a probe sent only after silence would
// never go out here.
class RedisLivenessOneShard : public RedisLiveness {
protected:
    flag_list liveness_flags() const override { return {{"--threads", "1"}}; }

    /// Publishes to `user` every 20 ms for `d`, draining `c` on the way.
    void publish_for(const std::string& user, ws_client& c, std::chrono::milliseconds d) {
        const auto end = steady::now() + d;
        for (int i = 0; steady::now() < end; ++i) {
            publish(user, "tick " + std::to_string(i));
            pump(20ms);
            while (c.buffered() > 0) c.read(0ms);
        }
    }
};

TEST_F(RedisLivenessOneShard, ProbesRunWhileMessagesFlow) {
    auto alice = connect_user("alice");
    ASSERT_TRUE(alice);
    const double before = metric("wsgate_redis_probe_round_trip_seconds_count");
    publish_for("alice", *alice, 2s);
    const double probes = metric("wsgate_redis_probe_round_trip_seconds_count") - before;
    std::cout << "[ measure  ] " << probes << " probes in 2 s of traffic every 20 ms\n";
    EXPECT_GE(probes, 3) << "at least one probe per ping interval despite the traffic";
    EXPECT_EQ(readyz(), 200);
}

// One shard: a link that wedges right after a probe was answered is the worst case for the
// documented bound (/readyz 503 within ping interval + timeout). The watchdog must wait for
// its deadlines themselves: a periodic check (once a second at 4.5 s / 4.5 s) overshoots by up
// to a period at each of them, and a wait for the answer's deadline alone (with a timeout
// longer than the interval) delays the next probe to that deadline.
class RedisLivenessBound : public RedisLiveness {
protected:
    flag_list liveness_flags() const override {
        return {{"--threads", "1"},
                {"--redis-ping-interval", interval_flag()},
                {"--redis-timeout", timeout_flag()}};
    }
    virtual std::string interval_flag() const { return "4500ms"; }
    virtual std::string timeout_flag() const { return "4500ms"; }

    /// Wedges the link the moment a probe's answer is counted; /readyz 503 must follow
    /// within `promise` (the margin is for this test's own polling and a loaded machine).
    void expect_wedge_noticed_within(std::chrono::milliseconds promise) {
        const double probes = metric("wsgate_redis_probe_round_trip_seconds_count");
        ASSERT_TRUE(wait_until(
            [&] { return metric("wsgate_redis_probe_round_trip_seconds_count") > probes; }, 10s,
            5ms));
        const auto start = steady::now();
        proxy_->blackhole();
        const auto took = time_to_not_ready(start, 2 * promise + 2s);
        ASSERT_TRUE(took) << "/readyz stayed 200 with a wedged link";
        std::cout << "[ measure  ] wedge after a probe -> /readyz 503 in " << took->count()
                  << " ms (promised " << promise.count() << " ms)\n";
        EXPECT_LE(*took, promise + 600ms);
        proxy_->resume();
        ASSERT_TRUE(wait_until([&] { return readyz() == 200; }, 10s)) << "no recovery";
    }
};

TEST_F(RedisLivenessBound, AWedgeRightAfterAProbeIsNoticedWithinIntervalPlusTimeout) {
    expect_wedge_noticed_within(9000ms);
}

class RedisLivenessBoundLongTimeout : public RedisLivenessBound {
protected:
    std::string interval_flag() const override { return "1500ms"; }
    std::string timeout_flag() const override { return "3s"; }
};

TEST_F(RedisLivenessBoundLongTimeout, ATimeoutLongerThanTheIntervalKeepsTheBound) {
    expect_wedge_noticed_within(4500ms);
}

// One shard with a 1 s probe interval: while traffic flows through a link that lags by
// 400 ms, bytes arrive at most ~400 ms apart, so a probe sent only after 1 s of silence would
// never go out and the lag would go unnoticed.
class RedisLivenessLaggingLink : public RedisLiveness {
protected:
    flag_list liveness_flags() const override {
        return {{"--threads", "1"}, {"--redis-ping-interval", "1s"}};
    }
};

TEST_F(RedisLivenessLaggingLink, ALinkThatTricklesButLagsIsRebuilt) {
    auto alice = connect_user("alice");
    ASSERT_TRUE(alice);
    // Every chunk from Redis now arrives 400 ms late: bytes keep coming, but each message
    // (and each probe answer) is older than --redis-timeout on arrival.
    proxy_->delay(400ms);
    const auto start = steady::now();
    bool not_ready = false;
    const auto end = start + 4s;
    for (int i = 0; steady::now() < end && !not_ready; ++i) {
        publish("alice", "late " + std::to_string(i));
        pump(20ms);
        while (alice->buffered() > 0) alice->read(0ms);
        not_ready = readyz() == 503;
    }
    ASSERT_TRUE(not_ready) << "a lagging link stayed ready";
    std::cout
        << "[ measure  ] 400 ms lag -> /readyz 503 in "
        << std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - start).count()
        << " ms\n";
    EXPECT_GE(metric("wsgate_redis_probe_timeouts_total"), 1);
    proxy_->resume();
    ASSERT_TRUE(wait_until([&] { return readyz() == 200; }, 5s));
    while (alice->buffered() > 0) alice->read(0ms);
    expect_delivery(*alice, "alice", "on time again");
}

}  // namespace
