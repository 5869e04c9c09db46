// Request-target parsing for the gateway's few endpoints. Pure, no I/O, and the only code
// that looks inside the query string: the token is extracted here and nothing else keeps
// the raw target, so it cannot reach a log by accident.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace wsgate {

enum class route_kind : std::uint8_t { status, healthz, readyz, metrics, not_found, bad_target };

struct route {
    route_kind kind = route_kind::not_found;
    std::string client_id;  // percent-decoded path segment (status route only)
    std::string token;      // percent-decoded `token` query parameter, empty if absent
    friend bool operator==(const route&, const route&) = default;
};

/// Longest client_id accepted; longer ones are a bad target (400).
inline constexpr std::size_t max_client_id_bytes = 256;

/// Parses an origin-form request target such as "/ws/v1/status/alice?token=abc".
/// `/ws/v1/status/{client_id}` (one non-empty segment) is the status route; `/healthz`,
/// `/readyz` and `/metrics` are the operator endpoints; other well-formed paths are
/// not_found; targets that are not origin-form, or a client_id that is too long, are
/// bad_target. The first `token` parameter wins.
route parse_route(std::string_view target);

/// The token of an `Authorization: Bearer <token>` header value (scheme case-insensitive),
/// or an empty view.
std::string_view bearer_token(std::string_view authorization) noexcept;

}  // namespace wsgate
