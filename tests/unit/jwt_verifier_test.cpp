// Unit tests for jwt_verifier: every algorithm, the algorithm and header policy, key
// selection, malformed input, claims, and configuration errors. Keys are generated at run
// time (auth_test_keys) and time is injected, so nothing sleeps or touches the network.
#include "auth/jwt_verifier.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <limits>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "auth/base64url.hpp"
#include "auth/token_minter.hpp"
#include "auth_test_keys.hpp"

namespace wsgate::auth {

void PrintTo(const verified_token& t, std::ostream* os) {
    *os << "{user_id=" << t.user_id << ", expires_at="
        << (t.expires_at ? std::to_string(t.expires_at->time_since_epoch().count()) : "none")
        << "}";
}

namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using std::chrono::seconds;
using std::chrono::system_clock;
using test::ec_p256_key;
using test::ec_p384_key;
using test::ed25519_key;
using test::jwk_with;
using test::rsa_key;
using test::test_key;
using test::write_jwks;
using test::write_temp_file;

const system_clock::time_point now{seconds{1'700'000'000}};
const std::int64_t now_s = 1'700'000'000;
const std::string secret = "0123456789abcdef0123456789abcdef";

json::object claims_for(std::string_view user = "alice", std::int64_t exp = now_s + 3600) {
    return json::object{{"sub", user}, {"iat", now_s}, {"exp", exp}};
}

jwt_options hs_options(std::vector<std::string> algorithms = {}) {
    jwt_options o;
    o.secret = secret;
    o.algorithms = std::move(algorithms);
    return o;
}

jwt_options pem_options(std::initializer_list<const test_key*> keys,
                        std::vector<std::string> algorithms = {}) {
    jwt_options o;
    for (const test_key* k : keys)
        o.public_key_files.push_back(write_temp_file("k.pem", k->public_pem));
    o.algorithms = std::move(algorithms);
    return o;
}

jwt_options jwks_options(std::initializer_list<json::object> keys,
                         std::vector<std::string> algorithms = {}) {
    jwt_options o;
    o.jwks_file = write_jwks(keys);
    o.algorithms = std::move(algorithms);
    return o;
}

std::string hs256(const json::object& claims, std::string_view key = secret) {
    return mint_token("HS256", key, claims);
}

// A token with a hand-written header (and optionally payload), properly signed.
std::string signed_with_header(std::string_view header, std::string_view payload,
                               std::string_view alg = "HS256", std::string_view key = secret) {
    std::string input = base64url_encode(header) + "." + base64url_encode(payload);
    return input + "." + base64url_encode(jws_sign(alg, key, input));
}

std::string signed_with_header(std::string_view header, const json::object& claims = claims_for()) {
    return signed_with_header(header, json::serialize(claims));
}

boost::system::error_code error_of(const result<verified_token>& r) {
    return r ? boost::system::error_code{} : r.error();
}

// Replaces part `index` (0 header, 1 payload, 2 signature) of a compact token.
std::string with_part(const std::string& token, int index, std::string_view part) {
    std::size_t dot1 = token.find('.'), dot2 = token.find('.', dot1 + 1);
    std::string parts[3] = {token.substr(0, dot1), token.substr(dot1 + 1, dot2 - dot1 - 1),
                            token.substr(dot2 + 1)};
    parts[index] = part;
    return parts[0] + "." + parts[1] + "." + parts[2];
}

// --- Accepting valid tokens -------------------------------------------------------------

TEST(JwtVerifier, AcceptsValidHs256TokenAndReportsUserAndExpiry) {
    jwt_verifier v(hs_options());
    auto r = v.verify(hs256(claims_for("alice")), now);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, (verified_token{"alice", "", system_clock::time_point{seconds{now_s + 3600}}}));
}

TEST(JwtVerifier, AcceptsEveryHsAlgorithmByDefault) {
    jwt_verifier v(hs_options());
    EXPECT_EQ(v.algorithms(), (std::vector<std::string>{"HS256", "HS384", "HS512"}));
    for (const char* alg : {"HS256", "HS384", "HS512"})
        EXPECT_TRUE(v.verify(mint_token(alg, secret, claims_for()), now)) << alg;
}

TEST(JwtVerifier, MintHs256TokensVerify) {
    jwt_verifier v(hs_options());
    auto r = v.verify(mint_hs256(secret, "bob", 60s, now), now);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->user_id, "bob");
    EXPECT_EQ(r->expires_at, now + 60s);
}

struct asymmetric_case {
    const char* alg;
    const test_key& (*key)();
};

void PrintTo(const asymmetric_case& c, std::ostream* os) { *os << c.alg; }

const test_key& first_rsa() { return rsa_key(0); }

class AsymmetricAlgorithm : public ::testing::TestWithParam<asymmetric_case> {};

TEST_P(AsymmetricAlgorithm, VerifiesWithPemKey) {
    const auto& c = GetParam();
    jwt_verifier v(pem_options({&c.key()}));
    auto r = v.verify(mint_token(c.alg, c.key().private_pem, claims_for("carol")), now);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->user_id, "carol");
}

TEST_P(AsymmetricAlgorithm, VerifiesWithJwksKeyByKid) {
    const auto& c = GetParam();
    jwt_verifier v(jwks_options({jwk_with(c.key(), "the-kid", c.alg, "sig")}));
    auto r = v.verify(mint_token(c.alg, c.key().private_pem, claims_for("dave"), "the-kid"), now);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->user_id, "dave");
}

TEST_P(AsymmetricAlgorithm, TamperedPayloadIsBadSignature) {
    const auto& c = GetParam();
    jwt_verifier v(pem_options({&c.key()}));
    std::string token = mint_token(c.alg, c.key().private_pem, claims_for("carol"));
    std::string forged =
        with_part(token, 1, base64url_encode(json::serialize(claims_for("mallory"))));
    EXPECT_EQ(error_of(v.verify(forged, now)), errc::token_bad_signature);
}

TEST_P(AsymmetricAlgorithm, TruncatedSignatureIsBadSignature) {
    const auto& c = GetParam();
    jwt_verifier v(pem_options({&c.key()}));
    std::string token = mint_token(c.alg, c.key().private_pem, claims_for());
    std::string sig = *base64url_decode(token.substr(token.rfind('.') + 1));
    sig.pop_back();
    EXPECT_EQ(error_of(v.verify(with_part(token, 2, base64url_encode(sig)), now)),
              errc::token_bad_signature);
}

INSTANTIATE_TEST_SUITE_P(
    JwtVerifier, AsymmetricAlgorithm,
    ::testing::Values(asymmetric_case{"RS256", first_rsa}, asymmetric_case{"RS384", first_rsa},
                      asymmetric_case{"RS512", first_rsa}, asymmetric_case{"PS256", first_rsa},
                      asymmetric_case{"PS384", first_rsa}, asymmetric_case{"PS512", first_rsa},
                      asymmetric_case{"ES256", ec_p256_key}, asymmetric_case{"ES384", ec_p384_key},
                      asymmetric_case{"EdDSA", ed25519_key}),
    [](const auto& info) { return std::string(info.param.alg); });

TEST(JwtVerifier, DefaultAlgorithmsAreThoseTheKeysSupport) {
    EXPECT_EQ(jwt_verifier(pem_options({&rsa_key()})).algorithms(),
              (std::vector<std::string>{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}));
    EXPECT_EQ(jwt_verifier(pem_options({&ec_p256_key(), &ed25519_key()})).algorithms(),
              (std::vector<std::string>{"ES256", "EdDSA"}));
    EXPECT_EQ(jwt_verifier(jwks_options({jwk_with(rsa_key(), "a", "PS384")})).algorithms(),
              (std::vector<std::string>{"PS384"}));
}

// --- Algorithm policy -----------------------------------------------------------------------

TEST(JwtVerifier, AlgNoneIsRejected) {
    jwt_verifier v(hs_options());
    std::string payload = base64url_encode(json::serialize(claims_for()));
    for (const char* spelling : {"none", "None", "NONE", "nOnE"}) {
        std::string header = base64url_encode(std::string(R"({"alg":")") + spelling + R"("})");
        EXPECT_EQ(error_of(v.verify(header + "." + payload + ".", now)),
                  errc::token_algorithm_not_allowed)
            << spelling;
        // Even with an HMAC over the input as its "signature".
        std::string input = header + "." + payload;
        EXPECT_EQ(error_of(v.verify(
                      input + "." + base64url_encode(jws_sign("HS256", secret, input)), now)),
                  errc::token_algorithm_not_allowed)
            << spelling;
    }
}

TEST(JwtVerifier, MissingOrNonStringAlgIsRejected) {
    jwt_verifier v(hs_options());
    EXPECT_EQ(error_of(v.verify(signed_with_header(R"({"typ":"JWT"})"), now)),
              errc::token_algorithm_not_allowed);
    EXPECT_EQ(error_of(v.verify(signed_with_header(R"({"alg":256})"), now)),
              errc::token_algorithm_not_allowed);
    EXPECT_EQ(error_of(v.verify(signed_with_header(R"({"alg":["HS256"]})"), now)),
              errc::token_algorithm_not_allowed);
    EXPECT_EQ(error_of(v.verify(signed_with_header(R"({"alg":null})"), now)),
              errc::token_algorithm_not_allowed);
}

TEST(JwtVerifier, AlgIsCaseSensitive) {
    jwt_verifier v(hs_options());
    EXPECT_EQ(error_of(v.verify(signed_with_header(R"({"alg":"hs256"})"), now)),
              errc::token_algorithm_not_allowed);
}

TEST(JwtVerifier, AlgOutsideConfiguredListIsRejected) {
    jwt_verifier v(hs_options({"HS256"}));
    EXPECT_EQ(v.algorithms(), std::vector<std::string>{"HS256"});
    EXPECT_TRUE(v.verify(mint_token("HS256", secret, claims_for()), now));
    EXPECT_EQ(error_of(v.verify(mint_token("HS512", secret, claims_for()), now)),
              errc::token_algorithm_not_allowed);
}

TEST(JwtVerifier, DuplicateAlgHeaderUsesTheLastOne) {
    // RFC 7515 §4: a parser may keep the lexically last duplicate; it must then be that one
    // that the policy sees, so a leading "HS256" cannot smuggle in "none".
    jwt_verifier v(hs_options());
    EXPECT_EQ(error_of(v.verify(signed_with_header(R"({"alg":"HS256","alg":"none"})"), now)),
              errc::token_algorithm_not_allowed);
}

TEST(JwtVerifier, HsTokenIsRejectedWhenOnlyPublicKeysAreConfigured) {
    // Algorithm confusion: an attacker HMACs with the public key's bytes.
    jwt_verifier v(pem_options({&rsa_key()}));
    for (const std::string& key : {rsa_key().public_pem, std::string("x")}) {
        EXPECT_EQ(error_of(v.verify(mint_token("HS256", key, claims_for()), now)),
                  errc::token_algorithm_not_allowed);
    }
}

TEST(JwtVerifier, HsInAlgorithmsWithoutSecretIsAConfigError) {
    auto o = pem_options({&rsa_key()}, {"RS256", "HS256"});
    EXPECT_THROW(jwt_verifier{o}, std::invalid_argument);
}

TEST(JwtVerifier, RsaKeyIsNotUsedForOtherKeyTypes) {
    // Only the RSA key is configured; ES256/EdDSA are not even offered.
    jwt_verifier v(pem_options({&rsa_key()}));
    EXPECT_EQ(error_of(v.verify(mint_token("ES256", ec_p256_key().private_pem, claims_for()), now)),
              errc::token_algorithm_not_allowed);
    EXPECT_EQ(error_of(v.verify(mint_token("EdDSA", ed25519_key().private_pem, claims_for()), now)),
              errc::token_algorithm_not_allowed);
}

TEST(JwtVerifier, EcKeyIsOnlyUsedWithItsOwnCurve) {
    // Both curves configured, but an ES384 token must never be checked with the P-256 key:
    // forged from the P-256 key it fails, and a P-256-sized signature is refused outright.
    jwt_verifier v(pem_options({&ec_p256_key(), &ec_p384_key()}));
    std::string input = base64url_encode(R"({"alg":"ES384"})") + "." +
                        base64url_encode(json::serialize(claims_for()));
    std::string p256_sig = jws_sign("ES256", ec_p256_key().private_pem, input);
    EXPECT_EQ(error_of(v.verify(input + "." + base64url_encode(p256_sig), now)),
              errc::token_bad_signature);
    // And an ES384 token verifies only because the P-384 key is there.
    jwt_verifier p256_only(pem_options({&ec_p256_key()}, {"ES256"}));
    EXPECT_EQ(error_of(p256_only.verify(
                  mint_token("ES384", ec_p384_key().private_pem, claims_for()), now)),
              errc::token_algorithm_not_allowed);
}

TEST(JwtVerifier, Pkcs1SignatureDoesNotPassAsPss) {
    jwt_verifier v(pem_options({&rsa_key()}));
    std::string input = base64url_encode(R"({"alg":"PS256"})") + "." +
                        base64url_encode(json::serialize(claims_for()));
    std::string pkcs1 = jws_sign("RS256", rsa_key().private_pem, input);
    EXPECT_EQ(error_of(v.verify(input + "." + base64url_encode(pkcs1), now)),
              errc::token_bad_signature);
}

// PS256 over `input` with a chosen PSS salt length, straight from OpenSSL.
std::string pss_sign(const std::string& private_pem, const std::string& input, int salt_length) {
    BIO* bio = BIO_new_mem_buf(private_pem.data(), static_cast<int>(private_pem.size()));
    EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX* pctx = nullptr;
    std::string sig(512, '\0');
    std::size_t length = sig.size();
    bool ok =
        EVP_DigestSignInit_ex(ctx, &pctx, "SHA256", nullptr, nullptr, pkey, nullptr) == 1 &&
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt_length) == 1 &&
        EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &length,
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    if (!ok) throw std::runtime_error("PSS signing failed");
    sig.resize(length);
    return sig;
}

TEST(JwtVerifier, PssSaltMustBeTheDigestLength) {
    // RFC 7518 §3.5: the salt is as long as the hash; OpenSSL's default (maximum) salt is not.
    jwt_verifier v(pem_options({&rsa_key()}));
    std::string input = base64url_encode(R"({"alg":"PS256"})") + "." +
                        base64url_encode(json::serialize(claims_for()));
    EXPECT_TRUE(
        v.verify(input + "." + base64url_encode(pss_sign(rsa_key().private_pem, input, 32)), now));
    EXPECT_EQ(error_of(v.verify(
                  input + "." + base64url_encode(pss_sign(rsa_key().private_pem, input, 64)), now)),
              errc::token_bad_signature);
    EXPECT_EQ(error_of(v.verify(
                  input + "." +
                      base64url_encode(pss_sign(rsa_key().private_pem, input, RSA_PSS_SALTLEN_MAX)),
                  now)),
              errc::token_bad_signature);
}

TEST(JwtVerifier, JwksAlgMemberMustMatchTokenAlg) {
    // k1 says RS256 only; a correctly signed PS256 token naming k1 finds no key it may use.
    jwt_verifier v(jwks_options({jwk_with(rsa_key(0), "k1", "RS256"), jwk_with(rsa_key(1), "k2")},
                                {"RS256", "PS256"}));
    EXPECT_TRUE(v.verify(mint_token("RS256", rsa_key().private_pem, claims_for(), "k1"), now));
    EXPECT_EQ(
        error_of(v.verify(mint_token("PS256", rsa_key(0).private_pem, claims_for(), "k1"), now)),
        errc::token_unknown_key);
    // Without a kid, k1 is still not a candidate for PS256; only k2 is tried.
    EXPECT_EQ(error_of(v.verify(mint_token("PS256", rsa_key(0).private_pem, claims_for()), now)),
              errc::token_bad_signature);
}

// --- Forbidden headers ------------------------------------------------------------------

TEST(JwtVerifier, EmbeddedOrReferencedKeyHeadersAreForbidden) {
    jwt_verifier v(hs_options());
    for (const char* header :
         {R"({"alg":"HS256","jwk":{"kty":"oct","k":"AAAA"}})",
          R"({"alg":"HS256","jku":"https://x"})", R"({"alg":"HS256","x5u":"https://x"})",
          R"({"alg":"HS256","x5c":["MIIB"]})"})
        EXPECT_EQ(error_of(v.verify(signed_with_header(header), now)), errc::token_forbidden_header)
            << header;
}

TEST(JwtVerifier, CritHeaderIsForbidden) {
    jwt_verifier v(hs_options());
    EXPECT_EQ(
        error_of(v.verify(signed_with_header(R"({"alg":"HS256","crit":["exp"],"exp":1})"), now)),
        errc::token_forbidden_header);
    EXPECT_EQ(error_of(v.verify(signed_with_header(R"({"alg":"HS256","crit":[]})"), now)),
              errc::token_forbidden_header);
}

TEST(JwtVerifier, EmbeddedJwkIsNeverUsedEvenWithValidSignatureByIt) {
    // The attacker signs with their own key and ships its public half in the header.
    jwt_verifier v(pem_options({&rsa_key(0)}));
    json::object header{{"alg", "RS256"}, {"jwk", rsa_key(1).jwk}};
    std::string token = signed_with_header(json::serialize(header), json::serialize(claims_for()),
                                           "RS256", rsa_key(1).private_pem);
    EXPECT_EQ(error_of(v.verify(token, now)), errc::token_forbidden_header);
}

// --- Key selection ----------------------------------------------------------------------

TEST(JwtVerifier, UnknownKidWithJwksIsUnknownKey) {
    jwt_verifier v(jwks_options({jwk_with(rsa_key(), "k1")}));
    EXPECT_EQ(
        error_of(v.verify(mint_token("RS256", rsa_key().private_pem, claims_for(), "k2"), now)),
        errc::token_unknown_key);
}

TEST(JwtVerifier, KidSelectsAmongJwksKeys) {
    jwt_verifier v(jwks_options({jwk_with(rsa_key(0), "k0"), jwk_with(rsa_key(1), "k1")}));
    EXPECT_TRUE(v.verify(mint_token("RS256", rsa_key(1).private_pem, claims_for(), "k1"), now));
    EXPECT_TRUE(v.verify(mint_token("RS256", rsa_key(0).private_pem, claims_for(), "k0"), now));
    // The right kid with the other key's signature does not fall through to that key.
    EXPECT_EQ(
        error_of(v.verify(mint_token("RS256", rsa_key(0).private_pem, claims_for(), "k1"), now)),
        errc::token_bad_signature);
}

TEST(JwtVerifier, KidOfAKeyOfAnotherTypeIsUnknownKey) {
    jwt_verifier v(jwks_options({jwk_with(rsa_key(), "rsa"), jwk_with(ec_p256_key(), "ec")}));
    EXPECT_EQ(error_of(v.verify(mint_token("ES256", ec_p256_key().private_pem, claims_for(), "rsa"),
                                now)),
              errc::token_unknown_key);
}

TEST(JwtVerifier, TokenWithoutKidTriesJwksKeysOfFittingType) {
    jwt_verifier v(jwks_options(
        {jwk_with(ec_p256_key(), "ec"), jwk_with(rsa_key(0), "k0"), jwk_with(rsa_key(1), "k1")}));
    EXPECT_TRUE(v.verify(mint_token("RS256", rsa_key(1).private_pem, claims_for()), now));
}

TEST(JwtVerifier, PemKeysAreTriedInTurnAndIgnoreKid) {
    jwt_verifier v(pem_options({&rsa_key(0), &rsa_key(1)}));
    EXPECT_TRUE(v.verify(mint_token("RS256", rsa_key(1).private_pem, claims_for()), now));
    EXPECT_TRUE(v.verify(mint_token("RS256", rsa_key(1).private_pem, claims_for(), "any"), now));
}

TEST(JwtVerifier, SecretIgnoresKid) {
    // The secret has no kid (like a PEM key), so a token's kid cannot rule it out: a kid
    // selects among JWKS keys only (docs/protocol.md, `kid`).
    jwt_verifier v(hs_options());
    EXPECT_TRUE(v.verify(mint_token("HS256", secret, claims_for(), "any-kid"), now));
    EXPECT_EQ(error_of(v.verify(mint_token("HS256", "another secret of 32 bytes.......",
                                           claims_for(), "any-kid"),
                                now)),
              errc::token_bad_signature);
}

TEST(JwtVerifier, SignatureFromAnUnconfiguredKeyIsBadSignature) {
    jwt_verifier v(pem_options({&rsa_key(0)}));
    EXPECT_EQ(error_of(v.verify(mint_token("RS256", rsa_key(1).private_pem, claims_for()), now)),
              errc::token_bad_signature);
}

TEST(JwtVerifier, NonStringKidIsMalformed) {
    jwt_verifier v(hs_options());
    EXPECT_EQ(error_of(v.verify(signed_with_header(R"({"alg":"HS256","kid":7})"), now)),
              errc::token_malformed);
}

TEST(JwtVerifier, TooManyPemKeysOfOneTypeIsAConfigError) {
    std::vector<const test_key*> many(max_keys_tried + 1, &ec_p256_key());
    jwt_options o;
    for (const test_key* k : many)
        o.public_key_files.push_back(write_temp_file("k.pem", k->public_pem));
    EXPECT_THROW(jwt_verifier{o}, std::invalid_argument);
}

// --- Signatures --------------------------------------------------------------------------

TEST(JwtVerifier, WrongSecretIsBadSignature) {
    jwt_verifier v(hs_options());
    EXPECT_EQ(error_of(v.verify(hs256(claims_for(), "another secret of some length......"), now)),
              errc::token_bad_signature);
}

TEST(JwtVerifier, TamperedHsPayloadIsBadSignature) {
    jwt_verifier v(hs_options());
    std::string token = hs256(claims_for("alice"));
    EXPECT_EQ(error_of(v.verify(
                  with_part(token, 1, base64url_encode(json::serialize(claims_for("root")))), now)),
              errc::token_bad_signature);
}

TEST(JwtVerifier, EmptyOrShortHmacIsBadSignature) {
    jwt_verifier v(hs_options());
    std::string token = hs256(claims_for());
    EXPECT_EQ(error_of(v.verify(with_part(token, 2, ""), now)), errc::token_bad_signature);
    std::string mac = *base64url_decode(token.substr(token.rfind('.') + 1));
    EXPECT_EQ(error_of(v.verify(with_part(token, 2, base64url_encode(mac.substr(0, 16))), now)),
              errc::token_bad_signature);
}

TEST(JwtVerifier, SignatureWithTrailingBytesIsBadSignature) {
    // A valid signature followed by junk must not pass on a prefix match.
    jwt_verifier v(pem_options({&ec_p256_key(), &ed25519_key()}));
    jwt_verifier hs(hs_options());
    for (auto [verifier, token] :
         {std::pair{&hs, hs256(claims_for())},
          std::pair{&v, mint_token("ES256", ec_p256_key().private_pem, claims_for())},
          std::pair{&v, mint_token("EdDSA", ed25519_key().private_pem, claims_for())}}) {
        std::string sig = *base64url_decode(token.substr(token.rfind('.') + 1));
        ASSERT_TRUE(verifier->verify(token, now));
        EXPECT_EQ(
            error_of(verifier->verify(with_part(token, 2, base64url_encode(sig + '\0')), now)),
            errc::token_bad_signature);
    }
}

TEST(JwtVerifier, EcdsaDerSignatureIsBadSignature) {
    // JWS wants raw r||s; a DER-encoded signature (what OpenSSL emits) must not be accepted.
    jwt_verifier v(pem_options({&ec_p256_key()}));
    std::string input = base64url_encode(R"({"alg":"ES256"})") + "." +
                        base64url_encode(json::serialize(claims_for()));
    std::string raw = jws_sign("ES256", ec_p256_key().private_pem, input);
    ASSERT_EQ(raw.size(), 64u);
    auto der_int = [](std::string v) {
        while (v.size() > 1 && v[0] == 0) v.erase(0, 1);
        if (static_cast<unsigned char>(v[0]) & 0x80) v.insert(0, 1, '\0');
        return std::string{'\x02', static_cast<char>(v.size())} + v;
    };
    std::string body = der_int(raw.substr(0, 32)) + der_int(raw.substr(32));
    std::string der = std::string{'\x30', static_cast<char>(body.size())} + body;
    EXPECT_TRUE(v.verify(input + "." + base64url_encode(raw), now));
    EXPECT_EQ(error_of(v.verify(input + "." + base64url_encode(der), now)),
              errc::token_bad_signature);
}

TEST(JwtVerifier, EcdsaZeroSignatureIsBadSignature) {
    jwt_verifier v(pem_options({&ec_p256_key()}));
    std::string input = base64url_encode(R"({"alg":"ES256"})") + "." +
                        base64url_encode(json::serialize(claims_for()));
    EXPECT_EQ(error_of(v.verify(input + "." + base64url_encode(std::string(64, '\0')), now)),
              errc::token_bad_signature);
}

TEST(JwtVerifier, SignatureIsCheckedBeforeClaims) {
    jwt_verifier v(hs_options());
    std::string expired = hs256(claims_for("alice", now_s - 3600), "wrong secret");
    EXPECT_EQ(error_of(v.verify(expired, now)), errc::token_bad_signature);
    std::string no_user = hs256(json::object{{"exp", now_s + 60}}, "wrong secret");
    EXPECT_EQ(error_of(v.verify(no_user, now)), errc::token_bad_signature);
}

// --- Malformed input ------------------------------------------------------------------------

TEST(JwtVerifier, TokensWithoutExactlyThreePartsAreMalformed) {
    jwt_verifier v(hs_options());
    std::string token = hs256(claims_for());
    for (const std::string& bad :
         {std::string(), std::string("abc"), token.substr(0, token.rfind('.')), token + ".",
          token + ".x.y", std::string("..")})
        EXPECT_EQ(error_of(v.verify(bad, now)), errc::token_malformed) << bad;
}

TEST(JwtVerifier, OverlongTokenIsMalformed) {
    jwt_verifier v(hs_options());
    json::object claims = claims_for();
    claims["pad"] = std::string(max_token_bytes, 'x');
    EXPECT_EQ(error_of(v.verify(hs256(claims), now)), errc::token_malformed);
    // Just under the cap is fine.
    claims["pad"] = std::string(max_token_bytes / 2, 'x');
    EXPECT_TRUE(v.verify(hs256(claims), now));
}

TEST(JwtVerifier, NonBase64urlPartsAreMalformed) {
    jwt_verifier v(hs_options());
    std::string token = hs256(claims_for());
    std::size_t dot = token.find('.');
    EXPECT_EQ(error_of(v.verify(token.substr(0, dot) + "=" + token.substr(dot), now)),
              errc::token_malformed);
    EXPECT_EQ(error_of(v.verify(with_part(token, 0, "eyJ+bGci"), now)), errc::token_malformed);
    EXPECT_EQ(error_of(v.verify(token + "=", now)), errc::token_malformed);
    EXPECT_EQ(error_of(v.verify(with_part(token, 2, "a b"), now)), errc::token_malformed);
}

TEST(JwtVerifier, HeaderThatIsNotAJsonObjectIsMalformed) {
    jwt_verifier v(hs_options());
    for (const char* header : {"", "not json", R"(["alg","HS256"])", R"("HS256")",
                               R"({"alg":"HS256",})", "{\"alg\":\"HS256\"} x"})
        EXPECT_EQ(error_of(v.verify(signed_with_header(header), now)), errc::token_malformed)
            << header;
}

TEST(JwtVerifier, PayloadThatIsNotAJsonObjectIsMalformed) {
    jwt_verifier v(hs_options());
    for (const char* payload : {"", "[1,2]", "42", "{\"sub\":\"alice\"", "{\"sub\":\"\xff\"}"})
        EXPECT_EQ(error_of(v.verify(signed_with_header(R"({"alg":"HS256"})", payload), now)),
                  errc::token_malformed)
            << payload;
}

TEST(JwtVerifier, DeeplyNestedJsonIsMalformed) {
    jwt_verifier v(hs_options());
    std::string deep = std::string(100, '[') + std::string(100, ']');
    std::string payload = R"({"sub":"alice","x":)" + deep + "}";
    EXPECT_EQ(error_of(v.verify(signed_with_header(R"({"alg":"HS256"})", payload), now)),
              errc::token_malformed);
    std::string header = R"({"alg":"HS256","x":)" + deep + "}";
    EXPECT_EQ(error_of(v.verify(signed_with_header(header), now)), errc::token_malformed);
}

// --- Claims ------------------------------------------------------------------------------

TEST(JwtVerifier, ExpiredTokenIsRejectedAfterLeeway) {
    jwt_verifier v(hs_options());  // leeway 30 s
    EXPECT_EQ(error_of(v.verify(hs256(claims_for("alice", now_s - 31)), now)), errc::token_expired);
    EXPECT_TRUE(v.verify(hs256(claims_for("alice", now_s - 30)), now));
    EXPECT_TRUE(v.verify(hs256(claims_for("alice", now_s)), now));
    EXPECT_EQ(error_of(v.verify(hs256(claims_for("alice", now_s - 30)), now + 1ms)),
              errc::token_expired);
}

TEST(JwtVerifier, ZeroLeewayIsExact) {
    auto o = hs_options();
    o.leeway = 0s;
    jwt_verifier v(o);
    EXPECT_TRUE(v.verify(hs256(claims_for("alice", now_s)), now));
    EXPECT_EQ(error_of(v.verify(hs256(claims_for("alice", now_s)), now + 1ms)),
              errc::token_expired);
}

TEST(JwtVerifier, NotYetValidTokenIsRejectedBeforeLeeway) {
    jwt_verifier v(hs_options());
    json::object c = claims_for();
    c["nbf"] = now_s + 31;
    EXPECT_EQ(error_of(v.verify(hs256(c), now)), errc::token_not_yet_valid);
    c["nbf"] = now_s + 30;
    EXPECT_TRUE(v.verify(hs256(c), now));
}

TEST(JwtVerifier, FractionalAndAbsentExpAreAccepted) {
    jwt_verifier v(hs_options());
    json::object c = claims_for();
    c["exp"] = static_cast<double>(now_s) + 0.5;
    auto r = v.verify(hs256(c), now);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->expires_at, now + 500ms);
    c.erase("exp");
    r = v.verify(hs256(c), now);
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->expires_at);
}

TEST(JwtVerifier, HugeExpIsClampedNotOverflowed) {
    jwt_verifier v(hs_options());
    json::object c = claims_for();
    c["exp"] = 1e300;
    auto r = v.verify(hs256(c), now);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->expires_at, system_clock::time_point::max());
    c["exp"] = std::numeric_limits<std::uint64_t>::max();
    EXPECT_TRUE(v.verify(hs256(c), now));
}

TEST(JwtVerifier, NonNumericExpOrNbfIsMalformed) {
    jwt_verifier v(hs_options());
    for (json::value bad : {json::value("1700003600"), json::value(true), json::value(nullptr),
                            json::value(json::array{1})}) {
        json::object c = claims_for();
        c["exp"] = bad;
        EXPECT_EQ(error_of(v.verify(hs256(c), now)), errc::token_malformed) << bad;
        c = claims_for();
        c["nbf"] = bad;
        EXPECT_EQ(error_of(v.verify(hs256(c), now)), errc::token_malformed) << bad;
    }
}

TEST(JwtVerifier, IssuerMustMatchWhenConfigured) {
    auto o = hs_options();
    o.issuer = "https://issuer.example";
    jwt_verifier v(o);
    json::object c = claims_for();
    EXPECT_EQ(error_of(v.verify(hs256(c), now)), errc::token_bad_issuer);
    c["iss"] = "https://evil.example";
    EXPECT_EQ(error_of(v.verify(hs256(c), now)), errc::token_bad_issuer);
    c["iss"] = 5;
    EXPECT_EQ(error_of(v.verify(hs256(c), now)), errc::token_bad_issuer);
    c["iss"] = "https://issuer.example";
    EXPECT_TRUE(v.verify(hs256(c), now));
    // Without a configured issuer any iss is fine.
    EXPECT_TRUE(jwt_verifier(hs_options()).verify(hs256(c), now));
}

TEST(JwtVerifier, AudienceMustIntersectWhenConfigured) {
    auto o = hs_options();
    o.audience = {"gateway", "other"};
    jwt_verifier v(o);
    json::object c = claims_for();
    EXPECT_EQ(error_of(v.verify(hs256(c), now)), errc::token_bad_audience);
    c["aud"] = "gateway";
    EXPECT_TRUE(v.verify(hs256(c), now));
    c["aud"] = "nope";
    EXPECT_EQ(error_of(v.verify(hs256(c), now)), errc::token_bad_audience);
    c["aud"] = json::array{"x", "other"};
    EXPECT_TRUE(v.verify(hs256(c), now));
    c["aud"] = json::array{"x", "y"};
    EXPECT_EQ(error_of(v.verify(hs256(c), now)), errc::token_bad_audience);
    c["aud"] = json::array{};
    EXPECT_EQ(error_of(v.verify(hs256(c), now)), errc::token_bad_audience);
}

TEST(JwtVerifier, AudienceOfWrongTypeIsMalformed) {
    auto o = hs_options();
    o.audience = {"gateway"};
    jwt_verifier v(o);
    json::object c = claims_for();
    c["aud"] = 1;
    EXPECT_EQ(error_of(v.verify(hs256(c), now)), errc::token_malformed);
    c["aud"] = json::array{"gateway", 1};
    EXPECT_EQ(error_of(v.verify(hs256(c), now)), errc::token_malformed);
}

TEST(JwtVerifier, IdentityIsCheckedBeforeExpiry) {
    auto o = hs_options();
    o.issuer = "me";
    jwt_verifier v(o);
    EXPECT_EQ(error_of(v.verify(hs256(claims_for("alice", now_s - 3600)), now)),
              errc::token_bad_issuer);
}

TEST(JwtVerifier, UserClaimMustBeANonEmptyBoundedString) {
    jwt_verifier v(hs_options());
    json::object c = claims_for();
    c.erase("sub");
    EXPECT_EQ(error_of(v.verify(hs256(c), now)), errc::token_no_user_claim);
    for (json::value bad :
         {json::value(""), json::value(42), json::value(nullptr), json::value(json::array{"alice"}),
          json::value(std::string(max_user_id_bytes + 1, 'u'))}) {
        c["sub"] = bad;
        EXPECT_EQ(error_of(v.verify(hs256(c), now)), errc::token_no_user_claim) << bad;
    }
    c["sub"] = std::string(max_user_id_bytes, 'u');
    EXPECT_TRUE(v.verify(hs256(c), now));
}

TEST(JwtVerifier, ConfiguredUserClaimIsUsed) {
    auto o = hs_options();
    o.user_claim = "uid";
    jwt_verifier v(o);
    json::object c = claims_for("alice");
    EXPECT_EQ(error_of(v.verify(hs256(c), now)), errc::token_no_user_claim);
    c["uid"] = "user-7";
    auto r = v.verify(hs256(c), now);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->user_id, "user-7");
}

// --- Configuration -----------------------------------------------------------------------

std::string construction_error(const jwt_options& o) {
    try {
        jwt_verifier v(o);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "no error";
}

TEST(JwtVerifierConfig, EmptyConfigIsRejected) {
    EXPECT_EQ(construction_error(jwt_options{}).rfind("no JWT key configured", 0), 0u);
}

TEST(JwtVerifierConfig, UnknownAlgorithmIsNamed) {
    EXPECT_EQ(construction_error(hs_options({"HS999"}))
                  .rfind("--jwt-algorithms: unknown algorithm 'HS999'", 0),
              0u);
    EXPECT_EQ(construction_error(hs_options({"NoNe"})),
              "--jwt-algorithms: 'none' is never accepted");
}

TEST(JwtVerifierConfig, HsAlgorithmNeedsSecret) {
    EXPECT_EQ(construction_error(pem_options({&rsa_key()}, {"HS256"})),
              "--jwt-algorithms: HS256 needs --jwt-secret");
}

TEST(JwtVerifierConfig, AsymmetricAlgorithmNeedsFittingKey) {
    EXPECT_EQ(
        construction_error(pem_options({&rsa_key()}, {"RS256", "ES256"})),
        "--jwt-algorithms: ES256 needs an EC P-256 key (--jwt-public-key-file or --jwt-jwks-file)");
}

TEST(JwtVerifierConfig, SecretWithoutHsAlgorithmIsRejected) {
    auto o = pem_options({&rsa_key()}, {"RS256"});
    o.secret = secret;
    EXPECT_EQ(construction_error(o),
              "--jwt-secret: set, but --jwt-algorithms allows no HS algorithm");
}

TEST(JwtVerifierConfig, SecretAndKeysNeedExplicitAlgorithms) {
    auto o = pem_options({&rsa_key()});
    o.secret = secret;
    EXPECT_EQ(construction_error(o).rfind("--jwt-algorithms: required", 0), 0u);
    o.algorithms = {"HS256", "RS256"};
    jwt_verifier v(o);
    EXPECT_TRUE(v.verify(hs256(claims_for()), now));
    EXPECT_TRUE(v.verify(mint_token("RS256", rsa_key().private_pem, claims_for()), now));
}

TEST(JwtVerifierConfig, UnusablePemKeyIsRejected) {
    EXPECT_NE(construction_error(pem_options({&rsa_key(), &ec_p256_key()}, {"RS256"}))
                  .find("EC P-256 key fits none of the accepted algorithms"),
              std::string::npos);
}

TEST(JwtVerifierConfig, BadKeyFileIsNamedWithItsFlag) {
    jwt_options o;
    o.public_key_files = {write_temp_file("x.pem", "hello")};
    EXPECT_EQ(construction_error(o),
              "--jwt-public-key-file: " + o.public_key_files[0] +
                  ": not a PEM public key (no -----BEGIN PUBLIC KEY----- block)");
    jwt_options j;
    j.jwks_file = "/nonexistent/jwks.json";
    EXPECT_EQ(
        construction_error(j).rfind("--jwt-jwks-file: /nonexistent/jwks.json: cannot open", 0), 0u);
}

TEST(JwtVerifierConfig, JwksWithNoKeyForTheAlgorithmsIsRejected) {
    auto o =
        jwks_options({jwk_with(rsa_key(), "k", "RS256"), jwk_with(ec_p256_key(), "e")}, {"ES256"});
    EXPECT_TRUE(jwt_verifier(o).verify(
        mint_token("ES256", ec_p256_key().private_pem, claims_for(), "e"), now));
    o.algorithms = {"PS256"};
    EXPECT_NE(construction_error(o).find("PS256 needs an RSA key"), std::string::npos);
}

TEST(JwtVerifierConfig, InvalidScalarsAreRejected) {
    auto o = hs_options();
    o.leeway = -1s;
    EXPECT_EQ(construction_error(o), "--jwt-leeway: must not be negative");
    o = hs_options();
    o.user_claim = "";
    EXPECT_EQ(construction_error(o), "--jwt-user-claim: must not be empty");
    o = hs_options();
    o.issuer = "";
    EXPECT_EQ(construction_error(o), "--jwt-issuer: must not be empty");
}

// --- Object behaviour ----------------------------------------------------------------------

TEST(JwtVerifier, MovedVerifierKeepsWorking) {
    jwt_verifier a(hs_options());
    jwt_verifier b(std::move(a));
    EXPECT_TRUE(b.verify(hs256(claims_for()), now));
    jwt_verifier c(pem_options({&ed25519_key()}));
    c = std::move(b);
    EXPECT_TRUE(c.verify(hs256(claims_for()), now));
}

TEST(JwtVerifier, ConcurrentVerifiesAgree) {
    // verify() is const and shared across shard threads; run under TSan in CI.
    auto o = pem_options({&ec_p256_key()}, {"ES256", "HS256"});
    o.secret = secret;
    const jwt_verifier v(o);
    const std::string good_hs = hs256(claims_for("alice"));
    const std::string good_es = mint_token("ES256", ec_p256_key().private_pem, claims_for("bob"));
    const std::string bad = hs256(claims_for("eve"), "not the secret");
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 200; ++i) {
                auto es = v.verify(good_es, now);
                if (!v.verify(good_hs, now) || !es || es->user_id != "bob" ||
                    error_of(v.verify(bad, now)) != errc::token_bad_signature)
                    ++failures;
            }
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(failures, 0);
}

}  // namespace
}  // namespace wsgate::auth
