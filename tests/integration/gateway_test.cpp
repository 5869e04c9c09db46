// End-to-end behaviour of the wsgate binary against a real redis-server: delivery, auth
// rejections, the HTTP surface, client frames, UTF-8 policy and subscription cleanup.
// Fault injection (Redis restarts, slow consumers, shutdown) is in gateway_faults_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json/object.hpp>
#include <regex>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "gateway_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using namespace wsgate::test;
using wsgate::channel_for_user;

class Gateway : public gateway_fixture {
protected:
    /// Expects the upgrade to complete (101) and then a close with 1008 and `reason`.
    void expect_policy_close(const std::string& target, const std::string& reason,
                             const header_list& headers = {}) {
        ws_client c;
        const auto ec = c.connect(port(), target, headers);
        ASSERT_FALSE(ec) << "the upgrade must complete before the 1008 close: " << ec.message()
                         << " (HTTP " << c.http_status() << ")";
        EXPECT_EQ(c.http_status(), 101);
        const auto end = c.read_until_close(5s);
        ASSERT_TRUE(end.ended) << "no close within the deadline";
        ASSERT_TRUE(end.got_close_frame) << end;
        EXPECT_EQ(end.code, 1008) << end;
        EXPECT_EQ(end.reason, reason) << end;
        EXPECT_EQ(c.discarded(), 0u) << "a rejected client must receive no data";
    }

    double auth_failures(const std::string& label) {
        return metric("wsgate_auth_failures_total{reason=\"" + label + "\"}");
    }

    /// PUBSUB NUMSUB for many users at once (one round trip per 500).
    std::vector<long long> numsub_many(const std::vector<std::string>& users) {
        std::vector<long long> out;
        for (std::size_t i = 0; i < users.size(); i += 500) {
            std::vector<std::string> cmd = {"PUBSUB", "NUMSUB"};
            for (std::size_t j = i; j < std::min(users.size(), i + 500); ++j)
                cmd.push_back(channel_for_user(users[j]));
            const auto r = redis().command(cmd);
            for (std::size_t k = 1; k < r.elements.size(); k += 2)
                out.push_back(r.elements[k].integer);
        }
        return out;
    }
};

// --- delivery ---------------------------------------------------------------------------

TEST_F(Gateway, DeliversPublishedTextWithExactBytes) {
    auto alice = connect_user("alice");
    ASSERT_TRUE(alice);
    const std::vector<std::string> payloads = {
        "hello",
        R"({"event":"class.updated","id":42})",
        "h\xC3\xA9llo w\xC3\xB6rld \xE2\x80\x94 \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E "
        "\xF0\x9F\x8E\x89",
        std::string("nul\0inside", 10),
        "",
        std::string(100 * 1024, 'x'),
    };
    for (const auto& p : payloads) EXPECT_EQ(publish("alice", p), 1);
    for (const auto& p : payloads) {
        auto m = alice->read(5s);
        ASSERT_TRUE(m) << "message " << p.size() << " bytes never arrived";
        EXPECT_EQ(*m, (ws_message{p, false}));
    }
}

TEST_F(Gateway, PreservesOrderOfAThousandMessagesForOneUser) {
    auto alice = connect_user("alice");
    ASSERT_TRUE(alice);
    constexpr int n = 1000;
    for (int i = 0; i < n; ++i) ASSERT_EQ(publish("alice", "msg-" + std::to_string(i)), 1);
    for (int i = 0; i < n; ++i) {
        auto m = alice->read_text(5s);
        ASSERT_TRUE(m) << "message " << i << " never arrived";
        ASSERT_EQ(*m, "msg-" + std::to_string(i));
    }
}

TEST_F(Gateway, DoesNotDeliverOneUsersMessagesToAnother) {
    auto alice = connect_user("alice");
    auto bob = connect_user("bob");
    ASSERT_TRUE(alice && bob);
    EXPECT_EQ(publish("alice", "for alice"), 1) << "only alice's shard subscribes ws:alice";
    EXPECT_EQ(alice->read_text(5s), "for alice");
    // Redis delivers in publish order on each connection, so had bob's shard forwarded
    // alice's message to bob it would arrive before bob's own.
    EXPECT_EQ(publish("bob", "for bob"), 1);
    EXPECT_EQ(bob->read_text(5s), "for bob");
    EXPECT_EQ(bob->buffered(), 0u);
    EXPECT_EQ(alice->buffered(), 0u);
}

TEST_F(Gateway, EveryConnectionOfAUserReceivesEveryMessage) {
    // Open connections until both shards hold one (SO_REUSEPORT spreads them by hash).
    std::vector<std::unique_ptr<ws_client>> conns;
    while (conns.size() < 3 || (numsub("carol") < 2 && conns.size() < 24)) {
        conns.push_back(connect_user("carol"));
        ASSERT_TRUE(conns.back());
    }
    ASSERT_EQ(numsub("carol"), 2) << "never more subscriptions than shards, and both used";

    auto nth = [](int i) { return std::string("m") + std::to_string(i); };
    for (int i = 0; i < 20; ++i) EXPECT_EQ(publish("carol", nth(i)), 2);
    for (std::size_t c = 0; c < conns.size(); ++c)
        for (int i = 0; i < 20; ++i)
            ASSERT_EQ(conns[c]->read_text(5s), nth(i)) << "connection " << c;

    // Close them one by one; each time the rest keep receiving, including when the closed
    // one was its shard's last connection of carol (that shard unsubscribes).
    while (conns.size() > 1) {
        const auto end = conns.front()->close(1000);
        EXPECT_TRUE(end.got_close_frame) << end;
        conns.erase(conns.begin());
        const std::string msg = std::string("after-close-") + std::to_string(conns.size());
        EXPECT_GE(publish("carol", msg), 1);
        for (std::size_t c = 0; c < conns.size(); ++c)
            ASSERT_EQ(conns[c]->read_text(5s), msg) << "connection " << c;
    }
    EXPECT_TRUE(wait_until([&] { return numsub("carol") == 1; }, 5s));
}

TEST_F(Gateway, DeliversAMessagePublishedRightAfterTheHandshake) {
    // The 101 is held until Redis confirmed the channel, so a publish right after the
    // client's open event cannot be lost. Fresh users each time, so every round subscribes.
    for (int i = 0; i < 50; ++i) {
        const std::string user = "fresh-" + std::to_string(i);
        ws_client c;
        ASSERT_FALSE(c.connect(port(), target_for(user)));
        EXPECT_EQ(publish(user, "first"), 1) << user;
        ASSERT_EQ(c.read_text(2s), "first") << user;
    }
}

TEST_F(Gateway, KeepsDeliveringToAUserWhoReconnectsAtOnce) {
    // Each reset races the old session's UNSUBSCRIBE against the new session's SUBSCRIBE
    // on whichever shard the new connection lands.
    for (int i = 0; i < 30; ++i) {
        ws_client old_conn;
        ASSERT_FALSE(old_conn.connect(port(), target_for("erin")));
        old_conn.abort();
        ws_client new_conn;
        ASSERT_FALSE(new_conn.connect(port(), target_for("erin")));
        const std::string msg = std::string("round-") + std::to_string(i);
        EXPECT_GE(publish("erin", msg), 1);
        ASSERT_EQ(new_conn.read_text(2s), msg) << "round " << i;
    }
    EXPECT_TRUE(wait_until([&] { return numsub("erin") == 0; }, 5s));
}

// --- auth -------------------------------------------------------------------------------

TEST_F(Gateway, RejectsAMissingTokenWithPolicyViolation) {
    expect_policy_close("/ws/v1/status/alice", "missing token");
    EXPECT_EQ(auth_failures("missing"), 1);
    EXPECT_EQ(numsub("alice"), 0);
    EXPECT_EQ(metric("wsgate_connections"), 0);
}

TEST_F(Gateway, RejectsAMalformedToken) {
    expect_policy_close(target_for("alice", "not-a-jwt"), "invalid token");
    EXPECT_EQ(auth_failures("malformed"), 1);
}

TEST_F(Gateway, RejectsATokenWithABadSignature) {
    const auto forged =
        wsgate::auth::mint_hs256("some-other-secret-0123456789abcdefghij", "alice", 1h);
    expect_policy_close(target_for("alice", forged), "invalid token");
    EXPECT_EQ(auth_failures("signature"), 1);
    EXPECT_EQ(numsub("alice"), 0);
}

TEST_F(Gateway, RejectsAnExpiredToken) {
    const auto now = unix_now();
    const auto token = token_with({{"sub", "alice"}, {"iat", now - 7200}, {"exp", now - 3600}});
    expect_policy_close(target_for("alice", token), "token expired");
    EXPECT_EQ(auth_failures("expired"), 1);
}

TEST_F(Gateway, RejectsATokenNotYetValid) {
    const auto now = unix_now();
    const auto token = token_with({{"sub", "alice"}, {"nbf", now + 3600}, {"exp", now + 7200}});
    expect_policy_close(target_for("alice", token), "token not yet valid");
    EXPECT_EQ(auth_failures("not_yet_valid"), 1);
}

TEST_F(Gateway, RejectsAClientIdThatIsNotTheTokensUser) {
    expect_policy_close(target_for("bob", token_for("alice")), "client_id mismatch");
    EXPECT_EQ(auth_failures("mismatch"), 1);
    EXPECT_EQ(numsub("alice"), 0);
    EXPECT_EQ(numsub("bob"), 0);
}

TEST_F(Gateway, RejectsAnUnsignedAlgNoneToken) {
    using wsgate::auth::base64url_encode;
    const auto now = unix_now();
    const std::string token =
        base64url_encode(R"({"alg":"none","typ":"JWT"})") + "." +
        base64url_encode(R"({"sub":"alice","exp":)" + std::to_string(now + 3600) + "}") + ".";
    expect_policy_close(target_for("alice", token), "invalid token");
    EXPECT_EQ(auth_failures("algorithm"), 1);
}

TEST_F(Gateway, CountsEachAuthFailureUnderItsReason) {
    expect_policy_close("/ws/v1/status/alice", "missing token");
    expect_policy_close("/ws/v1/status/alice", "missing token");
    expect_policy_close(target_for("bob", token_for("alice")), "client_id mismatch");
    const auto m = metrics();
    EXPECT_EQ(m.at("wsgate_auth_failures_total{reason=\"missing\"}"), 2);
    EXPECT_EQ(m.at("wsgate_auth_failures_total{reason=\"mismatch\"}"), 1);
    EXPECT_EQ(m.at("wsgate_auth_failures_total{reason=\"expired\"}"), 0);
    EXPECT_EQ(m.at("wsgate_connections_total"), 0);
}

TEST_F(Gateway, AcceptsATokenInTheAuthorizationHeader) {
    ws_client c;
    ASSERT_FALSE(c.connect(port(), "/ws/v1/status/alice",
                           {{"Authorization", "Bearer " + token_for("alice")}}));
    EXPECT_EQ(publish("alice", "via header"), 1);
    EXPECT_EQ(c.read_text(5s), "via header");
}

TEST_F(Gateway, MatchesAPercentEncodedClientIdAgainstTheDecodedSubject) {
    const std::string user = "a b/c";
    ws_client c;
    const std::string target = "/ws/v1/status/a%20b%2Fc?token=" + token_for(user);
    ASSERT_FALSE(c.connect(port(), target)) << "HTTP " << c.http_status();
    EXPECT_EQ(numsub(user), 1) << "subscribed to ws:" << user;
    EXPECT_EQ(publish(user, "decoded"), 1);
    EXPECT_EQ(c.read_text(5s), "decoded");
}

class GatewayWithIssuerAndAudience : public Gateway {
protected:
    flag_list gateway_flags() const override {
        return {{"--jwt-issuer", "https://issuer.test"}, {"--jwt-audience", "wsgate"}};
    }
    std::string token(const std::string& iss, const std::string& aud) {
        const auto now = unix_now();
        return token_with({{"sub", "alice"}, {"iss", iss}, {"aud", aud}, {"exp", now + 3600}});
    }
};

TEST_F(GatewayWithIssuerAndAudience, AcceptsTheConfiguredIssuerAndAudience) {
    ws_client c;
    ASSERT_FALSE(c.connect(port(), target_for("alice", token("https://issuer.test", "wsgate"))));
    EXPECT_EQ(publish("alice", "ok"), 1);
    EXPECT_EQ(c.read_text(5s), "ok");
}

TEST_F(GatewayWithIssuerAndAudience, RejectsAWrongIssuer) {
    expect_policy_close(target_for("alice", token("https://evil.test", "wsgate")),
                        "invalid issuer");
    EXPECT_EQ(auth_failures("issuer"), 1);
}

TEST_F(GatewayWithIssuerAndAudience, RejectsAWrongAudience) {
    expect_policy_close(target_for("alice", token("https://issuer.test", "other")),
                        "invalid audience");
    EXPECT_EQ(auth_failures("audience"), 1);
}

// --- HTTP -------------------------------------------------------------------------------

TEST_F(Gateway, AnswersAnUnknownPathWith404) {
    EXPECT_EQ(http_get(port(), "/nope").status, 404);
    EXPECT_EQ(http_get(port(), "/ws/v1/status").status, 404);
    EXPECT_EQ(http_get(port(), "/ws/v1/status/alice/extra").status, 404);
    EXPECT_EQ(metric("wsgate_http_rejected_total{reason=\"not_found\"}"), 3);
}

TEST_F(Gateway, AnswersAPlainGetOnTheStatusPathWith426) {
    const auto r = http_get(port(), target_for("alice"));
    EXPECT_EQ(r.status, 426);
    EXPECT_EQ(r.header("Upgrade"), "websocket");
    EXPECT_EQ(numsub("alice"), 0);
}

TEST_F(Gateway, AnswersOversizedHeadersWith431) {
    const auto r = http_get(port(), "/healthz", {{"X-Padding", std::string(16 * 1024, 'p')}});
    EXPECT_EQ(r.status, 431) << r.error.message();
    EXPECT_EQ(http_get(port(), "/healthz").status, 200);
}

TEST_F(Gateway, TokensUpToTheirLimitConnectAndLongerOnesGet1008NotHttp431) {
    // A signed token just under the 8 KiB token limit is a valid token: it must reach the
    // verifier rather than be refused with the request as 431 (which a browser sees only as
    // 1006), and it connects.
    const std::string pad(5900, 'p');  // base64url: 4 bytes per 3
    const std::string big = token_with({{"sub", "alice"}, {"exp", unix_now() + 3600}, {"pad", pad}});
    ASSERT_GT(big.size(), 8000u);
    ASSERT_LE(big.size(), 8192u);
    ws_client c;
    ASSERT_FALSE(c.connect(port(), target_for("alice", big))) << c.http_status();
    EXPECT_EQ(publish("alice", "big token"), 1);
    EXPECT_EQ(c.read_text(5s), std::optional<std::string>("big token"));
    // Over the token limit: the documented answer, 1008 "invalid token".
    expect_policy_close(target_for("alice", big + std::string(300, 'x')), "invalid token");
    EXPECT_EQ(auth_failures("malformed"), 1);
}

TEST_F(Gateway, ReportsHealthAndReadiness) {
    const auto h = http_get(port(), "/healthz");
    EXPECT_EQ(h.status, 200);
    EXPECT_EQ(readyz(), 200);
}

TEST_F(Gateway, ExposesTheConnectionGaugeInMetrics) {
    const auto r = http_get(port(), "/metrics");
    ASSERT_EQ(r.status, 200);
    EXPECT_NE(r.header("Content-Type").find("text/plain"), std::string::npos);
    EXPECT_NE(r.body.find("# TYPE wsgate_connections gauge"), std::string::npos) << r.body;
    EXPECT_EQ(metric("wsgate_connections"), 0);
    auto alice = connect_user("alice");
    ASSERT_TRUE(alice);
    // The gauge moves when the server's accept completes, which may be just after the
    // client saw the 101.
    EXPECT_TRUE(wait_metric("wsgate_connections", 1, 5s));
    alice->close();
    EXPECT_TRUE(wait_metric("wsgate_connections", 0, 5s));
}

TEST_F(Gateway, StaysUpAfterGarbageBytesOnARawSocket) {
    {
        raw_connection raw;
        ASSERT_TRUE(raw.connect(port())) << raw.error();
        // A TLS ClientHello's first bytes, NULs, then CRLFs: not HTTP at all.
        static constexpr char garbage[] =
            "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\xff\x00"
            "GARBAGE \r\n\x01\x02\r\n\r\n";
        ASSERT_TRUE(raw.send(std::string(garbage, sizeof garbage - 1)));
        EXPECT_TRUE(raw.wait_closed(5s)) << "the gateway should answer and close";
        EXPECT_EQ(raw.received().rfind("HTTP/1.1 400", 0), 0u) << raw.received();
    }
    {
        raw_connection half;  // an incomplete request, then the client vanishes
        ASSERT_TRUE(half.connect(port()));
        ASSERT_TRUE(half.send("GET /ws/v1/status/alice HTTP/1.1\r\nHost: x\r\nUpg"));
    }
    EXPECT_EQ(http_get(port(), "/healthz").status, 200);
    auto alice = connect_user("alice");
    ASSERT_TRUE(alice);
    EXPECT_EQ(publish("alice", "still here"), 1);
    EXPECT_EQ(alice->read_text(5s), "still here");
}

// RFC 9112 3.2: one Host per request, and an HTTP/1.1 request must have it. Every route.
TEST_F(Gateway, AnswersTwoHostHeadersOrNoneOnHttp11With400) {
    auto answer = [&](const std::string& request) {
        raw_connection raw;
        EXPECT_TRUE(raw.connect(port())) << raw.error();
        EXPECT_TRUE(raw.send(request));
        EXPECT_TRUE(raw.wait_closed(5s)) << request;
        return raw.received();
    };
    const std::string upgrade =
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
    const std::vector<std::string> bad = {
        "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
        "GET /metrics HTTP/1.1\r\n\r\n",
        "GET /healthz HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
        "GET " + target_for("alice") + " HTTP/1.1\r\n" + upgrade + "\r\n",
        "GET " + target_for("alice") + " HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: x\r\n" + upgrade +
            "\r\n",
    };
    for (const auto& request : bad) {
        const auto got = answer(request);
        EXPECT_EQ(got.rfind("HTTP/1.1 400", 0), 0u) << request << "\n---\n" << got;
    }
    // HTTP/1.0 may omit it (HAProxy's default health check does).
    const auto http10 = answer("GET /healthz HTTP/1.0\r\n\r\n");
    EXPECT_EQ(http10.rfind("HTTP/1.1 200", 0), 0u) << http10;
    const auto m = metrics();
    EXPECT_EQ(m.at("wsgate_http_rejected_total{reason=\"bad_request\"}"), bad.size());
    EXPECT_EQ(m.at("wsgate_connections_total"), 0);
}

// RFC 6455 4.1: a client sends nothing before the 101. Bytes that arrived with the upgrade
// request were read with it and vanished when the socket passed to the WebSocket; such an
// upgrade is now refused with 400 and closed, never upgraded with the bytes dropped.
TEST_F(Gateway, RefusesAnUpgradeThatSentDataBeforeThe101) {
    raw_connection eager;
    ASSERT_TRUE(eager.connect(port())) << eager.error();
    const std::string frame("\x81\x82\x00\x00\x00\x00hi", 8);  // masked text "hi", zero mask
    ASSERT_TRUE(eager.send(upgrade_request(port(), target_for("alice")) + frame));  // one write
    EXPECT_TRUE(eager.wait_closed(5s));
    EXPECT_EQ(eager.received().rfind("HTTP/1.1 400", 0), 0u) << eager.received();
    EXPECT_NE(eager.received().find("data sent before the WebSocket handshake completed"),
              std::string::npos)
        << eager.received();
    auto m = metrics();
    EXPECT_EQ(m.at("wsgate_http_rejected_total{reason=\"bad_request\"}"), 1);
    EXPECT_EQ(m.at("wsgate_connections_total"), 0);

    // The same request without the early bytes upgrades.
    raw_connection patient;
    ASSERT_TRUE(patient.connect(port())) << patient.error();
    ASSERT_TRUE(patient.send(upgrade_request(port(), target_for("alice"))));
    const auto head = patient.read_until("\r\n\r\n", 5s);
    EXPECT_EQ(head.rfind("HTTP/1.1 101", 0), 0u) << head;
}

// --- client frames ----------------------------------------------------------------------

TEST_F(Gateway, AnswersAPingWithAPong) {
    auto alice = connect_user("alice");
    ASSERT_TRUE(alice);
    EXPECT_TRUE(alice->ping(5s));
    EXPECT_TRUE(alice->ping(5s));
    EXPECT_EQ(alice->pongs(), 2u);
}

TEST_F(Gateway, IgnoresASmallTextFrameFromTheClient) {
    auto alice = connect_user("alice");
    ASSERT_TRUE(alice);
    ASSERT_FALSE(alice->send_text("hello server"));
    ASSERT_FALSE(alice->send_text(std::string(4096, 'a'))) << "exactly the limit is allowed";
    EXPECT_TRUE(alice->ping(5s)) << "the connection survives";
    EXPECT_EQ(publish("alice", "still delivered"), 1);
    EXPECT_EQ(alice->read_text(5s), "still delivered");
    EXPECT_FALSE(alice->ended());
}

TEST_F(Gateway, ClosesWith1009OnAClientFrameOverTheLimit) {
    auto alice = connect_user("alice");
    ASSERT_TRUE(alice);
    ASSERT_FALSE(alice->send_text(std::string(4097, 'a')));
    const auto end = alice->read_until_close(5s);
    ASSERT_TRUE(end.got_close_frame) << end;
    EXPECT_EQ(end.code, 1009) << end;
    EXPECT_TRUE(wait_until([&] { return numsub("alice") == 0; }, 5s));
}

TEST_F(Gateway, ClosesWith1003OnABinaryFrame) {
    auto alice = connect_user("alice");
    ASSERT_TRUE(alice);
    ASSERT_FALSE(alice->send_binary(std::string("\x00\x01\x02", 3)));
    const auto end = alice->read_until_close(5s);
    ASSERT_TRUE(end.got_close_frame) << end;
    EXPECT_EQ(end.code, 1003) << end;
    EXPECT_EQ(end.reason, "binary frames not accepted");
    EXPECT_EQ(metric("wsgate_closes_total{cause=\"client_protocol\"}"), 1);
}

// --- UTF-8 policy -----------------------------------------------------------------------

TEST_F(Gateway, DropsAnInvalidUtf8PayloadAndCountsIt) {
    auto alice = connect_user("alice");
    ASSERT_TRUE(alice);
    EXPECT_EQ(publish("alice", "\xff\xfe not utf-8"), 1);
    EXPECT_EQ(publish("alice", "\xed\xa0\x80 surrogate"), 1);
    EXPECT_EQ(publish("alice", "valid after"), 1);
    EXPECT_EQ(alice->read_text(5s), "valid after") << "the invalid ones must be skipped";
    EXPECT_EQ(metric("wsgate_messages_dropped_total{reason=\"invalid_utf8\"}"), 2);
    EXPECT_FALSE(alice->ended());
}

// The least a gateway needs of Redis in single mode (docs/operations.md, "Redis ACL"): an
// ACL user that may subscribe to its channels and ping, and nothing else. CLIENT SETNAME,
// which names the connection for operators, used to fail the handshake with NOPERM.
class GatewayWithLeastPrivilegeRedisUser : public Gateway {
protected:
    void SetUp() override {
        deadline_ = std::make_unique<hard_deadline>(test_limit());
        redis_ = std::make_unique<redis_server>();
        const auto r = redis_->command({"ACL", "SETUSER", "gw", "on", ">gw-pass", "resetchannels",
                                        "&ws:*", "&ws@*", "-@all", "+subscribe", "+unsubscribe",
                                        "+ping"});
        ASSERT_EQ(r.str, "OK") << r;
        publisher_ = std::make_unique<wsgate::publisher>(redis_->url(), 5s);  // default user
        start_gateway(
            {{"--redis-url", "redis://gw:gw-pass@127.0.0.1:" + std::to_string(redis_->port())}});
    }
};

TEST_F(GatewayWithLeastPrivilegeRedisUser, SubscribesAndDelivers) {
    auto alice = connect_user("alice");
    ASSERT_TRUE(alice);
    EXPECT_EQ(publish("alice", "least privilege"), 1);
    EXPECT_EQ(alice->read_text(5s), std::optional<std::string>("least privilege"));
    EXPECT_EQ(readyz(), 200);
}

// --metrics-listen: the operator endpoints on a port of their own, /metrics off --listen.
class GatewayWithMetricsListener : public Gateway {
protected:
    flag_list gateway_flags() const override { return {{"--metrics-listen", "127.0.0.1:0"}}; }

    std::uint16_t metrics_port() {
        std::smatch m;
        const std::string out = gateway().output();
        static const std::regex line(R"( metrics_listening [^\n]*port=(\d+))");
        if (!std::regex_search(out, m, line)) {
            ADD_FAILURE() << "no metrics_listening line:\n" << out;
            return 0;
        }
        return static_cast<std::uint16_t>(std::stoi(m[1].str()));
    }
};

TEST_F(GatewayWithMetricsListener, ServesMetricsOnlyOnItsOwnPort) {
    const auto mport = metrics_port();
    ASSERT_NE(mport, 0);
    ASSERT_NE(mport, port());
    auto c = connect_user("alice");
    ASSERT_TRUE(c);

    // The gateway counts the connection once its 101 is written, a moment after the
    // client has read it.
    http_result scrape;
    EXPECT_TRUE(wait_until(
        [&] {
            scrape = http_get(mport, "/metrics");
            return scrape.body.find("\nwsgate_connections 1\n") != std::string::npos;
        },
        5s))
        << scrape.body;
    EXPECT_EQ(scrape.status, 200);
    EXPECT_EQ(http_get(mport, "/healthz").status, 200);
    EXPECT_EQ(http_get(mport, "/readyz").status, 200);

    // The public listener no longer shows the metrics, but still answers the probes and
    // serves WebSockets.
    EXPECT_EQ(http_get(port(), "/metrics").status, 404);
    EXPECT_EQ(http_get(port(), "/healthz").status, 200);
    EXPECT_EQ(readyz(), 200);
    EXPECT_EQ(publish("alice", "still served"), 1);
    EXPECT_EQ(c->read_text(5s), std::optional<std::string>("still served"));

    // The operator listener serves nothing else: no WebSocket, no other path.
    ws_client ws;
    EXPECT_TRUE(ws.connect(mport, target_for("bob")));
    EXPECT_EQ(ws.http_status(), 404);
    EXPECT_EQ(numsub("bob"), 0);
    EXPECT_EQ(http_get(mport, "/").status, 404);
}

// The public listener's handshake places all held (a slowloris): the operator listener has
// a budget of its own, so probes and scrapes still get answers.
class GatewayWithMetricsListenerUnderFlood : public GatewayWithMetricsListener {
protected:
    flag_list gateway_flags() const override {
        return {{"--metrics-listen", "127.0.0.1:0"},
                {"--max-handshakes", "4"},
                {"--max-handshakes-per-address", "0"}};
    }
};

TEST_F(GatewayWithMetricsListenerUnderFlood, ProbesAnswerWhilePublicHandshakesAreFull) {
    const auto mport = metrics_port();
    ASSERT_NE(mport, 0);
    std::vector<std::unique_ptr<raw_connection>> held;
    for (int i = 0; i < 4; ++i) {
        auto c = std::make_unique<raw_connection>();
        ASSERT_TRUE(c->connect(port())) << c->error();
        ASSERT_TRUE(c->send("GET /healthz HTTP/1.1\r\nHost: x\r\n"));  // never finished
        held.push_back(std::move(c));
    }
    std::this_thread::sleep_for(200ms);  // let the gateway accept them all
    raw_connection over;
    ASSERT_TRUE(over.connect(port())) << over.error();
    ASSERT_TRUE(over.wait_closed(2s)) << "the public listener still had a place";
    EXPECT_EQ(http_get(mport, "/readyz").status, 200);
    EXPECT_EQ(http_get(mport, "/healthz").status, 200);
    EXPECT_EQ(http_get(mport, "/metrics").status, 200);
}

TEST(GatewayMetricsListenConfig, SamePortAsListenIsRefusedNamingTheFlag) {
    const auto [status, output] = run_to_completion(
        WSGATE_BINARY,
        {"--listen", "127.0.0.1:18080", "--metrics-listen", "127.0.0.1:18080", "--jwt-secret",
         test_jwt_secret, "--redis-url", "redis://127.0.0.1:1"},
        {}, 10s);
    EXPECT_EQ(status, wsgate::exit_bad_config);
    EXPECT_NE(output.find("--metrics-listen"), std::string::npos) << output;
}

class GatewayWithBinaryFallback : public Gateway {
protected:
    flag_list gateway_flags() const override { return {{"--invalid-utf8", "binary"}}; }
};

TEST_F(GatewayWithBinaryFallback, DeliversAnInvalidUtf8PayloadAsABinaryFrame) {
    auto alice = connect_user("alice");
    ASSERT_TRUE(alice);
    const std::string bad("\xff\x00\xc3(\x80 raw", 9);
    EXPECT_EQ(publish("alice", bad), 1);
    EXPECT_EQ(publish("alice", "text again"), 1);
    EXPECT_EQ(alice->read(5s), (ws_message{bad, true}));
    EXPECT_EQ(alice->read(5s), (ws_message{"text again", false}));
    EXPECT_EQ(metric("wsgate_messages_dropped_total{reason=\"invalid_utf8\"}"), 0);
}

// --- cleanup ----------------------------------------------------------------------------

TEST_F(Gateway, AbortedConnectionsReleaseTheirSubscriptions) {
    constexpr std::size_t total = 1000, batch = 100;
    std::vector<std::string> users;
    std::vector<std::unique_ptr<ws_client>> clients;
    for (std::size_t i = 0; i < total; ++i) users.push_back("bulk-" + std::to_string(i));

    for (std::size_t b = 0; b < total; b += batch) {
        std::vector<ws_client*> pending;
        for (std::size_t i = b; i < b + batch; ++i) {
            clients.push_back(std::make_unique<ws_client>());
            clients.back()->start_connect(port(), target_for(users[i]));
            pending.push_back(clients.back().get());
        }
        const auto failed = connect_all(pending, 20s);
        ASSERT_TRUE(failed.empty()) << failed.size() << " of batch " << b / batch << " failed";
    }
    EXPECT_TRUE(wait_metric("wsgate_connections", static_cast<double>(total), 5s));
    const auto during = numsub_many(users);
    ASSERT_EQ(during.size(), total);
    EXPECT_TRUE(std::all_of(during.begin(), during.end(), [](long long n) { return n == 1; }))
        << "one subscription per user: one connection, so one shard";

    for (auto& c : clients) c->abort();
    EXPECT_TRUE(wait_until(
        [&] {
            const auto after = numsub_many(users);
            return std::all_of(after.begin(), after.end(), [](long long n) { return n == 0; });
        },
        15s, 50ms))
        << "channels still subscribed after every client reset";
    EXPECT_TRUE(wait_metric("wsgate_connections", 0, 5s));
    EXPECT_TRUE(wait_metric("wsgate_users", 0, 5s));
    // Redis drops the subscription before the gateway reads the acknowledgement.
    EXPECT_TRUE(wait_metric("wsgate_redis_channels", 0, 5s));
    const auto m = metrics();
    EXPECT_EQ(m.at("wsgate_queued_bytes"), 0);
    EXPECT_EQ(m.at("wsgate_connections_total"), static_cast<double>(total));
}

}  // namespace

namespace {

// --- startup errors ----------------------------------------------------------------------

// A bad setting stops the gateway before it serves anything, with a message naming it.
TEST(GatewayStartup, ABadSettingExitsWithAMessageNamingTheFlag) {
    hard_deadline limit(60s);
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
        {{"--listen", "127.0.0.1:notaport"}, "--listen"},
        {{"--redis-url", "http://127.0.0.1:6379"}, "--redis-url"},
        {{"--ping-interval", "soon"}, "--ping-interval"},
        {{"--jwt-algorithms", "HS999"}, "--jwt-algorithms"},
        {{"--jwt-public-key-file", "/nonexistent/key.pem", "--jwt-secret", ""},
         "--jwt-public-key-file"},
        {{"--log-format", "xml"}, "--log-format"},
        // The demo endpoints mint tokens for any user: never on an address other hosts reach.
        // (192.0.2.1, TEST-NET-1, is no address of this host: nothing is ever bound there.)
        {{"--listen", "192.0.2.1:0", "--demo", "true"}, "--demo"},
    };
    for (const auto& [extra, flag] : cases) {
        std::vector<std::string> args = {"--listen", "127.0.0.1:0", "--jwt-secret",
                                         test_jwt_secret};
        for (std::size_t i = 0; i + 1 < extra.size(); i += 2) {
            auto it = std::find(args.begin(), args.end(), extra[i]);
            if (it != args.end())
                *(it + 1) = extra[i + 1];
            else
                args.insert(args.end(), {extra[i], extra[i + 1]});
        }
        auto [status, output] = run_to_completion(WSGATE_BINARY, args, {}, 10s);
        // One documented status for every setting the gateway cannot start with.
        EXPECT_EQ(status, wsgate::exit_bad_config) << flag;
        EXPECT_NE(output.find("wsgate: " + flag + ":"), std::string::npos) << output;
        EXPECT_EQ(output.find(" listening "), std::string::npos) << output;
    }
}

// A port held by another program is a startup error naming --listen.
TEST(GatewayStartup, APortInUseIsAClearError) {
    hard_deadline limit(60s);
    // SO_REUSEPORT lets wsgate processes share a port on purpose; a plain listener (without
    // it) holds the port exclusively.
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor plain(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
    const std::string taken = "127.0.0.1:" + std::to_string(plain.local_endpoint().port());
    auto [status, output] = run_to_completion(
        WSGATE_BINARY, {"--listen", taken, "--jwt-secret", test_jwt_secret}, {}, 10s);
    EXPECT_EQ(status, wsgate::exit_bad_config);
    EXPECT_NE(output.find("wsgate: --listen: cannot listen on " + taken), std::string::npos)
        << output;
    // CLI11's own codes (109 for an argument it did not expect) are configuration errors too.
    auto [extra_status, extra_output] = run_to_completion(
        WSGATE_BINARY, {"--jwt-secret", test_jwt_secret, "unexpected"}, {}, 10s);
    EXPECT_EQ(extra_status, wsgate::exit_bad_config) << extra_output;
}

// A boolean flag given bare means true, like every other CLI: `--demo --jwt-secret S` used to
// fail with "The following argument was not expected".
TEST(GatewayStartup, ABareBooleanFlagMeansTrue) {
    hard_deadline limit(60s);
    child_process gw(WSGATE_BINARY, {"--demo", "--listen", "127.0.0.1:0", "--jwt-secret",
                                     test_jwt_secret, "--redis-url", "redis://127.0.0.1:1"});
    EXPECT_TRUE(gw.wait_for_output(" demo_mode ", 10s)) << gw.output();
    EXPECT_EQ(gw.terminate(), 0) << gw.output();
}

}  // namespace

namespace {

class GatewayDemo : public Gateway {
protected:
    flag_list gateway_flags() const override { return {{"--demo", "true"}}; }

    /// The page URL of the gateway's demo_mode line (the one line that shows the key), or
    /// empty.
    std::string page_url() {
        static const std::regex line(R"(demo_mode [^\n]*page="?(http://[^"\s]+))");
        std::smatch m;
        const std::string out = gateway().output();
        return std::regex_search(out, m, line) ? m[1].str() : std::string();
    }
    /// The access key from the page URL, or empty.
    std::string demo_key() {
        const auto url = page_url();
        const auto at = url.find("?key=");
        return at == std::string::npos ? std::string() : url.substr(at + 5);
    }
    header_list with_key(header_list headers = {}) {
        headers.emplace_back("X-Wsgate-Demo-Key", demo_key());
        return headers;
    }
    /// A demo token for `user` from /demo/token; empty (and a test failure) without one.
    std::string demo_token(const std::string& user) {
        const auto r = http_get(port(), "/demo/token?user=" + percent_encode(user), with_key());
        EXPECT_EQ(r.status, 200) << r.body;
        if (r.status != 200) return {};
        static const std::regex token(R"re("token":"([^"]+)")re");
        std::smatch m;
        return std::regex_search(r.body, m, token) ? m[1].str() : std::string();
    }
    /// The name of the cookie that once carried the key (no longer accepted).
    std::string demo_key_cookie() { return "wsgate_demo_key_" + std::to_string(port()); }
    double demo_forbidden() {
        return metric("wsgate_http_rejected_total{reason=\"demo_forbidden\"}");
    }
};

// The gateway logs the page URL with the key exactly once, on loopback, and nowhere else.
TEST_F(GatewayDemo, LogsThePageUrlWithItsKeyOnce) {
    const auto url = page_url();
    EXPECT_EQ(url, "http://127.0.0.1:" + std::to_string(port()) + "/?key=" + demo_key());
    ASSERT_EQ(demo_key().size(), 43u) << gateway().output();
    EXPECT_EQ(http_get(port(), "/?key=" + demo_key()).status, 200);
    EXPECT_EQ(http_get(port(), "/demo/token?user=alice", with_key()).status, 200);
    const auto out = gateway().output();
    EXPECT_EQ(out.find(demo_key()), out.rfind(demo_key())) << out;
}

// Behind a forwarder that adds no header (ssh -L, nginx's default proxy_pass) every client
// is a loopback peer asking for a loopback Host: only the key keeps them out.
TEST_F(GatewayDemo, EveryDemoEndpointNeedsTheAccessKey) {
    struct endpoint {
        std::string method, target;
        bool query_key;  // takes ?key= (the page and its assets, which a browser loads by URL)
    };
    const std::vector<endpoint> endpoints = {
        {"GET", "/", true},
        {"GET", "/demo/app.js", true},
        {"GET", "/demo/app.css", true},
        {"GET", "/demo/token?user=alice", false},
        {"POST", "/demo/publish?user=alice&payload=hi", false}};
    const std::string key = demo_key();
    ASSERT_FALSE(key.empty()) << gateway().output();
    std::string wrong = key;
    wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
    auto with_query = [](const std::string& target, const std::string& k) {
        return target + (target.find('?') == std::string::npos ? "?" : "&") + "key=" + k;
    };
    int refused = 0;
    for (const auto& [method, target, query_key] : endpoints) {
        for (const header_list& bad :
             {header_list{}, header_list{{"X-Wsgate-Demo-Key", wrong}},
              header_list{{"X-Wsgate-Demo-Key", ""}},
              // The cookie the page used to set is no way in any more, right key or not.
              header_list{{"Cookie", demo_key_cookie() + "=" + key}},
              header_list{{"Cookie", "a=b; " + demo_key_cookie() + "=" + key}}}) {
            const auto r = http_request(port(), method, target, bad);
            EXPECT_EQ(r.status, 403) << method << " " << target;
            EXPECT_NE(r.body.find("\"error\":\"missing or wrong demo access key"),
                      std::string::npos)
                << r.body;
            EXPECT_EQ(r.header("Content-Type"), "application/json");
            ++refused;
        }
        EXPECT_EQ(http_request(port(), method, with_query(target, wrong)).status, 403)
            << method << " " << target;
        ++refused;

        // The key in the header (the page's script, curl) opens every endpoint...
        EXPECT_EQ(http_request(port(), method, target, with_key()).status, 200)
            << method << " " << target;
        // ...in the query (the printed URL, the page's asset URLs) the page and its assets
        // only: the API wants the header, which a cross-site request cannot send unasked.
        const auto by_query = http_request(port(), method, with_query(target, key));
        if (query_key) {
            EXPECT_EQ(by_query.status, 200) << method << " " << target;
        } else {
            EXPECT_EQ(by_query.status, 403) << method << " " << target;
            EXPECT_NE(by_query.body.find("X-Wsgate-Demo-Key header"), std::string::npos)
                << by_query.body;
            ++refused;
        }
    }
    EXPECT_EQ(demo_forbidden(), refused);
}

// The page carries its key itself, in its asset URLs and in a <meta> for its script, and
// sets no cookie: a browser would send a cookie for 127.0.0.1 to every port of the host, to
// other users' servers too.
TEST_F(GatewayDemo, ThePageCarriesItsKeyAndSetsNoCookie) {
    const auto key = demo_key();
    ASSERT_EQ(key.size(), 43u) << gateway().output();
    const auto page = http_get(port(), "/?key=" + key);
    ASSERT_EQ(page.status, 200) << page.body;
    EXPECT_EQ(page.header("Set-Cookie"), "");
    EXPECT_NE(page.body.find(R"(<meta name="wsgate-demo-key" content=")" + key + R"(">)"),
              std::string::npos)
        << page.body;
    EXPECT_NE(page.body.find(R"(<script src="demo/app.js?key=)" + key + R"(" defer></script>)"),
              std::string::npos)
        << page.body;
    EXPECT_NE(page.body.find(R"(<link rel="stylesheet" href="demo/app.css?key=)" + key + "\""),
              std::string::npos)
        << page.body;
    // Still no inline script.
    const auto csp = page.header("Content-Security-Policy");
    EXPECT_NE(csp.find("script-src 'self';"), std::string::npos) << csp;
    EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
    // The script sends the key in the header, which is what the API wants.
    const auto script = http_get(port(), "/demo/app.js?key=" + key);
    ASSERT_EQ(script.status, 200);
    EXPECT_NE(script.body.find("'X-Wsgate-Demo-Key'"), std::string::npos);
    EXPECT_NE(script.body.find(R"(meta[name="wsgate-demo-key"])"), std::string::npos);
}

// Every answer of a demo endpoint, success or refusal, carries the same protective headers
// and no cookie. (The 405 answer lacked them.)
TEST_F(GatewayDemo, EveryDemoAnswerCarriesTheSecurityHeaders) {
    const auto key = demo_key();
    ASSERT_FALSE(key.empty()) << gateway().output();
    struct request {
        std::string method, target;
        header_list headers;
        int status;
    };
    const std::vector<request> requests = {
        {"GET", "/?key=" + key, {}, 200},
        {"HEAD", "/?key=" + key, {}, 200},
        {"GET", "/demo/app.js?key=" + key, {}, 200},
        {"GET", "/demo/app.css?key=" + key, {}, 200},
        {"GET", "/demo/token?user=alice", with_key(), 200},
        {"POST", "/demo/publish?user=alice&payload=hi", with_key(), 200},
        {"GET", "/demo/token?user=", with_key(), 400},
        {"GET", "/demo/token?user=alice", {}, 403},
        {"GET", "/demo/publish?user=alice&payload=hi", with_key(), 405},
        {"POST", "/?key=" + key, {}, 405},
        {"DELETE", "/demo/token?user=alice", with_key(), 405}};
    for (const auto& [method, target, headers, status] : requests) {
        const auto r = http_request(port(), method, target, headers);
        const auto what = method + " " + target.substr(0, target.find("key="));
        EXPECT_EQ(r.status, status) << what << ": " << r.body;
        EXPECT_EQ(r.header("X-Content-Type-Options"), "nosniff") << what;
        EXPECT_EQ(r.header("Referrer-Policy"), "no-referrer") << what;
        EXPECT_EQ(r.header("X-Frame-Options"), "DENY") << what;
        EXPECT_EQ(r.header("Set-Cookie"), "") << what;
    }
}

// A demo token is signed with a key only this process holds: it opens the user's stream on
// this gateway (so the printed wsgate-publish command reaches it) and nowhere else, not even
// on a gateway that shares every setting, the JWT secret included.
TEST_F(GatewayDemo, DemoTokensOpenThisGatewayOnly) {
    const auto token = demo_token("alice");
    ASSERT_FALSE(token.empty());
    const auto first_dot = token.find('.');
    const auto claims = wsgate::auth::base64url_decode(
        token.substr(first_dot + 1, token.find('.', first_dot + 1) - first_dot - 1));
    ASSERT_TRUE(claims);
    EXPECT_NE(claims->find(R"("iss":"wsgate-demo")"), std::string::npos) << *claims;

    ws_client alice;
    ASSERT_FALSE(alice.connect(port(), target_for("alice", token))) << alice.http_status();
    ASSERT_TRUE(wait_until([&] { return numsub("alice") == 1; }, 5s, 20ms));
    EXPECT_EQ(publish("alice", "via a demo token"), 1);
    EXPECT_EQ(alice.read_text(5s), "via a demo token");
    // Another user's stream: 1008, as with a real token.
    expect_policy_close(target_for("bob", token), "client_id mismatch");

    for (const flag_list& flags : {flag_list{}, flag_list{{"--demo", "true"}}}) {
        gateway_process other(redis().url(), flags, true);  // same --jwt-secret
        ws_client c;
        ASSERT_FALSE(c.connect(other.port(), target_for("alice", token)));
        const auto end = c.read_until_close(5s);
        EXPECT_EQ(end.code, 1008) << end;
        EXPECT_EQ(end.reason, "invalid token") << end;
        EXPECT_EQ(other.terminate(), 0);
    }
}

// The demo mints its own tokens, so it needs no HS256 secret of the gateway's.
class GatewayDemoWithoutHs256 : public GatewayDemo {
protected:
    flag_list gateway_flags() const override {
        return {{"--demo", "true"}, {"--jwt-algorithms", "HS512"}};
    }
};

TEST_F(GatewayDemoWithoutHs256, StillMintsDemoTokensThatOpenTheStream) {
    const auto token = demo_token("carol");
    ASSERT_FALSE(token.empty());
    auto carol = std::make_unique<ws_client>();
    ASSERT_FALSE(carol->connect(port(), target_for("carol", token)));
    ASSERT_TRUE(wait_until([&] { return numsub("carol") == 1; }, 5s, 20ms));
    EXPECT_EQ(publish("carol", "hello"), 1);
    EXPECT_EQ(carol->read_text(5s), "hello");
    // The gateway's own tokens still work beside them.
    auto real = std::make_unique<ws_client>();
    boost::json::object claims{{"sub", "dave"}, {"exp", unix_now() + 600}};
    ASSERT_FALSE(real->connect(
        port(), target_for("dave", wsgate::auth::mint_token("HS512", test_jwt_secret, claims))));
    EXPECT_EQ(real->http_status(), 101);
}

// Behind a proxy on the same host every client is a loopback peer and sends whatever Host it
// likes: a request marked as forwarded never reaches the demo token or publish endpoints.
TEST_F(GatewayDemo, RefusesDemoRequestsThatCameThroughAProxy) {
    const std::string target = "/demo/token?user=alice";
    EXPECT_EQ(http_get(port(), target, with_key()).status, 200);  // Host: 127.0.0.1:port
    for (const char* header :
         {"X-Forwarded-For", "Forwarded", "X-Real-IP", "Via", "X-Forwarded-Host",
          "CF-Connecting-IP", "True-Client-IP", "X-Client-IP"}) {
        header_list headers;
        headers.emplace_back(header,
                             header == std::string("Forwarded") ? "for=192.0.2.7" : "192.0.2.7");
        const auto r = http_get(port(), target, with_key(headers));
        EXPECT_EQ(r.status, 403) << header;
        EXPECT_NE(r.body.find("through a proxy"), std::string::npos) << header << ": " << r.body;
    }
}

// The demo guard read the first of two Host headers: a loopback one first and a foreign one
// second passed it. Two are now a 400 before any route is looked at.
TEST_F(GatewayDemo, TwoHostHeadersAreABadRequest) {
    raw_connection raw;
    ASSERT_TRUE(raw.connect(port())) << raw.error();
    ASSERT_TRUE(raw.send("GET /demo/token?user=alice&key=" + demo_key() +
                         " HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n\r\n"));
    EXPECT_TRUE(raw.wait_closed(5s));
    EXPECT_EQ(raw.received().rfind("HTTP/1.1 400", 0), 0u) << raw.received();
}

}  // namespace
