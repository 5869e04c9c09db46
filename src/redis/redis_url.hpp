// Redis connection URLs (redis://, rediss://) as used by the gateway config and the
// publisher. Pure parsing, no I/O; the password lives only in redis_endpoint, never in
// anything meant for logs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

namespace wsgate::redis {

/// Where and how to connect to one Redis server.
struct redis_endpoint {
    std::string host;  // a name or an IP literal; IPv6 without brackets ("::1")
    std::uint16_t port = 6379;
    std::string username;  // empty: AUTH with the password only (the `default` user)
    std::string password;  // empty: no AUTH, unless a username is given
    int db = 0;            // SELECTed on connect; 0 is Redis's default, so no SELECT needed
    bool tls = false;      // rediss://

    friend bool operator==(const redis_endpoint&, const redis_endpoint&) = default;
};

/// Parses redis://[[user]:password@]host[:port][/db] and rediss:// (tls = true). IPv6
/// hosts in brackets. Percent-decodes user and password. The scheme is case-insensitive
/// and an empty port means 6379 (RFC 3986, 3.2.3). Fails with errc::invalid_url on a bad
/// scheme, empty host, port 0 or > 65535, a db that is not a non-negative int, a query or
/// fragment, or a userinfo without ':' (which redis-py reads as a user and other clients
/// as a password, so we refuse to guess).
result<redis_endpoint> parse_redis_url(std::string_view url);

/// A comma-separated list of URLs, the seed nodes of a Redis Cluster:
/// "redis://h1:p1,redis://h2:p2". Every entry follows parse_redis_url; all must share the
/// scheme (TLS is a property of the deployment, not of one node) and the same credentials
/// and db, because the nodes found later through CLUSTER SHARDS are reached with them. An
/// entry without credentials inherits the others'. Empty entries, a mixed scheme or
/// differing credentials fail with errc::invalid_url.
result<std::vector<redis_endpoint>> parse_redis_url_list(std::string_view list);

/// "redis://host:port/db" (or rediss://) with the credentials removed, safe for logs.
std::string redacted_url(const redis_endpoint& endpoint);

}  // namespace wsgate::redis
