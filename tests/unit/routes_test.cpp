// Request-target parsing: the status route, operator endpoints, and hostile targets.
#include "server/routes.hpp"

#include <gtest/gtest.h>

#include "auth/jwt_verifier.hpp"

using wsgate::parse_route;
using wsgate::route_kind;

TEST(Routes, StatusPathWithTokenQuery) {
    auto r = parse_route("/ws/v1/status/user-abc-123?token=eyJ.a.b");
    EXPECT_EQ(r.kind, route_kind::status);
    EXPECT_EQ(r.client_id, "user-abc-123");
    EXPECT_EQ(r.token, "eyJ.a.b");
}

TEST(Routes, ClientIdIsPercentDecoded) {
    auto r = parse_route("/ws/v1/status/a%20b%2Fc%C3%A9");
    EXPECT_EQ(r.kind, route_kind::status);
    EXPECT_EQ(r.client_id, "a b/c\xC3\xA9");
    EXPECT_EQ(r.token, "");
}

TEST(Routes, FirstTokenParameterWinsAndOthersAreIgnored) {
    auto r = parse_route("/ws/v1/status/u?x=1&token=first&token=second");
    EXPECT_EQ(r.token, "first");
}

TEST(Routes, OperatorEndpoints) {
    EXPECT_EQ(parse_route("/healthz").kind, route_kind::healthz);
    EXPECT_EQ(parse_route("/readyz").kind, route_kind::readyz);
    EXPECT_EQ(parse_route("/metrics").kind, route_kind::metrics);
    EXPECT_EQ(parse_route("/metrics?x=1").kind, route_kind::metrics);
}

TEST(Routes, OtherPathsAreNotFound) {
    for (auto t : {"/ws/v1/status", "/ws/v1/status/", "/ws/v1/status/a/b", "/ws/v2/status/a",
                   "/healthz/x", "/WS/v1/status/a"})
        EXPECT_EQ(parse_route(t).kind, route_kind::not_found) << t;
}

TEST(Routes, MalformedTargetsAreBadRequests) {
    for (auto t : {"", "ws/v1/status/a", "http://host/ws/v1/status/a", "/ws/v1/status/%zz", "*"})
        EXPECT_EQ(parse_route(t).kind, route_kind::bad_target) << t;
}

TEST(Routes, OverlongClientIdIsBadRequest) {
    std::string target = "/ws/v1/status/" + std::string(wsgate::max_client_id_bytes + 1, 'a');
    EXPECT_EQ(parse_route(target).kind, route_kind::bad_target);
    target = "/ws/v1/status/" + std::string(wsgate::max_client_id_bytes, 'a');
    EXPECT_EQ(parse_route(target).kind, route_kind::status);
}

TEST(Routes, DemoRoutesAreParsedWhateverTheMode) {
    EXPECT_EQ(parse_route("/").kind, route_kind::demo_page);
    EXPECT_EQ(parse_route("/?x=1").kind, route_kind::demo_page);
    EXPECT_EQ(parse_route("/demo/app.js").kind, route_kind::demo_script);
    EXPECT_EQ(parse_route("/demo/app.css").kind, route_kind::demo_style);
    EXPECT_EQ(parse_route("/demo/token?user=a").kind, route_kind::demo_token);
    EXPECT_EQ(parse_route("/demo/publish?user=a&payload=b").kind, route_kind::demo_publish);
    for (auto t : {"/demo", "/demo/", "/demo/token/", "/demo/other", "/demo/app.js/x",
                   "/DEMO/token", "/x/token"})
        EXPECT_EQ(parse_route(t).kind, route_kind::not_found) << t;
    EXPECT_EQ(parse_route("/demo/token?user=%zz").kind, route_kind::bad_target);
}

TEST(Routes, DemoParametersArePercentDecodedAndOnlyWhereTheyBelong) {
    auto r = parse_route("/demo/publish?payload=%7B%22a%22%3A1%7D+x%2By&user=a%20b%2Fc&user=2");
    EXPECT_EQ(r.kind, route_kind::demo_publish);
    EXPECT_EQ(r.user, "a b/c");
    EXPECT_EQ(r.payload, R"({"a":1} x+y)");
    EXPECT_EQ(r.client_id, "");
    EXPECT_EQ(r.token, "");

    auto t = parse_route("/demo/token?user=alice&payload=ignored&token=ignored");
    EXPECT_EQ(t.user, "alice");
    EXPECT_EQ(t.payload, "");
    EXPECT_EQ(t.token, "");
    // The status route never picks up demo parameters.
    auto s = parse_route("/ws/v1/status/u?user=x&payload=y&key=k");
    EXPECT_EQ(s.user, "");
    EXPECT_EQ(s.payload, "");
    EXPECT_EQ(s.key, "");
}

// A browser loads the page and its assets by URL, so they take the key from the query. The
// API takes it in the X-Wsgate-Demo-Key header only: a query key there would let a plain
// cross-site form or image request carry it, with no CORS preflight.
TEST(Routes, ThePageAndItsAssetsTakeTheAccessKeyFromTheQuery) {
    for (auto t : {"/?key=k%2Dy&key=2", "/demo/app.js?key=k-y", "/demo/app.css?key=k-y"})
        EXPECT_EQ(parse_route(t).key, "k-y") << t;
    EXPECT_EQ(parse_route("/").key, "");
    for (auto t : {"/demo/token?user=a&key=k-y", "/demo/publish?key=k-y&user=a&payload=b",
                   "/healthz?key=k", "/demo/other?key=k", "/x?key=k"})
        EXPECT_EQ(parse_route(t).key, "") << t;
}

TEST(Routes, DemoRequestProblems) {
    using wsgate::demo_request_problem;
    EXPECT_EQ(demo_request_problem(parse_route("/demo/token?user=alice")), "");
    EXPECT_EQ(demo_request_problem(parse_route("/demo/token")), "missing user");
    EXPECT_EQ(demo_request_problem(parse_route("/demo/token?user=")), "missing user");
    EXPECT_EQ(demo_request_problem(parse_route("/demo/publish?user=a&payload=hi")), "");
    EXPECT_EQ(demo_request_problem(parse_route("/demo/publish?user=a")), "missing payload");
    EXPECT_EQ(demo_request_problem(parse_route("/demo/publish?payload=x")), "missing user");

    const std::string longest_user(wsgate::auth::max_user_id_bytes, 'u');
    EXPECT_EQ(demo_request_problem(parse_route("/demo/token?user=" + longest_user)), "");
    EXPECT_EQ(demo_request_problem(parse_route("/demo/token?user=" + longest_user + "u")),
              "user id too long");

    const std::string largest(wsgate::max_demo_payload_bytes, 'p');
    EXPECT_EQ(demo_request_problem(parse_route("/demo/publish?user=a&payload=" + largest)), "");
    EXPECT_EQ(demo_request_problem(parse_route("/demo/publish?user=a&payload=" + largest + "p")),
              "payload too long (4 KiB at most)");
    // Bounds are on the decoded bytes: %41 is one byte.
    std::string encoded;
    for (std::size_t i = 0; i < wsgate::max_demo_payload_bytes; ++i) encoded += "%41";
    EXPECT_EQ(demo_request_problem(parse_route("/demo/publish?user=a&payload=" + encoded)), "");

    // Other routes have no demo problems.
    EXPECT_EQ(demo_request_problem(parse_route("/")), "");
    EXPECT_EQ(demo_request_problem(parse_route("/healthz")), "");
}

TEST(BearerToken, ExtractsTokenCaseInsensitively) {
    EXPECT_EQ(wsgate::bearer_token("Bearer abc.def.ghi"), "abc.def.ghi");
    EXPECT_EQ(wsgate::bearer_token("bearer   tok "), "tok");
    EXPECT_EQ(wsgate::bearer_token("BEARER x"), "x");
}

TEST(BearerToken, OtherSchemesGiveNothing) {
    EXPECT_EQ(wsgate::bearer_token("Basic dXNlcjpwYXNz"), "");
    EXPECT_EQ(wsgate::bearer_token("Bearer"), "");
    EXPECT_EQ(wsgate::bearer_token(""), "");
}
