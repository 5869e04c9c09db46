// Signing of compact JWS tokens, for the wsgate-token CLI, tests and the load generator.
// Not used by the gateway itself. Thread-safe: no state beyond a lazily fetched HMAC.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <string>
#include <string_view>

namespace wsgate::auth {

/// Signs `claims` (a JSON object) as a compact JWS with header {"alg":alg,"typ":"JWT"[,"kid":kid]}.
/// `key` is the shared secret for HS*, or a PEM private key for RS/PS/ES/EdDSA. Throws
/// std::invalid_argument on an unknown alg (including "none"), an empty secret, or a key
/// that is not an unencrypted PEM private key of the type the algorithm needs.
std::string mint_token(std::string_view alg, std::string_view key,
                       const boost::json::object& claims, std::string_view kid = {});

/// Signs `signing_input` (normally "base64url(header).base64url(payload)") with `alg` and
/// returns the raw signature bytes (JWS form: raw r || s for ES*). For tests and tools that
/// need hand-made headers. Throws like mint_token().
std::string jws_sign(std::string_view alg, std::string_view key, std::string_view signing_input);

/// Convenience for HS256 dev tokens: {"sub": user, "iat": now, "exp": now + ttl}, times in
/// whole seconds.
std::string mint_hs256(
    std::string_view secret, std::string_view user_id, std::chrono::seconds ttl,
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

}  // namespace wsgate::auth
