// Asymmetric JWS signing and verification over OpenSSL 3 EVP: RFC 7518's PKCS#1 v1.5 and
// PSS parameters, and ECDSA's raw r || s form. Stateless; callable from any thread.
#pragma once

#include <openssl/evp.h>

#include <optional>
#include <string>
#include <string_view>

#include "auth/jws_algorithm.hpp"

namespace wsgate::auth {

/// Verifies `signature` as it appears in a token (raw r || s for ES*) over `input` with
/// `pkey`, which the caller has checked fits `alg`. False for any failure; leaves the
/// thread's OpenSSL error queue empty so other OpenSSL users (TLS) never see stale errors.
bool verify_asymmetric(const jws_algorithm& alg, EVP_PKEY* pkey, std::string_view input,
                       std::string_view signature);

/// Signs `input` with a private `pkey` that fits `alg`; returns the JWS form (raw r || s for
/// ES*), or nullopt if OpenSSL fails.
std::optional<std::string> sign_asymmetric(const jws_algorithm& alg, EVP_PKEY* pkey,
                                           std::string_view input);

/// JWS raw r || s (each `int_bytes` wide, RFC 7518 §3.4) to a DER ECDSA-Sig-Value; nullopt
/// when the length is not exactly 2 * int_bytes.
std::optional<std::string> ecdsa_raw_to_der(std::string_view raw, std::size_t int_bytes);

/// DER ECDSA-Sig-Value to JWS raw r || s; nullopt if unreadable or r, s do not fit.
std::optional<std::string> ecdsa_der_to_raw(std::string_view der, std::size_t int_bytes);

}  // namespace wsgate::auth
