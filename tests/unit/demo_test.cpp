// Demo mode's back end without I/O: the access rules and key, the demo tokens (which only
// the demo verifier accepts) and the upgrade's fallback to them, the publisher's URL and the
// JSON answers.
#include "server/demo.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json/parse.hpp>

#include "auth/authorize.hpp"
#include "auth/jwt_verifier.hpp"
#include "auth/token_minter.hpp"
#include "auth_test_keys.hpp"
#include "server/demo_page.hpp"

namespace {

using boost::asio::ip::make_address;
using wsgate::is_loopback_peer;

constexpr std::string_view secret = "0123456789abcdef0123456789abcdef";

TEST(DemoAccess, OnlyLoopbackPeers) {
    for (auto a : {"127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.1"})
        EXPECT_TRUE(is_loopback_peer(make_address(a))) << a;
    for (auto a : {"10.0.0.1", "192.168.1.1", "128.0.0.1", "0.0.0.0", "::", "::2", "fe80::1",
                   "::ffff:10.0.0.1", "2001:db8::1"})
        EXPECT_FALSE(is_loopback_peer(make_address(a))) << a;
}

TEST(DemoToken, VerifiesWithTheDemoVerifierForThatUserOnly) {
    const wsgate::demo_credentials demo("key", std::string(secret));
    const auto now = std::chrono::system_clock::now();
    const auto token = demo.mint("alice/with spaces", now);
    auto v = demo.verifier().verify(token, now);
    ASSERT_TRUE(v.has_value()) << v.error().message();
    EXPECT_EQ(v->user_id, "alice/with spaces");
    ASSERT_TRUE(v->expires_at);
    EXPECT_NEAR(std::chrono::duration<double>(*v->expires_at - now).count(), 3600, 2);
    // Expired an hour later (beyond the 30 s leeway).
    EXPECT_EQ(demo.verifier()
                  .verify(token, now + wsgate::demo_token_ttl + std::chrono::minutes(1))
                  .error(),
              wsgate::errc::token_expired);
}

// The point of demo tokens: no gateway but the one that minted them accepts them, whatever
// keys the gateways share, since the key that signs them is made at start and never leaves.
TEST(DemoToken, NoOtherVerifierAcceptsThem) {
    const wsgate::demo_credentials demo;  // random keys, as the gateway makes them
    const wsgate::demo_credentials other;
    const auto now = std::chrono::system_clock::now();
    const auto token = demo.mint("alice", now);
    ASSERT_TRUE(demo.verifier().verify(token, now).has_value());
    EXPECT_FALSE(other.verifier().verify(token, now).has_value()) << "another demo gateway";

    wsgate::auth::jwt_options real;  // a production gateway, HS256 with its own secret
    real.secret = std::string(secret);
    EXPECT_EQ(wsgate::auth::jwt_verifier(real).verify(token, now).error(),
              wsgate::errc::token_bad_signature);
    wsgate::auth::jwt_options keys_only;
    keys_only.public_key_files = {wsgate::auth::test::write_temp_file(
        "demo-ed25519.pem", wsgate::auth::test::ed25519_key().public_pem)};
    EXPECT_FALSE(wsgate::auth::jwt_verifier(keys_only).verify(token, now).has_value());
}

// ...and the demo verifier accepts nothing else: not a token of the gateway's real secret,
// not one signed with the demo key that lacks the demo issuer.
TEST(DemoToken, TheDemoVerifierAcceptsDemoTokensOnly) {
    const wsgate::demo_credentials demo("key", std::string(secret));
    const auto now = std::chrono::system_clock::now();
    const auto iat = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch());
    boost::json::object claims{{"sub", "alice"}, {"iat", iat.count()}, {"exp", iat.count() + 60}};
    EXPECT_EQ(
        demo.verifier().verify(wsgate::auth::mint_token("HS256", secret, claims), now).error(),
        wsgate::errc::token_bad_issuer);
    claims["iss"] = wsgate::demo_token_issuer;
    EXPECT_EQ(
        demo.verifier()
            .verify(wsgate::auth::mint_token("HS256", "another-secret-0123456789abcdef0", claims),
                    now)
            .error(),
        wsgate::errc::token_bad_signature);
    EXPECT_FALSE(
        demo.verifier().verify(wsgate::auth::mint_token("HS512", secret, claims), now).has_value());
    EXPECT_TRUE(
        demo.verifier().verify(wsgate::auth::mint_token("HS256", secret, claims), now).has_value());
}

TEST(DemoAccessKey, RandomPerProcessAndComparedExactly) {
    const wsgate::demo_credentials a, b;
    EXPECT_EQ(a.access_key().size(), 43u);  // 32 bytes, base64url without padding
    EXPECT_EQ(a.access_key().find_first_not_of(
                  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
              std::string::npos);
    EXPECT_NE(a.access_key(), b.access_key());
    EXPECT_TRUE(a.key_matches(a.access_key()));
    EXPECT_FALSE(a.key_matches(b.access_key()));
    EXPECT_FALSE(a.key_matches(""));
    EXPECT_FALSE(a.key_matches(a.access_key().substr(0, 42)));
    EXPECT_FALSE(a.key_matches(a.access_key() + "x"));
    std::string flipped = a.access_key();
    flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
    EXPECT_FALSE(a.key_matches(flipped));
    EXPECT_FALSE(wsgate::demo_credentials("", std::string(secret)).key_matches(""));
}

// The upgrade path: the gateway's verdict first, then the token as a demo token.
TEST(DemoAuthorize, ADemoTokenOpensItsUsersStreamLikeARealOne) {
    using wsgate::authorize_demo_token;
    using wsgate::auth::authorize;
    const wsgate::demo_credentials demo;
    wsgate::auth::jwt_options real_options;
    real_options.secret = std::string(secret);
    const wsgate::auth::jwt_verifier real(real_options);
    const auto now = std::chrono::system_clock::now();
    auto decide = [&](std::string_view client_id, std::string_view token) {
        return authorize_demo_token(authorize(client_id, token, real, now), client_id, token, demo,
                                    now);
    };

    const auto demo_token = demo.mint("alice", now);
    auto ok = decide("alice", demo_token);
    ASSERT_TRUE(ok.has_value()) << ok.error().message();
    EXPECT_EQ(ok->user_id, "alice");
    // A real token is decided by the gateway alone.
    const auto real_token = wsgate::auth::mint_hs256(secret, "alice", std::chrono::hours(1), now);
    EXPECT_TRUE(decide("alice", real_token).has_value());
    EXPECT_EQ(decide("bob", real_token).error(), wsgate::errc::client_id_mismatch);
    // A demo token's own problem, once its signature is good, is the useful answer.
    EXPECT_EQ(decide("bob", demo_token).error(), wsgate::errc::client_id_mismatch);
    EXPECT_EQ(
        authorize_demo_token(authorize("alice", demo_token, real, now + std::chrono::hours(2)),
                             "alice", demo_token, demo, now + std::chrono::hours(2))
            .error(),
        wsgate::errc::token_expired);
    // Anything else keeps the gateway's reason.
    EXPECT_EQ(decide("alice", "").error(), wsgate::errc::token_missing);
    EXPECT_EQ(decide("alice", "not.a.jwt").error(), wsgate::errc::token_malformed);
    const wsgate::demo_credentials other;
    EXPECT_EQ(decide("alice", other.mint("alice", now)).error(), wsgate::errc::token_bad_signature);
}

// The page embeds the key unescaped, in HTML and in URLs: only base64url is accepted.
TEST(DemoAccessKey, OnlyBase64UrlKeys) {
    for (auto bad : {"a\"b", "a<b", "a b", "a&b", "a%41", "a+b", "a/b", "a=", "a;b", "\xc3\xa9"})
        EXPECT_THROW(wsgate::demo_credentials(bad, std::string(secret)), std::invalid_argument)
            << bad;
    EXPECT_NO_THROW(wsgate::demo_credentials("AZaz09-_", std::string(secret)));
}

// The page hands its key to its assets' URLs and to its script, in no cookie.
TEST(DemoPage, EmbedsTheKeyInItsAssetUrlsAndForItsScript) {
    const wsgate::demo_credentials demo;
    const std::string key = demo.access_key();
    const std::string page = wsgate::demo_page_html(key);
    EXPECT_NE(page.find(R"(<meta name="wsgate-demo-key" content=")" + key + R"(">)"),
              std::string::npos)
        << page;
    EXPECT_NE(page.find(R"(<link rel="stylesheet" href="demo/app.css?key=)" + key + R"(">)"),
              std::string::npos)
        << page;
    EXPECT_NE(page.find(R"(<script src="demo/app.js?key=)" + key + R"(" defer></script>)"),
              std::string::npos)
        << page;
    // Those three places, nothing else, no placeholder left.
    std::size_t count = 0;
    for (auto at = page.find(key); at != std::string::npos; at = page.find(key, at + 1)) ++count;
    EXPECT_EQ(count, 3u);
    EXPECT_EQ(page.find('@'), std::string::npos);
    // One <script>, external (the CSP allows no inline script).
    EXPECT_EQ(page.find("<script"), page.rfind("<script"));
    // The script reads the key from the page and sends it as the header.
    const std::string_view script = wsgate::demo_page_script();
    EXPECT_NE(script.find(R"(meta[name="wsgate-demo-key"])"), std::string_view::npos);
    EXPECT_NE(script.find(std::string("'") + std::string(wsgate::demo_key_header) + "'"),
              std::string_view::npos);
}

TEST(DemoAccessKey, PageUrl) {
    EXPECT_EQ(wsgate::demo_page_url("127.0.0.1", 8080, "k-_1"), "http://127.0.0.1:8080/?key=k-_1");
    EXPECT_EQ(wsgate::demo_page_url("::1", 9, "k"), "http://[::1]:9/?key=k");
}

TEST(DemoAccess, ForwardedHeadersIncludeCdnAndHostHeaders) {
    for (std::string_view h : {"Forwarded", "Via", "X-Forwarded-For", "X-Forwarded-Host",
                               "X-Real-IP", "CF-Connecting-IP", "True-Client-IP", "X-Client-IP"})
        EXPECT_NE(std::find(wsgate::demo_forwarded_headers.begin(),
                            wsgate::demo_forwarded_headers.end(), h),
                  wsgate::demo_forwarded_headers.end())
            << h;
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
