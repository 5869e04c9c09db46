// Fuzzes jwt_verifier::verify() with the raw input as the token, against three verifiers
// built once: HS* with a secret; HS256 with issuer, audience, no leeway and a `uid` user
// claim; and public keys only (RSA and P-256 PEM files, a JWKS with RSA, P-256, P-384 and
// Ed25519 keys selected by kid). Then authorize() with the verified user id (must pass) and
// with another id (must fail with client_id_mismatch).
//
// Input: the token bytes. Seeds: HS tokens signed with fuzz::jwt_secret (they verify), and
// asymmetric tokens whose headers select each kind of key (their signatures do not verify,
// as the keys are generated at start; fuzz_jwt_claims covers signed claims).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "auth_test_keys.hpp"
#include "jwt_fuzz_common.hpp"

namespace {

using namespace wsgate;
namespace test = wsgate::auth::test;

struct verifiers {
    auth::jwt_verifier hs;
    auth::jwt_verifier hs_strict;
    auth::jwt_verifier keys;
};

auth::jwt_verifier make_hs() {
    auth::jwt_options o;
    o.secret = std::string(fuzz::jwt_secret);
    return auth::jwt_verifier(o);
}

auth::jwt_verifier make_hs_strict() {
    auth::jwt_options o;
    o.secret = std::string(fuzz::jwt_secret);
    o.algorithms = {"HS256"};
    o.issuer = "https://issuer.example";
    o.audience = {"wsgate", "wsgate-staging"};
    o.leeway = std::chrono::seconds(0);
    o.user_claim = "uid";
    return auth::jwt_verifier(o);
}

auth::jwt_verifier make_keys() {
    auth::jwt_options o;
    o.public_key_files = {test::write_temp_file("rsa.pem", test::rsa_key(0).public_pem),
                          test::write_temp_file("p256.pem", test::ec_p256_key().public_pem)};
    o.jwks_file = test::write_jwks({
        test::jwk_with(test::rsa_key(1), "rsa-1", "RS256", "sig"),
        test::jwk_with(test::rsa_key(1), "rsa-1-pss", "PS256"),
        test::jwk_with(test::ec_p256_key(), "ec-256"),
        test::jwk_with(test::ec_p384_key(), "ec-384", "ES384"),
        test::jwk_with(test::ed25519_key(), "ed", "EdDSA"),
    });
    return auth::jwt_verifier(o);
}

const verifiers& get() {
    static const auto* v = new verifiers{make_hs(), make_hs_strict(), make_keys()};
    return *v;
}

void check_one(const auth::jwt_verifier& verifier, std::string_view token) {
    auto r = verifier.verify(token, fuzz::fuzz_now());
    fuzz::check_verify_result(r);
    if (r) {
        // Only a compact JWS of bounded size can verify.
        FUZZ_CHECK(token.size() <= auth::max_token_bytes);
        FUZZ_CHECK(std::count(token.begin(), token.end(), '.') == 2);
        fuzz::check_authorize(verifier, r->user_id, token, r);
        fuzz::check_authorize(verifier, r->user_id + '\0', token, r);
    } else {
        fuzz::check_authorize(verifier, "alice", token, r);
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    get();  // key generation and file loading happen once, outside the measured runs
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view token = fuzz::as_text(data, size);
    const verifiers& v = get();
    check_one(v.hs, token);
    check_one(v.hs_strict, token);
    check_one(v.keys, token);
    return 0;
}
