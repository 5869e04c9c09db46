// Routing of channels to cluster masters and the slot-map refresh loop. The per-node
// links are ordinary subscribers in sharded mode; this file only decides which node
// holds which channel, and when to look at the slot map again.
//
// Guarantee kept from the single-Redis subscriber: a channel is reported confirmed only
// by the node that currently owns it, and every channel that loses its subscription (its
// node's link, a migration, MOVED) is reported in on_channels_down() before anything can
// rely on it again; so a session is still never accepted before its channel is live.
#include "redis/cluster_subscriber.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "redis/cluster_map_reader.hpp"
#include "redis/key_slot.hpp"
#include "util/log.hpp"

namespace wsgate::redis {

namespace asio = boost::asio;
using boost::system::error_code;
using clock = std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// Least time between two reads of the slot map, so that a migration of many slots (one
// sunsubscribe each) or a node that keeps answering MOVED costs one read per gap.
constexpr std::chrono::milliseconds refresh_min_gap{100};

static_assert(static_cast<std::size_t>(refresh_trigger::count_) ==
              shard_metrics::cluster_refresh_triggers.size());

const char* to_string(refresh_trigger t) noexcept {
    return shard_metrics::cluster_refresh_triggers[static_cast<std::size_t>(t)];
}

/// One master's link: a sharded-mode subscriber whose events come back here tagged with
/// the node.
struct cluster_subscriber::node final : subscriber_events {
    node(cluster_subscriber& c, node_address a) : owner(c), addr(std::move(a)) {}

    void on_message(std::string_view channel, std::string_view payload) override {
        // Whatever node it comes from, a message published to the channel is real.
        owner.events_.on_message(channel, payload);
    }
    void on_subscribed(std::string_view channel) override { owner.node_subscribed(*this, channel); }
    void on_link_down() override { owner.node_link_down(*this); }
    void on_dropped(std::string_view channel, std::string_view reason) override {
        owner.node_dropped(*this, channel, reason);
    }
    void on_ready_changed(bool) override { owner.update_ready(); }

    cluster_subscriber& owner;
    node_address addr;
    std::unique_ptr<subscriber> link;
    std::size_t channels = 0;  // wanted channels routed here
};

cluster_subscriber::cluster_subscriber(asio::any_io_executor ex, cluster_subscriber_options opts,
                                       subscriber_events& events, shard_metrics& metrics)
    : ex_(ex),
      opts_(std::move(opts)),
      events_(events),
      metrics_(metrics),
      refresh_timer_(ex),
      fetch_deadline_(ex),
      rng_(std::random_device{}()) {
    if (opts_.seeds.empty()) throw std::invalid_argument("cluster_subscriber: no seed nodes");
}

cluster_subscriber::~cluster_subscriber() = default;

void cluster_subscriber::run() {
    asio::co_spawn(ex_, refresh_loop(), [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);  // I/O errors are handled in the loop: a bug
    });
}

void cluster_subscriber::stop() {
    if (stopped_) return;
    stopped_ = true;
    refresh_timer_.cancel();
    fetch_deadline_.cancel();
    for (auto& [key, n] : nodes_) n->link->stop();
    update_ready();
}

void cluster_subscriber::want(std::string_view channel) {
    if (stopped_) return;
    auto [it, inserted] = channels_.try_emplace(std::string(channel));
    if (!inserted) return;
    auto& e = it->second;
    e.slot = key_slot(channel);
    node* target = nullptr;
    if (have_topology_)
        if (const node_address* a = topology_.owner(e.slot)) target = &node_for(*a);
    attach(it->first, e, target);
    if (!target && have_topology_) request_refresh(refresh_trigger::no_owner);
    update_ready();
}

void cluster_subscriber::drop(std::string_view channel) {
    if (stopped_) return;
    auto it = channels_.find(channel);
    if (it == channels_.end()) return;
    auto& e = it->second;
    if (e.owner) {
        e.owner->link->drop(channel);
        --e.owner->channels;
    } else {
        --unassigned_;
    }
    channels_.erase(it);
    update_ready();
}

void cluster_subscriber::attach(const std::string& channel, channel_entry& e, node* target) {
    e.owner = target;
    e.dropped = false;
    if (!target) {
        ++unassigned_;
        return;
    }
    ++target->channels;
    target->link->want(channel);
}

cluster_subscriber::node& cluster_subscriber::node_for(const node_address& addr) {
    auto key = addr.key();
    auto it = nodes_.find(key);
    if (it != nodes_.end()) return *it->second;
    auto n = std::make_unique<node>(*this, addr);
    subscriber_options o = opts_.node;
    o.endpoint = opts_.seeds.front();  // scheme and credentials are the deployment's
    o.endpoint.host = addr.host;
    o.endpoint.port = addr.port;
    o.endpoint.db = 0;
    o.sharded = true;
    o.report_up = false;
    n->link = std::make_unique<subscriber>(ex_, std::move(o), *n, metrics_);
    n->link->run();
    auto& ref = *n;
    nodes_.emplace(std::move(key), std::move(n));
    log::info("redis_cluster_node_added", {{"node", ref.addr.key()}});
    return ref;
}

void cluster_subscriber::node_subscribed(node& n, std::string_view channel) {
    auto it = channels_.find(channel);
    // A confirmation from a node the channel has since left is stale.
    if (it == channels_.end() || it->second.owner != &n) return;
    it->second.confirmed = true;
    it->second.dropped = false;
    events_.on_subscribed(channel);
}

void cluster_subscriber::node_link_down(node& n) {
    // A retired link winding down has nothing routed to it any more.
    if (auto it = nodes_.find(n.addr.key()); it == nodes_.end() || it->second.get() != &n) return;
    std::vector<std::string> down;
    for (auto& [name, e] : channels_) {
        if (e.owner != &n || !e.confirmed) continue;
        e.confirmed = false;
        down.push_back(name);
    }
    channels_down(std::move(down));
    // The node may have failed over or left: the map tells where its slots went. Its own
    // subscriber keeps reconnecting meanwhile, as a single-Redis link does.
    if (!stopped_) request_refresh(refresh_trigger::link_down);
    update_ready();
}

void cluster_subscriber::node_dropped(node& n, std::string_view channel, std::string_view reason) {
    auto it = channels_.find(channel);
    if (it == channels_.end() || it->second.owner != &n) return;
    auto& e = it->second;
    e.dropped = true;
    if (e.confirmed) {
        e.confirmed = false;
        channels_down({it->first});
    }
    const auto why = reason == "sunsubscribe" ? refresh_trigger::migration : refresh_trigger::moved;
    if (!stopped_) request_refresh(why, &n);
}

void cluster_subscriber::channels_down(std::vector<std::string> channels) {
    if (!channels.empty()) events_.on_channels_down(channels);
}

void cluster_subscriber::update_ready() {
    bool r = !stopped_ && have_topology_ && unassigned_ == 0;
    std::size_t up = 0;
    for (const auto& [key, n] : nodes_) {
        const bool link_ready = n->link->ready();
        up += link_ready ? 1 : 0;
        if (n->channels > 0 && !link_ready) r = false;
    }
    metrics_.redis_cluster_nodes.store(static_cast<std::int64_t>(nodes_.size()),
                                       std::memory_order_relaxed);
    metrics_.redis_cluster_nodes_ready.store(static_cast<std::int64_t>(up),
                                             std::memory_order_relaxed);
    if (r == ready_) return;
    ready_ = r;
    metrics_.redis_up.store(r ? 1 : 0, std::memory_order_relaxed);
}

void cluster_subscriber::request_refresh(refresh_trigger why, const node* prefer) {
    if (!refresh_wanted_) next_trigger_ = why;
    refresh_wanted_ = true;
    if (prefer) prefer_ = prefer->addr.key();
    if (idle_wait_) refresh_timer_.cancel();
}

void cluster_subscriber::apply(const cluster_topology& t) {
    topology_ = t;
    have_topology_ = true;
    for (const auto& m : t.masters()) node_for(m);

    std::vector<std::string> down;
    std::uint64_t moved = 0;
    for (auto& [name, e] : channels_) {
        const node_address* a = t.owner(e.slot);
        node* target = a ? &node_for(*a) : nullptr;
        if (target == e.owner && !e.dropped) continue;
        // Leave the old owner (SUNSUBSCRIBE if it still holds the channel, nothing if it
        // already dropped it) and subscribe on the new one; the clients stay open and
        // get on_subscribed again once the new owner confirms.
        if (e.owner) {
            e.owner->link->drop(name);
            --e.owner->channels;
        } else {
            --unassigned_;
        }
        if (e.confirmed) {
            e.confirmed = false;
            down.push_back(name);
        }
        if (target && target != e.owner) ++moved;
        attach(name, e, target);
    }
    shard_metrics::inc(metrics_.redis_cluster_channels_moved_total, moved);

    // Links to nodes that are no longer masters and hold nothing are closed. Their
    // coroutines may still be winding down, so the objects live on until we are destroyed.
    for (auto it = nodes_.begin(); it != nodes_.end();) {
        const bool master = std::find(t.masters().begin(), t.masters().end(), it->second->addr) !=
                            t.masters().end();
        if (master || it->second->channels > 0) {
            ++it;
            continue;
        }
        log::info("redis_cluster_node_removed", {{"node", it->first}});
        it->second->link->stop();
        retired_.push_back(std::move(it->second));
        it = nodes_.erase(it);
    }
    channels_down(std::move(down));
    if (moved > 0)
        log::info("redis_cluster_channels_moved", {{"channels", static_cast<long long>(moved)}});
    update_ready();
}

asio::awaitable<void> cluster_subscriber::refresh_loop() {
    unsigned failures = 0;
    clock::time_point last_fetch{};
    refresh_wanted_ = true;
    next_trigger_ = refresh_trigger::startup;
    while (!stopped_) {
        const auto trigger = next_trigger_;
        refresh_wanted_ = false;
        last_fetch = clock::now();
        auto t = co_await fetch_topology();
        if (stopped_) break;
        const auto index = static_cast<std::size_t>(trigger);
        if (t) {
            shard_metrics::inc(metrics_.redis_cluster_refreshes_total[index]);
            failures = 0;
            if (fetch_failure_reported_)
                log::info("redis_cluster_map_read",
                          {{"masters", static_cast<long long>(t->masters().size())}});
            fetch_failure_reported_ = false;
            apply(*t);
        } else {
            shard_metrics::inc(metrics_.redis_cluster_refresh_errors_total);
            ++failures;
            if (!refresh_wanted_) next_trigger_ = refresh_trigger::retry;
            refresh_wanted_ = true;
        }

        // Wait: the interval, or less when a refresh is wanted already; never closer than
        // the minimum gap to the last read, and with a growing, jittered delay after
        // failures (every node unreachable).
        std::chrono::milliseconds delay = opts_.refresh_interval;
        if (failures > 0) {
            auto ceiling = std::min<std::int64_t>(opts_.node.backoff_max.count(),
                                                  std::int64_t{100} << std::min(failures, 16u));
            std::uniform_int_distribution<std::int64_t> pick(ceiling / 2, ceiling);
            delay = std::chrono::milliseconds(pick(rng_));
        } else if (refresh_wanted_) {
            delay = refresh_min_gap;
        }
        refresh_timer_.expires_at(last_fetch + delay);
        idle_wait_ = failures == 0;
        auto [ec] = co_await refresh_timer_.async_wait(use_tuple);
        idle_wait_ = false;
        if (stopped_) break;
        if (!ec) {
            if (!refresh_wanted_) next_trigger_ = refresh_trigger::periodic;
            refresh_wanted_ = true;
            continue;
        }
        // Woken by request_refresh(): keep the minimum gap.
        const auto earliest = last_fetch + refresh_min_gap;
        if (clock::now() < earliest) {
            refresh_timer_.expires_at(earliest);
            co_await refresh_timer_.async_wait(use_tuple);
        }
    }
}

asio::awaitable<result<cluster_topology>> cluster_subscriber::fetch_topology() {
    // Ask the node that hinted at the change first (it knows the new owner), then the
    // known masters, then the seeds.
    std::vector<redis_endpoint> candidates;
    auto add = [&](const std::string& host, std::uint16_t port) {
        for (const auto& c : candidates)
            if (c.host == host && c.port == port) return;
        redis_endpoint ep = opts_.seeds.front();
        ep.host = host;
        ep.port = port;
        ep.db = 0;
        candidates.push_back(std::move(ep));
    };
    if (!prefer_.empty())
        if (auto it = nodes_.find(prefer_); it != nodes_.end())
            add(it->second->addr.host, it->second->addr.port);
    prefer_.clear();
    for (const auto& m : topology_.masters()) add(m.host, m.port);
    for (const auto& s : opts_.seeds) add(s.host, s.port);

    error_code last = make_error_code(errc::redis_timeout);
    for (const auto& ep : candidates) {
        if (stopped_) break;
        auto t = co_await fetch_from(ep);
        if (t) co_return t;
        last = t.error();
        if (!fetch_failure_reported_)
            log::warn("redis_cluster_map_failed",
                      {{"node", redacted_url(ep)}, {"reason", last.message()}});
    }
    fetch_failure_reported_ = true;
    co_return last;
}

asio::awaitable<result<cluster_topology>> cluster_subscriber::fetch_from(const redis_endpoint& ep) {
    co_return co_await read_cluster_map(ex_, ep, opts_.node.tls, opts_.node.timeout,
                                        fetch_deadline_);
}

}  // namespace wsgate::redis
