// Fuzzes parse_redis_url() and redacted_url().
//
// Input: a URL, e.g. "redis://user:pass@127.0.0.1:6380/2".
//
// Invariants: an accepted URL has a non-empty host without spaces or control bytes, a port
// in 1..65535 and a non-negative db; the scheme decides tls; credentials only come from a
// userinfo; the redacted form never shows them and, for ordinary host names and IP
// literals, parses back to the same host, port, db and tls.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.hpp"
#include "redis/redis_url.hpp"

namespace {

using namespace wsgate;

bool istarts_with(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != prefix[i]) return false;
    }
    return true;
}

// Host names made of letters, digits, '-' and '.', or IPv6 literals: what redacted_url()
// can print without brackets or escapes (other bytes may be percent-decoded from the URL).
bool plain_host(std::string_view host, std::string_view url) {
    bool colon = false;
    for (unsigned char c : host) {
        if (c == ':') {
            colon = true;
        } else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '.')) {
            return false;
        }
    }
    if (!colon) return true;
    // A ':' may also be percent-decoded from a reg-name; only a bracketed literal counts.
    if (url.find('[') == url.npos || url.find('%') != url.npos) return false;
    for (unsigned char c : host)
        if (!((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') ||
              c == ':' || c == '.'))
            return false;
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view url = fuzz::as_text(data, size);
    auto parsed = redis::parse_redis_url(url);
    if (!parsed) {
        FUZZ_CHECK(parsed.error() == errc::invalid_url);
        return 0;
    }
    const redis::redis_endpoint& ep = *parsed;
    FUZZ_CHECK(!ep.host.empty());
    for (unsigned char c : ep.host) FUZZ_CHECK(c > ' ' && c != 0x7f);
    FUZZ_CHECK(ep.port >= 1);
    FUZZ_CHECK(ep.db >= 0);
    FUZZ_CHECK(ep.tls == istarts_with(url, "rediss:"));
    FUZZ_CHECK(ep.tls || istarts_with(url, "redis:"));
    if (url.find('@') == url.npos) FUZZ_CHECK(ep.username.empty() && ep.password.empty());

    const std::string redacted = redis::redacted_url(ep);
    FUZZ_CHECK(redacted.find('@') == redacted.npos || ep.host.find('@') != ep.host.npos);
    if (plain_host(ep.host, url)) {
        auto again = redis::parse_redis_url(redacted);
        FUZZ_CHECK(again.has_value());
        FUZZ_CHECK(again->host == ep.host);
        FUZZ_CHECK(again->port == ep.port);
        FUZZ_CHECK(again->db == ep.db);
        FUZZ_CHECK(again->tls == ep.tls);
        FUZZ_CHECK(again->username.empty() && again->password.empty());
    }
    return 0;
}
