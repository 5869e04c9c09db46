// Unit tests for authorize() and the close-reason / metric-label tables: the route-level
// decision with an injected clock, and the exact strings clients and dashboards rely on.
#include "auth/authorize.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <set>
#include <string>

#include "auth/token_minter.hpp"

namespace wsgate::auth {
namespace {

using namespace std::chrono_literals;
using std::chrono::system_clock;

const system_clock::time_point now{std::chrono::seconds{1'700'000'000}};
const std::string secret = "0123456789abcdef0123456789abcdef";

jwt_verifier make_verifier() {
    jwt_options o;
    o.secret = secret;
    return jwt_verifier(o);
}

std::string token_for(std::string_view user, std::chrono::seconds ttl = 1h) {
    return mint_hs256(secret, user, ttl, now);
}

TEST(Authorize, MatchingClientIdYieldsUserIdAndExpiry) {
    auto v = make_verifier();
    auto r = authorize("alice", token_for("alice"), v, now);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->user_id, "alice");
    // The session closes the connection at this instant (plus leeway).
    ASSERT_TRUE(r->expires_at);
    EXPECT_EQ(std::chrono::floor<std::chrono::seconds>(*r->expires_at),
              std::chrono::floor<std::chrono::seconds>(now + 1h));
}

TEST(Authorize, EmptyTokenIsMissing) {
    auto v = make_verifier();
    EXPECT_EQ(authorize("alice", "", v, now).error(), errc::token_missing);
}

TEST(Authorize, MismatchedClientIdIsPolicyViolation) {
    auto v = make_verifier();
    auto r = authorize("bob", token_for("alice"), v, now);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), errc::client_id_mismatch);
    EXPECT_EQ(close_reason(r.error()), "client_id mismatch");
}

TEST(Authorize, ClientIdComparisonIsExactBytes) {
    auto v = make_verifier();
    EXPECT_EQ(authorize("Alice", token_for("alice"), v, now).error(), errc::client_id_mismatch);
    EXPECT_EQ(authorize("alice ", token_for("alice"), v, now).error(), errc::client_id_mismatch);
    EXPECT_EQ(authorize(std::string_view("alice\0", 6), token_for("alice"), v, now).error(),
              errc::client_id_mismatch);
    EXPECT_EQ(authorize("", token_for("alice"), v, now).error(), errc::client_id_mismatch);
    EXPECT_TRUE(authorize("user-\xc3\xa9", token_for("user-\xc3\xa9"), v, now));
}

TEST(Authorize, VerifyFailureIsPassedThrough) {
    auto v = make_verifier();
    EXPECT_EQ(authorize("alice", "garbage", v, now).error(), errc::token_malformed);
    EXPECT_EQ(authorize("alice", token_for("alice", 10s), v, now + 1h).error(),
              errc::token_expired);
    EXPECT_EQ(authorize("alice", mint_hs256("other-secret", "alice", 1h, now), v, now).error(),
              errc::token_bad_signature);
}

TEST(Authorize, ExpiredTokenForAnotherUserIsReportedAsExpired) {
    // Verification comes first: the user id of an unacceptable token is never trusted.
    auto v = make_verifier();
    EXPECT_EQ(authorize("bob", token_for("alice", 10s), v, now + 1h).error(), errc::token_expired);
}

TEST(CloseReason, MapsEachAuthFailure) {
    EXPECT_EQ(close_reason(errc::token_missing), "missing token");
    for (errc e : {errc::token_malformed, errc::token_bad_signature, errc::token_unknown_key,
                   errc::token_forbidden_header, errc::token_algorithm_not_allowed,
                   errc::token_no_user_claim})
        EXPECT_EQ(close_reason(e), "invalid token") << static_cast<int>(e);
    EXPECT_EQ(close_reason(errc::token_expired), "token expired");
    EXPECT_EQ(close_reason(errc::token_not_yet_valid), "token not yet valid");
    EXPECT_EQ(close_reason(errc::token_bad_issuer), "invalid issuer");
    EXPECT_EQ(close_reason(errc::token_bad_audience), "invalid audience");
    EXPECT_EQ(close_reason(errc::client_id_mismatch), "client_id mismatch");
}

TEST(CloseReason, OtherCodesGetAGenericReason) {
    EXPECT_EQ(close_reason(errc::redis_timeout), "unauthorized");
    EXPECT_EQ(close_reason(boost::system::errc::make_error_code(boost::system::errc::io_error)),
              "unauthorized");
    EXPECT_EQ(close_reason({}), "unauthorized");
}

TEST(CloseReason, EveryReasonFitsInACloseFrame) {
    for (int e = static_cast<int>(errc::token_missing); e <= static_cast<int>(errc::invalid_url);
         ++e) {
        auto reason = close_reason(static_cast<errc>(e));
        EXPECT_FALSE(reason.empty());
        EXPECT_LT(reason.size(), 123u);
    }
}

TEST(MetricReason, MapsEachAuthFailureToADistinctLabel) {
    EXPECT_EQ(metric_reason(errc::token_missing), "missing");
    EXPECT_EQ(metric_reason(errc::token_malformed), "malformed");
    EXPECT_EQ(metric_reason(errc::token_bad_signature), "signature");
    EXPECT_EQ(metric_reason(errc::token_algorithm_not_allowed), "algorithm");
    EXPECT_EQ(metric_reason(errc::token_unknown_key), "unknown_key");
    EXPECT_EQ(metric_reason(errc::token_forbidden_header), "forbidden_header");
    EXPECT_EQ(metric_reason(errc::token_expired), "expired");
    EXPECT_EQ(metric_reason(errc::token_not_yet_valid), "not_yet_valid");
    EXPECT_EQ(metric_reason(errc::token_bad_issuer), "issuer");
    EXPECT_EQ(metric_reason(errc::token_bad_audience), "audience");
    EXPECT_EQ(metric_reason(errc::token_no_user_claim), "no_user");
    EXPECT_EQ(metric_reason(errc::client_id_mismatch), "mismatch");
    std::set<std::string_view> labels;
    for (int e = static_cast<int>(errc::token_missing);
         e <= static_cast<int>(errc::client_id_mismatch); ++e)
        labels.insert(metric_reason(static_cast<errc>(e)));
    EXPECT_EQ(labels.size(), 12u);
}

TEST(MetricReason, OtherCodesAreOther) {
    EXPECT_EQ(metric_reason(errc::redis_protocol), "other");
    EXPECT_EQ(metric_reason(boost::system::errc::make_error_code(boost::system::errc::io_error)),
              "other");
}

}  // namespace
}  // namespace wsgate::auth
