// The gateway's configuration: one plain struct with defaults, filled from flags and
// WSGATE_* environment variables, validated once at start and immutable afterwards.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "auth/jwt_options.hpp"
#include "redis/redis_url.hpp"
#include "redis/tls_options.hpp"
#include "util/log.hpp"

namespace wsgate {

/// What to do with a Redis payload that is not valid UTF-8 and so cannot be a text frame.
enum class invalid_utf8_policy : std::uint8_t {
    drop,    // count it in wsgate_messages_dropped_total{reason="invalid_utf8"} and skip it
    binary,  // deliver it as a binary frame with the exact bytes
};

/// How the gateway talks to Redis (--redis-mode).
enum class redis_mode { single, cluster };

/// A HOST:PORT to listen on.
struct listen_address {
    std::string host;
    std::uint16_t port = 0;
};

struct config {
    /// Address and port to listen on. Port 0 asks the kernel for a free port (tests); the
    /// bound port is logged in the `listening` line.
    std::string listen_host = "0.0.0.0";
    std::uint16_t listen_port = 8080;
    /// --metrics-listen: a second address that serves only /metrics, /healthz and /readyz,
    /// so that operators can keep the metrics off the public listener, where /metrics then
    /// answers 404. Unset (the default): /metrics is served on --listen, as before. Its
    /// bound port is logged in the `metrics_listening` line.
    std::optional<listen_address> metrics_listen;

    /// The Redis server every shard subscribes on. Credentials never reach logs.
    redis::redis_endpoint redis;
    /// --redis-mode: one Redis (SUBSCRIBE) or a Redis Cluster (sharded Pub/Sub: SSUBSCRIBE
    /// on the master that owns each channel's slot).
    wsgate::redis_mode redis_mode = wsgate::redis_mode::single;
    /// Every URL of --redis-url (the cluster's seed nodes); `redis` is the first. One entry
    /// in single mode.
    std::vector<redis::redis_endpoint> redis_seeds;
    /// A redis+sentinel:// --redis-url (implied Sentinel mode; --redis-mode stays single):
    /// the sentinels and master name. `redis` then holds only the master's credentials and
    /// db, with an empty host: each shard resolves the master itself.
    std::optional<redis::sentinel_url> redis_sentinel;
    /// Cluster mode: how often each shard re-reads the slot map even when nothing hinted at
    /// a change (MOVED, a pushed sunsubscribe and a lost node link trigger a refresh at once).
    std::chrono::milliseconds redis_cluster_refresh_interval{30'000};

    auth::jwt_options jwt;
    /// How often the key files (secret file, PEM, JWKS) are checked for replacement; a
    /// changed file makes the gateway reload every key, keeping the old keys if the new ones
    /// do not load. SIGHUP reloads at any time. 10 s keeps a rotation's delay well under
    /// any sane token lifetime at the cost of a few stat(2) calls. 0 disables the check.
    std::chrono::milliseconds jwt_reload_interval{10'000};

    /// Shards (threads, each with its own listener, hub and Redis connection). 0 = cores.
    unsigned threads = 0;

    /// Per-connection send queue bound. A client that falls this far behind is closed with
    /// 4008 "slow consumer" instead of growing the gateway's memory. 1 MiB holds ~16k
    /// 64-byte notifications: enough for bursts, small enough for 100k connections.
    std::uint64_t max_queue_bytes = 1 << 20;
    /// The same bound in messages, so many tiny messages cannot cost more in bookkeeping
    /// than in payload.
    std::uint32_t max_queue_messages = 4096;

    /// Largest data frame a client may send (clients have nothing to say; pings aside).
    /// Bigger messages are closed with 1009.
    std::uint64_t max_client_message_bytes = 4096;

    /// What one connection may send per --client-budget-interval, counted from the 101 to
    /// the end of the connection: bytes on the wire (frame headers included), and frames
    /// (messages and control frames). Over either, the connection is closed with 1008; a
    /// client that keeps sending past twice the byte budget (after our close frame,
    /// typically) has its socket cut. Clients have almost nothing to say here: a pong per
    /// --ping-interval, perhaps an application heartbeat a second. 100 frames and 64 KiB per
    /// 10 s is ~50 times a heartbeat a second and 16 of the largest messages, while a flood
    /// (tens of MB/s) is stopped within its first few milliseconds. No 0: a client that
    /// sends without end must be stopped somewhere. The window is reset by the shard's sweep
    /// (at most a second late), so it costs no timer per connection.
    std::chrono::milliseconds client_budget_interval{10'000};
    std::uint64_t client_budget_bytes = 64 * 1024;
    std::uint32_t client_budget_frames = 100;

    /// A ping is sent after this long without traffic from the client, and the connection
    /// is dropped when another interval passes with no answer. 25 s stays under the 30 s
    /// idle timeouts common in load balancers. 0 disables keepalive pings.
    std::chrono::milliseconds ping_interval{25'000};

    /// Deadline for writing HTTP answers and for the WebSocket opening and closing
    /// handshakes; it also caps --header-timeout.
    std::chrono::milliseconds handshake_timeout{10'000};
    /// Deadline for a new connection's request line and headers to arrive (slowloris
    /// guard); over it the socket is closed and counted as a timeout. A client sends the
    /// request in one segment right after connecting; 5 s allows two retransmissions of it
    /// (1 s and 2 s after the first) and halves the time a silent socket holds a place.
    std::chrono::milliseconds header_timeout{5'000};
    /// Largest HTTP request header block accepted; bigger requests get 431. At least the
    /// token limit (auth::max_token_bytes, 8 KiB) plus 2 KiB, so that every token the
    /// verifier would take, and any a little longer, reaches it and is answered with a close
    /// code a browser can see (1008 "invalid token"), not a 431 it sees as 1006.
    std::uint32_t max_header_bytes = 16 * 1024;

    /// How long an authorized upgrade waits for Redis to confirm the user's subscription
    /// before the connection is closed with 1013 "try again later".
    std::chrono::milliseconds subscribe_timeout{5'000};

    /// Redis link timing: connect and answer deadline (also for the liveness PING), the
    /// interval between liveness PINGs (sent under traffic too), and the cap on the jittered
    /// reconnect backoff. A wedged link is noticed within ping interval + timeout.
    /// Defaults: a wedged Redis is noticed within 5 s + 3 s = 8 s, under the 10 s an
    /// operator's health checks can be expected to wait, with room for a prober's period.
    std::chrono::milliseconds redis_timeout{3'000};
    std::chrono::milliseconds redis_ping_interval{5'000};
    std::chrono::milliseconds redis_backoff_max{5'000};

    /// rediss:// only (--redis-tls-*): the CA bundle that must sign the server's certificate
    /// (default: the system store), an optional client certificate and key, and the name to
    /// verify and send as SNI (default: the URL's host). Verification cannot be turned off:
    /// a gateway that trusts any server would hand its subscriptions to whoever answers.
    redis::tls_options redis_tls;

    /// On SIGTERM/SIGINT sessions get 1001 and this long to finish their close handshakes.
    std::chrono::milliseconds shutdown_timeout{5'000};
    /// Between SIGTERM and the 1001 closes: /readyz answers 503 while connections are still
    /// served, so a load balancer stops sending new clients before the old ones reconnect.
    std::chrono::milliseconds drain_delay{0};

    /// Admission limits, checked before the work they protect; 0 = unlimited for each.
    /// WebSockets held by this process: over it an upgrade gets 503 before its token is
    /// read. The default (from --max-connections auto) leaves 128 file descriptors of the
    /// process's RLIMIT_NOFILE for Redis, handshakes and logs.
    std::uint64_t max_connections = 0;
    /// WebSockets of one user id across the process; more are closed with 4029.
    std::uint32_t max_connections_per_user = 100;
    /// Accepted sockets not yet upgraded (slowloris, connect floods); over it a new socket
    /// is closed at once.
    std::uint32_t max_handshakes = 1024;
    /// Of those, the ones one client address (IPv6: /64) may hold; over it the request gets
    /// 429, from the refusal budget, without taking a place. Enforced whatever
    /// --ip-connect-rate says, so one address cannot lock everyone else out. The default
    /// (--max-handshakes-per-address auto) is an eighth of --max-handshakes, at least 8
    /// (128 of 1024; 128 when --max-handshakes is 0): a single client holds one handshake
    /// at a time, a NAT a few. 0 = no per-address limit: set it behind a load balancer or
    /// proxy, where every client has the balancer's address.
    std::uint32_t max_handshakes_per_address = 128;
    /// New connections per second from one address (IPv6: per /64), with a burst; over it
    /// the request gets 429. Off by default: behind a load balancer every client shares
    /// the balancer's address.
    double ip_connect_rate = 0;
    std::uint32_t ip_connect_burst = 0;
    /// Origin header values allowed to upgrade (exact origins, https://*.domain, or *);
    /// empty allows all. Requests without Origin (non-browser clients) always pass.
    std::vector<std::string> allowed_origins;
    /// Close a connection with 1008 "token expired" once its token's exp + leeway passes.
    bool close_on_token_expiry = true;
    /// --demo: serve the demo page at `/` and its endpoints (/demo/token mints demo tokens,
    /// /demo/publish publishes) to loopback clients holding the access key made at start.
    /// Needs a loopback listen_host (refused otherwise). Off by default: the endpoints hand
    /// out tokens for any user, so they have no place in production.
    bool demo = false;

    invalid_utf8_policy invalid_utf8 = invalid_utf8_policy::drop;

    log::format log_format = log::format::text;
    log::level log_level = log::level::info;
};

/// The exit status of a gateway that cannot start with its settings: a bad flag or value, an
/// unusable key, certificate or secret file, an address it cannot listen on.
inline constexpr int exit_bad_config = 2;

/// Outcome of reading the command line: a config to run with, or an exit code because help
/// or version was printed or a setting was bad (the message is already on stderr).
struct parse_outcome {
    config cfg;
    int exit_code = -1;  // -1: run
};

/// Reads flags (and WSGATE_* environment variables for flags not given) and validates
/// them. Never throws for bad input: prints "wsgate: --flag: problem" and returns exit 2.
parse_outcome parse_command_line(int argc, const char* const* argv);

}  // namespace wsgate
