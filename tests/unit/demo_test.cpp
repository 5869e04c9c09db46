// Demo mode's back end without I/O: the loopback rule, the tokens /demo/token mints (checked
// with the gateway's own verifier), the publisher's URL and the JSON answers.
#include "server/demo.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <fstream>

#include "auth/jwt_verifier.hpp"
#include "auth_test_keys.hpp"

namespace {

using boost::asio::ip::make_address;
using wsgate::is_loopback_peer;
using wsgate::mint_demo_token;

constexpr std::string_view secret = "0123456789abcdef0123456789abcdef";

TEST(DemoAccess, OnlyLoopbackPeers) {
    for (auto a : {"127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.1"})
        EXPECT_TRUE(is_loopback_peer(make_address(a))) << a;
    for (auto a : {"10.0.0.1", "192.168.1.1", "128.0.0.1", "0.0.0.0", "::", "::2", "fe80::1",
                   "::ffff:10.0.0.1", "2001:db8::1"})
        EXPECT_FALSE(is_loopback_peer(make_address(a))) << a;
}

TEST(DemoToken, VerifiesWithTheGatewaysOwnVerifierForThatUserOnly) {
    wsgate::auth::jwt_options opts;
    opts.secret = std::string(secret);
    wsgate::auth::jwt_verifier verifier(opts);
    const auto now = std::chrono::system_clock::now();
    auto token = mint_demo_token(opts, verifier, "alice/with spaces", now);
    ASSERT_TRUE(token);
    auto v = verifier.verify(*token, now);
    ASSERT_TRUE(v.has_value()) << v.error().message();
    EXPECT_EQ(v->user_id, "alice/with spaces");
    ASSERT_TRUE(v->expires_at);
    EXPECT_NEAR(std::chrono::duration<double>(*v->expires_at - now).count(), 3600, 2);
    // Expired an hour later (beyond the 30 s leeway).
    EXPECT_FALSE(verifier.verify(*token, now + wsgate::demo_token_ttl + std::chrono::minutes(1))
                     .has_value());
}

TEST(DemoToken, CarriesTheRequiredIssuerAudienceAndUserClaim) {
    wsgate::auth::jwt_options opts;
    opts.secret = std::string(secret);
    opts.issuer = "https://issuer.example";
    opts.audience = {"wsgate", "other"};
    opts.user_claim = "uid";
    wsgate::auth::jwt_verifier verifier(opts);
    const auto now = std::chrono::system_clock::now();
    auto token = mint_demo_token(opts, verifier, "bob", now);
    ASSERT_TRUE(token);
    auto v = verifier.verify(*token, now);
    ASSERT_TRUE(v.has_value()) << v.error().message();
    EXPECT_EQ(v->user_id, "bob");
}

TEST(DemoToken, ReadsARotatedSecretFile) {
    const auto path =
        wsgate::auth::test::write_temp_file("demo-secret", "first-secret-0123456789abcdef0123\n");
    wsgate::auth::jwt_options opts;
    opts.secret = "first-secret-0123456789abcdef0123";
    opts.secret_file = path;
    std::ofstream(path, std::ios::trunc) << "second-secret-0123456789abcdef012\n";
    wsgate::auth::jwt_verifier rotated(opts);  // reads the file, as a reload would
    const auto now = std::chrono::system_clock::now();
    auto token = mint_demo_token(opts, rotated, "carol", now);
    ASSERT_TRUE(token);
    EXPECT_TRUE(rotated.verify(*token, now).has_value());
}

TEST(DemoToken, NoneWithoutAnHs256Secret) {
    wsgate::auth::jwt_options hs512_only;
    hs512_only.secret = std::string(secret);
    hs512_only.algorithms = {"HS512"};
    wsgate::auth::jwt_verifier v1(hs512_only);
    EXPECT_FALSE(mint_demo_token(hs512_only, v1, "alice"));

    wsgate::auth::jwt_options keys_only;
    keys_only.public_key_files = {wsgate::auth::test::write_temp_file(
        "demo-ed25519.pem", wsgate::auth::test::ed25519_key().public_pem)};
    wsgate::auth::jwt_verifier v2(keys_only);
    EXPECT_FALSE(mint_demo_token(keys_only, v2, "alice"));
}

TEST(DemoPublisherUrl, RoundTripsThroughTheUrlParser) {
    using wsgate::redis::parse_redis_url;
    for (auto url : {"redis://127.0.0.1:6379/0", "redis://:p%40ss%3Aw%2Fd@localhost:7000/3",
                     "redis://us%20er:secret@[::1]:6380/0", "redis://user:@host:1/2"}) {
        auto ep = parse_redis_url(url);
        ASSERT_TRUE(ep.has_value()) << url;
        auto again = parse_redis_url(wsgate::redis_url_for(*ep));
        ASSERT_TRUE(again.has_value()) << wsgate::redis_url_for(*ep);
        EXPECT_EQ(*again, *ep) << url;
    }
}

TEST(DemoPublisher, RefusesTls) {
    auto ep = wsgate::redis::parse_redis_url("rediss://127.0.0.1:6379");
    ASSERT_TRUE(ep.has_value());
    EXPECT_THROW(wsgate::demo_publisher(*ep, std::chrono::seconds(1)), std::runtime_error);
}

TEST(DemoJson, Bodies) {
    auto t = boost::json::parse(wsgate::demo_token_json("a.b.c")).as_object();
    EXPECT_EQ(t.at("token").as_string(), "a.b.c");
    EXPECT_EQ(t.at("expires_in").as_int64(), 3600);
    auto r = boost::json::parse(wsgate::demo_receivers_json(2)).as_object();
    EXPECT_EQ(r.at("receivers").as_int64(), 2);
    auto e = boost::json::parse(wsgate::demo_error_json("bad \"quote\"\n")).as_object();
    EXPECT_EQ(e.at("error").as_string(), "bad \"quote\"\n");
}

}  // namespace

namespace {

TEST(DemoAccess, LoopbackHostAndNoForeignOrigin) {
    using wsgate::demo_request_same_host;
    for (auto host : {"127.0.0.1:8080", "127.0.0.1", "localhost:8080", "LocalHost", "[::1]:80",
                      "[::1]", "127.9.9.9:1"})
        EXPECT_TRUE(demo_request_same_host(host, "")) << host;
    // DNS rebinding: a foreign name that resolves to 127.0.0.1.
    for (auto host : {"evil.example:8080", "", "10.0.0.1:8080", "[::2]:80", "[::1", "[::1]x",
                      "localhost.evil.example", "127.0.0.1.evil.example:80"})
        EXPECT_FALSE(demo_request_same_host(host, "")) << host;
    // Same origin only: a foreign page's POST carries its own Origin.
    EXPECT_TRUE(demo_request_same_host("127.0.0.1:8080", "http://127.0.0.1:8080"));
    EXPECT_TRUE(demo_request_same_host("localhost:8080", "https://localhost:8080"));
    EXPECT_FALSE(demo_request_same_host("127.0.0.1:8080", "https://evil.example"));
    EXPECT_FALSE(demo_request_same_host("127.0.0.1:8080", "http://127.0.0.1:9090"));
    EXPECT_FALSE(demo_request_same_host("127.0.0.1:8080", "null"));
    EXPECT_FALSE(demo_request_same_host("127.0.0.1:8080", "http://localhost:8080"));
}

}  // namespace
