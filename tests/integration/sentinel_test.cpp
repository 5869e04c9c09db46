// wsgate on Redis with Sentinel (a master, a replica, three sentinels on loopback): delivery
// through a redis+sentinel:// URL with the library and wsgate-publish, a wrong master name,
// and failovers (forced, and a killed master) with the WebSocket clients kept open and
// receiving what is published after them.
#include <gtest/gtest.h>

#include "gateway_fixture.hpp"
#include "redis_sentinel.hpp"

namespace wsgate::test {
namespace {

class Sentinel : public ::testing::Test {
protected:
    void SetUp() override {
        deadline_ = std::make_unique<hard_deadline>(std::chrono::seconds(60));
        redis_ = std::make_unique<redis_sentinel>();
        publisher_ = std::make_unique<publisher>(redis_->url(), 5s);
    }
    void TearDown() override {
        if (gateway_) {
            const int status = gateway_->terminate();
            EXPECT_EQ(status, 0) << "wsgate did not exit cleanly; output:\n" << gateway_->output();
        }
        gateway_.reset();
        publisher_.reset();
        redis_.reset();
        deadline_.reset();
    }

    void start_gateway(const std::string& url, bool wait_ready = true) {
        gateway_ = std::make_unique<gateway_process>(url, flag_list{}, wait_ready);
    }

    std::unique_ptr<ws_client> connect_user(const std::string& user) {
        auto c = std::make_unique<ws_client>();
        std::string target =
            "/ws/v1/status/" + user + "?token=" + auth::mint_hs256(test_jwt_secret, user, 1h);
        if (auto ec = c->connect(gateway_->port(), target)) {
            ADD_FAILURE() << "connect as " << user << ": " << ec.message() << " (HTTP "
                          << c->http_status() << ")\n"
                          << gateway_->output();
            return nullptr;
        }
        return c;
    }

    metric_map metrics() {
        return parse_metrics(http_get(gateway_->port(), "/metrics", {}, 5s).body);
    }
    int readyz() { return http_get(gateway_->port(), "/readyz", {}, 2s).status; }

    /// After a failover: the gateway is ready again and subscribed on node `master`.
    bool resubscribed_on(std::size_t master, const std::vector<std::string>& users) {
        return wait_until(
            [&] {
                if (readyz() != 200) return false;
                for (const auto& u : users)
                    if (redis_->node(master).numsub(channel_for_user(u)) != 1) return false;
                return true;
            },
            15s, 50ms);
    }

    /// Publishes through the sentinel URL (the library) and checks each client gets it.
    void expect_delivery(const std::vector<std::string>& users,
                         std::vector<std::unique_ptr<ws_client>>& clients, const std::string& tag) {
        for (std::size_t i = 0; i < users.size(); ++i) {
            const std::string text = tag + " " + users[i];
            EXPECT_EQ(publisher_->publish_user_notification(users[i], text), 1) << text;
            auto got = clients[i]->read_text(5s);
            ASSERT_TRUE(got) << text << "\n" << gateway_->output();
            EXPECT_EQ(*got, text);
        }
    }

    /// Two users, each connected, and a first delivery.
    void connect_and_deliver(std::vector<std::string>& users,
                             std::vector<std::unique_ptr<ws_client>>& clients) {
        users = {"alice", "bob"};
        for (const auto& u : users) {
            clients.push_back(connect_user(u));
            ASSERT_TRUE(clients.back());
        }
        expect_delivery(users, clients, "before");
    }

    /// Prints how long the gateway took to be subscribed on the new master (ctest -V).
    static void report_recovery(const char* what, std::chrono::steady_clock::time_point t0) {
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - t0)
                            .count();
        std::cout << what << ": gateway resubscribed on the new master after " << ms << " ms\n";
    }

    std::unique_ptr<hard_deadline> deadline_;
    std::unique_ptr<redis_sentinel> redis_;
    std::unique_ptr<publisher> publisher_;
    std::unique_ptr<gateway_process> gateway_;
};

TEST_F(Sentinel, DeliversThroughTheSentinelUrl) {
    start_gateway(redis_->url());
    EXPECT_NE(gateway_->output().find("redis+sentinel://127.0.0.1:"), std::string::npos);
    auto client = connect_user("alice");
    ASSERT_TRUE(client);
    // Subscribed on the master the sentinels name, not on the replica.
    EXPECT_EQ(redis_->node(0).numsub(channel_for_user("alice")), 1);
    EXPECT_EQ(redis_->node(1).numsub(channel_for_user("alice")), 0);

    EXPECT_EQ(publisher_->mode(), publish_mode::sentinel);
    EXPECT_EQ(publisher_->publish_user_notification("alice", "via library"), 1);
    auto got = client->read_text(5s);
    ASSERT_TRUE(got);
    EXPECT_EQ(*got, "via library");

    // The CLI takes the same URL form.
    auto [status, out] = run_to_completion(WSGATE_PUBLISH_BINARY,
                                           {"--redis-url", redis_->url(), "alice", "via cli"});
    EXPECT_EQ(status, 0) << out;
    EXPECT_EQ(out, "1\n");
    got = client->read_text(5s);
    ASSERT_TRUE(got);
    EXPECT_EQ(*got, "via cli");

    auto m = metrics();
    EXPECT_EQ(m["wsgate_redis_up"], 1);
    EXPECT_GE((m["wsgate_redis_sentinel_resolutions_total{result=\"ok\"}"]), 2);  // per shard
    EXPECT_EQ((m["wsgate_redis_sentinel_resolutions_total{result=\"no_master\"}"]), 0);
    EXPECT_EQ(m["wsgate_redis_sentinel_switches_total"], 0);
}

TEST_F(Sentinel, WrongMasterNameIsNotReadyAndAClearError) {
    start_gateway(redis_->url("no-such-master"), false);
    EXPECT_TRUE(wait_until(
        [&] {
            return metrics()["wsgate_redis_sentinel_resolutions_total{result=\"no_master\"}"] >= 2;
        },
        5s, 50ms));
    EXPECT_EQ(readyz(), 503);
    EXPECT_EQ(metrics()["wsgate_redis_up"], 0);
    EXPECT_TRUE(gateway_->process().wait_for_output("redis_sentinel_no_master", 2s))
        << gateway_->output();
    EXPECT_NE(gateway_->output().find("no-such-master"), std::string::npos);

    publisher wrong(redis_->url("no-such-master"), 2s);
    try {
        wrong.publish_user_notification("alice", "x");
        ADD_FAILURE() << "publish to an unknown master succeeded";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("no sentinel monitors a master named "
                                             "'no-such-master'"),
                  std::string::npos)
            << e.what();
    }
}

TEST_F(Sentinel, ForcedFailoverKeepsClientsAndDelivers) {
    start_gateway(redis_->url());
    std::vector<std::string> users;
    std::vector<std::unique_ptr<ws_client>> clients;
    connect_and_deliver(users, clients);

    const auto t0 = std::chrono::steady_clock::now();
    auto reply = redis_->force_failover();
    ASSERT_FALSE(reply.is_error()) << reply;
    ASSERT_TRUE(redis_->wait_master(1, 15s)) << "no failover to the replica";
    ASSERT_TRUE(resubscribed_on(1, users)) << gateway_->output();
    report_recovery("forced failover", t0);
    // The same publisher instance: its connection is to the demoted master, which still
    // accepts PUBLISH (0 receivers); ROLE sends it to the new master.
    expect_delivery(users, clients, "after");
    for (auto& c : clients) EXPECT_FALSE(c->ended());
    auto m = metrics();
    EXPECT_GE(m["wsgate_redis_reconnects_total"], 2);  // both shards
    EXPECT_GE((m["wsgate_redis_sentinel_resolutions_total{result=\"ok\"}"]), 4);
    // Sentinel announces a forced failover before it demotes the old master, so the shards'
    // watchers see +switch-master (the lost link alone would also do).
    EXPECT_GE(m["wsgate_redis_sentinel_switches_total"], 1) << gateway_->output();
}

TEST_F(Sentinel, KilledMasterFailsOverAndClientsStay) {
    start_gateway(redis_->url());
    std::vector<std::string> users;
    std::vector<std::unique_ptr<ws_client>> clients;
    connect_and_deliver(users, clients);

    const auto t0 = std::chrono::steady_clock::now();
    redis_->node(0).kill();
    ASSERT_TRUE(redis_->wait_master(1, 20s)) << "no failover to the replica";
    ASSERT_TRUE(resubscribed_on(1, users)) << gateway_->output();
    report_recovery("killed master", t0);
    expect_delivery(users, clients, "after");
    for (auto& c : clients) EXPECT_FALSE(c->ended());
}

}  // namespace
}  // namespace wsgate::test
