// Invariant checks for the libFuzzer targets: a failed check prints what failed and aborts,
// which libFuzzer reports as a crash and saves the input as crash-<sha1>.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace wsgate::fuzz {

[[noreturn]] inline void check_failed(const char* what, const char* file, int line) {
    std::fprintf(stderr, "\ninvariant violated: %s\n  at %s:%d\n", what, file, line);
    std::abort();
}

/// The input as text.
inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

/// Whether `part` lies entirely inside `whole` (a view into it, not a copy).
inline bool is_inside(std::string_view part, std::string_view whole) {
    return part.empty() || (part.data() >= whole.data() &&
                            part.data() + part.size() <= whole.data() + whole.size());
}

}  // namespace wsgate::fuzz

#define FUZZ_CHECK(cond) \
    ((cond) ? static_cast<void>(0) : ::wsgate::fuzz::check_failed(#cond, __FILE__, __LINE__))
