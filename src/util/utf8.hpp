// UTF-8 validation for outgoing text frames: RFC 6455 forbids invalid UTF-8 in a text
// message, and browsers fail the connection (1007) when they receive it.
#pragma once

#include <string_view>

namespace wsgate {

/// True when `bytes` is well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, ≤ U+10FFFF).
bool is_valid_utf8(std::string_view bytes) noexcept;

}  // namespace wsgate
