// Unit tests for keys bound to issuers: a token's `iss` picks the key set, `kid` a key within
// it, so one issuer's key never verifies a token claiming another. Keys are generated at run
// time (auth_test_keys); time is injected.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "auth/authorize.hpp"
#include "auth/base64url.hpp"
#include "auth/jwt_verifier.hpp"
#include "auth/token_minter.hpp"
#include "auth_test_keys.hpp"

namespace wsgate::auth {
namespace {

namespace json = boost::json;
using std::chrono::seconds;
using std::chrono::system_clock;
using test::ec_p256_key;
using test::jwk_with;
using test::rsa_key;
using test::write_jwks;
using test::write_temp_file;

const system_clock::time_point now{seconds{1'700'000'000}};
const std::int64_t now_s = 1'700'000'000;
const std::string secret = "0123456789abcdef0123456789abcdef";
const std::string issuer_a = "https://a.example";
const std::string issuer_b = "https://b.example";

json::object claims_from(std::string_view iss, std::string_view user = "alice") {
    json::object c{{"sub", user}, {"iat", now_s}, {"exp", now_s + 3600}};
    if (!iss.empty()) c["iss"] = iss;
    return c;
}

std::string rs256(int which, const json::object& claims, std::string_view kid = {}) {
    return mint_token("RS256", rsa_key(which).private_pem, claims, kid);
}

boost::system::error_code error_of(const result<verified_token>& r) {
    return r ? boost::system::error_code{} : r.error();
}

// Issuer A's JWKS holds RSA key 0, issuer B's RSA key 1; both under the same kid "k1". A is
// the primary issuer.
jwt_options two_issuers_same_kid() {
    jwt_options o;
    o.issuer = issuer_a;
    o.issuer_jwks_files = {{issuer_a, write_jwks({jwk_with(rsa_key(0), "k1", "RS256")})},
                           {issuer_b, write_jwks({jwk_with(rsa_key(1), "k1", "RS256")})}};
    return o;
}

std::string construction_error(const jwt_options& o) {
    try {
        jwt_verifier v(o);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "no error";
}

TEST(JwtIssuerKeys, TwoIssuersWithTheSameKidEachVerifyWithTheirOwnKey) {
    jwt_verifier v(two_issuers_same_kid());
    auto a = v.verify(rs256(0, claims_from(issuer_a, "alice"), "k1"), now);
    ASSERT_TRUE(a) << a.error().message();
    EXPECT_EQ(a->user_id, "alice");
    auto b = v.verify(rs256(1, claims_from(issuer_b, "bob"), "k1"), now);
    ASSERT_TRUE(b) << b.error().message();
    EXPECT_EQ(b->user_id, "bob");
    EXPECT_EQ(v.issuers(), (std::vector<std::string>{issuer_a, issuer_b}));
    EXPECT_EQ(v.public_key_count(), 2u);
    EXPECT_FALSE(v.has_secret());
}

TEST(JwtIssuerKeys, TokenClaimingOneIssuerSignedWithAnothersKeyIsRejected) {
    jwt_verifier v(two_issuers_same_kid());
    // Same kid, the other issuer's key: the kid lookup stays inside the claimed issuer's set.
    EXPECT_EQ(error_of(v.verify(rs256(1, claims_from(issuer_a), "k1"), now)),
              errc::token_bad_signature);
    EXPECT_EQ(error_of(v.verify(rs256(0, claims_from(issuer_b), "k1"), now)),
              errc::token_bad_signature);
    // Without a kid every key of the claimed issuer is tried, and only those.
    EXPECT_EQ(error_of(v.verify(rs256(1, claims_from(issuer_a)), now)), errc::token_bad_signature);
    EXPECT_TRUE(v.verify(rs256(0, claims_from(issuer_a)), now));
}

TEST(JwtIssuerKeys, UnknownIssuerIsInvalidIssuer) {
    jwt_verifier v(two_issuers_same_kid());
    for (const std::string iss : {"https://c.example", "https://a.example/", "HTTPS://A.EXAMPLE"}) {
        auto r = v.verify(rs256(0, claims_from(iss), "k1"), now);
        EXPECT_EQ(error_of(r), errc::token_bad_issuer) << iss;
    }
    EXPECT_EQ(close_reason(errc::token_bad_issuer), "invalid issuer");
    EXPECT_EQ(metric_reason(errc::token_bad_issuer), "issuer");
}

TEST(JwtIssuerKeys, MissingOrNonStringIssIsInvalidIssuerWhenIssuersAreConfigured) {
    jwt_verifier v(two_issuers_same_kid());
    json::object c = claims_from("");
    EXPECT_EQ(error_of(v.verify(rs256(0, c, "k1"), now)), errc::token_bad_issuer);
    for (json::value bad :
         {json::value(5), json::value(nullptr), json::value(json::array{issuer_a}),
          json::value(json::object{{"iss", issuer_a}})}) {
        c["iss"] = bad;
        EXPECT_EQ(error_of(v.verify(rs256(0, c, "k1"), now)), errc::token_bad_issuer) << bad;
    }
}

TEST(JwtIssuerKeys, IssuerIsCheckedBeforeTheSignature) {
    // A forged token naming an unknown issuer costs no signature check.
    jwt_verifier v(two_issuers_same_kid());
    std::string input = base64url_encode(R"({"alg":"RS256","kid":"k1"})") + "." +
                        base64url_encode(json::serialize(claims_from("https://c.example")));
    EXPECT_EQ(error_of(v.verify(input + "." + base64url_encode(std::string(256, 'x')), now)),
              errc::token_bad_issuer);
}

TEST(JwtIssuerKeys, SecretAndDefaultKeysBelongToTheConfiguredIssuer) {
    jwt_options o;
    o.issuer = issuer_a;
    o.secret = secret;
    o.algorithms = {"HS256", "RS256"};
    o.issuer_jwks_files = {{issuer_b, write_jwks({jwk_with(rsa_key(1), "k1")})}};
    jwt_verifier v(o);
    EXPECT_TRUE(v.verify(mint_token("HS256", secret, claims_from(issuer_a)), now));
    // Issuer B has no secret: its HS tokens have no key, even signed with A's secret.
    EXPECT_EQ(error_of(v.verify(mint_token("HS256", secret, claims_from(issuer_b)), now)),
              errc::token_unknown_key);
    EXPECT_TRUE(v.verify(rs256(1, claims_from(issuer_b), "k1"), now));
    // Issuer A has no RSA key: B's key does not serve it.
    EXPECT_EQ(error_of(v.verify(rs256(1, claims_from(issuer_a), "k1"), now)),
              errc::token_unknown_key);
    EXPECT_TRUE(v.has_secret());
}

TEST(JwtIssuerKeys, FilesOfOneIssuerAreMerged) {
    jwt_options o;
    o.issuer = issuer_a;
    o.jwks_file = write_jwks({jwk_with(rsa_key(0), "r")});
    o.issuer_jwks_files = {{issuer_a, write_jwks({jwk_with(ec_p256_key(), "e")})},
                           {issuer_b, write_jwks({jwk_with(rsa_key(1), "r")})}};
    jwt_verifier v(o);
    EXPECT_TRUE(v.verify(rs256(0, claims_from(issuer_a), "r"), now));
    EXPECT_TRUE(
        v.verify(mint_token("ES256", ec_p256_key().private_pem, claims_from(issuer_a), "e"), now));
    EXPECT_EQ(error_of(v.verify(rs256(0, claims_from(issuer_b), "r"), now)),
              errc::token_bad_signature);
    EXPECT_EQ(v.public_key_count(), 3u);
}

TEST(JwtIssuerKeys, PemKeysOfTheConfiguredIssuerDoNotServeOthers) {
    jwt_options o;
    o.issuer = issuer_a;
    o.public_key_files = {write_temp_file("a.pem", rsa_key(0).public_pem)};
    o.issuer_jwks_files = {{issuer_b, write_jwks({jwk_with(rsa_key(1), "k1")})}};
    jwt_verifier v(o);
    EXPECT_TRUE(v.verify(rs256(0, claims_from(issuer_a)), now));
    // PEM keys are the kid fallback only within their own issuer.
    EXPECT_EQ(error_of(v.verify(rs256(0, claims_from(issuer_b), "nope"), now)),
              errc::token_unknown_key);
    EXPECT_EQ(error_of(v.verify(rs256(0, claims_from(issuer_b)), now)), errc::token_bad_signature);
}

TEST(JwtIssuerKeys, WithoutIssuersAnyIssIsAcceptedAsBefore) {
    jwt_options o;
    o.jwks_file = write_jwks({jwk_with(rsa_key(0), "k1")});
    jwt_verifier v(o);
    EXPECT_TRUE(v.issuers().empty());
    EXPECT_TRUE(v.verify(rs256(0, claims_from(""), "k1"), now));
    EXPECT_TRUE(v.verify(rs256(0, claims_from("anyone"), "k1"), now));
    json::object c = claims_from("");
    c["iss"] = 7;
    EXPECT_TRUE(v.verify(rs256(0, c, "k1"), now));
}

TEST(JwtIssuerKeys, SingleConfiguredIssuerStillRequiresIt) {
    jwt_options o;
    o.issuer = issuer_a;
    o.secret = secret;
    jwt_verifier v(o);
    EXPECT_EQ(v.issuers(), (std::vector<std::string>{issuer_a}));
    EXPECT_TRUE(v.verify(mint_token("HS256", secret, claims_from(issuer_a)), now));
    EXPECT_EQ(error_of(v.verify(mint_token("HS256", secret, claims_from(issuer_b)), now)),
              errc::token_bad_issuer);
}

TEST(JwtIssuerKeysConfig, KeysWithoutAnIssuerCannotBeMixedWithIssuerKeys) {
    jwt_options o = two_issuers_same_kid();
    o.issuer.reset();
    o.secret = secret;
    o.algorithms = {"HS256", "RS256"};
    EXPECT_EQ(construction_error(o).rfind("--jwt-issuer: required when --jwt-issuer-jwks", 0), 0u);
    o.secret.clear();
    o.algorithms = {"RS256"};
    o.jwks_file = write_jwks({jwk_with(rsa_key(0), "x")});
    EXPECT_EQ(construction_error(o).rfind("--jwt-issuer: required when --jwt-issuer-jwks", 0), 0u);
    o.issuer = "https://c.example";
    EXPECT_EQ(construction_error(o), "no error");
}

TEST(JwtIssuerKeys, SameUserIdOfTwoIssuersIsTwoUsers) {
    // The identity carries its issuer: the primary issuer's users have none (they keep the
    // seed's channel ws:{user_id}), every other issuer's users are named by it.
    jwt_verifier v(two_issuers_same_kid());
    auto a = v.verify(rs256(0, claims_from(issuer_a, "bob"), "k1"), now);
    auto b = v.verify(rs256(1, claims_from(issuer_b, "bob"), "k1"), now);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->user_id, "bob");
    EXPECT_EQ(a->issuer, "");
    EXPECT_EQ(b->user_id, "bob");
    EXPECT_EQ(b->issuer, issuer_b);
    EXPECT_NE(*a, *b);
}

TEST(JwtIssuerKeys, SingleIssuerIsThePrimaryOne) {
    // One --jwt-issuer-jwks issuer and no --jwt-issuer: its users keep ws:{user_id}.
    jwt_options o;
    o.issuer_jwks_files = {{issuer_b, write_jwks({jwk_with(rsa_key(1), "k1")})}};
    jwt_verifier v(o);
    auto b = v.verify(rs256(1, claims_from(issuer_b, "bob"), "k1"), now);
    ASSERT_TRUE(b) << b.error().message();
    EXPECT_EQ(b->issuer, "");
    // And the issuer of the secret, when it is named, is the primary one.
    jwt_options s;
    s.secret = secret;
    s.issuer = issuer_a;
    auto t = jwt_verifier(s).verify(mint_token("HS256", secret, claims_from(issuer_a)), now);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->issuer, "");
}

TEST(JwtIssuerKeysConfig, SeveralIssuersNeedAPrimaryOne) {
    // Which issuer keeps ws:{user_id} must be said: guessing would move every user of the
    // others onto channels their publishers do not use.
    jwt_options o = two_issuers_same_kid();
    o.issuer.reset();
    EXPECT_EQ(construction_error(o).rfind(
                  "--jwt-issuer: required when --jwt-issuer-jwks names several issuers", 0),
              0u);
    o.issuer = issuer_b;
    jwt_verifier v(o);
    auto a = v.verify(rs256(0, claims_from(issuer_a, "bob"), "k1"), now);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->issuer, issuer_a);
}

TEST(JwtIssuerKeysConfig, ConfiguredIssuerNeedsKeys) {
    jwt_options o = two_issuers_same_kid();
    o.issuer = "https://c.example";
    EXPECT_EQ(construction_error(o).rfind("--jwt-issuer: no keys for 'https://c.example'", 0), 0u);
    o.issuer = issuer_b;
    EXPECT_EQ(construction_error(o), "no error");
}

TEST(JwtIssuerKeysConfig, BadIssuerFileIsNamedWithItsFlag) {
    jwt_options o;
    o.issuer_jwks_files = {{issuer_a, "/nonexistent/a.json"}};
    EXPECT_EQ(construction_error(o).rfind("--jwt-issuer-jwks: /nonexistent/a.json: cannot open", 0),
              0u);
    o.issuer_jwks_files = {{issuer_a, write_temp_file("a.json", R"({"keys":[]})")}};
    EXPECT_NE(construction_error(o).find("--jwt-issuer-jwks: "), std::string::npos);
    o.issuer_jwks_files = {{"", write_jwks({jwk_with(rsa_key(0), "k1")})}};
    EXPECT_NE(construction_error(o).find("needs a non-empty ISSUER and PATH"), std::string::npos);
}

TEST(JwtIssuerKeysConfig, IssuerFileWithNoKeyForTheAlgorithmsIsNamed) {
    jwt_options o = two_issuers_same_kid();
    o.issuer_jwks_files.push_back(
        {"https://c.example", write_jwks({jwk_with(ec_p256_key(), "e")})});
    o.algorithms = {"RS256"};
    const std::string path = o.issuer_jwks_files.back().path;
    EXPECT_EQ(construction_error(o),
              "--jwt-issuer-jwks: " + path + ": no key fits the accepted algorithms");
}

TEST(JwtIssuerKeysConfig, SecretFileIsReadAtConstruction) {
    jwt_options o;
    o.secret = "ignored when a file is named";
    o.secret_file = write_temp_file("secret", secret + "\n");
    jwt_verifier v(o);
    EXPECT_TRUE(v.verify(mint_token("HS256", secret, claims_from("")), now));
    EXPECT_EQ(error_of(v.verify(mint_token("HS256", o.secret, claims_from("")), now)),
              errc::token_bad_signature);
    o.secret_file = write_temp_file("empty", "\n");
    EXPECT_EQ(construction_error(o), "--jwt-secret-file: " + o.secret_file + ": is empty");
}

}  // namespace
}  // namespace wsgate::auth
