// The publishing side of the channel contract: backends (and the wsgate-publish CLI) send a
// user's notification to every gateway shard subscribed to it. Synchronous, over hiredis's
// blocking client; one publisher per thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "redis/redis_url.hpp"

struct redisContext;  // hiredis; kept out of this header

namespace wsgate {

/// One Redis connection for publishing; not thread-safe (one per thread). Connects lazily
/// on the first publish and reconnects once on a broken connection.
class publisher {
public:
    /// Validates the URL; does no I/O, so constructing one at startup cannot fail because
    /// Redis is briefly down. `timeout` bounds the connect and each command's reply.
    /// Throws std::runtime_error for an invalid URL (the message never includes the URL, which
    /// may carry a password) and for rediss://, which is not supported yet.
    explicit publisher(std::string_view redis_url,
                       std::chrono::milliseconds timeout = std::chrono::seconds(5));
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
    long long publish_user_notification(std::string_view user_id, std::string_view payload);

    /// The server, without credentials, for log lines.
    const std::string& server() const noexcept { return server_; }

private:
    struct context_deleter {
        void operator()(redisContext* c) const noexcept;
    };
    using context_ptr = std::unique_ptr<redisContext, context_deleter>;

    void connect();

    redis::redis_endpoint endpoint_;
    std::string server_;  // redacted_url(endpoint_)
    std::chrono::milliseconds timeout_;
    context_ptr context_;  // null until connected, and after an I/O error
};

}  // namespace wsgate
