// Shape checks for CLUSTER SLOTS / CLUSTER SHARDS replies. Both list slot ranges with their
// master; everything we do not need (ids, replicas, offsets, hostnames) is skipped, but the
// parts we read are type-checked, so a reply from something else fails instead of
// producing a wrong map.
#include "redis/cluster_topology.hpp"

#include <algorithm>
#include <limits>
#include <optional>

namespace wsgate::redis {
namespace {

std::string_view text_of(const redisReply& r) { return {r.str, r.len}; }

bool is_array(const redisReply& r) { return r.type == REDIS_REPLY_ARRAY; }
bool is_string(const redisReply& r) {
    return r.type == REDIS_REPLY_STRING || r.type == REDIS_REPLY_STATUS;
}
bool is_integer(const redisReply& r) { return r.type == REDIS_REPLY_INTEGER; }

bool valid_slot(long long v) { return v >= 0 && v < cluster_slots; }
bool valid_port(long long v) { return v > 0 && v <= std::numeric_limits<std::uint16_t>::max(); }

std::string host_or(std::string_view host, std::string_view replier_host) {
    if (host.empty() || host == "?") return std::string(replier_host);
    return std::string(host);
}

// A RESP2 map: a flat array of key, value pairs. Null when absent or `r` is not one.
const redisReply* field(const redisReply& map, std::string_view key) {
    for (std::size_t i = 0; i + 1 < map.elements; i += 2) {
        const redisReply& k = *map.element[i];
        if (is_string(k) && text_of(k) == key) return map.element[i + 1];
    }
    return nullptr;
}

}  // namespace

std::string node_address::key() const {
    const bool ipv6 = host.find(':') != std::string::npos;
    return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::size_t cluster_topology::covered() const noexcept {
    return static_cast<std::size_t>(
        std::count_if(owner_.begin(), owner_.end(), [](auto o) { return o != no_owner; }));
}

void cluster_topology::assign(std::uint16_t first, std::uint16_t last, const node_address& master) {
    auto it = std::find(masters_.begin(), masters_.end(), master);
    if (it == masters_.end()) it = masters_.insert(masters_.end(), master);
    const auto index = static_cast<std::int16_t>(it - masters_.begin());
    for (std::uint32_t s = first; s <= last && s < cluster_slots; ++s) owner_[s] = index;
}

result<cluster_topology> parse_cluster_slots(const redisReply& reply,
                                             std::string_view replier_host) {
    const auto unexpected = make_error_code(errc::redis_unexpected_reply);
    if (!is_array(reply)) return unexpected;
    cluster_topology t;
    for (std::size_t i = 0; i < reply.elements; ++i) {
        const redisReply& range = *reply.element[i];
        if (!is_array(range) || range.elements < 3) return unexpected;
        const redisReply& first = *range.element[0];
        const redisReply& last = *range.element[1];
        const redisReply& master = *range.element[2];
        if (!is_integer(first) || !is_integer(last) || !valid_slot(first.integer) ||
            !valid_slot(last.integer) || first.integer > last.integer)
            return unexpected;
        if (!is_array(master) || master.elements < 2) return unexpected;
        const redisReply& host = *master.element[0];
        const redisReply& port = *master.element[1];
        if (!(is_string(host) || host.type == REDIS_REPLY_NIL) || !is_integer(port) ||
            !valid_port(port.integer))
            return unexpected;
        t.assign(static_cast<std::uint16_t>(first.integer),
                 static_cast<std::uint16_t>(last.integer),
                 {host_or(host.type == REDIS_REPLY_NIL ? std::string_view{} : text_of(host),
                          replier_host),
                  static_cast<std::uint16_t>(port.integer)});
    }
    return t;
}

result<cluster_topology> parse_cluster_shards(const redisReply& reply,
                                              std::string_view replier_host, bool tls) {
    const auto unexpected = make_error_code(errc::redis_unexpected_reply);
    if (!is_array(reply)) return unexpected;
    cluster_topology t;
    for (std::size_t i = 0; i < reply.elements; ++i) {
        const redisReply& shard = *reply.element[i];
        if (!is_array(shard)) return unexpected;
        const redisReply* slots = field(shard, "slots");
        const redisReply* nodes = field(shard, "nodes");
        if (!slots || !nodes || !is_array(*slots) || !is_array(*nodes) || slots->elements % 2)
            return unexpected;

        std::optional<node_address> master;
        bool master_online = false;
        for (std::size_t n = 0; n < nodes->elements; ++n) {
            const redisReply& node = *nodes->element[n];
            if (!is_array(node)) return unexpected;
            const redisReply* role = field(node, "role");
            if (!role || !is_string(*role)) return unexpected;
            if (text_of(*role) != "master") continue;
            const redisReply* port = tls ? field(node, "tls-port") : nullptr;
            if (!port) port = field(node, "port");
            if (!port || !is_integer(*port) || !valid_port(port->integer)) return unexpected;
            std::string_view host;
            for (const char* key : {"endpoint", "ip"}) {
                const redisReply* h = field(node, key);
                if (h && is_string(*h) && !text_of(*h).empty() && text_of(*h) != "?") {
                    host = text_of(*h);
                    break;
                }
            }
            const redisReply* health = field(node, "health");
            const bool online = health && is_string(*health) && text_of(*health) == "online";
            if (master && (master_online || !online)) continue;
            master = node_address{host_or(host, replier_host),
                                  static_cast<std::uint16_t>(port->integer)};
            master_online = online;
        }
        if (!master) continue;  // a shard without a master serves nothing
        for (std::size_t s = 0; s + 1 < slots->elements; s += 2) {
            const redisReply& first = *slots->element[s];
            const redisReply& last = *slots->element[s + 1];
            if (!is_integer(first) || !is_integer(last) || !valid_slot(first.integer) ||
                !valid_slot(last.integer) || first.integer > last.integer)
                return unexpected;
            t.assign(static_cast<std::uint16_t>(first.integer),
                     static_cast<std::uint16_t>(last.integer), *master);
        }
    }
    return t;
}

}  // namespace wsgate::redis
