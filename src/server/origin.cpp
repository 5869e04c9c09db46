// Origin pattern parsing and matching (RFC 6454 serialized origins).
#include "server/origin.hpp"

#include <algorithm>
#include <stdexcept>

namespace wsgate {
namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

bool is_host_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

// "host", "host:port" or "[v6]:port", lower-cased, with nothing else (no path, user info).
bool valid_authority(std::string_view a) {
    if (a.empty()) return false;
    std::string_view host = a, port;
    if (a.front() == '[') {
        auto close = a.find(']');
        if (close == std::string_view::npos) return false;
        host = a.substr(1, close - 1);
        if (host.empty() || !std::all_of(host.begin(), host.end(), [](char c) {
                return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == ':' || c == '.';
            }))
            return false;
        auto rest = a.substr(close + 1);
        if (rest.empty()) return true;
        if (rest.front() != ':') return false;
        port = rest.substr(1);
        if (port.empty()) return false;
    } else {
        auto colon = a.find(':');
        if (colon != std::string_view::npos) {
            host = a.substr(0, colon);
            port = a.substr(colon + 1);
            if (port.empty()) return false;
        }
        if (host.empty() || !std::all_of(host.begin(), host.end(), is_host_char)) return false;
    }
    return port.size() <= 5 &&
           std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Splits "scheme://authority"; empty scheme on failure.
std::pair<std::string_view, std::string_view> split_origin(std::string_view o) {
    auto sep = o.find("://");
    if (sep == std::string_view::npos || sep == 0) return {};
    auto scheme = o.substr(0, sep);
    if (!std::all_of(scheme.begin(), scheme.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' ||
                   c == '.';
        }))
        return {};
    return {o.substr(0, sep + 3), o.substr(sep + 3)};
}

}  // namespace

origin_policy::origin_policy(const std::vector<std::string>& patterns) {
    for (const auto& raw : patterns) {
        auto bad = [&](const char* why) {
            return std::invalid_argument("'" + raw + "' " + why +
                                         " (use *, https://host[:port] or https://*.domain)");
        };
        if (raw == "*") {
            any_ = true;
            continue;
        }
        auto p = lower(raw);
        auto [scheme, authority] = split_origin(p);
        if (scheme.empty()) throw bad("is not an origin");
        if (authority.starts_with("*.")) {
            auto rest = authority.substr(1);  // ".example.com[:port]"
            if (!valid_authority(rest.substr(1)) || rest.substr(1).front() == '.')
                throw bad("is not an origin pattern");
            suffix_.push_back({std::string(scheme), std::string(rest)});
            continue;
        }
        if (!valid_authority(authority)) throw bad("is not an origin");
        exact_.push_back(p);
    }
}

bool origin_policy::allows(std::string_view origin) const {
    if (any_ || empty()) return true;
    if (origin.size() > 512) return false;
    auto o = lower(origin);
    if (std::find(exact_.begin(), exact_.end(), o) != exact_.end()) return true;
    auto [scheme, authority] = split_origin(o);
    if (scheme.empty()) return false;
    for (const auto& s : suffix_) {
        if (scheme != s.scheme || authority.size() <= s.tail.size() || !authority.ends_with(s.tail))
            continue;
        // The labels in place of '*': host characters only, so neither user info
        // ("evil.com@") nor a port can be smuggled in front of the allowed domain.
        auto head = authority.substr(0, authority.size() - s.tail.size());
        if (head.front() != '.' && head.back() != '.' &&
            std::all_of(head.begin(), head.end(), is_host_char))
            return true;
    }
    return false;
}

}  // namespace wsgate
