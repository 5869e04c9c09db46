// The route-level auth decision for a status-stream upgrade, and the one place that maps
// each failure to its wire close reason and metric label. Pure; callable from any thread.
#pragma once

#include <boost/system/error_code.hpp>
#include <chrono>
#include <string>
#include <string_view>

#include "auth/jwt_verifier.hpp"
#include "util/error.hpp"

namespace wsgate::auth {

/// Decides whether a connection for `client_id` (already percent-decoded from the URL path)
/// holding `token` (empty when the client sent none) may subscribe. Returns the verified token
/// (user id and expiry) or the reason. Pure apart from the verifier's crypto.
result<verified_token> authorize(std::string_view client_id, std::string_view token,
                                 const jwt_verifier& verifier,
                                 std::chrono::system_clock::time_point now);

/// Close reason sent on the wire with code 1008 for an auth failure; short (< 123 bytes), stable,
/// never includes request data: "missing token", "invalid token" (malformed, bad signature,
/// unknown key, forbidden header, algorithm not allowed, no user claim), "token expired",
/// "token not yet valid", "invalid issuer", "invalid audience", "client_id mismatch".
/// Any other code gives "unauthorized".
std::string_view close_reason(boost::system::error_code ec);

/// Metric label for wsgate_auth_failures_total{reason=...}: "missing", "malformed", "signature",
/// "algorithm", "unknown_key", "forbidden_header", "expired", "not_yet_valid", "issuer",
/// "audience", "no_user", "mismatch"; "other" for anything else.
std::string_view metric_reason(boost::system::error_code ec);

}  // namespace wsgate::auth
