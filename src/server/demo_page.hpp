// The demo page of `wsgate --demo`: HTML, CSS and JavaScript compiled into the binary, no
// external assets. Served by http_session at `/`, `/demo/app.css` and `/demo/app.js`.
#pragma once

#include <string>
#include <string_view>

namespace wsgate {

/// The page at `/`, for the access key `key`, which must be base64url (demo_credentials
/// makes sure): it goes in unescaped. The page loads only demo/app.css?key=KEY and
/// demo/app.js?key=KEY, so it runs under demo_page_csp without 'unsafe-inline', and gives the
/// key to the script in `<meta name="wsgate-demo-key" content="KEY">`; the script sends it
/// as the X-Wsgate-Demo-Key header to /demo/token and /demo/publish. No cookie holds it.
std::string demo_page_html(std::string_view key);
std::string_view demo_page_style() noexcept;
std::string_view demo_page_script() noexcept;

/// Content-Security-Policy for the page: its own script and style, fetch and WebSocket to
/// its own origin, nothing else.
inline constexpr std::string_view demo_page_csp =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self' ws: wss:; "
    "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

}  // namespace wsgate
