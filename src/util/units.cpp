// Duration and size parsing for configuration. Overflow is an error, not a wrap.
#include "util/units.hpp"

#include <charconv>
#include <limits>
#include <utility>

namespace wsgate {
namespace {

// Splits "25ms" into 25 and "ms". Fails on a missing number or on overflow.
result<std::pair<std::uint64_t, std::string_view>> split_number(std::string_view text) {
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end == text.data())
        return boost::system::errc::make_error_code(boost::system::errc::invalid_argument);
    return std::pair{value, text.substr(static_cast<std::size_t>(end - text.data()))};
}

result<std::uint64_t> scale(std::uint64_t value, std::uint64_t factor) {
    if (factor != 0 && value > std::numeric_limits<std::uint64_t>::max() / factor)
        return boost::system::errc::make_error_code(boost::system::errc::value_too_large);
    return value * factor;
}

}  // namespace

result<std::chrono::milliseconds> parse_duration(std::string_view text) {
    auto parts = split_number(text);
    if (!parts) return parts.error();
    auto [value, unit] = *parts;
    std::uint64_t factor = 0;
    if (unit == "ms")
        factor = 1;
    else if (unit.empty() || unit == "s")
        factor = 1000;
    else if (unit == "m")
        factor = 60'000;
    else if (unit == "h")
        factor = 3'600'000;
    else
        return boost::system::errc::make_error_code(boost::system::errc::invalid_argument);
    auto ms = scale(value, factor);
    if (!ms || *ms > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        return boost::system::errc::make_error_code(boost::system::errc::value_too_large);
    return std::chrono::milliseconds(static_cast<std::int64_t>(*ms));
}

result<std::uint64_t> parse_bytes(std::string_view text) {
    auto parts = split_number(text);
    if (!parts) return parts.error();
    auto [value, unit] = *parts;
    static constexpr std::pair<std::string_view, std::uint64_t> units[] = {
        {"", 1},
        {"B", 1},
        {"KiB", 1ull << 10},
        {"MiB", 1ull << 20},
        {"GiB", 1ull << 30},
        {"KB", 1000},
        {"MB", 1'000'000},
        {"GB", 1'000'000'000},
    };
    for (auto [name, factor] : units)
        if (unit == name) return scale(value, factor);
    return boost::system::errc::make_error_code(boost::system::errc::invalid_argument);
}

std::string format_duration(std::chrono::milliseconds d) {
    auto ms = d.count();
    if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
    if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
    if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
    return std::to_string(ms) + "ms";
}

std::string format_bytes(std::uint64_t bytes) {
    if (bytes != 0 && bytes % (1ull << 30) == 0) return std::to_string(bytes >> 30) + "GiB";
    if (bytes != 0 && bytes % (1ull << 20) == 0) return std::to_string(bytes >> 20) + "MiB";
    if (bytes != 0 && bytes % (1ull << 10) == 0) return std::to_string(bytes >> 10) + "KiB";
    return std::to_string(bytes);
}

}  // namespace wsgate
