// The Origin allow-list against cross-site WebSocket hijacking: a page on another site can
// open a WebSocket to the gateway with the user's cookies, but its Origin header names it.
// Pure; built once from configuration.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace wsgate {

/// Which `Origin` values may open a WebSocket. Patterns: "*" (any), an exact origin
/// "https://app.example.com" or "http://localhost:3000", or a subdomain pattern
/// "https://*.example.com" (one or more labels under example.com, never example.com itself).
/// Scheme and host compare case-insensitively; a port must match exactly (an origin with the
/// scheme's default port carries none). An empty policy allows everything.
class origin_policy {
public:
    origin_policy() = default;
    /// Throws std::invalid_argument naming the first pattern that is not one of the forms.
    explicit origin_policy(const std::vector<std::string>& patterns);

    bool empty() const noexcept { return !any_ && exact_.empty() && suffix_.empty(); }

    /// Whether a request with this `Origin` header value may upgrade. A request with no
    /// Origin header comes from a non-browser client, which cross-site hijacking does not
    /// concern: callers pass it as allowed without asking. "null" only matches "*".
    bool allows(std::string_view origin) const;

private:
    struct suffix_pattern {
        std::string scheme;  // "https://"
        std::string tail;    // ".example.com" or ".example.com:8443"
    };
    bool any_ = false;
    std::vector<std::string> exact_;
    std::vector<suffix_pattern> suffix_;
};

}  // namespace wsgate
