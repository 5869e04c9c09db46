// The publishing side of the channel contract: backends (and the wsgate-publish CLI) send a
// user's notification to every gateway shard subscribed to it. Synchronous, over hiredis's
// blocking client; one publisher per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "redis/redis_url.hpp"

struct redisContext;  // hiredis; kept out of this header

namespace wsgate {

/// Where notifications go: one Redis (PUBLISH), or a Redis Cluster (SPUBLISH on the master
/// that owns the channel's slot, as the gateway's --redis-mode cluster expects). A
/// redis+sentinel:// URL selects `sentinel` by itself: PUBLISH on the master the sentinels
/// name.
enum class publish_mode { single, cluster, sentinel };

/// Parses "single" or "cluster" (--redis-mode, WSGATE_REDIS_MODE); nothing otherwise
/// ("sentinel" comes from the URL's scheme, not from a mode name).
std::optional<publish_mode> parse_publish_mode(std::string_view text);

/// One Redis connection for publishing (in cluster mode one per master used); not
/// thread-safe (one per thread). Connects lazily on the first publish and reconnects once
/// on a broken connection.
class publisher {
public:
    /// Validates the URL; does no I/O, so constructing one at startup cannot fail because
    /// Redis is briefly down. `timeout` bounds the connect and each command's reply.
    /// Throws std::runtime_error for an invalid URL (the message never includes the URL, which
    /// may carry a password) and for rediss://, which is not supported yet.
    ///
    /// Redis Sentinel: redis+sentinel://[[user]:password@]host:port[,host:port...]/name[/db]
    /// (credentials and db are the master's; sentinels are asked without AUTH). The master
    /// is looked up with SENTINEL get-master-addr-by-name (sentinels in turn) on the first
    /// publish and confirmed with ROLE; a broken connection, a READONLY, UNBLOCKED,
    /// LOADING or MASTERDOWN error looks it up again and retries once. A 0 receivers answer
    /// also asks the sentinels (on a kept connection) whether the master is still the same,
    /// because an old master keeps accepting PUBLISH during and after a failover while no
    /// gateway listens there; if it moved, the PUBLISH is sent once more to the new one.
    explicit publisher(std::string_view redis_url,
                       std::chrono::milliseconds timeout = std::chrono::seconds(5));
    /// Cluster mode takes seed nodes as a comma-separated list ("redis://h1:p1,redis://h2:p2",
    /// one scheme and one set of credentials, see redis::parse_redis_url_list). The slot map
    /// is read (CLUSTER SHARDS, else CLUSTER SLOTS) on the first publish, cached, and read
    /// again after MOVED or a connection failure. A list in single mode is an error.
    /// A redis+sentinel:// URL needs publish_mode::single or ::sentinel.
    publisher(std::string_view redis_url, std::chrono::milliseconds timeout, publish_mode mode);
    ~publisher();
    publisher(publisher&&) noexcept;
    publisher& operator=(publisher&&) noexcept;

    /// PUBLISH ws:{user_id} payload (binary-safe); returns the number of subscribers that took
    /// it: gateway connections, one per gateway shard that has a session of this user, so 0
    /// means nobody is online. Connects (AUTH, SELECT) first if needed. A connection found
    /// broken (closed or reset by the server) is replaced once and the PUBLISH resent; a
    /// timeout is not retried, since Redis may have executed the command. The resend covers
    /// the common case of a server that dropped an idle connection; if instead the server
    /// died after executing the PUBLISH but before answering, subscribers get it twice. Throws
    /// std::invalid_argument for an empty user id and std::runtime_error on any Redis failure;
    /// messages name the server by its redacted URL.
    ///
    /// Cluster mode: SPUBLISH to the owner of the channel's slot; the count is that node's
    /// subscribers (again one per gateway shard with a session of the user). A MOVED reply
    /// re-reads the slot map and retries on the new owner, ASK retries once on the named
    /// node with ASKING, both at most a few times.
    ///
    /// `issuer`: the issuer of the user's tokens when that is not the gateway's primary
    /// issuer (--jwt-issuer); the channel is then `ws@{issuer}:{user_id}` (redis/channel.hpp).
    /// Empty (the default): the primary issuer's `ws:{user_id}`.
    long long publish_user_notification(std::string_view user_id, std::string_view payload,
                                        std::string_view issuer = {});

    publish_mode mode() const noexcept {
        return cluster_    ? publish_mode::cluster
               : sentinel_ ? publish_mode::sentinel
                           : publish_mode::single;
    }

    /// The server, without credentials, for log lines.
    const std::string& server() const noexcept { return server_; }

private:
    struct context_deleter {
        void operator()(redisContext* c) const noexcept;
    };
    using context_ptr = std::unique_ptr<redisContext, context_deleter>;

    void connect();
    context_ptr open(const redis::redis_endpoint& ep) const;
    long long publish_cluster(const std::string& channel, std::string_view payload);
    long long publish_sentinel(const std::string& channel, std::string_view payload);
    void connect_sentinel();
    std::optional<std::pair<std::string, std::uint16_t>> ask_sentinels(std::string& why);

    redis::redis_endpoint endpoint_;
    std::string server_;  // redacted_url(endpoint_)
    std::chrono::milliseconds timeout_;
    context_ptr context_;  // null until connected, and after an I/O error
    struct cluster_state;  // cluster mode only: seeds, slot map, one connection per master
    std::unique_ptr<cluster_state> cluster_;
    // Sentinel mode only: the sentinels and master name, and a kept connection to the one
    // that answered last; endpoint_ is the master last found.
    struct sentinel_state;
    std::unique_ptr<sentinel_state> sentinel_;
};

}  // namespace wsgate
