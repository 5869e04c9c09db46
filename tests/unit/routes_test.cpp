// Request-target parsing: the status route, operator endpoints, and hostile targets.
#include "server/routes.hpp"

#include <gtest/gtest.h>

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
    for (auto t : {"/", "/ws/v1/status", "/ws/v1/status/", "/ws/v1/status/a/b", "/ws/v2/status/a",
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
