// JWT verification settings, as parsed from the command line. Plain data: a verifier loads
// keys from these paths when it is built (at start and on every reload, see verifier_store)
// and never reads a file on the data plane.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace wsgate::auth {

/// A JWKS file whose keys verify only tokens whose `iss` is `issuer` (exact bytes).
struct issuer_jwks_file {
    std::string issuer;
    std::string path;
    friend bool operator==(const issuer_jwks_file&, const issuer_jwks_file&) = default;
};

struct jwt_options {
    /// Shared secret for HS256/384/512. Empty when asymmetric keys are used.
    std::string secret;
    /// File the secret came from (--jwt-secret-file), or empty. When set, every build of a
    /// verifier reads the secret from it (one trailing line ending dropped) instead of using
    /// `secret`, so a reload picks up a rotated secret.
    std::string secret_file;
    /// PEM files holding public keys (RSA, EC P-256/P-384, Ed25519). Each key is tried
    /// only for the algorithms its type supports.
    std::vector<std::string> public_key_files;
    /// A JWKS document (RFC 7517); tokens select a key by `kid`.
    std::string jwks_file;
    /// JWKS files bound to one issuer each (--jwt-issuer-jwks ISSUER=PATH). A token is
    /// verified only with the keys of the issuer its `iss` names, so a key of one issuer can
    /// never verify a token claiming another, whatever their kids. Several files for one
    /// issuer are merged.
    std::vector<issuer_jwks_file> issuer_jwks_files;
    /// Algorithms accepted, e.g. {"HS256"}. Empty means: the HS family when a secret is
    /// set, otherwise every asymmetric algorithm the configured keys support. The token's
    /// `alg` header only selects among these; it never widens them.
    std::vector<std::string> algorithms;
    /// The issuer that `secret`, `public_key_files` and `jwks_file` belong to; tokens verified
    /// with those keys must carry it as `iss`. Unset: those keys accept any `iss`, as before
    /// issuers had their own keys; combining such keys with issuer_jwks_files is refused, so
    /// that with several issuers every key belongs to exactly one of them.
    std::optional<std::string> issuer;
    /// Accepted audiences; when non-empty, the token's `aud` (string or array) must
    /// contain at least one of them.
    std::vector<std::string> audience;
    /// Clock skew tolerated on `exp` and `nbf`. Default 30 s, as most JWT libraries use.
    std::chrono::seconds leeway{30};
    /// Claim that carries the user id; must be a string. Default `sub` (RFC 7519).
    std::string user_claim = "sub";
};

}  // namespace wsgate::auth
