// Many gateways behind a load balancer: one redis-server, two wsgate processes and HAProxy in
// front (tests/support/haproxy.hpp), all on loopback. Shows that a user's connections on
// different gateways each receive every message, that HAProxy's /readyz check takes a
// draining gateway out before it closes its clients with 1001 and that they reconnect to the
// other, and that clients of a killed gateway reconnect and receive. Where a connection
// landed is read from HAProxy's stats page; every wait has a deadline.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "gateway_fixture.hpp"
#include "haproxy.hpp"

namespace {

using namespace std::chrono_literals;
using namespace wsgate::test;

/// A client connected through HAProxy and the gateway it landed on ("gw1" or "gw2").
struct routed_client {
    std::unique_ptr<ws_client> client;
    std::string server;
    std::string user;
};

class ManyGateways : public ::testing::Test {
protected:
    /// Both gateways drain this long on SIGTERM. HAProxy needs about 2 × 200 ms to notice;
    /// the rest is room for the checks made during the drain on a loaded CI machine.
    static constexpr std::chrono::seconds drain_delay = 4s;

    void SetUp() override {
        deadline_ = std::make_unique<hard_deadline>(45s);
        redis_ = std::make_unique<redis_server>();
        publisher_ = std::make_unique<wsgate::publisher>(redis_->url(), 5s);
        // One shard each, so a user connected to both gateways is exactly two subscribers.
        const flag_list flags = {{"--threads", "1"},
                                 {"--drain-delay", std::to_string(drain_delay.count()) + "s"}};
        for (int i = 0; i < 2; ++i)
            gateways_.push_back(std::make_unique<gateway_process>(redis_->url(), flags, true));
        lb_ = std::make_unique<haproxy>(std::vector<haproxy_backend>{
            {"gw1", gateways_[0]->port()}, {"gw2", gateways_[1]->port()}});
    }

    void TearDown() override {
        if (HasFailure() && lb_) std::cerr << "haproxy output:\n" << lb_->output() << "\n";
        lb_.reset();
        // SIGTERM both at once: each drains for drain_delay before it exits.
        // (Not terminate(): a second SIGTERM would cut the drain short.)
        std::vector<gateway_process*> stopping;
        for (auto& g : gateways_)
            if (g->running() && g->process().signal(SIGTERM)) stopping.push_back(g.get());
        for (auto* g : stopping)
            EXPECT_EQ(g->process().wait_for_exit(drain_delay + 10s), 0)
                << "wsgate did not exit cleanly:\n"
                << g->output();
        gateways_.clear();
        publisher_.reset();
        redis_.reset();
        deadline_.reset();
    }

    gateway_process& gw(int i) { return *gateways_[i]; }

    /// "u3" for ("u", 3).
    static std::string numbered(std::string prefix, int i) {
        prefix += std::to_string(i);
        return prefix;
    }

    static std::string target_for(const std::string& user) {
        return "/ws/v1/status/" + percent_encode(user) +
               "?token=" + wsgate::auth::mint_hs256(test_jwt_secret, user, 1h);
    }

    /// Connects `user` straight to gateway `i`; null (and a failure) if the upgrade failed.
    std::unique_ptr<ws_client> connect_direct(int i, const std::string& user) {
        auto c = std::make_unique<ws_client>();
        if (auto ec = c->connect(gw(i).port(), target_for(user))) {
            ADD_FAILURE() << "direct connect as " << user << ": " << ec.message();
            return nullptr;
        }
        return c;
    }

    /// Connects `user` through HAProxy, one at a time, and names the gateway it reached: the
    /// server whose session total grew (health checks are not sessions). `server` is empty
    /// (and the test fails) when the upgrade failed or the landing was ambiguous.
    routed_client connect_via_lb(const std::string& user) {
        routed_client out;
        out.user = user;
        const auto before = lb_->servers();
        auto c = std::make_unique<ws_client>();
        if (auto ec = c->connect(lb_->port(), target_for(user))) {
            ADD_FAILURE() << "connect through haproxy as " << user << ": " << ec.message()
                          << " (HTTP " << c->http_status() << ")";
            return out;
        }
        const auto after = lb_->servers();
        std::set<std::string> grew;
        for (const auto& [name, s] : after)
            if (before.count(name) && s.total > before.at(name).total) grew.insert(name);
        // A retry after a refused connect (the killed-gateway test) counts on the refusing
        // server too: the upgrade succeeded, so it is on a server that is still alive.
        std::erase_if(grew,
                      [this](const std::string& name) { return !gateway_for(name).running(); });
        if (grew.size() == 1) out.server = *grew.begin();
        EXPECT_FALSE(out.server.empty()) << "could not tell where " << user << " landed";
        out.client = std::move(c);
        return out;
    }

    /// HAProxy's status for `server`, or a placeholder for a failure message.
    std::string status_of(const std::string& server) {
        auto s = lb_->server(server);
        return s ? s->status : "(not on the stats page)";
    }

    gateway_process& gateway_for(const std::string& server) { return gw(server == "gw1" ? 0 : 1); }

    long long publish(const std::string& user, const std::string& payload) {
        return publisher_->publish_user_notification(user, payload);
    }

    /// Publishes `count` numbered messages to `user` and checks that each client receives
    /// all of them, in order.
    void publish_and_expect(const std::string& user, const std::vector<ws_client*>& clients,
                            int count, const std::string& tag) {
        for (int i = 0; i < count; ++i) publish(user, tag + "-" + std::to_string(i));
        for (std::size_t c = 0; c < clients.size(); ++c)
            for (int i = 0; i < count; ++i)
                ASSERT_EQ(clients[c]->read_text(5s), tag + "-" + std::to_string(i))
                    << user << "'s connection " << c << ", message " << i;
    }

    /// wsgate_connections of gateway `i`.
    double open_connections(int i) {
        auto r = http_get(gw(i).port(), "/metrics", {}, 5s);
        auto m = parse_metrics(r.body);
        return m.count("wsgate_connections") ? m["wsgate_connections"] : -1;
    }

    std::unique_ptr<hard_deadline> deadline_;
    std::unique_ptr<redis_server> redis_;
    std::unique_ptr<wsgate::publisher> publisher_;
    std::vector<std::unique_ptr<gateway_process>> gateways_;
    std::unique_ptr<haproxy> lb_;
};

TEST_F(ManyGateways, UserConnectedToBothGatewaysReceivesOnEveryConnection) {
    auto direct1 = connect_direct(0, "alice");
    auto direct2 = connect_direct(1, "alice");
    ASSERT_TRUE(direct1 && direct2);

    // leastconn counts HAProxy's own connections only, so the first two through it go to
    // different gateways; allow a few more in case the checks briefly disagreed.
    std::vector<routed_client> routed;
    std::set<std::string> used;
    for (int i = 0; i < 6 && used.size() < 2; ++i) {
        routed.push_back(connect_via_lb("alice"));
        ASSERT_TRUE(routed.back().client) << "through haproxy";
        used.insert(routed.back().server);
    }
    ASSERT_EQ(used, (std::set<std::string>{"gw1", "gw2"})) << "HAProxy used only one gateway";

    // Each gateway subscribed once (one shard each), however many of alice's connections
    // it holds.
    EXPECT_EQ(publish("alice", "hello"), 2) << "receivers of PUBLISH ws:alice";
    std::vector<ws_client*> all = {direct1.get(), direct2.get()};
    for (auto& r : routed) all.push_back(r.client.get());
    for (auto* c : all) ASSERT_EQ(c->read_text(5s), "hello");
    publish_and_expect("alice", all, 20, "m");

    // HAProxy logs a WebSocket when it ends; its line has the path but never the token.
    const auto end = routed.front().client->close(1000, 5s);
    EXPECT_TRUE(end.got_close_frame) << end;
    ASSERT_TRUE(lb_->process().wait_for_output("/ws/v1/status/alice", 5s))
        << "no HAProxy log line for the closed connection:\n"
        << lb_->output();
    EXPECT_EQ(lb_->output().find("token="), std::string::npos) << lb_->output();
}

TEST_F(ManyGateways, DrainingGatewayIsTakenOutThenItsClientsMoveToTheOther) {
    // Six users through HAProxy: leastconn puts three on each gateway.
    std::vector<routed_client> clients;
    for (int i = 0; i < 6; ++i) {
        clients.push_back(connect_via_lb(numbered("u", i)));
        ASSERT_TRUE(clients.back().client);
    }
    std::vector<routed_client*> on_gw1;
    for (auto& c : clients)
        if (c.server == "gw1") on_gw1.push_back(&c);
    ASSERT_EQ(on_gw1.size(), 3u) << "leastconn should split six connections evenly";

    // SIGTERM: /readyz turns 503 at once and HAProxy's check marks gw1 down well inside the
    // drain delay, while gw1 keeps serving.
    const auto sigterm_at = std::chrono::steady_clock::now();
    ASSERT_TRUE(gw(0).process().signal(SIGTERM));
    ASSERT_TRUE(lb_->wait_status("gw1", "DOWN", 2s))
        << "HAProxy still routes to the draining gateway: " << status_of("gw1");
    const auto marked_down_after = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - sigterm_at);
    EXPECT_LT(marked_down_after, drain_delay);
    std::cout << "[   INFO   ] HAProxy marked gw1 DOWN " << marked_down_after.count()
              << " ms after SIGTERM\n";

    // New connections all land on gw2 now.
    std::vector<routed_client> newcomers;
    for (int i = 0; i < 4; ++i) {
        newcomers.push_back(connect_via_lb(numbered("n", i)));
        ASSERT_TRUE(newcomers.back().client);
        EXPECT_EQ(newcomers.back().server, "gw2") << "new connection sent to a draining gateway";
    }

    // gw1's existing clients are still served during the drain.
    for (auto* c : on_gw1) {
        publish(c->user, "during-drain");
        EXPECT_EQ(c->client->read_text(2s), "during-drain") << c->user;
        EXPECT_FALSE(c->client->ended()) << c->user;
    }
    EXPECT_LT(std::chrono::steady_clock::now() - sigterm_at, drain_delay)
        << "the checks above ran past the drain delay; they prove nothing";

    // At the end of the drain: close 1001, through HAProxy's tunnel.
    for (auto* c : on_gw1) {
        const auto end = c->client->read_until_close(drain_delay + 5s);
        ASSERT_TRUE(end.got_close_frame) << c->user << ": " << end;
        EXPECT_EQ(end.code, 1001) << c->user;
    }
    EXPECT_EQ(gw(0).process().wait_for_exit(10s), 0) << gw(0).output();

    // They reconnect through HAProxy and land on gw2.
    for (auto* c : on_gw1) {
        *c = connect_via_lb(c->user);
        ASSERT_TRUE(c->client);
        EXPECT_EQ(c->server, "gw2") << c->user;
    }
    EXPECT_EQ(open_connections(1), 10) << "gw2: 3 of its own, 4 newcomers, 3 moved";

    // Nothing published after the reconnect is lost, for any user.
    for (auto& c : clients) publish_and_expect(c.user, {c.client.get()}, 10, "after");
    for (auto& c : newcomers) publish_and_expect(c.user, {c.client.get()}, 10, "after");
    EXPECT_EQ(status_of("gw1"), "DOWN");
}

TEST_F(ManyGateways, ClientsOfAKilledGatewayReconnectAndReceive) {
    std::vector<routed_client> clients;
    for (int i = 0; i < 4; ++i) {
        clients.push_back(connect_via_lb(numbered("k", i)));
        ASSERT_TRUE(clients.back().client);
    }
    std::vector<routed_client*> on_gw1;
    for (auto& c : clients)
        if (c.server == "gw1") on_gw1.push_back(&c);
    ASSERT_EQ(on_gw1.size(), 2u);

    // SIGKILL: no close frame; HAProxy passes the dropped server side on as a dropped
    // client side.
    ASSERT_TRUE(gw(0).process().signal(SIGKILL));
    ASSERT_EQ(gw(0).process().wait_for_exit(5s), -SIGKILL);
    for (auto* c : on_gw1) {
        const auto end = c->client->read_until_close(5s);
        ASSERT_TRUE(end.ended) << c->user << ": connection still open after SIGKILL";
        EXPECT_FALSE(end.got_close_frame) << c->user << ": " << end;
    }

    // Reconnect at once, before HAProxy's checks may have noticed: a refused connect to gw1
    // is retried on gw2 (retries + option redispatch), so no client sees an error.
    for (auto* c : on_gw1) {
        *c = connect_via_lb(c->user);
        ASSERT_TRUE(c->client);
        EXPECT_EQ(c->server, "gw2") << c->user;
    }
    for (auto& c : clients) publish_and_expect(c.user, {c.client.get()}, 10, "after-kill");
    EXPECT_TRUE(lb_->wait_status("gw1", "DOWN", 2s)) << status_of("gw1");
    EXPECT_EQ(open_connections(1), 4);
}

// The shipped example must stay a config HAProxy accepts, and must keep tokens out of its log.
TEST(HaproxyExample, ShippedConfigIsValid) {
    auto [status, out] = run_to_completion(find_haproxy(), {"-c", "-f", WSGATE_HAPROXY_EXAMPLE});
    EXPECT_EQ(status, 0) << out;
    std::ifstream f(WSGATE_HAPROXY_EXAMPLE);
    bool path_only_log = false;
    for (std::string line; std::getline(f, line);) {
        const auto start = line.find_first_not_of(" \t");
        if (start == std::string::npos || line[start] == '#') continue;
        line.erase(0, start);
        EXPECT_NE(line.rfind("option httplog", 0), 0u) << "httplog logs the ?token= query";
        if (line.rfind("log-format", 0) == 0)
            // %r (request line) and %HU (URI) carry the query string; %rc is a counter.
            path_only_log =
                line.find("%{+Q}HPO") != std::string::npos &&
                !std::regex_search(line, std::regex(R"(%(\{[^}]*\})?(r|HU)([^a-zA-Z]|$))"));
    }
    EXPECT_TRUE(path_only_log) << "the log-format must log the path without the query string";
}

}  // namespace
