// The demo page of `wsgate --demo`: HTML, CSS and JavaScript compiled into the binary, no
// external assets. Served by http_session at `/`, `/demo/app.css` and `/demo/app.js`.
#pragma once

#include <string_view>

namespace wsgate {

/// The page at `/`. It loads only /demo/app.css and /demo/app.js, so it runs under
/// demo_page_csp without 'unsafe-inline'.
std::string_view demo_page_html() noexcept;
std::string_view demo_page_style() noexcept;
std::string_view demo_page_script() noexcept;

/// Content-Security-Policy for the page: its own script and style, fetch and WebSocket to
/// its own origin, nothing else.
inline constexpr std::string_view demo_page_csp =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self' ws: wss:; "
    "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

}  // namespace wsgate
