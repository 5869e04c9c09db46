// Key loading for the verifier. Runs once at startup, so it favours precise messages over
// speed; every OpenSSL object is owned by a unique_ptr and the error queue is left empty.
#include "auth/jwt_keys.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <stdexcept>

#include "auth/base64url.hpp"

namespace wsgate::auth {
namespace {

namespace json = boost::json;

[[noreturn]] void fail(std::string message) {
    ERR_clear_error();  // leave no stale OpenSSL errors for the next caller to misread
    throw std::invalid_argument(std::move(message));
}

// Reads a whole small file. POSIX stdio so errno names the reason ("No such file...").
std::string read_small_file(const std::string& path, std::size_t max_bytes) {
    struct closer {
        void operator()(std::FILE* f) const noexcept { std::fclose(f); }
    };
    std::unique_ptr<std::FILE, closer> file(std::fopen(path.c_str(), "rb"));
    if (!file) fail(path + ": cannot open: " + std::strerror(errno));
    std::string text;
    char buffer[4096];
    while (std::size_t n = std::fread(buffer, 1, sizeof buffer, file.get())) {
        text.append(buffer, n);
        if (text.size() > max_bytes)
            fail(path + ": larger than " + std::to_string(max_bytes) + " bytes");
    }
    if (std::ferror(file.get())) fail(path + ": read error");
    return text;
}

// OpenSSL's own sanity checks on a public key (RSA: n and e odd, e > 1; EC: point on the
// curve and not at infinity). Cheap, and done once per key.
bool passes_public_check(EVP_PKEY* pkey) {
    evp_pkey_ctx_ptr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
    bool ok = ctx && EVP_PKEY_public_check(ctx.get()) == 1;
    ERR_clear_error();
    return ok;
}

// Accepts a decoded key only if JWS can use it with us; `where` prefixes messages.
key_type vet_key(EVP_PKEY* pkey, const std::string& where) {
    key_type type = classify_key(pkey);
    if (type == key_type::none)
        fail(where + ": unsupported key type (want RSA, EC P-256, EC P-384 or Ed25519)");
    if (type == key_type::rsa && EVP_PKEY_get_bits(pkey) < min_rsa_key_bits)
        fail(where + ": RSA key of " + std::to_string(EVP_PKEY_get_bits(pkey)) +
             " bits is too small (minimum " + std::to_string(min_rsa_key_bits) + ")");
    if (!passes_public_check(pkey)) fail(where + ": fails OpenSSL's public key check");
    return type;
}

// A string member, or nullptr when absent. Present with another type is an error: a JWK
// with `"use": 1` is broken, not "no use given".
const json::string* optional_string(const json::object& jwk, std::string_view name,
                                    const std::string& where) {
    const json::value* v = jwk.if_contains(name);
    if (!v) return nullptr;
    if (!v->is_string()) fail(where + ": \"" + std::string(name) + "\" is not a string");
    return &v->get_string();
}

const json::string& required_string(const json::object& jwk, std::string_view name,
                                    const std::string& where) {
    const json::string* s = optional_string(jwk, name, where);
    if (!s) fail(where + ": \"" + std::string(name) + "\" is missing");
    return *s;
}

// A base64url member decoded; `exact_size` 0 means any non-empty size.
std::string required_bytes(const json::object& jwk, std::string_view name, const std::string& where,
                           std::size_t exact_size = 0) {
    auto bytes = base64url_decode(required_string(jwk, name, where));
    if (!bytes || bytes->empty())
        fail(where + ": \"" + std::string(name) + "\" is not non-empty base64url");
    if (exact_size != 0 && bytes->size() != exact_size)
        fail(where + ": \"" + std::string(name) + "\" must be " + std::to_string(exact_size) +
             " bytes, got " + std::to_string(bytes->size()));
    return std::move(*bytes);
}

// EVP_PKEY_fromdata over what `bld` holds. The builder only references its inputs, so the
// caller keeps them alive until this returns.
evp_pkey_ptr public_key_from_params(const char* keymgmt, OSSL_PARAM_BLD* bld,
                                    const std::string& where) {
    ossl_param_ptr params(OSSL_PARAM_BLD_to_param(bld));
    evp_pkey_ctx_ptr ctx(EVP_PKEY_CTX_new_from_name(nullptr, keymgmt, nullptr));
    EVP_PKEY* raw = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
        fail(where + ": not a valid " + keymgmt + " public key");
    return evp_pkey_ptr(raw);
}

evp_pkey_ptr rsa_from_jwk(const json::object& jwk, const std::string& where) {
    std::string n = required_bytes(jwk, "n", where);
    std::string e = required_bytes(jwk, "e", where);
    auto to_bn = [](const std::string& b) {
        return bignum_ptr(BN_bin2bn(reinterpret_cast<const unsigned char*>(b.data()),
                                    static_cast<int>(b.size()), nullptr));
    };
    bignum_ptr bn_n = to_bn(n), bn_e = to_bn(e);
    ossl_param_bld_ptr bld(OSSL_PARAM_BLD_new());
    if (!bn_n || !bn_e || !bld ||
        !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) ||
        !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()))
        fail(where + ": out of memory building RSA key");
    return public_key_from_params("RSA", bld.get(), where);
}

// RFC 7518 §6.2.1: x and y are the full-length big-endian coordinates; OpenSSL wants the
// SEC1 uncompressed point 0x04 || x || y, and checks it lies on the curve.
evp_pkey_ptr ec_from_jwk(const json::object& jwk, const char* group, std::size_t coord_bytes,
                         const std::string& where) {
    std::string point = "\x04";
    point += required_bytes(jwk, "x", where, coord_bytes);
    point += required_bytes(jwk, "y", where, coord_bytes);
    ossl_param_bld_ptr bld(OSSL_PARAM_BLD_new());
    if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                          point.size()))
        fail(where + ": out of memory building EC key");
    return public_key_from_params("EC", bld.get(), where);
}

// RFC 8037 §2: an OKP key's `x` is the raw 32-byte Ed25519 public key.
evp_pkey_ptr ed25519_from_jwk(const json::object& jwk, const std::string& where) {
    std::string x = required_bytes(jwk, "x", where, 32);
    ossl_param_bld_ptr bld(OSSL_PARAM_BLD_new());
    if (!bld ||
        !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, x.data(), x.size()))
        fail(where + ": out of memory building Ed25519 key");
    return public_key_from_params("ED25519", bld.get(), where);
}

// One JWKS entry; nullopt when it is to be skipped (see parse_jwks() in the header).
std::optional<public_key> parse_jwk(const json::object& jwk, const std::string& where) {
    if (const json::string* use = optional_string(jwk, "use", where); use && *use != "sig")
        return std::nullopt;
    if (const json::value* ops = jwk.if_contains("key_ops")) {
        const json::array* list = ops->if_array();
        if (!list) fail(where + ": \"key_ops\" is not an array");
        bool verify = false;
        for (const json::value& op : *list) {
            if (!op.is_string()) fail(where + ": \"key_ops\" holds a non-string");
            verify = verify || op.get_string() == "verify";
        }
        if (!verify) return std::nullopt;
    }

    const json::string& kty = required_string(jwk, "kty", where);
    if (kty == "oct")
        fail(where +
             ": symmetric (\"oct\") keys are not accepted in a JWKS; "
             "give the HS secret with --jwt-secret");
    if (kty != "RSA" && kty != "EC" && kty != "OKP") return std::nullopt;
    for (const char* secret : {"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
        if (jwk.contains(secret))
            fail(where + ": holds private key material (\"" + secret +
                 "\"); a JWKS for verification must contain public keys only");

    const jws_algorithm* alg = nullptr;
    const json::string* alg_name = optional_string(jwk, "alg", where);
    if (alg_name) {
        alg = find_jws_algorithm(*alg_name);
        if (!alg) return std::nullopt;  // e.g. RSA-OAEP or ES512: not a key we verify with
    }

    public_key key;
    key_type expected = key_type::none;
    if (kty == "RSA") {
        key.pkey = rsa_from_jwk(jwk, where);
        expected = key_type::rsa;
    } else if (kty == "EC") {
        const json::string& crv = required_string(jwk, "crv", where);
        if (crv == "P-256") {
            key.pkey = ec_from_jwk(jwk, "prime256v1", 32, where);
            expected = key_type::ec_p256;
        } else if (crv == "P-384") {
            key.pkey = ec_from_jwk(jwk, "secp384r1", 48, where);
            expected = key_type::ec_p384;
        } else {
            return std::nullopt;
        }
    } else {
        if (required_string(jwk, "crv", where) != "Ed25519") return std::nullopt;
        key.pkey = ed25519_from_jwk(jwk, where);
        expected = key_type::ed25519;
    }
    key.type = vet_key(key.pkey.get(), where);
    if (key.type != expected) fail(where + ": key does not match its kty/crv");
    if (alg && alg->key != key.type)
        fail(where + ": \"alg\" " + std::string(alg->name) + " does not fit a " +
             std::string(key_type_name(key.type)) + " key");
    if (alg) key.alg = alg->name;
    if (const json::string* kid = optional_string(jwk, "kid", where)) key.kid = *kid;
    return key;
}

}  // namespace

bool key_fits(const public_key& key, const jws_algorithm& alg) noexcept {
    return alg.family != alg_family::hmac && key.type == alg.key &&
           (key.alg.empty() || key.alg == alg.name);
}

key_type classify_key(const EVP_PKEY* pkey) noexcept {
    if (!pkey) return key_type::none;
    // "RSA" excludes RSA-PSS-restricted keys, which carry their own parameter rules.
    if (EVP_PKEY_is_a(pkey, "RSA")) return key_type::rsa;
    if (EVP_PKEY_is_a(pkey, "ED25519")) return key_type::ed25519;
    if (EVP_PKEY_is_a(pkey, "EC")) {
        char name[64];
        std::size_t len = 0;
        // Fails for explicit-parameter curves, which we refuse (CVE-2020-0601-style tricks).
        if (EVP_PKEY_get_group_name(pkey, name, sizeof name, &len) != 1) {
            ERR_clear_error();
            return key_type::none;
        }
        std::string_view group(name, len);
        if (group == "prime256v1") return key_type::ec_p256;
        if (group == "secp384r1") return key_type::ec_p384;
    }
    return key_type::none;
}

std::vector<public_key> load_pem_public_keys(const std::string& path) {
    std::string text = read_small_file(path, max_key_file_bytes);
    bio_ptr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
    if (!bio) fail(path + ": out of memory");
    std::vector<public_key> keys;
    ERR_clear_error();
    for (;;) {
        char* name_raw = nullptr;
        char* header_raw = nullptr;
        unsigned char* data_raw = nullptr;
        long length = 0;
        if (PEM_read_bio(bio.get(), &name_raw, &header_raw, &data_raw, &length) != 1) {
            unsigned long e = ERR_peek_last_error();
            if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) break;
            fail(path + ": damaged PEM block");
        }
        auto free_pem = [](void* p) { OPENSSL_free(p); };
        std::unique_ptr<char, decltype(free_pem)> name(name_raw, free_pem);
        std::unique_ptr<char, decltype(free_pem)> header(header_raw, free_pem);
        std::unique_ptr<unsigned char, decltype(free_pem)> data(data_raw, free_pem);
        std::string where = path + ": key " + std::to_string(keys.size() + 1);
        if (std::strcmp(name.get(), "PUBLIC KEY") != 0)
            fail(path + ": holds a \"" + name.get() +
                 "\" PEM block; expected only PUBLIC KEY (SubjectPublicKeyInfo)");
        const unsigned char* p = data.get();
        evp_pkey_ptr pkey(d2i_PUBKEY(nullptr, &p, length));
        if (!pkey || p != data.get() + length) fail(where + ": not a valid public key");
        public_key key;
        key.type = vet_key(pkey.get(), where);
        key.pkey = std::move(pkey);
        keys.push_back(std::move(key));
    }
    ERR_clear_error();
    if (keys.empty()) fail(path + ": not a PEM public key (no -----BEGIN PUBLIC KEY----- block)");
    return keys;
}

std::vector<public_key> parse_jwks(std::string_view text) {
    json::parse_options options;
    options.max_depth = 16;
    boost::system::error_code ec;
    json::value doc = json::parse(text, ec, {}, options);
    if (ec) fail("not valid JSON (" + ec.message() + ")");
    const json::object* root = doc.if_object();
    if (!root) fail("not a JSON object");
    const json::value* list = root->if_contains("keys");
    if (!list || !list->is_array()) fail("no \"keys\" array");
    std::vector<public_key> keys;
    std::size_t index = 0;
    for (const json::value& entry : list->get_array()) {
        std::string where = "keys[" + std::to_string(index++) + "]";
        const json::object* jwk = entry.if_object();
        if (!jwk) fail(where + ": not an object");
        if (auto key = parse_jwk(*jwk, where)) keys.push_back(std::move(*key));
    }
    if (keys.empty())
        fail(
            "no usable signature key (RSA of 2048+ bits, EC P-256/P-384 or Ed25519, "
            "with \"use\" absent or \"sig\")");
    return keys;
}

std::string load_secret_file(const std::string& path) {
    std::string secret = read_small_file(path, max_key_file_bytes);
    if (secret.ends_with("\r\n"))
        secret.resize(secret.size() - 2);
    else if (secret.ends_with('\n'))
        secret.pop_back();
    if (secret.empty()) fail(path + ": is empty");
    return secret;
}

std::vector<public_key> load_jwks_file(const std::string& path) {
    std::string text = read_small_file(path, max_key_file_bytes);
    try {
        return parse_jwks(text);
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(path + ": " + e.what());
    }
}

}  // namespace wsgate::auth
