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

/// A Redis deployment watched by Sentinel:
/// redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/mastername[/db].
/// The hosts are sentinels (port 26379 when omitted); the credentials and db are the
/// master's (the data node's), because those are what every client must hold anyway.
/// Sentinels are asked without AUTH.
struct sentinel_url {
    std::vector<redis_endpoint> sentinels;  // host and port only
    std::string master_name;                // as configured in `sentinel monitor`
    redis_endpoint master;                  // credentials and db; host and port are resolved
};

/// True when `url` starts with the redis+sentinel:// scheme (case-insensitive), so the
/// caller knows which parser's error to report.
bool is_sentinel_url(std::string_view url);

/// Parses the form above. Fails with errc::invalid_url on another scheme (TLS to
/// sentinels, rediss+sentinel://, is not supported), an empty host list or entry, a bad
/// port, a missing or empty master name, a master name with '%', '?', '#' or a control
/// character, a db that is not a non-negative int, or a userinfo without ':'.
result<sentinel_url> parse_sentinel_url(std::string_view url);

/// "redis+sentinel://h1:p1,h2:p2/mastername/db", without credentials, for logs.
std::string redacted_url(const sentinel_url& url);

}  // namespace wsgate::redis
