// The shard's one Redis Pub/Sub connection. It keeps the *desired* channel set, sends
// SUBSCRIBE/UNSUBSCRIBE for changes in batches, and resends the whole set on every
// (re)connect. Reads never wait on clients: messages go straight to subscriber_events.
// Single-threaded: every method runs on the shard's executor.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "metrics/metrics.hpp"
#include "redis/redis_url.hpp"
#include "redis/resp_reader.hpp"
#include "redis/tls_options.hpp"
#include "util/string_hash.hpp"

namespace wsgate::redis {

/// What the subscriber reports; called on the shard's thread, never re-entrantly.
class subscriber_events {
public:
    virtual void on_message(std::string_view channel, std::string_view payload) = 0;
    /// Redis confirmed `channel` and no later change to it is in flight.
    virtual void on_subscribed(std::string_view channel) = 0;
    /// The connection was lost: nothing is subscribed until the set is sent again.
    virtual void on_link_down() = 0;

    // --- Redis Cluster (sharded Pub/Sub) -------------------------------------------------
    /// Sharded mode: the server ended or refused `channel`'s subscription: a pushed
    /// `sunsubscribe` (its slot migrated away) or an error reply such as MOVED (`reason`,
    /// safe to log). The channel stays desired but is not resent until it is dropped and
    /// wanted again (the cluster subscriber moves it to the slot's new owner).
    virtual void on_dropped(std::string_view channel, std::string_view reason) {
        (void)channel;
        (void)reason;
    }
    /// ready() changed.
    virtual void on_ready_changed(bool ready) { (void)ready; }
    /// Cluster mode: only these channels lost their subscription (one node's link went
    /// down, or a slot migrated); the others are unaffected. on_subscribed() follows for
    /// each once it is confirmed again. The default treats it as a whole-link loss.
    virtual void on_channels_down(const std::vector<std::string>& channels) {
        (void)channels;
        on_link_down();
    }

protected:
    ~subscriber_events() = default;
};

struct subscriber_options {
    redis_endpoint endpoint;
    /// Used when endpoint.tls (rediss://): CA, optional client certificate, name to verify.
    tls_options tls;
    /// Deadline for resolve, connect, the TLS and AUTH/SELECT handshakes and a PING's answer.
    std::chrono::milliseconds timeout{5000};
    /// A liveness PING (the probe) is sent this long after the previous one, whether or not
    /// messages are flowing. Its answer comes in order behind every pending message, so its
    /// round trip is the Pub/Sub path's queueing delay; no answer within `timeout` means the
    /// link is dead, stuck or lagging beyond use (half-open TCP, paused server, a path that
    /// only trickles) and it is rebuilt.
    std::chrono::milliseconds ping_interval{10'000};
    /// Reconnect delays grow 100 ms, 200 ms, ... up to this cap, each with full jitter so
    /// that the shards of many gateways do not reconnect in lockstep after a Redis restart.
    std::chrono::milliseconds backoff_max{5000};
    /// CLIENT SETNAME value, so operators can find our connections in CLIENT LIST.
    std::string client_name = "wsgate";
    /// Redis Cluster: SSUBSCRIBE/SUNSUBSCRIBE, one channel per command (a command's
    /// channels must share a slot, or Redis answers CROSSSLOT), and per-channel error
    /// replies (MOVED) and pushed sunsubscribes reported through on_dropped().
    bool sharded = false;
    /// Whether ready() is written to the shard's wsgate_redis_up gauge. The cluster
    /// subscriber runs one subscriber per node and reports readiness for all of them.
    bool report_up = true;
    /// Redis Sentinel (a redis+sentinel:// URL): before each connect the master is looked
    /// up with SENTINEL get-master-addr-by-name, asking the sentinels in turn (`timeout`
    /// each), and ROLE must confirm it is a master before anything is subscribed. While
    /// connected, a second connection to one sentinel listens for +switch-master and
    /// rebuilds the link on a failover of this master. `endpoint` then supplies only the
    /// credentials and db; its host and port are the resolved master's.
    std::optional<sentinel_url> sentinel;
};

/// One shard's Redis subscriber connection.
class subscriber {
public:
    /// Loads the TLS files for rediss:// here, so bad ones fail at start (throws
    /// boost::system::system_error; the config has checked them already).
    subscriber(boost::asio::any_io_executor ex, subscriber_options opts, subscriber_events& events,
               shard_metrics& metrics);
    ~subscriber();
    subscriber(const subscriber&) = delete;
    subscriber& operator=(const subscriber&) = delete;

    /// Starts the connect / serve / back-off loop.
    void run();
    /// Closes the connection and ends the loop; want/drop are ignored afterwards.
    void stop();

    /// Adds a channel to the desired set. on_subscribed() follows once Redis confirms it.
    void want(std::string_view channel);
    /// Removes a channel from the desired set; UNSUBSCRIBE follows.
    void drop(std::string_view channel);

    /// Connected, and every desired channel sent at the last (re)connect is confirmed.
    bool ready() const noexcept { return ready_; }
    /// Channels in the desired set.
    std::size_t desired_count() const noexcept { return desired_; }
    /// The server endpoint this subscriber connects to (with Sentinel, the master last
    /// resolved; empty host before the first resolution).
    const redis_endpoint& endpoint() const noexcept { return opts_.endpoint; }

private:
    struct channel_state {
        bool desired = false;     // some session on this shard needs it
        bool expected = false;    // server state once every in-flight command is answered
        bool subscribed = false;  // server state per the last acknowledgement
        std::uint32_t inflight = 0;
    };
    using channel_map =
        std::unordered_map<std::string, channel_state, string_hash, std::equal_to<>>;

    boost::asio::awaitable<void> loop();
    boost::asio::awaitable<boost::system::error_code> connect_and_serve();
    boost::asio::awaitable<boost::system::error_code> tls_handshake();
    boost::asio::awaitable<boost::system::error_code> handshake();
    boost::asio::awaitable<boost::system::error_code> read_loop();
    boost::asio::awaitable<boost::system::error_code> write_loop();
    boost::asio::awaitable<boost::system::error_code> watchdog();
    // Sentinel mode only.
    boost::asio::awaitable<boost::system::error_code> resolve_master();
    boost::asio::awaitable<boost::system::error_code> switch_watch();
    boost::asio::awaitable<boost::system::error_code> watch_one(const redis_endpoint& sentinel);

    boost::system::error_code handle_reply(const redisReply& reply);
    bool take_sent(std::string_view channel, bool subscribe);
    void on_server_drop(std::string_view channel, std::string_view reason);
    void on_command_failed(std::string_view reason);
    void on_pong();
    void on_ack(std::string_view channel, bool subscribed);
    void mark_dirty(std::string_view channel);
    void schedule_flush();
    void flush();
    void notify_writer();
    void link_down();
    void set_ready(bool r);
    std::chrono::milliseconds next_backoff();

    boost::asio::any_io_executor ex_;
    subscriber_options opts_;
    subscriber_events& events_;
    shard_metrics& metrics_;

    boost::asio::ip::tcp::socket socket_;
    // rediss:// only: the SSL context, built once, and a fresh SSL stream over socket_ per
    // connection (defined in the .cpp, so users of this header need no OpenSSL). Null on
    // the plain path, which therefore costs one pointer test per I/O.
    struct tls_link;
    std::unique_ptr<tls_link> tls_;
    boost::asio::steady_timer write_signal_;  // cancelled to wake the writer
    boost::asio::steady_timer backoff_timer_;
    std::unique_ptr<resp_reader> reader_;
    std::string out_;      // commands waiting to be written
    std::string writing_;  // commands being written

    channel_map channels_;
    std::unordered_set<std::string, string_hash, std::equal_to<>> dirty_;
    std::size_t desired_ = 0;
    std::size_t resubscribe_pending_ = 0;  // acks still due for the reconnect batch
    // Sharded mode: the (channel, subscribe?) of each command sent and not yet answered,
    // in order, so an error reply or a pushed sunsubscribe can be tied to its channel.
    struct sent_command {
        std::string channel;
        bool subscribe;
    };
    std::deque<sent_command> sent_;
    bool flush_scheduled_ = false;
    bool connected_ = false;  // handshake done; commands may be sent
    bool ready_ = false;
    bool stopped_ = false;
    bool ever_connected_ = false;
    bool down_reported_ = false;  // warned about the current outage
    unsigned failures_ = 0;       // consecutive failed attempts, for the backoff
    std::chrono::steady_clock::time_point ready_since_{};
    std::chrono::steady_clock::time_point last_rx_{};
    std::chrono::steady_clock::time_point probe_sent_{};  // the last PING's (or connect's) time
    bool probe_outstanding_ = false;                      // a PING awaits its answer
    std::minstd_rand rng_;
    // Sentinel mode: the sentinel that answered last is asked first; the query deadline and
    // the watcher's socket are members so that stop() can cut both short.
    std::size_t sentinel_index_ = 0;
    boost::asio::steady_timer sentinel_deadline_;
    boost::asio::ip::tcp::socket sentinel_socket_;
    bool master_switched_ = false;  // the watcher ended the link: reconnect without backoff
};

}  // namespace wsgate::redis
