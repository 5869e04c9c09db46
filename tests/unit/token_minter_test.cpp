// Unit tests for token_minter: the exact header it writes, and its refusals. That its tokens
// verify for every algorithm is covered by jwt_verifier_test.
#include "auth/token_minter.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <stdexcept>

#include "auth/base64url.hpp"
#include "auth_test_keys.hpp"

namespace wsgate::auth {
namespace {

namespace json = boost::json;

json::value part(const std::string& token, int index) {
    std::size_t dot1 = token.find('.'), dot2 = token.find('.', dot1 + 1);
    std::string b64 = index == 0 ? token.substr(0, dot1) : token.substr(dot1 + 1, dot2 - dot1 - 1);
    return json::parse(*base64url_decode(b64));
}

TEST(TokenMinter, WritesAlgTypAndKidHeader) {
    std::string token = mint_token("HS384", "secret", json::object{{"sub", "a"}}, "k1");
    EXPECT_EQ(json::serialize(part(token, 0)), R"({"alg":"HS384","typ":"JWT","kid":"k1"})");
    EXPECT_EQ(json::serialize(part(token, 1)), R"({"sub":"a"})");
    std::string no_kid = mint_token("HS256", "secret", json::object{});
    EXPECT_EQ(json::serialize(part(no_kid, 0)), R"({"alg":"HS256","typ":"JWT"})");
}

TEST(TokenMinter, MatchesRfc7515HmacExample) {
    // RFC 7515 Appendix A.1: the HS256 example key, over its exact signing input.
    std::string key = *base64url_decode(
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow");
    std::string input =
        "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
        "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cn"
        "VlfQ";
    EXPECT_EQ(base64url_encode(jws_sign("HS256", key, input)),
              "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
}

TEST(TokenMinter, Hs256ConvenienceSetsSubIatExp) {
    using namespace std::chrono;
    system_clock::time_point now{seconds{1'700'000'000}};
    json::value claims = part(mint_hs256("s", "alice", 90s, now), 1);
    EXPECT_EQ(json::serialize(claims), R"({"sub":"alice","iat":1700000000,"exp":1700000090})");
}

TEST(TokenMinter, EcdsaSignatureIsRawFixedWidth) {
    std::string token = mint_token("ES384", test::ec_p384_key().private_pem, json::object{});
    EXPECT_EQ(base64url_decode(token.substr(token.rfind('.') + 1))->size(), 96u);
}

TEST(TokenMinter, RefusesUnknownAlgorithmsAndNone) {
    for (const char* alg : {"none", "HS999", "hs256", "ES512", ""})
        EXPECT_THROW(mint_token(alg, "secret", json::object{}), std::invalid_argument) << alg;
}

TEST(TokenMinter, RefusesEmptySecret) {
    EXPECT_THROW(mint_token("HS256", "", json::object{}), std::invalid_argument);
}

TEST(TokenMinter, RefusesKeyOfTheWrongType) {
    EXPECT_THROW(mint_token("RS256", test::ec_p256_key().private_pem, json::object{}),
                 std::invalid_argument);
    EXPECT_THROW(mint_token("ES256", test::ec_p384_key().private_pem, json::object{}),
                 std::invalid_argument);
    EXPECT_THROW(mint_token("EdDSA", test::rsa_key().private_pem, json::object{}),
                 std::invalid_argument);
    EXPECT_THROW(mint_token("RS256", test::rsa_key().public_pem, json::object{}),
                 std::invalid_argument);
    EXPECT_THROW(mint_token("RS256", "secret", json::object{}), std::invalid_argument);
}

}  // namespace
}  // namespace wsgate::auth
