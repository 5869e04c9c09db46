// Log line rendering. JSON escaping comes from Boost.JSON; text values that contain spaces,
// quotes or control characters are quoted and escaped the same way so a line stays a line.
#include "util/log.hpp"

#include <unistd.h>

#include <atomic>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace wsgate::log {
namespace {

std::atomic<format> g_format{format::text};
std::atomic<level> g_level{level::info};

std::string_view level_name(level l) {
    switch (l) {
        case level::debug:
            return "debug";
        case level::info:
            return "info";
        case level::warn:
            return "warn";
        case level::error:
            return "error";
    }
    return "info";
}

std::string quoted(std::string_view s) { return boost::json::serialize(boost::json::string(s)); }

bool needs_quotes(std::string_view s) {
    if (s.empty()) return true;
    for (unsigned char c : s)
        if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f) return true;
    return false;
}

std::string timestamp() {
    auto now = std::chrono::system_clock::now();
    auto t = std::chrono::system_clock::to_time_t(now);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms.count()));
    return buf;
}

}  // namespace

void configure(format f, level min) {
    g_format.store(f, std::memory_order_relaxed);
    g_level.store(min, std::memory_order_relaxed);
}

bool enabled(level l) noexcept { return l >= g_level.load(std::memory_order_relaxed); }

std::string render(format f, level l, std::string_view event, std::initializer_list<field> fields) {
    std::string line;
    line.reserve(128);
    if (f == format::json) {
        line.append("{\"ts\":\"").append(timestamp()).append("\",\"level\":\"");
        line.append(level_name(l)).append("\",\"event\":").append(quoted(event));
        for (const auto& fl : fields) {
            line.append(",").append(quoted(fl.key)).append(":");
            if (auto* s = std::get_if<std::string_view>(&fl.value))
                line += quoted(*s);
            else
                line += std::to_string(std::get<long long>(fl.value));
        }
        line += "}\n";
    } else {
        line.append(timestamp()).append(" ").append(level_name(l)).append(" ").append(event);
        for (const auto& fl : fields) {
            line += " ";
            line += fl.key;
            line += "=";
            if (auto* s = std::get_if<std::string_view>(&fl.value))
                line += needs_quotes(*s) ? quoted(*s) : std::string(*s);
            else
                line += std::to_string(std::get<long long>(fl.value));
        }
        line += "\n";
    }
    return line;
}

void write(level l, std::string_view event, std::initializer_list<field> fields) {
    auto line = render(g_format.load(std::memory_order_relaxed), l, event, fields);
    // One write(2) per line keeps lines from different shards whole.
    auto rc = ::write(STDERR_FILENO, line.data(), line.size());
    (void)rc;
}

}  // namespace wsgate::log
