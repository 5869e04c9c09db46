// Parsing of redis:// and rediss:// URLs on top of Boost.URL's RFC 3986 grammar; this file
// adds only the Redis-specific rules (scheme, port range, db path, no query).
#include "redis/redis_url.hpp"

#include <algorithm>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <cctype>
#include <charconv>
#include <limits>

namespace wsgate::redis {
namespace {

bool iequals(std::string_view a, std::string_view b) {
    return std::ranges::equal(
        a, b, [](unsigned char x, unsigned char y) { return std::tolower(x) == std::tolower(y); });
}

bool all_digits(std::string_view s) {
    return !s.empty() &&
           std::ranges::all_of(s, [](unsigned char c) { return c >= '0' && c <= '9'; });
}

// Parses a run of decimal digits into [min, max]; anything else (sign, overflow) fails.
template <class Int>
bool parse_in_range(std::string_view s, Int min, Int max, Int& out) {
    if (!all_digits(s)) return false;
    unsigned long long value = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc{} || end != s.data() + s.size()) return false;
    if (value < static_cast<unsigned long long>(min) ||
        value > static_cast<unsigned long long>(max))
        return false;
    out = static_cast<Int>(value);
    return true;
}

}  // namespace

result<redis_endpoint> parse_redis_url(std::string_view url) {
    const auto invalid = make_error_code(errc::invalid_url);
    auto parsed = boost::urls::parse_uri(url);
    if (!parsed) return invalid;
    const boost::urls::url_view& u = *parsed;

    redis_endpoint ep;
    if (iequals(u.scheme(), "redis")) {
        ep.tls = false;
    } else if (iequals(u.scheme(), "rediss")) {
        ep.tls = true;
    } else {
        return invalid;
    }
    if (!u.has_authority() || u.has_query() || u.has_fragment()) return invalid;

    if (u.has_userinfo()) {
        if (!u.has_password()) return invalid;
        ep.username = u.user();
        ep.password = u.password();
    }

    switch (u.host_type()) {
        case boost::urls::host_type::name:
        case boost::urls::host_type::ipv4:
        case boost::urls::host_type::ipv6:
            ep.host = u.host_address();
            break;  // no brackets
        default:
            return invalid;  // none, or an IPvFuture literal nobody resolves
    }
    // A percent-decoded name could smuggle in a NUL or spaces that getaddrinfo would
    // truncate or reject later with a worse message.
    if (ep.host.empty() ||
        std::ranges::any_of(ep.host, [](unsigned char c) { return c <= ' ' || c == 0x7f; }))
        return invalid;

    if (u.has_port() && !u.port().empty()) {
        if (!parse_in_range<std::uint16_t>(u.port(), 1, 65535, ep.port)) return invalid;
    }

    // The path is empty, "/" or "/<db>"; taken encoded so "/%31" is not a db number.
    std::string_view path = u.encoded_path();
    if (!path.empty()) {
        if (path.front() != '/') return invalid;
        path.remove_prefix(1);
        if (!path.empty() && !parse_in_range<int>(path, 0, std::numeric_limits<int>::max(), ep.db))
            return invalid;
    }
    return ep;
}

result<std::vector<redis_endpoint>> parse_redis_url_list(std::string_view list) {
    const auto invalid = make_error_code(errc::invalid_url);
    std::vector<redis_endpoint> out;
    for (;;) {
        const auto comma = list.find(',');
        auto ep = parse_redis_url(list.substr(0, comma));
        if (!ep) return ep.error();
        out.push_back(std::move(*ep));
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
    // One set of credentials for the whole list: the first entry that has some.
    redis_endpoint creds = out.front();
    for (const auto& ep : out)
        if (!ep.password.empty()) {
            creds = ep;
            break;
        }
    for (auto& ep : out) {
        if (ep.tls != creds.tls || ep.db != creds.db) return invalid;
        if (!ep.password.empty() &&
            (ep.username != creds.username || ep.password != creds.password))
            return invalid;
        ep.username = creds.username;
        ep.password = creds.password;
    }
    return out;
}

std::string redacted_url(const redis_endpoint& endpoint) {
    std::string out = endpoint.tls ? "rediss://" : "redis://";
    // Only an IPv6 literal contains ':'; it needs its brackets back to stay a valid URL.
    const bool ipv6 = endpoint.host.find(':') != std::string::npos;
    if (ipv6) out += '[';
    out += endpoint.host;
    if (ipv6) out += ']';
    out += ':';
    out += std::to_string(endpoint.port);
    out += '/';
    out += std::to_string(endpoint.db);
    return out;
}

namespace {
constexpr std::string_view sentinel_scheme = "redis+sentinel://";
}  // namespace

bool is_sentinel_url(std::string_view url) {
    return url.size() >= sentinel_scheme.size() &&
           iequals(url.substr(0, sentinel_scheme.size()), sentinel_scheme);
}

result<sentinel_url> parse_sentinel_url(std::string_view url) {
    const auto invalid = make_error_code(errc::invalid_url);
    if (!is_sentinel_url(url)) return invalid;
    std::string_view rest = url.substr(sentinel_scheme.size());
    const auto slash = rest.find('/');
    if (slash == std::string_view::npos) return invalid;  // the master name is required
    std::string_view authority = rest.substr(0, slash);
    std::string_view path = rest.substr(slash + 1);

    sentinel_url out;
    // Userinfo: everything up to the last '@' of the authority (a password may hold '@'
    // only percent-encoded, but be lenient like the RFC 3986 parser is about the split).
    std::string_view hosts = authority;
    if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
        // Reuse the single-URL parser for the percent-decoding and the ':' rule.
        auto creds = parse_redis_url("redis://" + std::string(authority.substr(0, at + 1)) + "x");
        if (!creds) return invalid;
        out.master.username = creds->username;
        out.master.password = creds->password;
        hosts = authority.substr(at + 1);
    }
    for (;;) {
        const auto comma = hosts.find(',');
        const auto entry = hosts.substr(0, comma);
        if (entry.empty() || entry.find('@') != std::string_view::npos) return invalid;
        auto ep = parse_redis_url("redis://" + std::string(entry));
        if (!ep) return invalid;
        redis_endpoint s;
        s.host = ep->host;
        // An empty or absent port is Sentinel's default, not Redis's.
        const auto port_colon = entry.front() == '['
                                    ? entry.find("]:") + (entry.find("]:") == entry.npos ? 0 : 1)
                                    : entry.find(':');
        const bool has_port = port_colon != std::string_view::npos && port_colon + 1 < entry.size();
        s.port = has_port ? ep->port : 26379;
        out.sentinels.push_back(std::move(s));
        if (comma == std::string_view::npos) break;
        hosts.remove_prefix(comma + 1);
    }

    // Path: mastername[/db].
    const auto db_slash = path.find('/');
    const std::string_view name = path.substr(0, db_slash);
    if (name.empty() || std::ranges::any_of(name, [](unsigned char c) {
            return c <= ' ' || c == 0x7f || c == '%' || c == '?' || c == '#';
        }))
        return invalid;
    out.master_name = name;
    if (db_slash != std::string_view::npos) {
        const auto db = path.substr(db_slash + 1);
        if (!parse_in_range<int>(db, 0, std::numeric_limits<int>::max(), out.master.db))
            return invalid;
    }
    return out;
}

std::string redacted_url(const sentinel_url& url) {
    std::string out(sentinel_scheme);
    for (std::size_t i = 0; i < url.sentinels.size(); ++i) {
        const auto& s = url.sentinels[i];
        if (i) out += ',';
        const bool ipv6 = s.host.find(':') != std::string::npos;
        out += ipv6 ? "[" + s.host + "]" : s.host;
        out += ':';
        out += std::to_string(s.port);
    }
    out += '/';
    out += url.master_name;
    out += '/';
    out += std::to_string(url.master.db);
    return out;
}

}  // namespace wsgate::redis
