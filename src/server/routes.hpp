// Request-target parsing for the gateway's few endpoints. Pure, no I/O, and the only code
// that looks inside the query string: the token is extracted here and nothing else keeps
// the raw target, so it cannot reach a log by accident.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace wsgate {

enum class route_kind : std::uint8_t {
    status,
    healthz,
    readyz,
    metrics,
    // --demo only (http_session answers them as not_found otherwise):
    demo_page,     // GET /
    demo_script,   // GET /demo/app.js
    demo_style,    // GET /demo/app.css
    demo_token,    // GET /demo/token?user=ID
    demo_publish,  // POST /demo/publish?user=ID&payload=TEXT
    not_found,
    bad_target,
};

struct route {
    route_kind kind = route_kind::not_found;
    std::string client_id;  // percent-decoded path segment (status route only)
    std::string token;      // percent-decoded `token` query parameter, empty if absent
    std::string user;       // percent-decoded `user` parameter (demo_token, demo_publish)
    std::string payload;    // percent-decoded `payload` parameter (demo_publish)
    std::string key;        // percent-decoded `key` parameter (demo page, script, style only)
    friend bool operator==(const route&, const route&) = default;
};

/// Longest client_id accepted; longer ones are a bad target (400).
inline constexpr std::size_t max_client_id_bytes = 256;
/// Longest test notification /demo/publish accepts (400 beyond).
inline constexpr std::size_t max_demo_payload_bytes = 4096;

/// Parses an origin-form request target such as "/ws/v1/status/alice?token=abc".
/// `/ws/v1/status/{client_id}` (one non-empty segment) is the status route; `/healthz`,
/// `/readyz` and `/metrics` are the operator endpoints; other well-formed paths are
/// not_found; targets that are not origin-form, or a client_id that is too long, are
/// bad_target. The first `token` parameter wins. `/`, `/demo/app.js`, `/demo/app.css`,
/// `/demo/token` and `/demo/publish` are the demo routes, whatever the gateway's mode; the
/// first `user` and `payload` parameters are kept for the last two, unchecked (see
/// demo_request_problem), and the first `key` for the page and its two assets (the other two
/// take the access key in a header only).
route parse_route(std::string_view target);

/// Why a demo_token or demo_publish route cannot be served (a 400 answer's message), or an
/// empty view when it can: the user id must be present and at most auth::max_user_id_bytes
/// long, and a publish needs a non-empty `payload` of at most max_demo_payload_bytes.
std::string_view demo_request_problem(const route& r) noexcept;

/// The token of an `Authorization: Bearer <token>` header value (scheme case-insensitive),
/// or an empty view.
std::string_view bearer_token(std::string_view authorization) noexcept;

}  // namespace wsgate
