// Verification of compact JWS tokens (RFC 7515, claims per RFC 7519) for the WebSocket upgrade.
// Built from jwt_options at startup and on every key reload (throws on a bad config); verify()
// is const, never throws, allocates little, and may run on every shard thread at once.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/jwt_options.hpp"
#include "util/error.hpp"

namespace wsgate::auth {

/// Tokens longer than this are token_malformed before any decoding; real ones are < 2 KiB.
inline constexpr std::size_t max_token_bytes = 8192;
/// A user claim longer than this is token_no_user_claim: it names a Redis channel and logs.
inline constexpr std::size_t max_user_id_bytes = 256;
/// Most keys one token may cost a signature check on (kid-less tokens, duplicate kids).
/// More PEM keys of one type than this are refused at startup, so none is silently unused.
inline constexpr std::size_t max_keys_tried = 8;

/// What a valid token tells the gateway. A user is (issuer, user_id): the same user id from
/// two issuers is two people, with two channels (channel_for_user) and two per-user counts.
struct verified_token {
    std::string user_id;  // value of the user claim
    /// Empty for the primary issuer (--jwt-issuer, or the only key set), whose users keep the
    /// seed's channel `ws:{user_id}`; otherwise the `iss` of the key set that verified the
    /// token, which names the user's namespace.
    std::string issuer;
    std::optional<std::chrono::system_clock::time_point> expires_at;  // `exp`, if present

    friend bool operator==(const verified_token&, const verified_token&) = default;
};

/// Verifies compact JWS tokens against keys loaded at construction. Immutable after
/// construction; verify() is const and safe to call from many threads at once. To pick up
/// rotated keys, build a new one (verifier_store does).
///
/// Issuer: with no issuer configured there is one key set and `iss` is not looked at. With
/// issuers (jwt_options::issuer, issuer_jwks_files) each has its own key set, and the token's
/// `iss` (read from the payload before the signature check) selects it by exact bytes; an
/// absent, non-string or unknown `iss` is token_bad_issuer. A key of one issuer therefore
/// never verifies a token claiming another, even when kids collide. The primary issuer is
/// jwt_options::issuer, or the only issuer with keys; several issuers without
/// jwt_options::issuer are refused, since which one keeps `ws:{user_id}` must be said.
/// verified_token::issuer names the issuer of every other key set.
///
/// Key selection within the set: the token's `alg` must be in algorithms(); only keys whose
/// type fits it
/// (RSA: RS*/PS*; P-256: ES256; P-384: ES384; Ed25519: EdDSA; HS*: the secret only) and
/// whose JWKS `alg`, if any, equals it are candidates. A token `kid` selects the JWKS keys
/// with that kid; if none has it, PEM keys (which have no kid) are tried, and with no PEM
/// keys the result is token_unknown_key. A token without `kid` tries every candidate, PEM
/// files first, then JWKS order, at most max_keys_tried of them.
///
/// Checks, in order: length and shape; header JSON; `alg`; forbidden headers (`jwk`, `jku`,
/// `x5u`, `x5c`, `crit`); `kid` type; payload JSON; `iss` (key set); signature; claim types
/// (`exp`, `nbf` numbers, `aud` string or array of strings); `aud`; user claim; `exp`; `nbf`.
/// Identity comes before time so a token from the wrong issuer is never reported as merely
/// expired (which would tell the client to refresh it).
class jwt_verifier {
public:
    /// Loads keys (and the secret file, if named) and checks the options. Throws
    /// std::invalid_argument whose what() names the bad setting as a flag and the file, e.g.
    /// "--jwt-public-key-file: /x.pem: not a PEM public key"; never key material.
    /// A secret is used as raw bytes; its length is not checked here (the gateway warns).
    explicit jwt_verifier(const jwt_options& options);
    ~jwt_verifier();
    /// A moved-from verifier may only be destroyed or assigned to.
    jwt_verifier(jwt_verifier&&) noexcept;
    jwt_verifier& operator=(jwt_verifier&&) noexcept;
    jwt_verifier(const jwt_verifier&) = delete;
    jwt_verifier& operator=(const jwt_verifier&) = delete;

    /// Verifies `token` as of `now`. Returns the user id and expiry, or one errc::token_*.
    /// Throws nothing but std::bad_alloc, whatever the input; never logs.
    result<verified_token> verify(std::string_view token,
                                  std::chrono::system_clock::time_point now) const;

    /// The algorithms in force after defaults were applied (for the startup log).
    const std::vector<std::string>& algorithms() const noexcept;
    /// Issuers with a key set, sorted; empty when one key set serves any issuer.
    const std::vector<std::string>& issuers() const noexcept;
    /// Public keys loaded from PEM and JWKS files, over all issuers.
    std::size_t public_key_count() const noexcept;
    /// Whether a shared secret (HS algorithms) is configured.
    bool has_secret() const noexcept;

private:
    struct impl;
    std::unique_ptr<const impl> impl_;
};

}  // namespace wsgate::auth
