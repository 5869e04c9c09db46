// JWS verification with OpenSSL 3 EVP and Boost.JSON. Everything shared between threads
// (key sets per issuer, keyed HMAC prototypes) is built in the constructor and only read
// afterwards; each verify() call makes its own short-lived contexts.
#include "auth/jwt_verifier.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <map>
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

// One key file's keys, kept apart until the algorithms are resolved so that messages can
// name the file, then moved into the key set of `issuer`.
struct loaded_file {
    const char* flag;  // the option that named the file
    std::string path;
    bool pem = false;
    std::optional<std::string> issuer;  // the key set it joins; nullopt: the any-issuer set
    std::vector<public_key> keys;
};

struct loaded_keys {
    std::vector<loaded_file> files;

    bool empty() const {
        return std::all_of(files.begin(), files.end(),
                           [](const loaded_file& f) { return f.keys.empty(); });
    }
    bool any_fits(const jws_algorithm& alg) const {
        for (const loaded_file& file : files)
            for (const public_key& key : file.keys)
                if (key_fits(key, alg)) return true;
        return false;
    }
};

// Reads every key file. Messages start with the flag, then the path, never key bytes.
loaded_keys load_keys(const jwt_options& options) {
    loaded_keys out;
    auto load = [&](const char* flag, const std::string& path, bool pem,
                    const std::optional<std::string>& issuer) {
        loaded_file file{flag, path, pem, issuer, {}};
        try {
            file.keys = pem ? load_pem_public_keys(path) : load_jwks_file(path);
        } catch (const std::invalid_argument& e) {
            config_error(std::string(flag) + ": " + e.what());
        }
        out.files.push_back(std::move(file));
    };
    for (const std::string& path : options.public_key_files)
        load("--jwt-public-key-file", path, true, options.issuer);
    if (!options.jwks_file.empty())
        load("--jwt-jwks-file", options.jwks_file, false, options.issuer);
    for (const issuer_jwks_file& f : options.issuer_jwks_files)
        load("--jwt-issuer-jwks", f.path, false, f.issuer);
    return out;
}

// The secret in force: read from its file on every build when one is named, so a reload
// picks up a rotated secret.
std::string read_secret(const jwt_options& options) {
    if (options.secret_file.empty()) return options.secret;
    try {
        return load_secret_file(options.secret_file);
    } catch (const std::invalid_argument& e) {
        config_error(std::string("--jwt-secret-file: ") + e.what());
    }
}

void check_scalar_options(const jwt_options& options) {
    if (options.leeway.count() < 0) config_error("--jwt-leeway: must not be negative");
    if (options.user_claim.empty()) config_error("--jwt-user-claim: must not be empty");
    if (options.issuer && options.issuer->empty()) config_error("--jwt-issuer: must not be empty");
    for (const std::string& a : options.audience)
        if (a.empty()) config_error("--jwt-audience: must not contain an empty value");
    for (const issuer_jwks_file& f : options.issuer_jwks_files)
        if (f.issuer.empty() || f.path.empty())
            config_error("--jwt-issuer-jwks: '" + f.issuer + "=" + f.path +
                         "' needs a non-empty ISSUER and PATH");
}

// Every key belongs to exactly one issuer once any issuer has its own keys: keys without an
// issuer would otherwise verify tokens claiming any issuer not listed.
void check_issuers(const jwt_options& options, bool has_secret) {
    if (options.issuer_jwks_files.empty()) return;
    const bool default_keys =
        has_secret || !options.public_key_files.empty() || !options.jwks_file.empty();
    if (default_keys && !options.issuer)
        config_error(
            "--jwt-issuer: required when --jwt-issuer-jwks is combined with --jwt-secret, "
            "--jwt-public-key-file or --jwt-jwks-file (it names the issuer those keys belong to)");
    if (!options.issuer) {
        std::vector<std::string_view> names;
        for (const issuer_jwks_file& f : options.issuer_jwks_files)
            if (std::find(names.begin(), names.end(), f.issuer) == names.end())
                names.push_back(f.issuer);
        if (names.size() > 1)
            config_error(
                "--jwt-issuer: required when --jwt-issuer-jwks names several issuers (it names "
                "the primary issuer, whose users keep the channel ws:{user_id}; the users of "
                "every other issuer get ws@{issuer}:{user_id}, see docs/protocol.md)");
    }
    if (options.issuer && !default_keys &&
        std::none_of(options.issuer_jwks_files.begin(), options.issuer_jwks_files.end(),
                     [&](const issuer_jwks_file& f) { return f.issuer == *options.issuer; }))
        config_error("--jwt-issuer: no keys for '" + *options.issuer +
                     "' (give --jwt-issuer-jwks " + *options.issuer +
                     "=PATH, --jwt-secret, --jwt-public-key-file or --jwt-jwks-file)");
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
                        const loaded_keys& keys) {
    const bool has_keys = !keys.empty();
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
    for (const loaded_file& file : keys.files) {
        if (file.pem) {
            for (const public_key& key : file.keys)
                if (!usable(key))
                    config_error(std::string(file.flag) + ": " + file.path + ": " +
                                 std::string(key_type_name(key.type)) +
                                 " key fits none of the accepted algorithms");
        } else if (std::none_of(file.keys.begin(), file.keys.end(), usable)) {
            config_error(std::string(file.flag) + ": " + file.path +
                         ": no key fits the accepted algorithms");
        }
    }
}

// The keys that may verify tokens of one issuer (or of any issuer). Immutable once indexed;
// the *_by_alg lists point into the key vectors, so a key_set never moves after index().
struct key_set {
    // The issuer this set's users are named by (verified_token::issuer): empty for the
    // primary issuer and for the any-issuer set.
    std::string namespace_issuer;
    bool hmac = false;  // the shared secret verifies this set's HS tokens
    std::vector<public_key> pem_keys;
    std::vector<public_key> jwks_keys;
    // Keys that may verify each algorithm (type fits, JWKS `alg` matches), in load order.
    std::array<std::vector<const public_key*>, alg_count> pem_by_alg;
    std::array<std::vector<const public_key*>, alg_count> jwks_by_alg;

    void index(const alg_set& allowed) {
        for (const jws_algorithm& alg : jws_algorithms) {
            const std::size_t i = jws_algorithm_index(alg);
            if (!allowed[i]) continue;
            for (const public_key& key : pem_keys)
                if (key_fits(key, alg)) pem_by_alg[i].push_back(&key);
            for (const public_key& key : jwks_keys)
                if (key_fits(key, alg)) jwks_by_alg[i].push_back(&key);
            // Kid-less tokens try every PEM key of a type; refuse more than we would try.
            if (pem_by_alg[i].size() > max_keys_tried)
                config_error("--jwt-public-key-file: more than " + std::to_string(max_keys_tried) +
                             " keys for " + std::string(alg.name));
        }
    }
};

}  // namespace

/// Everything verify() reads; built once by the constructor, then immutable.
struct jwt_verifier::impl {
    std::vector<std::string> algorithm_names;
    alg_set allowed{};
    evp_mac_ptr hmac;                                    // fetched once: EVP_MAC_fetch is slow
    std::array<evp_mac_ctx_ptr, alg_count> hmac_by_alg;  // keyed prototypes, dup'ed per call
    // Either one set for every issuer (no issuer configured: `iss` is not looked at), or one
    // set per configured issuer, found by the token's exact `iss`.
    std::unique_ptr<key_set> any_issuer;
    std::map<std::string, std::unique_ptr<key_set>, std::less<>> by_issuer;
    std::vector<std::string> issuer_names;
    std::size_t public_keys = 0;
    bool has_secret = false;
    std::vector<std::string> audience;
    double leeway_seconds = 0;
    std::string user_claim;

    void key_hmac(std::string_view secret);
    void build_key_sets(loaded_keys keys, const std::optional<std::string>& issuer);
    const key_set* select_key_set(const json::object& claims) const noexcept;
    bool hmac_matches(const jws_algorithm& alg, std::string_view input,
                      std::string_view signature) const;
    boost::system::error_code check_signature(const key_set& keys, const jws_algorithm& alg,
                                              const json::string* kid, std::string_view input,
                                              std::string_view signature) const;
    result<verified_token> check_claims(const key_set& keys, const json::object& claims,
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

// The secret and the keys of --jwt-public-key-file/--jwt-jwks-file join the set of `issuer`
// (or the any-issuer set); each --jwt-issuer-jwks file joins its own issuer's set.
void jwt_verifier::impl::build_key_sets(loaded_keys keys,
                                        const std::optional<std::string>& issuer) {
    auto set_for = [&](const std::optional<std::string>& name) -> key_set& {
        if (!name) {
            if (!any_issuer) any_issuer = std::make_unique<key_set>();
            return *any_issuer;
        }
        auto& slot = by_issuer[*name];
        if (!slot) slot = std::make_unique<key_set>();
        return *slot;
    };
    if (has_secret) set_for(issuer).hmac = true;
    for (loaded_file& file : keys.files) {
        key_set& set = set_for(file.issuer);
        auto& target = file.pem ? set.pem_keys : set.jwks_keys;
        public_keys += file.keys.size();
        for (public_key& key : file.keys) target.push_back(std::move(key));
    }
    if (any_issuer) any_issuer->index(allowed);
    // The primary issuer: the one named, or else the only one (check_issuers refuses
    // several issuers with none named).
    std::optional<std::string> primary = issuer;
    if (!primary && by_issuer.size() == 1) primary = by_issuer.begin()->first;
    for (auto& [name, set] : by_issuer) {
        set->index(allowed);
        if (name != primary) set->namespace_issuer = name;
        issuer_names.push_back(name);
    }
}

const key_set* jwt_verifier::impl::select_key_set(const json::object& claims) const noexcept {
    if (any_issuer) return any_issuer.get();
    const json::value* iss = claims.if_contains("iss");
    if (!iss || !iss->is_string()) return nullptr;
    auto it = by_issuer.find(std::string_view(iss->get_string()));
    return it == by_issuer.end() ? nullptr : it->second.get();
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

boost::system::error_code jwt_verifier::impl::check_signature(const key_set& keys,
                                                              const jws_algorithm& alg,
                                                              const json::string* kid,
                                                              std::string_view input,
                                                              std::string_view signature) const {
    if (alg.family == alg_family::hmac) {
        // The secret belongs to one issuer; another issuer's HS tokens have no key here.
        if (!keys.hmac) return errc::token_unknown_key;
        return hmac_matches(alg, input, signature) ? boost::system::error_code{}
                                                   : errc::token_bad_signature;
    }

    std::array<const public_key*, max_keys_tried> candidates{};
    std::size_t count = 0;
    auto add = [&](const public_key* key) {
        if (count < candidates.size()) candidates[count++] = key;
    };
    const std::size_t index = jws_algorithm_index(alg);
    if (kid) {
        for (const public_key* key : keys.jwks_by_alg[index])
            if (key->kid == std::string_view(*kid)) add(key);
        // PEM keys carry no kid, so a kid cannot rule them out; they are the fallback.
        if (count == 0)
            for (const public_key* key : keys.pem_by_alg[index]) add(key);
    } else {
        for (const public_key* key : keys.pem_by_alg[index]) add(key);
        for (const public_key* key : keys.jwks_by_alg[index]) add(key);
    }
    if (count == 0) return errc::token_unknown_key;
    for (std::size_t i = 0; i < count; ++i)
        if (verify_asymmetric(alg, candidates[i]->pkey.get(), input, signature)) return {};
    return errc::token_bad_signature;
}

result<verified_token> jwt_verifier::impl::check_claims(const key_set& keys,
                                                        const json::object& claims,
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

    // `iss` was checked when the key set was chosen (select_key_set).
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
    token.issuer = keys.namespace_issuer;
    if (exp) token.expires_at = to_time_point(*exp);
    return token;
}

jwt_verifier::jwt_verifier(const jwt_options& options) {
    auto m = std::make_unique<impl>();
    check_scalar_options(options);
    m->allowed = parse_algorithms(options.algorithms);
    const std::string secret = read_secret(options);
    m->has_secret = !secret.empty();
    check_issuers(options, m->has_secret);
    loaded_keys keys = load_keys(options);
    resolve_algorithms(m->allowed, !options.algorithms.empty(), m->has_secret, keys);

    for (const jws_algorithm& alg : jws_algorithms)
        if (m->allowed[jws_algorithm_index(alg)]) m->algorithm_names.emplace_back(alg.name);
    if (m->has_secret) m->key_hmac(secret);
    m->build_key_sets(std::move(keys), options.issuer);
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

const std::vector<std::string>& jwt_verifier::issuers() const noexcept {
    return impl_->issuer_names;
}

std::size_t jwt_verifier::public_key_count() const noexcept { return impl_->public_keys; }

bool jwt_verifier::has_secret() const noexcept { return impl_->has_secret; }

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

    // The payload is parsed before the signature is checked because its `iss` picks the key
    // set: the keys of the issuer a token claims are the only ones that may verify it. Only
    // `iss` is read here; every other claim waits for a good signature. The input is as
    // bounded as the header's (max_token_bytes, max_json_depth, the same arena).
    auto payload_text = base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1));
    if (!payload_text) return errc::token_malformed;
    auto claims = parse_object(*payload_text, &memory);
    if (!claims) return errc::token_malformed;
    const key_set* keys = impl_->select_key_set(*claims);
    if (!keys) return errc::token_bad_issuer;

    auto signature = base64url_decode(token.substr(dot2 + 1));
    if (!signature) return errc::token_malformed;
    // The signing input is the ASCII text "header.payload" exactly as received.
    if (auto ec =
            impl_->check_signature(*keys, *alg, kid_value ? &kid_value->get_string() : nullptr,
                                   token.substr(0, dot2), *signature))
        return ec;
    return impl_->check_claims(*keys, *claims, now);
}

}  // namespace wsgate::auth
