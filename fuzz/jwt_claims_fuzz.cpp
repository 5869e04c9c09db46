// Fuzzes what verify() does after a good signature: the target signs whatever header and
// claims the input holds, so mutations reach `alg`/`kid` selection, claim types, iss, aud,
// the user claim, exp and nbf. The signing key follows the header's `alg` when it names one
// we support (HS* with fuzz::jwt_secret, RS*/PS* with an RSA key, ES256, ES384, EdDSA), and
// is HS256 otherwise. Two verifiers hold the matching keys as PEM files: a lax one (every
// algorithm, defaults) and a strict one (issuer, audience, no leeway, `uid` user claim).
//
// Input: three lines, "<header JSON>\n<claims JSON>\n<client_id>"; the client_id (the rest
// of the input, may be empty) goes to authorize().
//
// Invariants: a token whose header is an object with a supported `alg`, a string `kid` if
// any, and no forbidden member is never rejected for its signature, key or algorithm; a
// verified user id is the claim's exact value; `expires_at` is set exactly when `exp` is;
// the strict verifier accepts only its issuer; authorize() agrees with verify().
#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "auth/base64url.hpp"
#include "auth/jws_algorithm.hpp"
#include "auth/token_minter.hpp"
#include "auth_test_keys.hpp"
#include "jwt_fuzz_common.hpp"

namespace {

using namespace wsgate;
namespace json = boost::json;
namespace test = wsgate::auth::test;

constexpr std::string_view strict_issuer = "https://issuer.example";

struct setup {
    auth::jwt_verifier lax;
    auth::jwt_verifier strict;
};

auth::jwt_options options_with_all_keys() {
    auth::jwt_options o;
    o.secret = std::string(fuzz::jwt_secret);
    o.public_key_files = {test::write_temp_file("rsa.pem", test::rsa_key(0).public_pem),
                          test::write_temp_file("p256.pem", test::ec_p256_key().public_pem),
                          test::write_temp_file("p384.pem", test::ec_p384_key().public_pem),
                          test::write_temp_file("ed25519.pem", test::ed25519_key().public_pem)};
    for (const auto& alg : auth::jws_algorithms) o.algorithms.emplace_back(alg.name);
    return o;
}

const setup& get() {
    static const setup* s = [] {
        auto lax = options_with_all_keys();
        auto strict = options_with_all_keys();
        strict.issuer = std::string(strict_issuer);
        strict.audience = {"wsgate", "wsgate-staging"};
        strict.leeway = std::chrono::seconds(0);
        strict.user_claim = "uid";
        return new setup{auth::jwt_verifier(lax), auth::jwt_verifier(strict)};
    }();
    return *s;
}

// The key material jws_sign() needs for `alg`.
std::string_view signing_key(const auth::jws_algorithm& alg) {
    switch (alg.key) {
        case auth::key_type::rsa:
            return test::rsa_key(0).private_pem;
        case auth::key_type::ec_p256:
            return test::ec_p256_key().private_pem;
        case auth::key_type::ec_p384:
            return test::ec_p384_key().private_pem;
        case auth::key_type::ed25519:
            return test::ed25519_key().private_pem;
        default:
            return fuzz::jwt_secret;
    }
}

// Parsed the way the verifier parses headers and claims (depth 16, last duplicate wins).
std::optional<json::object> parse_object(std::string_view text) {
    json::parse_options options;
    options.max_depth = 16;
    boost::system::error_code ec;
    json::value v = json::parse(text, ec, {}, options);
    if (ec || !v.is_object()) return std::nullopt;
    return std::move(v.get_object());
}

const json::string* string_member(const std::optional<json::object>& o, std::string_view name) {
    if (!o) return nullptr;
    const json::value* v = o->if_contains(name);
    return v && v->is_string() ? &v->get_string() : nullptr;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    get();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input = fuzz::as_text(data, size);
    auto next_line = [&input] {
        const auto nl = input.find('\n');
        std::string_view line = input.substr(0, nl);
        input.remove_prefix(nl == input.npos ? input.size() : nl + 1);
        return line;
    };
    const std::string_view header_text = next_line();
    const std::string_view claims_text = next_line();
    const std::string_view client_id = input;

    const auto header = parse_object(header_text);
    const auth::jws_algorithm* alg = nullptr;
    if (const json::string* name = string_member(header, "alg"))
        alg = auth::find_jws_algorithm(*name);
    const auth::jws_algorithm& signing_alg = alg ? *alg : auth::jws_algorithms[0];

    std::string token =
        auth::base64url_encode(header_text) + "." + auth::base64url_encode(claims_text);
    token += "." + auth::base64url_encode(
                       auth::jws_sign(signing_alg.name, signing_key(signing_alg), token));

    bool well_signed = alg != nullptr && token.size() <= auth::max_token_bytes;
    for (std::string_view name : {"jwk", "jku", "x5u", "x5c", "crit"})
        well_signed = well_signed && !header->contains(name);
    if (header && header->contains("kid"))
        well_signed = well_signed && header->at("kid").is_string();

    const auto claims = parse_object(claims_text);
    const setup& s = get();
    for (const auth::jwt_verifier* verifier : {&s.lax, &s.strict}) {
        const bool strict = verifier == &s.strict;
        auto r = verifier->verify(token, fuzz::fuzz_now());
        fuzz::check_verify_result(r);
        if (well_signed && !r) {
            FUZZ_CHECK(r.error() != errc::token_bad_signature);
            FUZZ_CHECK(r.error() != errc::token_unknown_key);
            FUZZ_CHECK(r.error() != errc::token_algorithm_not_allowed);
            FUZZ_CHECK(r.error() != errc::token_forbidden_header);
        }
        if (r) {
            FUZZ_CHECK(well_signed);
            FUZZ_CHECK(claims.has_value());
            const json::string* user = string_member(claims, strict ? "uid" : "sub");
            FUZZ_CHECK(user != nullptr && std::string_view(*user) == r->user_id);
            FUZZ_CHECK(r->expires_at.has_value() == claims->contains("exp"));
            if (strict) {
                const json::string* iss = string_member(claims, "iss");
                FUZZ_CHECK(iss != nullptr && std::string_view(*iss) == strict_issuer);
                FUZZ_CHECK(claims->contains("aud"));
            }
        }
        fuzz::check_authorize(*verifier, client_id, token, r);
    }
    return 0;
}
