// The back end of `wsgate --demo`: who may use the demo endpoints, the tokens /demo/token
// mints, and the publisher behind /demo/publish. Nothing here exists unless --demo is on;
// the page itself is in demo_page.hpp.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "auth/jwt_options.hpp"
#include "publisher/publisher.hpp"
#include "redis/redis_url.hpp"

namespace wsgate {

namespace auth {
class jwt_verifier;
}

/// The demo endpoints' access rule: the peer is on this host (127.0.0.0/8, ::1, or an IPv4
/// loopback address mapped into IPv6). Behind a proxy on the same host every client
/// passes, so requests marked as forwarded are refused too (http_session), and a --demo
/// gateway must never be exposed through one.
bool is_loopback_peer(const boost::asio::ip::address& peer) noexcept;

/// The second half of the rule, against other web sites open in a browser on this host:
/// `host` (the Host header) must name a loopback address ("localhost", 127.0.0.0/8 or
/// [::1], any port), which defeats DNS rebinding, and `origin` (the Origin header, empty
/// when absent) must be empty or that same host over http or https, which stops a foreign
/// page from publishing (a cross-site POST carries its own Origin).
bool demo_request_same_host(std::string_view host, std::string_view origin) noexcept;

/// Lifetime of the tokens /demo/token mints.
inline constexpr std::chrono::seconds demo_token_ttl{3600};

/// An HS256 token for `user_id` that the gateway's own verifier accepts: the configured
/// user claim, iat, exp = now + demo_token_ttl, and the configured issuer and first audience
/// when those are required. Empty when the gateway has no shared secret or does not accept
/// HS256. The secret file, when one is configured, is read again so a rotated secret is
/// used at once.
std::optional<std::string> mint_demo_token(
    const auth::jwt_options& options, const auth::jwt_verifier& verifier, std::string_view user_id,
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

/// Bodies of the demo endpoints' JSON answers: {"token": ..., "expires_in": 3600},
/// {"receivers": n} and {"error": message}.
std::string demo_token_json(std::string_view token);
std::string demo_receivers_json(long long receivers);
std::string demo_error_json(std::string_view message);

/// `endpoint` as a redis:// URL that parse_redis_url() reads back into the same endpoint,
/// credentials included (for the publisher; never log it).
std::string redis_url_for(const redis::redis_endpoint& endpoint);

/// /demo/publish's publisher: one wsgate::publisher (blocking hiredis) on one worker thread
/// of its own, so no shard's event loop ever waits on Redis. Created by the gateway only in
/// demo mode with a plain redis:// URL; shared by every shard.
class demo_publisher {
public:
    /// The outcome of one publish: the receiver count, or a message for the client.
    struct result {
        std::optional<long long> receivers;
        std::string error;
    };
    using handler = std::function<void(result)>;

    /// Publishes whose results have not been handed back yet, at most; more are refused.
    static constexpr int max_pending = 64;

    /// Throws std::runtime_error for an endpoint the publisher cannot use (rediss://).
    demo_publisher(const redis::redis_endpoint& endpoint, std::chrono::milliseconds timeout);
    /// Waits for the publish in progress (bounded by the timeout) and drops queued ones.
    ~demo_publisher();
    demo_publisher(const demo_publisher&) = delete;
    demo_publisher& operator=(const demo_publisher&) = delete;

    /// Queues PUBLISH ws:{user_id} payload on the worker and calls `done` through
    /// `reply_to` with the result, keeping that executor's loop running until then.
    /// Returns false, without queueing or calling `done`, when max_pending are in flight.
    bool publish(std::string user_id, std::string payload, boost::asio::any_io_executor reply_to,
                 handler done);

private:
    publisher publisher_;  // worker thread only
    std::atomic<int> pending_{0};
    boost::asio::thread_pool worker_{1};  // last: joined before publisher_ goes
};

}  // namespace wsgate
