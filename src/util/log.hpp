// One line per event on stderr, as text or JSON, filtered by level. Callers pass
// structured fields; nothing here ever sees a token or a request target, by convention of
// the callers (see http_session). Thread-safe: a line is written with one write(2).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

namespace wsgate::log {

enum class level : std::uint8_t { debug, info, warn, error };
enum class format : std::uint8_t { text, json };

/// A key/value pair attached to a log line. Values are strings or integers.
struct field {
    field(std::string_view k, std::string_view v) : key(k), value(v) {}
    field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
    field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
    template <class Int>
    requires std::is_integral_v<Int> field(std::string_view k, Int v)
        : key(k), value(static_cast<long long>(v)) {}

    std::string_view key;
    std::variant<std::string_view, long long> value;
};

/// Sets the process-wide format and minimum level. Call once at start, before threads.
void configure(format f, level min);

bool enabled(level l) noexcept;

/// Writes one line: time, level, event name, fields.
void write(level l, std::string_view event, std::initializer_list<field> fields = {});

inline void debug(std::string_view e, std::initializer_list<field> f = {}) {
    if (enabled(level::debug)) write(level::debug, e, f);
}
inline void info(std::string_view e, std::initializer_list<field> f = {}) {
    if (enabled(level::info)) write(level::info, e, f);
}
inline void warn(std::string_view e, std::initializer_list<field> f = {}) {
    if (enabled(level::warn)) write(level::warn, e, f);
}
inline void error(std::string_view e, std::initializer_list<field> f = {}) {
    if (enabled(level::error)) write(level::error, e, f);
}

/// Renders one line without writing it (for tests).
std::string render(format f, level l, std::string_view event, std::initializer_list<field> fields);

}  // namespace wsgate::log
