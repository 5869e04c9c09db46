// JWT verification settings, as parsed from the command line. Plain data: the verifier
// loads keys from these paths once at start and never re-reads them on the data plane.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace wsgate::auth {

struct jwt_options {
    /// Shared secret for HS256/384/512. Empty when asymmetric keys are used.
    std::string secret;
    /// PEM files holding public keys (RSA, EC P-256/P-384, Ed25519). Each key is tried
    /// only for the algorithms its type supports.
    std::vector<std::string> public_key_files;
    /// A JWKS document (RFC 7517) read at start; tokens select a key by `kid`.
    std::string jwks_file;
    /// Algorithms accepted, e.g. {"HS256"}. Empty means: the HS family when a secret is
    /// set, otherwise every asymmetric algorithm the configured keys support. The token's
    /// `alg` header only selects among these; it never widens them.
    std::vector<std::string> algorithms;
    /// Required `iss` claim, when set.
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
