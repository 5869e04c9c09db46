// Verification keys for the JWT verifier: PEM public key files and JWKS documents (RFC 7517),
// loaded at startup and on every reload into OpenSSL 3 EVP_PKEYs. Loading throws; a loaded key
// is immutable and OpenSSL allows verifying with one EVP_PKEY from many threads at once.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "auth/jws_algorithm.hpp"
#include "auth/openssl_handles.hpp"

namespace wsgate::auth {

/// RFC 7518 §3.3: "A key of size 2048 bits or larger MUST be used" with RS*/PS*.
inline constexpr int min_rsa_key_bits = 2048;

/// A PEM or JWKS file larger than this is refused; real ones are a few KiB.
inline constexpr std::size_t max_key_file_bytes = 1 << 20;

/// One public key plus the restrictions its source put on it.
struct public_key {
    evp_pkey_ptr pkey;
    key_type type = key_type::none;
    std::string kid;  // JWKS `kid`; empty for PEM keys and for JWKs without one
    std::string alg;  // JWKS `alg`; when set, the only algorithm this key may verify
};

/// Whether `key` may verify tokens signed with `alg`: its type must fit the algorithm
/// (RSA: RS*/PS*; P-256: ES256; P-384: ES384; Ed25519: EdDSA) and a JWKS `alg` must match.
bool key_fits(const public_key& key, const jws_algorithm& alg) noexcept;

/// Classifies an EVP_PKEY; key_type::none for types and curves JWS does not use with us
/// (DSA, X25519, P-521, RSA-PSS-restricted keys, explicit EC parameters, ...).
key_type classify_key(const EVP_PKEY* pkey) noexcept;

/// Reads every `-----BEGIN PUBLIC KEY-----` block (SubjectPublicKeyInfo) in a PEM file, so
/// one file may hold the old and new key during a rotation. Throws std::invalid_argument
/// "<path>: <reason>" for an unreadable file, a file with no such block, any other PEM block
/// (e.g. a private key), an unsupported key type, or an RSA key under 2048 bits.
std::vector<public_key> load_pem_public_keys(const std::string& path);

/// Parses a JWKS document `{"keys":[...]}`. Rules, in order, per entry:
///  - `use` other than "sig", or `key_ops` without "verify": skipped (not for signatures);
///  - `kty` "oct": rejected, because a JWKS is usually treated as public and a shared secret
///    there is a leak or a misconfiguration; HS keys come from --jwt-secret only;
///  - unknown `kty`, or a curve we do not verify (P-521, Ed448, X25519...): skipped, as
///    RFC 7517 §5 advises;
///  - private members (`d`, `p`, ...): rejected; the gateway must never hold signing keys;
///  - `alg` naming a signature algorithm we support that does not fit the key: rejected;
///    `alg` naming anything else (RSA-OAEP, ES512...): skipped;
///  - missing or malformed members of a supported key (n/e, x/y of exactly the curve size,
///    x of 32 bytes) or an RSA modulus under 2048 bits: rejected.
/// Throws std::invalid_argument with a reason naming the entry ("keys[2]: ..."), or when no
/// usable key remains.
std::vector<public_key> parse_jwks(std::string_view json);

/// Reads a JWKS file (at most max_key_file_bytes) and parses it with parse_jwks().
/// Throws std::invalid_argument "<path>: <reason>".
std::vector<public_key> load_jwks_file(const std::string& path);

/// Reads a shared secret file (at most max_key_file_bytes) and drops one trailing line ending
/// ("\n" or "\r\n"), as wsgate-token does. Throws std::invalid_argument "<path>: <reason>"
/// for an unreadable or empty file; the message never contains the secret.
std::string load_secret_file(const std::string& path);

}  // namespace wsgate::auth
