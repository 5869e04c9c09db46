// The JWS algorithms wsgate signs and verifies (RFC 7518 §3, RFC 8037 for EdDSA) and the key
// type each needs. Constant data, shared by the key loader, the verifier and the minter.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace wsgate::auth {

/// Shape of a public key as JWS sees it; each fits a fixed set of algorithms.
enum class key_type { none, rsa, ec_p256, ec_p384, ed25519 };

/// How an algorithm turns the signing input into a signature.
enum class alg_family { hmac, rsa_pkcs1, rsa_pss, ecdsa, eddsa };

/// One row of the algorithm table.
struct jws_algorithm {
    std::string_view name;  // the `alg` header value, case-sensitive (RFC 7515 §4.1.1)
    alg_family family;
    const char* digest;           // OpenSSL digest name; nullptr for EdDSA (pure signature)
    key_type key;                 // the only key type that may verify it; none for HMAC
    std::size_t ecdsa_int_bytes;  // ES*: size of r and of s in the raw JWS signature
};

/// Every algorithm we sign and verify, in the order algorithms() reports them.
inline constexpr std::array<jws_algorithm, 12> jws_algorithms{{
    {"HS256", alg_family::hmac, "SHA256", key_type::none, 0},
    {"HS384", alg_family::hmac, "SHA384", key_type::none, 0},
    {"HS512", alg_family::hmac, "SHA512", key_type::none, 0},
    {"RS256", alg_family::rsa_pkcs1, "SHA256", key_type::rsa, 0},
    {"RS384", alg_family::rsa_pkcs1, "SHA384", key_type::rsa, 0},
    {"RS512", alg_family::rsa_pkcs1, "SHA512", key_type::rsa, 0},
    {"PS256", alg_family::rsa_pss, "SHA256", key_type::rsa, 0},
    {"PS384", alg_family::rsa_pss, "SHA384", key_type::rsa, 0},
    {"PS512", alg_family::rsa_pss, "SHA512", key_type::rsa, 0},
    {"ES256", alg_family::ecdsa, "SHA256", key_type::ec_p256, 32},
    {"ES384", alg_family::ecdsa, "SHA384", key_type::ec_p384, 48},
    {"EdDSA", alg_family::eddsa, nullptr, key_type::ed25519, 0},
}};

/// Looks an algorithm up by its exact `alg` name; nullptr when we do not support it
/// (which includes "none" in every spelling).
inline const jws_algorithm* find_jws_algorithm(std::string_view name) noexcept {
    for (const auto& a : jws_algorithms)
        if (a.name == name) return &a;
    return nullptr;
}

/// Index of `a` in jws_algorithms, for per-algorithm tables.
inline std::size_t jws_algorithm_index(const jws_algorithm& a) noexcept {
    return static_cast<std::size_t>(&a - jws_algorithms.data());
}

/// Human name of a key type for messages ("RSA", "EC P-256", ...).
inline std::string_view key_type_name(key_type t) noexcept {
    switch (t) {
        case key_type::rsa:
            return "RSA";
        case key_type::ec_p256:
            return "EC P-256";
        case key_type::ec_p384:
            return "EC P-384";
        case key_type::ed25519:
            return "Ed25519";
        case key_type::none:
            break;
    }
    return "unsupported";
}

}  // namespace wsgate::auth
