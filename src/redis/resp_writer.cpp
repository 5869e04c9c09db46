// A direct RESP encoder. We do not use hiredis's redisFormatCommandArgv: it needs parallel
// const char*/size_t arrays built first and returns a malloc'd copy we would copy again, per
// command; a SUBSCRIBE with 1000 channels is then three allocations and two copies instead
// of one reserve() into the caller's buffer. The unit tests check byte equality with it.
#include "redis/resp_writer.hpp"

#include <algorithm>
#include <array>
#include <charconv>

namespace wsgate::redis {
namespace {

constexpr std::size_t max_digits = 20;  // std::size_t in decimal

void append_header(std::string& out, char type, std::size_t n) {
    std::array<char, max_digits> digits;
    auto [end, ec] = std::to_chars(digits.data(), digits.data() + digits.size(), n);
    (void)ec;  // 20 digits always suffice for a size_t
    out += type;
    out.append(digits.data(), end);
    out += "\r\n";
}

}  // namespace

void append_command(std::string& out, std::span<const std::string_view> args) {
    if (args.empty()) return;
    // Upper bound of the encoded size, so the buffer grows at most once per command.
    std::size_t size = 1 + max_digits + 2;
    for (auto arg : args) size += 1 + max_digits + 2 + arg.size() + 2;
    // Grow geometrically ourselves: reserve() to the exact size on every call would make a
    // caller appending many commands to one buffer quadratic on some standard libraries.
    if (out.capacity() - out.size() < size)
        out.reserve(std::max(out.size() + size, 2 * out.capacity()));

    append_header(out, '*', args.size());
    for (auto arg : args) {
        append_header(out, '$', arg.size());
        out.append(arg);
        out += "\r\n";
    }
}

void append_command(std::string& out, std::initializer_list<std::string_view> args) {
    append_command(out, std::span<const std::string_view>(args.begin(), args.size()));
}

}  // namespace wsgate::redis
