// The publishing side of the channel contract: backends (and the wsgate-publish CLI) send a
// user's notification to every gateway shard subscribed to it. Synchronous, over hiredis's
// blocking client; one publisher per thread.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "redis/redis_url.hpp"

struct redisContext;  // hiredis; kept out of this header

namespace wsgate {

/// Where notifications go: one Redis (PUBLISH), or a Redis Cluster (SPUBLISH on the master
/// that owns the channel's slot, as the gateway's --redis-mode cluster expects).
enum class publish_mode { single, cluster };

/// Parses "single" or "cluster" (--redis-mode, WSGATE_REDIS_MODE); nothing otherwise.
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
    explicit publisher(std::string_view redis_url,
                       std::chrono::milliseconds timeout = std::chrono::seconds(5));
    /// Cluster mode takes seed nodes as a comma-separated list ("redis://h1:p1,redis://h2:p2",
    /// one scheme and one set of credentials, see redis::parse_redis_url_list). The slot map
    /// is read (CLUSTER SHARDS, else CLUSTER SLOTS) on the first publish, cached, and read
    /// again after MOVED or a connection failure. A list in single mode is an error.
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
    long long publish_user_notification(std::string_view user_id, std::string_view payload);

    publish_mode mode() const noexcept {
        return cluster_ ? publish_mode::cluster : publish_mode::single;
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

    redis::redis_endpoint endpoint_;
    std::string server_;  // redacted_url(endpoint_)
    std::chrono::milliseconds timeout_;
    context_ptr context_;  // null until connected, and after an I/O error
    struct cluster_state;  // cluster mode only: seeds, slot map, one connection per master
    std::unique_ptr<cluster_state> cluster_;
};

}  // namespace wsgate
