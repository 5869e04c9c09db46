// A Redis Cluster's slot map: which master serves each of the 16384 slots, read from a
// CLUSTER SHARDS (Redis 7.0+) or CLUSTER SLOTS reply. Pure: no I/O, any thread.
#pragma once

#include <hiredis/hiredis.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "redis/key_slot.hpp"
#include "util/error.hpp"

namespace wsgate::redis {

/// Where a cluster node accepts clients.
struct node_address {
    std::string host;
    std::uint16_t port = 0;

    /// "host:port", a stable key for maps and logs (no credentials in it).
    std::string key() const;
    friend bool operator==(const node_address&, const node_address&) = default;
};

/// Slot → master. Slots that no master serves (a cluster being set up, a failed shard with
/// no replica to promote) have no owner.
class cluster_topology {
public:
    static constexpr std::int16_t no_owner = -1;

    cluster_topology() { owner_.fill(no_owner); }

    /// The masters, each once, in the order the reply named them.
    const std::vector<node_address>& masters() const noexcept { return masters_; }
    /// The master serving `slot`, or null.
    const node_address* owner(std::uint16_t slot) const noexcept {
        auto i = owner_[slot % cluster_slots];
        return i == no_owner ? nullptr : &masters_[static_cast<std::size_t>(i)];
    }
    /// Slots with an owner; 16384 when the whole key space is served.
    std::size_t covered() const noexcept;

    /// Assigns [first, last] to `master` (added to masters() if new). Used by the parsers
    /// and by tests.
    void assign(std::uint16_t first, std::uint16_t last, const node_address& master);

    friend bool operator==(const cluster_topology&, const cluster_topology&) = default;

private:
    std::vector<node_address> masters_;
    std::array<std::int16_t, cluster_slots> owner_{};
};

/// Reads a CLUSTER SLOTS reply: [[start, end, [host, port, id, ...], replicas...]...]. A host
/// that is empty or "?" (the node does not know its endpoint) means `replier_host`, the
/// address the reply came from, as the cluster spec tells clients to do. Fails with
/// errc::redis_unexpected_reply on any other shape.
result<cluster_topology> parse_cluster_slots(const redisReply& reply,
                                             std::string_view replier_host);

/// Reads a CLUSTER SHARDS reply (RESP2: each map a flat key/value array):
/// [[ "slots", [s, e, ...], "nodes", [[ "id", .., "port", P, "tls-port", T, "ip", ..,
/// "endpoint", .., "role", "master", "health", "online", ...], ...] ], ...]. Only nodes with
/// role master count; among several (a failover in progress) an online one wins. `tls`
/// selects "tls-port" over "port" when the node has one. The host is "endpoint", else "ip",
/// else `replier_host` (see parse_cluster_slots).
result<cluster_topology> parse_cluster_shards(const redisReply& reply,
                                              std::string_view replier_host, bool tls);

}  // namespace wsgate::redis
