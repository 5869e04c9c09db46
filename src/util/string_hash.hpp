// A transparent hash for maps keyed by std::string, so that lookups by std::string_view
// (a channel name read from a Redis reply, a user id from a token) need no temporary string.
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>

namespace wsgate {

/// Hashes std::string, std::string_view and const char* alike; pair with std::equal_to<>.
struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};

}  // namespace wsgate
