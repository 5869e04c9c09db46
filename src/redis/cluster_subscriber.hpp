// A shard's subscriber for Redis Cluster (sharded Pub/Sub, Redis 7+). Each channel is
// hashed to its slot; the slot's master (from CLUSTER SHARDS / CLUSTER SLOTS) gets the
// channel's SSUBSCRIBE on a per-node `subscriber` (sharded mode), which brings its batching,
// liveness probe, TLS and backoff along. The slot map is refreshed on MOVED, on a pushed
// sunsubscribe (slot migration), on a node link's loss and periodically; channels whose
// owner changed are moved to the new owner without touching the clients.
//
// Events to the shard are those of the single-Redis subscriber, plus on_channels_down()
// naming only the channels that lost their subscription, so that one node's trouble does
// not unconfirm users on the others. Single-threaded: every method runs on the shard's
// executor.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "metrics/metrics.hpp"
#include "redis/cluster_topology.hpp"
#include "redis/redis_url.hpp"
#include "redis/subscriber.hpp"
#include "util/string_hash.hpp"

namespace wsgate::redis {

/// Why a topology refresh ran; a label of wsgate_redis_cluster_refreshes_total.
enum class refresh_trigger : std::uint8_t {
    startup,    // the first read of the slot map
    periodic,   // --redis-cluster-refresh-interval passed
    moved,      // a node answered MOVED (or another redirect / cluster error)
    migration,  // a node pushed sunsubscribe: the channel's slot moved
    link_down,  // a node's connection was lost
    no_owner,   // a wanted channel's slot has no master in the current map
    retry,      // the previous refresh failed
    count_
};
const char* to_string(refresh_trigger t) noexcept;

struct cluster_subscriber_options {
    /// --redis-url's seed nodes; their scheme and credentials are used for every node.
    std::vector<redis_endpoint> seeds;
    /// Settings for each node's subscriber (endpoint, sharded and report_up are set here).
    subscriber_options node;
    /// Re-read the slot map this often even when nothing hinted at a change.
    std::chrono::milliseconds refresh_interval{30'000};
};

/// Subscriptions of one shard across a Redis Cluster's masters.
class cluster_subscriber {
public:
    cluster_subscriber(boost::asio::any_io_executor ex, cluster_subscriber_options opts,
                       subscriber_events& events, shard_metrics& metrics);
    ~cluster_subscriber();
    cluster_subscriber(const cluster_subscriber&) = delete;
    cluster_subscriber& operator=(const cluster_subscriber&) = delete;

    /// Reads the slot map and starts the node links.
    void run();
    /// Closes every link and ends the refresh loop; want/drop are ignored afterwards.
    void stop();

    void want(std::string_view channel);
    void drop(std::string_view channel);

    /// The slot map is known, every wanted channel's slot has a master, and the link to
    /// every master that owns a wanted channel is ready.
    bool ready() const noexcept { return ready_; }
    std::size_t desired_count() const noexcept { return channels_.size(); }

private:
    struct node;
    struct channel_entry {
        std::uint16_t slot = 0;
        node* owner = nullptr;   // the master it is (being) subscribed on; null: none known
        bool confirmed = false;  // the owner confirmed it and nothing undid that since
        bool dropped = false;    // the owner refused or ended it; the next refresh re-routes
    };

    boost::asio::awaitable<void> refresh_loop();
    boost::asio::awaitable<result<cluster_topology>> fetch_topology();
    boost::asio::awaitable<result<cluster_topology>> fetch_from(const redis_endpoint& ep);
    void apply(const cluster_topology& t);
    void request_refresh(refresh_trigger why, const node* prefer = nullptr);
    node& node_for(const node_address& addr);
    void attach(const std::string& channel, channel_entry& e, node* target);
    void channels_down(std::vector<std::string> channels);
    void update_ready();

    // From the node links (see node in the .cpp).
    void node_subscribed(node& n, std::string_view channel);
    void node_link_down(node& n);
    void node_dropped(node& n, std::string_view channel, std::string_view reason);

    boost::asio::any_io_executor ex_;
    cluster_subscriber_options opts_;
    subscriber_events& events_;
    shard_metrics& metrics_;

    cluster_topology topology_;
    bool have_topology_ = false;
    std::unordered_map<std::string, std::unique_ptr<node>> nodes_;  // by node_address::key()
    std::vector<std::unique_ptr<node>> retired_;  // stopped links, freed with this object
    std::unordered_map<std::string, channel_entry, string_hash, std::equal_to<>> channels_;
    std::size_t unassigned_ = 0;  // channels with no owner

    boost::asio::steady_timer refresh_timer_;   // the loop's wait; cancelled to wake it
    boost::asio::steady_timer fetch_deadline_;  // the running read's deadline
    bool refresh_wanted_ = false;
    bool idle_wait_ = false;  // the loop waits for the next refresh and may be woken
    refresh_trigger next_trigger_ = refresh_trigger::startup;
    std::string prefer_;  // a node to ask first (the one that hinted at the change)
    bool ready_ = false;
    bool stopped_ = false;
    bool fetch_failure_reported_ = false;
    std::minstd_rand rng_;
};

}  // namespace wsgate::redis
