// Encoding of Redis commands as RESP multibulk requests, appended to a caller-owned buffer
// (the subscriber's pending-write string). Pure; any thread.
#pragma once

#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

namespace wsgate::redis {

/// Appends `*<n>\r\n` then `$<len>\r\n<arg>\r\n` for each argument. Arguments are
/// binary-safe. An empty `args` appends nothing (Redis would ignore `*0`).
void append_command(std::string& out, std::span<const std::string_view> args);

/// Same, for a literal list: append_command(out, {"SUBSCRIBE", channel}).
void append_command(std::string& out, std::initializer_list<std::string_view> args);

}  // namespace wsgate::redis
