// The back end of `wsgate --demo`: who may use the demo endpoints (loopback, no forwarder,
// the access key), the demo tokens /demo/token mints and the upgrade accepts, and the
// publisher behind /demo/publish. Nothing here exists unless --demo is on; the page itself
// is in demo_page.hpp.
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "auth/jwt_verifier.hpp"
#include "publisher/publisher.hpp"
#include "redis/redis_url.hpp"
#include "util/error.hpp"

namespace wsgate {

/// The demo endpoints' first rule: the peer is on this host (127.0.0.0/8, ::1, or an IPv4
/// loopback address mapped into IPv6). Behind a forwarder on the same host every client
/// passes, so the access key (demo_credentials) is what actually keeps others out; requests
/// marked as forwarded are refused too (demo_forwarded_headers).
bool is_loopback_peer(const boost::asio::ip::address& peer) noexcept;

/// Request headers that mark a request as relayed by a proxy or CDN. A demo endpoint refuses
/// any request carrying one. Best effort only: a forwarder that adds none of them (nginx's
/// default proxy_pass, `ssh -L`, `kubectl port-forward`) is not detected, hence the key.
inline constexpr std::array<std::string_view, 9> demo_forwarded_headers{
    "Forwarded",         "Via",       "X-Forwarded-For",  "X-Forwarded-Host",
    "X-Forwarded-Proto", "X-Real-IP", "CF-Connecting-IP", "True-Client-IP",
    "X-Client-IP"};

/// The second rule, against other web sites open in a browser on this host:
/// `host` (the Host header) must name a loopback address ("localhost", 127.0.0.0/8 or
/// [::1], any port), which defeats DNS rebinding, and `origin` (the Origin header, empty
/// when absent) must be empty or that same host over http or https, which stops a foreign
/// page from publishing (a cross-site POST carries its own Origin).
bool demo_request_same_host(std::string_view host, std::string_view origin) noexcept;

/// The issuer (`iss`) of every demo token. Demo tokens are signed with a key of the demo
/// gateway's own (demo_credentials), so no other gateway accepts them, whatever it shares.
inline constexpr std::string_view demo_token_issuer = "wsgate-demo";
/// Lifetime of the tokens /demo/token mints.
inline constexpr std::chrono::seconds demo_token_ttl{3600};
/// The request header that carries the access key: the only way /demo/token and
/// /demo/publish take it (the page's script sends it, and so can curl). A custom header makes
/// any cross-origin request a CORS preflight, which the gateway never allows: a guard against
/// cross-site requests on top of the Origin check. The page and its two assets also take the
/// key as `?key=` (a navigation, a <script src> or a <link href> sends no custom header).
inline constexpr std::string_view demo_key_header = "X-Wsgate-Demo-Key";

/// The third rule, and the one that holds behind any forwarder: the caller knows the access
/// key, 32 random bytes made at start and shown once, in the page URL the gateway logs. And
/// the tokens /demo/token hands out, signed with a second random key made at start, which
/// only this process ever holds. Immutable after construction; any thread.
class demo_credentials {
public:
    /// A fresh access key and token key from OpenSSL's RAND_bytes. Throws
    /// std::runtime_error when the generator fails.
    demo_credentials();
    /// Given keys (tests). `token_secret` must not be empty and `access_key` must be
    /// base64url characters only (A-Z a-z 0-9 - _), since the page embeds it in its HTML and
    /// URLs unescaped; std::invalid_argument otherwise.
    demo_credentials(std::string access_key, std::string token_secret);

    /// The key, base64url (43 characters for 32 bytes), for the one startup line and the
    /// page.
    const std::string& access_key() const noexcept { return access_key_; }
    /// Whether `candidate` is the access key; constant time in the key's bytes.
    bool key_matches(std::string_view candidate) const noexcept;

    /// An HS256 demo token for `user_id`: sub, iat, exp = now + demo_token_ttl,
    /// iss = demo_token_issuer.
    std::string mint(std::string_view user_id, std::chrono::system_clock::time_point now =
                                                   std::chrono::system_clock::now()) const;
    /// Verifies demo tokens only: HS256 with the token key, `iss` demo_token_issuer.
    const auth::jwt_verifier& verifier() const noexcept { return verifier_; }

private:
    std::string access_key_;
    std::string token_secret_;
    auth::jwt_verifier verifier_;  // after token_secret_, which it is built from
};

/// The upgrade's verdict in demo mode. `refused` is the gateway's own verdict on `token`
/// (auth::authorize with the configured keys), already an error; the token is then checked as
/// a demo token for `client_id`. A valid one is accepted like a real token for that user.
/// Otherwise the demo verifier's reason wins only when it vouched for the signature
/// (expired, not yet valid, client_id mismatch), so that a stale demo token reads "token
/// expired" rather than "invalid token"; any other refusal stays as the gateway gave it.
result<auth::verified_token> authorize_demo_token(result<auth::verified_token> refused,
                                                  std::string_view client_id,
                                                  std::string_view token,
                                                  const demo_credentials& demo,
                                                  std::chrono::system_clock::time_point now);

/// The URL of the page with its key, for the one startup line that shows the key:
/// http://HOST:PORT/?key=KEY, an IPv6 HOST in brackets.
std::string demo_page_url(std::string_view listen_host, std::uint16_t port, std::string_view key);

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

/// Everything --demo adds to a gateway, made once at start and shared by every shard.
struct demo_mode {
    demo_credentials credentials;
    /// Null when the publisher cannot reach the subscribers (rediss://, --redis-mode cluster,
    /// a redis+sentinel:// URL): /demo/publish answers 501 then.
    std::unique_ptr<demo_publisher> publisher;
};

}  // namespace wsgate
