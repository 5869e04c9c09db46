// JWS verification with OpenSSL 3 EVP and Boost.JSON. Everything shared between threads
// (keys, keyed HMAC prototypes) is built in the constructor and only read afterwards; each
// verify() call makes its own short-lived contexts.
#include "auth/jwt_verifier.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <stdexcept>

#include "auth/base64url.hpp"
#include "auth/jws_signature.hpp"
#include "auth/jwt_keys.hpp"

namespace wsgate::auth {

namespace json = boost::json;
using std::chrono::system_clock;

namespace {

constexpr std::size_t alg_count = jws_algorithms.size();
using alg_set = std::array<bool, alg_count>;

// Header and claims are flat in practice; the cap keeps hostile nesting cheap to refuse.
constexpr std::size_t max_json_depth = 16;

// Headers that let a token bring or point at its own key, or demand extensions. We trust
// only configured keys and understand no extensions (RFC 7515 §4.1.11), so any of them makes
// the token unacceptable; nothing is ever fetched.
constexpr std::array<std::string_view, 5> forbidden_headers{"jwk", "jku", "x5u", "x5c", "crit"};

[[noreturn]] void config_error(const std::string& message) { throw std::invalid_argument(message); }

bool iequals(std::string_view a, std::string_view b) noexcept {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

// Parses `text` as a JSON object into `sp`; nullopt for invalid JSON (including invalid
// UTF-8), too deep, or not an object. Boost.JSON keeps the last of duplicate names, which
// RFC 7515 §4 allows, and it is that value every check below sees.
std::optional<json::object> parse_object(std::string_view text, json::storage_ptr sp) {
    json::parse_options options;
    options.max_depth = max_json_depth;
    boost::system::error_code ec;
    json::value v = json::parse(text, ec, std::move(sp), options);
    if (ec || !v.is_object()) return std::nullopt;
    return std::move(v.get_object());
}

// A NumericDate (RFC 7519 §2): any JSON number, integer or not.
std::optional<double> numeric_date(const json::value& v) noexcept {
    if (v.is_int64()) return static_cast<double>(v.get_int64());
    if (v.is_uint64()) return static_cast<double>(v.get_uint64());
    if (v.is_double()) return v.get_double();
    return std::nullopt;
}

// `exp` as a time_point, clamped to what system_clock holds (±292 years around 1970 with
// libstdc++'s nanoseconds), so an absurd but valid `exp` cannot overflow.
system_clock::time_point to_time_point(double seconds) noexcept {
    constexpr double limit = static_cast<double>(
        std::chrono::duration_cast<std::chrono::seconds>(system_clock::duration::max()).count() -
        1);
    if (!(seconds < limit)) return system_clock::time_point::max();
    if (!(seconds > -limit)) return system_clock::time_point::min();
    return system_clock::time_point(
        std::chrono::duration_cast<system_clock::duration>(std::chrono::duration<double>(seconds)));
}

// Every configured key, with the PEM file each PEM key came from (for messages).
struct loaded_keys {
    std::vector<public_key> pem;
    std::vector<std::string> pem_paths;  // parallel to `pem`
    std::vector<public_key> jwks;

    bool any_fits(const jws_algorithm& alg) const {
        for (const auto* list : {&pem, &jwks})
            for (const public_key& key : *list)
                if (key_fits(key, alg)) return true;
        return false;
    }
};

loaded_keys load_keys(const jwt_options& options) {
    loaded_keys out;
    for (const std::string& path : options.public_key_files) {
        try {
            for (public_key& key : load_pem_public_keys(path)) {
                out.pem.push_back(std::move(key));
                out.pem_paths.push_back(path);
            }
        } catch (const std::invalid_argument& e) {
            config_error(std::string("--jwt-public-key-file: ") + e.what());
        }
    }
    if (!options.jwks_file.empty()) {
        try {
            out.jwks = load_jwks_file(options.jwks_file);
        } catch (const std::invalid_argument& e) {
            config_error(std::string("--jwt-jwks-file: ") + e.what());
        }
    }
    return out;
}

void check_scalar_options(const jwt_options& options) {
    if (options.leeway.count() < 0) config_error("--jwt-leeway: must not be negative");
    if (options.user_claim.empty()) config_error("--jwt-user-claim: must not be empty");
    if (options.issuer && options.issuer->empty()) config_error("--jwt-issuer: must not be empty");
    for (const std::string& a : options.audience)
        if (a.empty()) config_error("--jwt-audience: must not contain an empty value");
}

// The configured list as a set; names are exact (RFC 7515 §4.1.1 is case-sensitive).
alg_set parse_algorithms(const std::vector<std::string>& names) {
    alg_set allowed{};
    for (const std::string& name : names) {
        if (iequals(name, "none")) config_error("--jwt-algorithms: 'none' is never accepted");
        const jws_algorithm* alg = find_jws_algorithm(name);
        if (!alg) {
            std::string supported;
            for (const auto& a : jws_algorithms)
                supported += (supported.empty() ? "" : ", ") + std::string(a.name);
            config_error("--jwt-algorithms: unknown algorithm '" + name +
                         "' (supported: " + supported + ")");
        }
        allowed[jws_algorithm_index(*alg)] = true;
    }
    return allowed;
}

// Applies the documented default (HS family with a secret, else whatever the keys support)
// or checks an explicit list against the keys and secret, so that nothing configured is
// silently unused and no accepted algorithm lacks a key.
void resolve_algorithms(alg_set& allowed, bool explicit_list, bool has_secret,
                        const loaded_keys& keys, const jwt_options& options) {
    const bool has_keys = !keys.pem.empty() || !keys.jwks.empty();
    if (!has_secret && !has_keys)
        config_error(
            "no JWT key configured (set --jwt-secret, --jwt-public-key-file or --jwt-jwks-file)");
    if (!explicit_list) {
        // With both a secret and keys the documented default would ignore the keys.
        if (has_secret && has_keys)
            config_error(
                "--jwt-algorithms: required when both --jwt-secret and public keys are set");
        for (const jws_algorithm& alg : jws_algorithms)
            allowed[jws_algorithm_index(alg)] =
                has_secret ? alg.family == alg_family::hmac : keys.any_fits(alg);
        return;
    }

    bool any_hmac = false;
    for (const jws_algorithm& alg : jws_algorithms) {
        if (!allowed[jws_algorithm_index(alg)]) continue;
        if (alg.family == alg_family::hmac) {
            any_hmac = true;
            // Never HMAC with public key bytes instead (algorithm confusion).
            if (!has_secret)
                config_error("--jwt-algorithms: " + std::string(alg.name) + " needs --jwt-secret");
        } else if (!keys.any_fits(alg)) {
            config_error("--jwt-algorithms: " + std::string(alg.name) + " needs an " +
                         std::string(key_type_name(alg.key)) +
                         " key (--jwt-public-key-file or --jwt-jwks-file)");
        }
    }
    if (has_secret && !any_hmac)
        config_error("--jwt-secret: set, but --jwt-algorithms allows no HS algorithm");

    // An operator who names a PEM file expects it to count. A JWKS usually comes from an
    // identity provider and may hold keys for other uses, so only "none fits" is an error.
    auto usable = [&](const public_key& key) {
        for (const jws_algorithm& alg : jws_algorithms)
            if (allowed[jws_algorithm_index(alg)] && key_fits(key, alg)) return true;
        return false;
    };
    for (std::size_t i = 0; i < keys.pem.size(); ++i) {
        if (!usable(keys.pem[i]))
            config_error("--jwt-public-key-file: " + keys.pem_paths[i] + ": " +
                         std::string(key_type_name(keys.pem[i].type)) +
                         " key fits none of the accepted algorithms");
    }
    if (!keys.jwks.empty() && std::none_of(keys.jwks.begin(), keys.jwks.end(), usable))
        config_error("--jwt-jwks-file: " + options.jwks_file +
                     ": no key fits the accepted algorithms");
}

}  // namespace

/// Everything verify() reads; built once by the constructor, then immutable.
struct jwt_verifier::impl {
    std::vector<std::string> algorithm_names;
    alg_set allowed{};
    evp_mac_ptr hmac;                                    // fetched once: EVP_MAC_fetch is slow
    std::array<evp_mac_ctx_ptr, alg_count> hmac_by_alg;  // keyed prototypes, dup'ed per call
    std::vector<public_key> pem_keys;
    std::vector<public_key> jwks_keys;
    // Keys that may verify each algorithm (type fits, JWKS `alg` matches), in load order.
    std::array<std::vector<const public_key*>, alg_count> pem_by_alg;
    std::array<std::vector<const public_key*>, alg_count> jwks_by_alg;
    std::optional<std::string> issuer;
    std::vector<std::string> audience;
    double leeway_seconds = 0;
    std::string user_claim;

    void key_hmac(std::string_view secret);
    void index_keys(loaded_keys keys);
    bool hmac_matches(const jws_algorithm& alg, std::string_view input,
                      std::string_view signature) const;
    boost::system::error_code check_signature(const jws_algorithm& alg, const json::string* kid,
                                              std::string_view input,
                                              std::string_view signature) const;
    result<verified_token> check_claims(const json::object& claims,
                                        system_clock::time_point now) const;
};

void jwt_verifier::impl::key_hmac(std::string_view secret) {
    hmac.reset(EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr));
    if (!hmac) throw std::runtime_error("OpenSSL: HMAC is unavailable");
    for (const jws_algorithm& alg : jws_algorithms) {
        const std::size_t index = jws_algorithm_index(alg);
        if (alg.family != alg_family::hmac || !allowed[index]) continue;
        evp_mac_ctx_ptr ctx(EVP_MAC_CTX_new(hmac.get()));
        OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                                const_cast<char*>(alg.digest), 0),
                               OSSL_PARAM_construct_end()};
        if (!ctx || EVP_MAC_init(ctx.get(), reinterpret_cast<const unsigned char*>(secret.data()),
                                 secret.size(), params) != 1) {
            ERR_clear_error();
            throw std::runtime_error("OpenSSL: cannot key HMAC-" + std::string(alg.digest));
        }
        hmac_by_alg[index] = std::move(ctx);
    }
}

void jwt_verifier::impl::index_keys(loaded_keys keys) {
    pem_keys = std::move(keys.pem);
    jwks_keys = std::move(keys.jwks);
    for (const jws_algorithm& alg : jws_algorithms) {
        const std::size_t index = jws_algorithm_index(alg);
        if (!allowed[index]) continue;
        for (const public_key& key : pem_keys)
            if (key_fits(key, alg)) pem_by_alg[index].push_back(&key);
        for (const public_key& key : jwks_keys)
            if (key_fits(key, alg)) jwks_by_alg[index].push_back(&key);
        // Kid-less tokens try every PEM key of a type; refuse more than we would try.
        if (pem_by_alg[index].size() > max_keys_tried)
            config_error("--jwt-public-key-file: more than " + std::to_string(max_keys_tried) +
                         " keys for " + std::string(alg.name));
    }
}

bool jwt_verifier::impl::hmac_matches(const jws_algorithm& alg, std::string_view input,
                                      std::string_view signature) const {
    // Duplicating the keyed prototype skips re-hashing the key and re-fetching the MAC; the
    // prototype itself is only read, so concurrent dups are safe.
    evp_mac_ctx_ptr ctx(EVP_MAC_CTX_dup(hmac_by_alg[jws_algorithm_index(alg)].get()));
    unsigned char mac[EVP_MAX_MD_SIZE];
    std::size_t length = 0;
    if (!ctx ||
        EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(input.data()),
                       input.size()) != 1 ||
        EVP_MAC_final(ctx.get(), mac, &length, sizeof mac) != 1) {
        ERR_clear_error();
        return false;
    }
    // The length is public (fixed per algorithm); the bytes are compared in constant time.
    return signature.size() == length && CRYPTO_memcmp(mac, signature.data(), length) == 0;
}

boost::system::error_code jwt_verifier::impl::check_signature(const jws_algorithm& alg,
                                                              const json::string* kid,
                                                              std::string_view input,
                                                              std::string_view signature) const {
    if (alg.family == alg_family::hmac)
        return hmac_matches(alg, input, signature) ? boost::system::error_code{}
                                                   : errc::token_bad_signature;

    std::array<const public_key*, max_keys_tried> candidates{};
    std::size_t count = 0;
    auto add = [&](const public_key* key) {
        if (count < candidates.size()) candidates[count++] = key;
    };
    const std::size_t index = jws_algorithm_index(alg);
    if (kid) {
        for (const public_key* key : jwks_by_alg[index])
            if (key->kid == std::string_view(*kid)) add(key);
        // PEM keys carry no kid, so a kid cannot rule them out; they are the fallback.
        if (count == 0)
            for (const public_key* key : pem_by_alg[index]) add(key);
    } else {
        for (const public_key* key : pem_by_alg[index]) add(key);
        for (const public_key* key : jwks_by_alg[index]) add(key);
    }
    if (count == 0) return errc::token_unknown_key;
    for (std::size_t i = 0; i < count; ++i)
        if (verify_asymmetric(alg, candidates[i]->pkey.get(), input, signature)) return {};
    return errc::token_bad_signature;
}

result<verified_token> jwt_verifier::impl::check_claims(const json::object& claims,
                                                        system_clock::time_point now) const {
    // Types first: a claim of the wrong type makes the token malformed, whatever else holds.
    std::optional<double> exp, nbf;
    if (const json::value* v = claims.if_contains("exp")) {
        exp = numeric_date(*v);
        if (!exp) return errc::token_malformed;
    }
    if (const json::value* v = claims.if_contains("nbf")) {
        nbf = numeric_date(*v);
        if (!nbf) return errc::token_malformed;
    }
    const json::value* aud = claims.if_contains("aud");
    if (!audience.empty() && aud) {
        if (const json::array* list = aud->if_array()) {
            for (const json::value& a : *list)
                if (!a.is_string()) return errc::token_malformed;
        } else if (!aud->is_string()) {
            return errc::token_malformed;
        }
    }

    if (issuer) {
        const json::value* iss = claims.if_contains("iss");
        if (!iss || !iss->is_string() || iss->get_string() != *issuer)
            return errc::token_bad_issuer;
    }
    if (!audience.empty()) {
        auto accepted = [&](const json::value& a) {
            for (const std::string& want : audience)
                if (a.get_string() == want) return true;
            return false;
        };
        bool match = false;
        if (aud && aud->is_string()) {
            match = accepted(*aud);
        } else if (aud) {
            for (const json::value& a : aud->get_array()) match = match || accepted(a);
        }
        if (!match) return errc::token_bad_audience;
    }
    const json::value* user = claims.if_contains(user_claim);
    if (!user || !user->is_string() || user->get_string().empty() ||
        user->get_string().size() > max_user_id_bytes)
        return errc::token_no_user_claim;

    const double now_seconds = std::chrono::duration<double>(now.time_since_epoch()).count();
    if (exp && now_seconds > *exp + leeway_seconds) return errc::token_expired;
    if (nbf && now_seconds < *nbf - leeway_seconds) return errc::token_not_yet_valid;

    verified_token token;
    token.user_id = std::string(user->get_string());
    if (exp) token.expires_at = to_time_point(*exp);
    return token;
}

jwt_verifier::jwt_verifier(const jwt_options& options) {
    auto m = std::make_unique<impl>();
    check_scalar_options(options);
    m->allowed = parse_algorithms(options.algorithms);
    loaded_keys keys = load_keys(options);
    const bool has_secret = !options.secret.empty();
    resolve_algorithms(m->allowed, !options.algorithms.empty(), has_secret, keys, options);

    for (const jws_algorithm& alg : jws_algorithms)
        if (m->allowed[jws_algorithm_index(alg)]) m->algorithm_names.emplace_back(alg.name);
    if (has_secret) m->key_hmac(options.secret);
    m->index_keys(std::move(keys));
    m->issuer = options.issuer;
    m->audience = options.audience;
    m->leeway_seconds = static_cast<double>(options.leeway.count());
    m->user_claim = options.user_claim;
    impl_ = std::move(m);
}

jwt_verifier::~jwt_verifier() = default;
jwt_verifier::jwt_verifier(jwt_verifier&&) noexcept = default;
jwt_verifier& jwt_verifier::operator=(jwt_verifier&&) noexcept = default;

const std::vector<std::string>& jwt_verifier::algorithms() const noexcept {
    return impl_->algorithm_names;
}

result<verified_token> jwt_verifier::verify(std::string_view token,
                                            system_clock::time_point now) const {
    if (token.empty() || token.size() > max_token_bytes) return errc::token_malformed;
    const std::size_t dot1 = token.find('.');
    const std::size_t dot2 = dot1 == token.npos ? token.npos : token.find('.', dot1 + 1);
    if (dot2 == token.npos || token.find('.', dot2 + 1) != token.npos)
        return errc::token_malformed;  // JWS compact form has exactly three parts (JWE has five)

    // Header and claims are parsed into a stack arena, so a typical token needs no heap
    // for its JSON; larger ones spill to the heap transparently.
    alignas(std::max_align_t) unsigned char arena[4096];
    json::monotonic_resource memory(arena, sizeof arena);

    auto header_text = base64url_decode(token.substr(0, dot1));
    if (!header_text) return errc::token_malformed;
    auto header = parse_object(*header_text, &memory);
    if (!header) return errc::token_malformed;

    // The policy comes from configuration only: the header selects among allowed algorithms.
    // "none" (any case) and anything unknown are not in the table at all.
    const json::value* alg_value = header->if_contains("alg");
    if (!alg_value || !alg_value->is_string()) return errc::token_algorithm_not_allowed;
    const jws_algorithm* alg = find_jws_algorithm(alg_value->get_string());
    if (!alg || !impl_->allowed[jws_algorithm_index(*alg)])
        return errc::token_algorithm_not_allowed;
    for (std::string_view name : forbidden_headers)
        if (header->contains(name)) return errc::token_forbidden_header;
    const json::value* kid_value = header->if_contains("kid");
    if (kid_value && !kid_value->is_string()) return errc::token_malformed;

    auto signature = base64url_decode(token.substr(dot2 + 1));
    if (!signature) return errc::token_malformed;
    // The signing input is the ASCII text "header.payload" exactly as received.
    if (auto ec = impl_->check_signature(*alg, kid_value ? &kid_value->get_string() : nullptr,
                                         token.substr(0, dot2), *signature))
        return ec;

    // Only now, with the signature good, is the payload looked at.
    auto payload_text = base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1));
    if (!payload_text) return errc::token_malformed;
    auto claims = parse_object(*payload_text, &memory);
    if (!claims) return errc::token_malformed;
    return impl_->check_claims(*claims, now);
}

}  // namespace wsgate::auth
