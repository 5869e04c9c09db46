// wsgate on a real 3-master Redis Cluster with sharded Pub/Sub: delivery for users whose
// channels hash to every master, a slot migration with the client kept open, the
// publishing side (library, wsgate-publish) in cluster mode, and a killed master.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "gateway_fixture.hpp"
#include "metrics/metrics.hpp"
#include "redis/key_slot.hpp"
#include "redis/subscriber.hpp"
#include "redis_cluster.hpp"

namespace wsgate::test {
namespace {

class Cluster : public ::testing::Test {
protected:
    void SetUp() override {
        deadline_ = std::make_unique<hard_deadline>(std::chrono::seconds(60));
        cluster_ = std::make_unique<redis_cluster>();
        publisher_ = std::make_unique<publisher>(cluster_->seed_urls(), 5s, publish_mode::cluster);
    }
    void TearDown() override {
        if (gateway_) {
            const int status = gateway_->terminate();
            EXPECT_EQ(status, 0) << "wsgate did not exit cleanly; output:\n" << gateway_->output();
        }
        gateway_.reset();
        publisher_.reset();
        cluster_.reset();
        deadline_.reset();
    }

    void start_gateway(flag_list extra = {}, bool wait_ready = true) {
        extra.emplace_back("--redis-mode", "cluster");
        gateway_ = std::make_unique<gateway_process>(cluster_->seed_urls(), extra, wait_ready);
    }

    /// One user id per master, chosen by the slot its channel hashes to.
    std::vector<std::string> user_per_node() {
        std::map<std::size_t, std::string> found;
        for (int i = 0; found.size() < cluster_->size() && i < 1000; ++i) {
            std::string user = "user-" + std::to_string(i);
            found.try_emplace(cluster_->owner_of_user(user), user);
        }
        std::vector<std::string> out;
        for (auto& [node, user] : found) out.push_back(user);
        EXPECT_EQ(out.size(), cluster_->size());
        return out;
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

    std::unique_ptr<hard_deadline> deadline_;
    std::unique_ptr<redis_cluster> cluster_;
    std::unique_ptr<publisher> publisher_;
    std::unique_ptr<gateway_process> gateway_;
};

TEST_F(Cluster, DeliversToUsersOnEveryMaster) {
    start_gateway({{"--redis-cluster-refresh-interval", "200ms"}});
    const auto users = user_per_node();
    std::vector<std::unique_ptr<ws_client>> clients;
    for (const auto& u : users) {
        clients.push_back(connect_user(u));
        ASSERT_TRUE(clients.back());
    }
    // Accepted means subscribed: SPUBLISH through the library reaches each right away.
    std::set<std::size_t> nodes;
    for (std::size_t i = 0; i < users.size(); ++i) {
        nodes.insert(cluster_->owner_of_user(users[i]));
        EXPECT_EQ(publisher_->publish_user_notification(users[i], "hello " + users[i]), 1)
            << users[i];
        auto got = clients[i]->read_text(5s);
        ASSERT_TRUE(got) << users[i];
        EXPECT_EQ(*got, "hello " + users[i]);
    }
    EXPECT_EQ(nodes.size(), 3u);
    // The channel lives on its slot's master only: sharded, not broadcast.
    const auto& u = users[0];
    const auto owner = cluster_->owner_of_user(u);
    for (std::size_t n = 0; n < cluster_->size(); ++n) {
        auto r = cluster_->node(n).command({"PUBSUB", "SHARDNUMSUB", channel_for_user(u)});
        ASSERT_EQ(r.elements.size(), 2u);
        EXPECT_EQ(r.elements[1].integer, n == owner ? 1 : 0) << "node " << n;
    }
    auto m = metrics();
    EXPECT_GE((m["wsgate_redis_cluster_refreshes_total{trigger=\"startup\"}"]), 2);  // per shard
    EXPECT_EQ(m["wsgate_redis_up"], 1);
    EXPECT_EQ(m["wsgate_redis_cluster_node_links_ready"], 6);  // 2 shards x 3 masters
    // The slot map is also re-read periodically, with nothing moved.
    EXPECT_TRUE(wait_until(
        [&] {
            return metrics()["wsgate_redis_cluster_refreshes_total{trigger=\"periodic\"}"] >= 4;
        },
        5s, 50ms));
    EXPECT_EQ(metrics()["wsgate_redis_cluster_channels_moved_total"], 0);
    EXPECT_EQ(metrics()["wsgate_redis_cluster_refresh_errors_total"], 0);
}

TEST_F(Cluster, SlotMigrationKeepsClientsAndDelivery) {
    start_gateway();
    const auto users = user_per_node();
    const std::string user = users[0];
    const auto from = cluster_->owner_of_user(user);
    const auto to = (from + 1) % cluster_->size();
    auto client = connect_user(user);
    ASSERT_TRUE(client);
    ASSERT_EQ(publisher_->publish_user_notification(user, "before"), 1);
    ASSERT_EQ(client->read_text(5s), "before");

    cluster_->migrate_slot(redis::key_slot(channel_for_user(user)), to);
    ASSERT_EQ(cluster_->owner_of_user(user), to);

    // The old owner pushed sunsubscribe; the gateway re-reads the map and subscribes on
    // the new owner. The library's cached map is refreshed by the MOVED it gets.
    ASSERT_TRUE(wait_until(
        [&] {
            auto r = cluster_->node(to).command({"PUBSUB", "SHARDNUMSUB", channel_for_user(user)});
            return r.elements.size() == 2 && r.elements[1].integer == 1;
        },
        10s, 20ms))
        << gateway_->output();
    EXPECT_EQ(publisher_->publish_user_notification(user, "after"), 1);
    auto got = client->read_text(5s);
    ASSERT_TRUE(got) << gateway_->output();
    EXPECT_EQ(*got, "after");
    EXPECT_FALSE(client->ended());

    auto m = metrics();
    EXPECT_GE((m["wsgate_redis_cluster_refreshes_total{trigger=\"migration\"}"]), 1);
    EXPECT_GE(m["wsgate_redis_cluster_channels_moved_total"], 1);
    EXPECT_TRUE(wait_until([&] { return readyz() == 200; }, 5s));

    // A user connecting after the migration is subscribed on the new owner too.
    auto late = connect_user(user);
    ASSERT_TRUE(late);
    // One receiver per gateway shard holding a session: the two may share a shard or not.
    const auto receivers = publisher_->publish_user_notification(user, "both");
    EXPECT_GE(receivers, 1);
    EXPECT_LE(receivers, 2);
    EXPECT_EQ(client->read_text(5s), "both");
    EXPECT_EQ(late->read_text(5s), "both");
}

TEST_F(Cluster, ReshardWithRedisCliKeepsEveryClientDelivering) {
    start_gateway();
    // Users in the slots `redis-cli --cluster reshard` will move (the source's lowest) and
    // users elsewhere.
    const std::size_t from = cluster_->owner_of_slot(0);
    const std::size_t to = (from + 1) % cluster_->size();
    constexpr int moved_slots = 2000;
    std::vector<std::string> users;
    int in_range = 0, outside = 0;
    for (int i = 0; (in_range < 8 || outside < 8) && i < 5000; ++i) {
        std::string u = "resharded-" + std::to_string(i);
        const bool moves = redis::key_slot(channel_for_user(u)) < moved_slots;
        if (moves ? in_range++ >= 8 : outside++ >= 8) continue;
        users.push_back(u);
    }
    ASSERT_EQ(users.size(), 16u);
    std::vector<std::unique_ptr<ws_client>> clients;
    for (const auto& u : users) {
        clients.push_back(connect_user(u));
        ASSERT_TRUE(clients.back());
    }

    auto [status, out] = run_to_completion(
        "redis-cli",
        {"--cluster", "reshard", "127.0.0.1:" + std::to_string(cluster_->node(from).port()),
         "--cluster-from", cluster_->node_id(from), "--cluster-to", cluster_->node_id(to),
         "--cluster-slots", std::to_string(moved_slots), "--cluster-yes"},
        {}, 30s);
    ASSERT_EQ(status, 0) << out;
    ASSERT_EQ(cluster_->owner_of_slot(0), to);
    ASSERT_EQ(cluster_->owner_of_slot(moved_slots - 1), to);

    for (std::size_t i = 0; i < users.size(); ++i) {
        const auto channel = channel_for_user(users[i]);
        const auto owner = cluster_->owner_of_user(users[i]);
        ASSERT_TRUE(wait_until(
            [&] {
                auto r = cluster_->node(owner).command({"PUBSUB", "SHARDNUMSUB", channel});
                return r.elements.size() == 2 && r.elements[1].integer == 1;
            },
            10s, 20ms))
            << users[i] << "\n"
            << gateway_->output();
        EXPECT_EQ(publisher_->publish_user_notification(users[i], "after reshard"), 1);
        EXPECT_EQ(clients[i]->read_text(5s), "after reshard") << users[i];
        EXPECT_FALSE(clients[i]->ended()) << users[i];
    }
    EXPECT_GE(metrics()["wsgate_redis_cluster_channels_moved_total"], 8);
    EXPECT_TRUE(wait_until([&] { return readyz() == 200; }, 5s));
}

TEST_F(Cluster, WsgatePublishInClusterMode) {
    start_gateway();
    const auto users = user_per_node();
    std::vector<std::unique_ptr<ws_client>> clients;
    for (const auto& u : users) {
        clients.push_back(connect_user(u));
        ASSERT_TRUE(clients.back());
    }
    for (std::size_t i = 0; i < users.size(); ++i) {
        // The mode from the environment, as a backend would set it.
        process_options env;
        env.env = {{"WSGATE_REDIS_MODE", "cluster"}};
        auto [status, out] =
            run_to_completion(WSGATE_PUBLISH_BINARY,
                              {"--redis-url", cluster_->seed_urls(), users[i], "cli"}, env, 10s);
        EXPECT_EQ(status, 0) << out;
        EXPECT_EQ(out, "1\n");
        EXPECT_EQ(clients[i]->read_text(5s), "cli");
    }
    // A list of URLs without cluster mode is a usage error naming the flag.
    auto [status, out] = run_to_completion(
        WSGATE_PUBLISH_BINARY,
        {"--redis-url", cluster_->seed_urls(), "--redis-mode", "single", "u", "x"}, {}, 10s);
    EXPECT_EQ(status, 2);
    EXPECT_NE(out.find("--redis-url"), std::string::npos) << out;
}

TEST_F(Cluster, KilledMasterMakesNotReadyOthersKeepDelivering) {
    start_gateway({{"--subscribe-timeout", "1s"}});
    const auto users = user_per_node();
    std::vector<std::unique_ptr<ws_client>> clients;
    for (const auto& u : users) {
        clients.push_back(connect_user(u));
        ASSERT_TRUE(clients.back());
    }
    const std::size_t victim = cluster_->owner_of_user(users[0]);
    cluster_->node(victim).kill();

    EXPECT_TRUE(wait_until([&] { return readyz() == 503; }, 5s, 20ms)) << gateway_->output();
    for (std::size_t i = 1; i < users.size(); ++i) {
        EXPECT_EQ(cluster_->node(cluster_->owner_of_user(users[i]))
                      .command({"SPUBLISH", channel_for_user(users[i]), "still here"})
                      .integer,
                  1);
        EXPECT_EQ(clients[i]->read_text(5s), "still here") << users[i];
    }
    // Clients of the dead node's users stay connected; a reconnect would not help them.
    EXPECT_FALSE(clients[0]->ended());
    // Only the dead master's users lost their confirmation: another session of a user on a
    // live master is accepted at once and receives; one of the dead master's users is
    // not accepted before its channel is live again (1013 after --subscribe-timeout).
    auto again = connect_user(users[1]);
    ASSERT_TRUE(again);
    EXPECT_GE(cluster_->node(cluster_->owner_of_user(users[1]))
                  .command({"SPUBLISH", channel_for_user(users[1]), "second"})
                  .integer,
              1);
    EXPECT_EQ(again->read_text(5s), "second");
    auto stuck = connect_user(users[0]);
    ASSERT_TRUE(stuck);
    auto closed = stuck->read_until_close(5s);
    EXPECT_TRUE(closed.got_close_frame) << closed;
    EXPECT_EQ(closed.code, 1013) << closed;
    auto m = metrics();
    EXPECT_EQ(m["wsgate_redis_up"], 0);
    EXPECT_EQ(m["wsgate_redis_cluster_node_links_ready"], 4);  // 2 shards x 2 live masters
}

TEST_F(Cluster, ListInSingleModeIsAStartupError) {
    process_options env;
    env.unset_env = {"WSGATE_REDIS_MODE"};
    auto [status, out] = run_to_completion(
        WSGATE_BINARY, {"--redis-url", cluster_->seed_urls(), "--jwt-secret", test_jwt_secret}, env,
        10s);
    EXPECT_EQ(status, 2);
    EXPECT_NE(out.find("--redis-url"), std::string::npos) << out;
    EXPECT_NE(out.find("--redis-mode cluster"), std::string::npos) << out;
}

// --- the per-node subscriber in sharded mode, on one node of the cluster ------------------

class recording_sharded_events final : public redis::subscriber_events {
public:
    void on_message(std::string_view channel, std::string_view payload) override {
        messages.emplace_back(channel, payload);
    }
    void on_subscribed(std::string_view channel) override { subscribed.emplace_back(channel); }
    void on_link_down() override { ++link_downs; }
    void on_dropped(std::string_view channel, std::string_view reason) override {
        dropped.emplace_back(channel, reason);
    }
    std::vector<std::pair<std::string, std::string>> messages, dropped;
    std::vector<std::string> subscribed;
    int link_downs = 0;
};

TEST(ShardedSubscriber, SsubscribesAndReportsMovedAndMigrationPerChannel) {
    hard_deadline deadline(60s);
    redis_cluster cluster;
    boost::asio::io_context ioc{1};
    shard_metrics metrics;
    recording_sharded_events events;

    // Two users on node 0's slots, one on another node's.
    std::vector<std::string> mine;
    std::string foreign;
    for (int i = 0; (mine.size() < 2 || foreign.empty()) && i < 1000; ++i) {
        std::string u = "s-" + std::to_string(i);
        if (cluster.owner_of_user(u) == 0) {
            if (mine.size() < 2) mine.push_back(u);
        } else if (foreign.empty()) {
            foreign = u;
        }
    }
    ASSERT_EQ(mine.size(), 2u);

    redis::subscriber_options o;
    o.endpoint = *redis::parse_redis_url(cluster.node(0).url());
    o.timeout = 2s;
    o.sharded = true;
    o.report_up = false;
    redis::subscriber sub(ioc.get_executor(), o, events, metrics);
    sub.run();
    auto run_until = [&](const std::function<bool()>& done) {
        const auto end = std::chrono::steady_clock::now() + 5s;
        while (!done()) {
            if (std::chrono::steady_clock::now() >= end) return false;
            ioc.restart();
            ioc.run_for(5ms);
        }
        return true;
    };

    for (const auto& u : mine) sub.want(channel_for_user(u));
    sub.want(channel_for_user(foreign));
    // Each channel is its own SSUBSCRIBE: node 0's are confirmed, the foreign one is
    // refused with MOVED, and the link stays up and ready.
    ASSERT_TRUE(
        run_until([&] { return events.subscribed.size() == 2 && !events.dropped.empty(); }));
    EXPECT_EQ(metrics.redis_up.load(), 0);  // report_up = false: left to the cluster layer
    ASSERT_EQ(events.dropped.size(), 1u);
    EXPECT_EQ(events.dropped[0].first, channel_for_user(foreign));
    EXPECT_TRUE(events.dropped[0].second.starts_with("MOVED ")) << events.dropped[0].second;
    EXPECT_TRUE(sub.ready());
    EXPECT_EQ(events.link_downs, 0);

    EXPECT_EQ(cluster.spublish(channel_for_user(mine[0]), "m"), 1);
    ASSERT_TRUE(run_until([&] { return !events.messages.empty(); }));
    EXPECT_EQ(events.messages[0],
              (std::pair<std::string, std::string>{channel_for_user(mine[0]), "m"}));

    // The slot of mine[1] migrates: node 0 pushes sunsubscribe for it alone.
    cluster.migrate_slot(redis::key_slot(channel_for_user(mine[1])), 1);
    ASSERT_TRUE(run_until([&] { return events.dropped.size() == 2; }));
    EXPECT_EQ(events.dropped[1],
              (std::pair<std::string, std::string>{channel_for_user(mine[1]), "sunsubscribe"}));
    EXPECT_TRUE(sub.ready());
    EXPECT_EQ(metrics.redis_channels.load(), 1);  // mine[0] only

    // A dropped channel is re-sent when dropped and wanted again (the cluster layer does
    // that on the new owner; here node 0 refuses it with MOVED once more).
    sub.drop(channel_for_user(mine[1]));
    sub.want(channel_for_user(mine[1]));
    ASSERT_TRUE(run_until([&] { return events.dropped.size() == 3; }));
    EXPECT_TRUE(events.dropped[2].second.starts_with("MOVED ")) << events.dropped[2].second;

    sub.stop();
    ioc.restart();
    ioc.run_for(2s);
    EXPECT_TRUE(ioc.stopped());
}

// --- rediss:// cluster: TLS client ports and a TLS cluster bus ------------------------------

/// A CA and a server certificate for 127.0.0.1, made with the openssl CLI (absolute paths).
struct cluster_pki {
    std::filesystem::path dir;
    std::string ca, cert, key;
    cluster_pki() {
        std::string tmpl =
            (std::filesystem::temp_directory_path() / "wsgate-cluster-tls-XXXXXX").string();
        if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        dir = tmpl;
        const auto d = dir.string() + "/";
        ca = d + "ca.crt";
        cert = d + "node.crt";
        key = d + "node.key";
        openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", d + "ca.key", "-out", ca, "-days", "2", "-subj",
                 "/CN=cluster test CA"});
        std::ofstream(d + "node.ext") << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
        openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                 key, "-out", d + "node.csr", "-subj", "/CN=localhost"});
        openssl({"x509", "-req", "-in", d + "node.csr", "-CA", ca, "-CAkey", d + "ca.key",
                 "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", d + "node.ext"});
    }
    ~cluster_pki() {
        std::error_code ignored;
        std::filesystem::remove_all(dir, ignored);
    }
    static void openssl(std::vector<std::string> args) {
        auto [status, out] = run_to_completion("openssl", std::move(args), {}, 30s);
        if (status != 0) throw std::runtime_error("openssl failed:\n" + out);
    }
};

TEST(ClusterTls, DeliversOverRedissToEveryMaster) {
    hard_deadline deadline(60s);
    cluster_pki pki;
    redis_cluster::options o;
    o.tls_cert_file = pki.cert;
    o.tls_key_file = pki.key;
    o.tls_ca_file = pki.ca;
    redis_cluster cluster(o);

    // One seed: the other masters and their TLS ports come from CLUSTER SHARDS.
    const std::string seed = "rediss://127.0.0.1:" + std::to_string(cluster.tls_port(0));
    gateway_process gateway(seed, {{"--redis-mode", "cluster"}, {"--redis-tls-ca-file", pki.ca}},
                            true);
    std::map<std::size_t, std::string> users;
    for (int i = 0; users.size() < cluster.size() && i < 1000; ++i) {
        std::string u = "tls-" + std::to_string(i);
        users.try_emplace(cluster.owner_of_user(u), u);
    }
    ASSERT_EQ(users.size(), 3u);
    for (const auto& [node, user] : users) {
        ws_client c;
        ASSERT_FALSE(c.connect(gateway.port(), "/ws/v1/status/" + user + "?token=" +
                                                   auth::mint_hs256(test_jwt_secret, user, 1h)))
            << gateway.output();
        EXPECT_EQ(cluster.spublish(channel_for_user(user), "over tls"), 1) << user;
        EXPECT_EQ(c.read_text(5s), "over tls") << user;
    }
    auto m = parse_metrics(http_get(gateway.port(), "/metrics", {}, 5s).body);
    EXPECT_EQ(m["wsgate_redis_cluster_node_links_ready"], 6);  // 2 shards x 3 masters
    // Every node link is TLS: the gateway's connections (CLIENT SETNAME wsgate-shard-N)
    // arrived on each node's TLS port.
    for (std::size_t n = 0; n < cluster.size(); ++n) {
        std::istringstream list(cluster.node(n).command({"CLIENT", "LIST"}).str);
        int gateway_links = 0;
        for (std::string line; std::getline(list, line);) {
            if (line.find("name=wsgate-shard") == std::string::npos) continue;
            ++gateway_links;
            EXPECT_NE(line.find("laddr=127.0.0.1:" + std::to_string(cluster.tls_port(n)) + " "),
                      std::string::npos)
                << line;
        }
        EXPECT_EQ(gateway_links, 2) << "node " << n;  // one per shard
    }
    EXPECT_EQ(gateway.terminate(), 0) << gateway.output();
}

}  // namespace
}  // namespace wsgate::test
