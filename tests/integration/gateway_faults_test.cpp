// The gateway under faults: Redis restarts, killed or paused links, Redis missing at start,
// slow consumers, shutdown, and peers that stop answering pings. Each test waits on
// observable state (/readyz, /metrics, PUBSUB NUMSUB, close frames) under deadlines.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gateway_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using namespace wsgate::test;
using steady = std::chrono::steady_clock;

class GatewayFaults : public gateway_fixture {
protected:
    double reconnects() { return metric("wsgate_redis_reconnects_total"); }
    /// Runs the shared client context a little, then reports whether `c` is still open.
    static bool still_open(ws_client& c) {
        pump(20ms);
        return !c.ended();
    }
};

// --- Redis link -------------------------------------------------------------------------

TEST_F(GatewayFaults, ClientsStayConnectedAcrossARedisRestart) {
    auto alice = connect_user("alice");
    auto bob = connect_user("bob");
    ASSERT_TRUE(alice && bob);
    const double before = reconnects();

    redis().stop();
    ASSERT_TRUE(wait_until([&] { return readyz() == 503; }, 5s)) << "/readyz while Redis is down";
    EXPECT_EQ(http_get(port(), "/healthz").status, 200) << "liveness does not depend on Redis";
    EXPECT_EQ(metric("wsgate_redis_up"), 0);
    EXPECT_TRUE(still_open(*alice));
    EXPECT_TRUE(still_open(*bob));

    redis().start();
    ASSERT_TRUE(wait_until([&] { return readyz() == 200; }, 10s)) << "/readyz after Redis is back";
    EXPECT_GE(reconnects(), before + 2) << "both shards reconnected";
    EXPECT_TRUE(still_open(*alice));
    EXPECT_TRUE(still_open(*bob));
    // Ready means every desired channel is confirmed again, so nothing published from now
    // on may be lost.
    EXPECT_EQ(publish("alice", "after restart"), 1);
    EXPECT_EQ(publish("bob", "after restart too"), 1);
    EXPECT_EQ(alice->read_text(5s), "after restart");
    EXPECT_EQ(bob->read_text(5s), "after restart too");
}

TEST_F(GatewayFaults, ResubscribesAfterClientKillOfThePubsubConnections) {
    // Only a connection with a subscription counts as TYPE pubsub: add users until both
    // shards subscribe something, so both links are killed.
    std::vector<std::unique_ptr<ws_client>> clients;
    auto pubsub_links = [&] {
        const auto list = redis().command({"CLIENT", "LIST", "TYPE", "pubsub"}).str;
        return std::count(list.begin(), list.end(), '\n');
    };
    while (clients.size() < 16 && (clients.empty() || pubsub_links() < 2)) {
        clients.push_back(connect_user("user-" + std::to_string(clients.size())));
        ASSERT_TRUE(clients.back());
    }
    ASSERT_EQ(pubsub_links(), 2);
    const double before = reconnects();

    const auto killed = redis().command({"CLIENT", "KILL", "TYPE", "pubsub"});
    EXPECT_EQ(killed.integer, 2) << "one subscriber connection per shard: " << killed;
    ASSERT_TRUE(wait_until([&] { return reconnects() >= before + 2; }, 5s))
        << "wsgate_redis_reconnects_total did not move";
    ASSERT_TRUE(wait_until([&] { return readyz() == 200; }, 5s));
    EXPECT_EQ(pubsub_links(), 2);
    for (std::size_t i = 0; i < clients.size(); ++i) {
        const std::string user = "user-" + std::to_string(i);
        EXPECT_EQ(numsub(user), 1) << user;
        EXPECT_TRUE(still_open(*clients[i])) << user;
        EXPECT_EQ(publish(user, "after kill"), 1) << user;
        EXPECT_EQ(clients[i]->read_text(5s), "after kill") << user;
    }
    EXPECT_GE(metric("wsgate_redis_resubscribed_total"), static_cast<double>(clients.size()));
}

class GatewayFastRedisPing : public GatewayFaults {
protected:
    flag_list gateway_flags() const override {
        return {{"--redis-ping-interval", "1s"}, {"--redis-timeout", "1s"}};
    }
};

TEST_F(GatewayFastRedisPing, DetectsAPausedRedisAndRecoversAfterResume) {
    auto alice = connect_user("alice");
    ASSERT_TRUE(alice);
    redis().pause();
    // Nothing closes the TCP connection: only the ping deadline can notice.
    ASSERT_TRUE(wait_until([&] { return readyz() == 503; }, 6s))
        << "a silent Redis must turn /readyz to 503";
    EXPECT_TRUE(still_open(*alice));
    redis().resume();
    ASSERT_TRUE(wait_until([&] { return readyz() == 200; }, 10s));
    EXPECT_TRUE(still_open(*alice));
    EXPECT_EQ(publish("alice", "after pause"), 1);
    EXPECT_EQ(alice->read_text(5s), "after pause");
}

// The gateway starts while Redis is unreachable.
class GatewayWithoutRedis : public gateway_fixture {
protected:
    void SetUp() override {
        deadline_ = std::make_unique<hard_deadline>(test_limit());
        redis_ = std::make_unique<redis_server>();
        publisher_ = std::make_unique<wsgate::publisher>(redis_->url(), 5s);
        prepare_redis();
        start_gateway({{"--subscribe-timeout", "1s"}, {"--redis-timeout", "3s"}}, false);
    }
    virtual void prepare_redis() { redis_->stop(); }

    /// A client that connects now waits for the subscription, then is told to come back.
    void expect_try_again_later(const std::string& user) {
        ws_client c;
        const auto start = steady::now();
        const auto ec = c.connect(port(), target_for(user), {}, 5s);
        ASSERT_FALSE(ec) << "the upgrade completes, then closes: " << ec.message();
        EXPECT_GE(steady::now() - start, 900ms) << "the 101 waits for the subscription";
        const auto end = c.read_until_close(5s);
        ASSERT_TRUE(end.got_close_frame) << end;
        EXPECT_EQ(end.code, 1013) << end;
        EXPECT_EQ(end.reason, "subscription unavailable");
        EXPECT_EQ(metric("wsgate_closes_total{cause=\"subscribe_timeout\"}"), 1);
        EXPECT_EQ(metric("wsgate_connections"), 0);
    }
};

TEST_F(GatewayWithoutRedis, ClosesWaitingClientsWith1013UntilRedisIsUp) {
    EXPECT_EQ(readyz(), 503);
    EXPECT_EQ(http_get(port(), "/healthz").status, 200);
    expect_try_again_later("alice");

    redis().start();
    // No client is connected here: readiness must recover on its own, or a load balancer
    // that waits for /readyz would never send this gateway any traffic.
    EXPECT_TRUE(wait_until([&] { return readyz() == 200; }, 5s))
        << "/readyz stays 503 after Redis came back";
    auto alice = connect_user("alice");
    ASSERT_TRUE(alice);
    EXPECT_EQ(publish("alice", "welcome back"), 1);
    EXPECT_EQ(alice->read_text(5s), "welcome back");
    EXPECT_EQ(readyz(), 200);
}

TEST_F(GatewayWithoutRedis, ShutdownReleasesAClientStillWaitingForRedis) {
    ws_client waiting;
    waiting.start_connect(port(), target_for("alice"));
    // The session has joined the hub (and waits for the subscription) once users is 1.
    ASSERT_TRUE(wait_until(
        [&] {
            pump(5ms);
            return metric("wsgate_users") == 1;
        },
        5s, 0ms));
    ASSERT_TRUE(gateway().process().signal(SIGTERM));
    ASSERT_FALSE(waiting.finish_connect(5s)) << "the upgrade completes, then closes";
    const auto end = waiting.read_until_close(5s);
    ASSERT_TRUE(end.got_close_frame) << end;
    EXPECT_EQ(end.code, 1001) << end;
    const auto status = gateway().process().wait_for_exit(6s);
    ASSERT_TRUE(status) << "wsgate still running after SIGTERM";
    EXPECT_EQ(*status, 0);
    EXPECT_EQ(gateway().output().find("shutdown_timeout"), std::string::npos);
}

// Redis accepts TCP but answers nothing (SIGSTOP) while the gateway's first handshake is
// in flight. This pins the timing that the test above only hits sometimes: a user wanted
// and dropped before the link comes up.
class GatewayWithStalledRedis : public GatewayWithoutRedis {
protected:
    void prepare_redis() override { redis_->pause(); }
};

TEST_F(GatewayWithStalledRedis, BecomesReadyWhenRedisAnswersAfterAClientGaveUp) {
    EXPECT_EQ(readyz(), 503);
    expect_try_again_later("alice");
    redis().resume();
    EXPECT_TRUE(wait_until([&] { return readyz() == 200; }, 5s))
        << "/readyz stays 503: the subscriber counts a channel nobody wants any more among "
           "the acknowledgements it waits for (see subscriber_test, "
           "WantAndDropBeforeTheFirstConnectStillBecomesReady)";
    auto alice = connect_user("alice");
    ASSERT_TRUE(alice);
    EXPECT_EQ(publish("alice", "hello"), 1);
    EXPECT_EQ(alice->read_text(5s), "hello");
}

// --- slow consumer ----------------------------------------------------------------------

class GatewaySlowConsumer : public GatewayFaults {
protected:
    flag_list gateway_flags() const override {
        // The handshake timeout also bounds how long a stuck write may block the close.
        return {{"--max-queue-bytes", "64KiB"}, {"--handshake-timeout", "2s"}};
    }
};

TEST_F(GatewaySlowConsumer, DisconnectsAClientThatStopsReadingAndKeepsServingOthers) {
    ws_client slow;
    slow.set_receive_buffer(4096);
    slow.pause_reading();
    ASSERT_FALSE(slow.connect(port(), target_for("dave")));
    auto normal = connect_user("dave");
    ASSERT_TRUE(normal);

    // Publish ~1 KiB messages from another thread until the gateway reports the slow
    // consumer (at least 2000), while this thread reads the normal client. The producer
    // stays at most `window` messages ahead of the normal client, well under its 64 KiB
    // bound, so only the client that does not read at all can overflow, however slowly
    // this thread is scheduled.
    constexpr long min_messages = 2000, max_messages = 60000, window = 24;
    const std::string pad(1000, 'p');
    const auto gateway_port = port();
    const auto redis_url = redis().url();
    std::atomic<long> published{0};
    std::atomic<long> received{0};
    std::atomic<bool> finished{false};
    std::atomic<bool> reader_gone{false};
    double max_queued = 0;  // producer thread only until joined
    std::string producer_error;
    std::thread producer([&] {
        try {
            wsgate::publisher pub(redis_url, 5s);
            for (long i = 0; i < max_messages; ++i) {
                if (!wait_until([&] { return i - received < window || reader_gone; }, 20s, 1ms)) {
                    producer_error = "the normal client stopped receiving at " + std::to_string(i);
                    break;
                }
                if (reader_gone) break;
                pub.publish_user_notification("dave", std::to_string(i) + ":" + pad);
                published = i + 1;
                if ((i + 1) % 50 == 0) {
                    auto m = parse_metrics(http_get(gateway_port, "/metrics").body);
                    max_queued = std::max<double>(max_queued, m["wsgate_queued_bytes"]);
                    if (i + 1 >= min_messages &&
                        m["wsgate_closes_total{cause=\"slow_consumer\"}"] >= 1)
                        break;
                }
            }
        } catch (const std::exception& e) {
            producer_error = e.what();
        }
        finished = true;
    });

    std::string mismatch;
    const auto deadline = steady::now() + 60s;
    while (steady::now() < deadline) {
        if (auto m = normal->read_text(100ms)) {
            const std::string want = std::to_string(received) + ":" + pad;
            if (*m != want && mismatch.empty())
                mismatch = "message " + std::to_string(received) + " was " + m->substr(0, 16);
            ++received;
            continue;
        }
        if ((finished && received >= published) || normal->ended()) break;
    }
    reader_gone = true;
    producer.join();
    ASSERT_TRUE(producer_error.empty()) << producer_error;
    const long total = published;
    EXPECT_GE(total, min_messages);
    EXPECT_LT(total, max_messages) << "the slow client was never disconnected";
    EXPECT_EQ(received.load(), total) << "the normal client must get every message";
    EXPECT_TRUE(mismatch.empty()) << mismatch;
    EXPECT_FALSE(normal->ended()) << normal->end_state();

    // The slow client's connection has ended or ends now: with 4008 if the close frame
    // got through, otherwise by the gateway cutting the stuck socket.
    const auto end = slow.read_until_close(15s);
    ASSERT_TRUE(end.ended) << "the slow client is still connected";
    if (end.got_close_frame) {
        EXPECT_EQ(end.code, 4008) << end;
        EXPECT_EQ(end.reason, "slow consumer");
    }
    EXPECT_LT(slow.discarded(), static_cast<std::size_t>(total))
        << "the backlog must not all be delivered";
    // Memory stays bounded while the slow client lags: its queue never holds more than
    // 64 KiB, and the normal client's at most `window` messages.
    EXPECT_GT(max_queued, 0) << "the sampling never saw a backlog";
    EXPECT_LE(max_queued, 64 * 1024 + (window + 1) * 1010) << "queued bytes exceeded the bound";
    EXPECT_EQ(metric("wsgate_closes_total{cause=\"slow_consumer\"}"), 1);
    EXPECT_GE(metric("wsgate_messages_dropped_total{reason=\"slow_consumer\"}"), 1);
    EXPECT_TRUE(wait_metric("wsgate_queued_bytes", 0, 5s));
    EXPECT_TRUE(wait_metric("wsgate_connections", 1, 5s));

    EXPECT_EQ(publish("dave", "still here"), 1);
    EXPECT_EQ(normal->read_text(5s), "still here");
}

// --- Redis credentials -------------------------------------------------------------------

// The password (default user) and an ACL user both work, and neither reaches the log.
TEST(GatewayRedisAuth, SubscribesWithAPasswordOrAnAclUser) {
    hard_deadline limit(60s);
    redis_server::options o;
    o.password = "default-pass-5150";
    o.extra_args = {"--user", "gw", "on", ">gw-pass-7734", "+@all", "&*"};
    redis_server redis(o);
    const std::string acl_url = "redis://gw:gw-pass-7734@127.0.0.1:" + std::to_string(redis.port());
    for (const std::string& url : {redis.url(), acl_url}) {
        gateway_process gw(url, {}, /*wait_ready=*/true);
        ws_client c;
        ASSERT_FALSE(c.connect(
            gw.port(),
            "/ws/v1/status/ann?token=" + wsgate::auth::mint_hs256(test_jwt_secret, "ann", 1h)));
        wsgate::publisher pub(redis.url(), 5s);
        EXPECT_EQ(pub.publish_user_notification("ann", "with credentials"), 1);
        EXPECT_EQ(c.read_text(5s), "with credentials");
        c.close();
        EXPECT_EQ(gw.terminate(), 0);
        const auto out = gw.output();
        EXPECT_EQ(out.find("default-pass-5150"), std::string::npos) << out;
        EXPECT_EQ(out.find("gw-pass-7734"), std::string::npos) << out;
    }
}

// A wrong password is a configuration error: reported (without the password), never ready.
TEST(GatewayRedisAuth, AWrongPasswordIsReportedAndKeepsTheGatewayUnready) {
    hard_deadline limit(60s);
    redis_server::options o;
    o.password = "right-pass-1234";
    redis_server redis(o);
    gateway_process gw("redis://:wrong-pass-9876@127.0.0.1:" + std::to_string(redis.port()), {},
                       /*wait_ready=*/false);
    EXPECT_TRUE(gw.process().wait_for_output("redis_handshake_failed", 10s)) << gw.output();
    EXPECT_EQ(http_get(gw.port(), "/readyz", {}, 2s).status, 503);
    EXPECT_EQ(gw.terminate(), 0);
    EXPECT_EQ(gw.output().find("wrong-pass-9876"), std::string::npos) << gw.output();
}

// --- shutdown and keepalive -------------------------------------------------------------

TEST_F(GatewayFaults, ShutdownClosesEveryClientWithGoingAwayAndExitsZero) {
    std::vector<std::unique_ptr<ws_client>> clients;
    for (const char* user : {"alice", "bob", "carol", "carol", "carol"}) {
        clients.push_back(connect_user(user));
        ASSERT_TRUE(clients.back());
    }
    const auto start = steady::now();
    ASSERT_TRUE(gateway().process().signal(SIGTERM));
    for (std::size_t i = 0; i < clients.size(); ++i) {
        const auto end = clients[i]->read_until_close(6s);
        ASSERT_TRUE(end.got_close_frame) << "client " << i << ": " << end;
        EXPECT_EQ(end.code, 1001) << end;
        EXPECT_EQ(end.reason, "server shutting down");
    }
    const auto status = gateway().process().wait_for_exit(6s);
    ASSERT_TRUE(status) << "wsgate still running after SIGTERM";
    EXPECT_EQ(*status, 0);
    EXPECT_LT(steady::now() - start, 5s) << "within --shutdown-timeout";
    const auto out = gateway().output();
    EXPECT_EQ(out.find("shutdown_timeout"), std::string::npos)
        << "the drain should finish without the watchdog:\n"
        << out;
    EXPECT_TRUE(wait_until([&] { return numsub("carol") == 0; }, 5s));
}

class GatewayFastPing : public GatewayFaults {
protected:
    flag_list gateway_flags() const override { return {{"--ping-interval", "1s"}}; }
};

TEST_F(GatewayFastPing, DropsAPeerThatNeverAnswersPings) {
    auto healthy = connect_user("henry");
    ASSERT_TRUE(healthy);

    raw_connection silent;
    ASSERT_TRUE(silent.connect(port())) << silent.error();
    ASSERT_TRUE(silent.send(upgrade_request(port(), target_for("silent"))));
    const auto head = silent.read_until("\r\n\r\n", 5s);
    ASSERT_EQ(head.rfind("HTTP/1.1 101", 0), 0u) << head;
    const auto head_size = head.find("\r\n\r\n") + 4;
    const auto opened = steady::now();

    // Keep the healthy client's pongs flowing while the silent one is waited on.
    ASSERT_TRUE(wait_until(
        [&] {
            pump(10ms);
            return silent.poll_closed();
        },
        6s, 0ms))
        << "a peer that never answers pings must be dropped";
    const auto after = steady::now() - opened;
    EXPECT_GE(after, 1500ms) << "dropped before a ping could be answered";
    EXPECT_LE(after, 3500ms) << "two ping intervals, give or take one";
    EXPECT_NE(silent.received().find('\x89', head_size), std::string::npos)
        << "the gateway pinged before giving up";
    EXPECT_TRUE(wait_metric("wsgate_closes_total{cause=\"ping_timeout\"}", 1, 5s));
    EXPECT_TRUE(wait_until([&] { return numsub("silent") == 0; }, 5s));

    // A peer that answers survives several intervals past the silent one's deadline.
    ASSERT_TRUE(wait_until(
        [&] {
            pump(10ms);
            return healthy->pings() >= 3 || healthy->ended();
        },
        6s, 0ms));
    EXPECT_FALSE(healthy->ended()) << healthy->end_state();
    EXPECT_EQ(publish("henry", "alive"), 1);
    EXPECT_EQ(healthy->read_text(5s), "alive");
}

}  // namespace

namespace {

class GatewayDraining : public GatewayFaults {
protected:
    flag_list gateway_flags() const override { return {{"--drain-delay", "1500ms"}}; }
};

// The drain procedure behind a load balancer: on SIGTERM /readyz turns 503 at once, while
// open connections are still served; the 1001 closes come only after --drain-delay.
TEST_F(GatewayDraining, ReadyzTurns503WhileClientsAreStillServed) {
    auto alice = connect_user("alice");
    ASSERT_TRUE(alice);
    ASSERT_EQ(readyz(), 200);
    const auto signalled = steady::now();
    ASSERT_TRUE(gateway().process().signal(SIGTERM));
    ASSERT_TRUE(wait_until([&] { return readyz() == 503; }, 1s, 10ms))
        << "readiness must drop as soon as draining starts";
    EXPECT_EQ(http_get(port(), "/healthz").status, 200);
    EXPECT_EQ(publish("alice", "during-drain"), 1);
    EXPECT_EQ(alice->read_text(1s), "during-drain");

    const auto end = alice->read_until_close(5s);
    ASSERT_TRUE(end.got_close_frame) << end;
    EXPECT_EQ(end.code, 1001) << end;
    EXPECT_GE(steady::now() - signalled, 1400ms) << "closed before the drain delay";
    const auto status = gateway().process().wait_for_exit(8s);
    ASSERT_TRUE(status) << "wsgate still running after the drain and SIGTERM";
    EXPECT_EQ(*status, 0);
    EXPECT_NE(gateway().output().find("draining"), std::string::npos);
}

}  // namespace

namespace {

class GatewaySmallQueue : public GatewayFaults {
protected:
    flag_list gateway_flags() const override { return {{"--max-queue-bytes", "64KiB"}}; }
};

// A client that never reads overflows its queue; the close frame cannot be written behind the
// stuck write. If it then half-closes (FIN) without reading, the session must still end: the
// end of the read loop closes the socket instead of only cancelling the close deadline.
TEST_F(GatewaySmallQueue, StalledReaderThatHalfClosesIsReleased) {
    raw_connection stalled;
    ASSERT_TRUE(stalled.connect(port())) << stalled.error();
    ASSERT_TRUE(stalled.send(upgrade_request(port(), target_for("stalled"))));
    const auto head = stalled.read_until("\r\n\r\n", 5s);
    ASSERT_EQ(head.rfind("HTTP/1.1 101", 0), 0u) << head;

    // Fill the kernel buffers on both sides, then the 64 KiB queue.
    const std::string chunk(32 * 1024, 'x');
    ASSERT_TRUE(wait_until(
        [&] {
            for (int i = 0; i < 20; ++i) publish("stalled", chunk);
            return metric("wsgate_closes_total{cause=\"slow_consumer\"}") == 1;
        },
        20s, 0ms))
        << "the stalled reader never overflowed its queue";
    stalled.shutdown_write();
    EXPECT_TRUE(wait_metric("wsgate_connections", 0, 5s))
        << "a half-closed stalled reader kept its session";
    EXPECT_TRUE(wait_until([&] { return numsub("stalled") == 0; }, 5s));
    EXPECT_EQ(metric("wsgate_closes_total{cause=\"client_protocol\"}"), 0)
        << "a close we started was counted again";
}

}  // namespace
