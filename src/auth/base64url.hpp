// Base64url without padding (RFC 4648 §5, as JWS uses it, RFC 7515 §2). Pure functions,
// safe from any thread. Decoding is strict so a token has exactly one textual form.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace wsgate::auth {

/// Encodes `bytes` with the URL-safe alphabet and no '=' padding.
std::string base64url_encode(std::string_view bytes);

/// Decodes unpadded base64url. Returns nullopt on '=' padding, any character outside
/// [A-Za-z0-9_-] (including whitespace), a length of 1 mod 4 (no byte count encodes to
/// that), or non-zero unused bits in the last character: RFC 4648 §3.5 lets decoders reject
/// those, and we do, so that a signature cannot be re-spelt without being re-signed.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace wsgate::auth
