// Parsing of human-written durations ("25s", "500ms", "1h") and byte sizes ("1MiB",
// "4096") for flags and tools. Pure; the config loader turns failures into messages that
// name the flag.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "util/error.hpp"

namespace wsgate {

/// Parses a non-negative duration: a decimal integer followed by ms, s, m or h. A bare
/// number means seconds. Fails with std::errc::invalid_argument.
result<std::chrono::milliseconds> parse_duration(std::string_view text);

/// Parses a byte count: an integer with an optional B, KiB, MiB, GiB (powers of 1024) or
/// KB, MB, GB (powers of 1000) suffix.
result<std::uint64_t> parse_bytes(std::string_view text);

/// Renders a duration as the shortest exact form parse_duration accepts ("25s", "1500ms").
std::string format_duration(std::chrono::milliseconds d);

/// Renders a byte count as the shortest exact form parse_bytes accepts ("1MiB", "1000").
std::string format_bytes(std::uint64_t bytes);

}  // namespace wsgate
