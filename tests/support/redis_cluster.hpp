// A throwaway Redis Cluster for integration tests: N masters, no replicas, each a
// redis_server on a kernel-chosen 127.0.0.1 port with an explicit --cluster-port (the bus
// would otherwise use port + 10000, which may be taken or above 65535), created with
// `redis-cli --cluster create ... --cluster-replicas 0 --cluster-yes`. The nodes are
// stopped by PID when this object goes. Test thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "redis_server.hpp"

namespace wsgate::test {

class redis_cluster {
public:
    struct options {
        std::size_t masters = 3;
        /// cluster-node-timeout: how long before a silent node is marked failing.
        std::chrono::milliseconds node_timeout = std::chrono::seconds(2);
        std::chrono::milliseconds startup_timeout = std::chrono::seconds(20);
        /// Non-empty: every node also listens on a TLS port (absolute PEM paths), the cluster
        /// bus runs over TLS (`tls-cluster yes`, so CLUSTER SHARDS names the TLS ports) and
        /// the cluster is created over TLS. Client certificates are optional.
        std::string tls_cert_file, tls_key_file, tls_ca_file;
    };

    /// Starts the nodes, creates the cluster and waits for cluster_state:ok on every node.
    /// Throws std::runtime_error (with redis-cli's output) when that fails; a missing
    /// redis-server or redis-cli is a test failure, never a skip.
    redis_cluster();
    explicit redis_cluster(options opts);
    ~redis_cluster();
    redis_cluster(const redis_cluster&) = delete;
    redis_cluster& operator=(const redis_cluster&) = delete;

    std::size_t size() const noexcept { return nodes_.size(); }
    redis_server& node(std::size_t i) { return *nodes_.at(i); }
    /// "redis://127.0.0.1:P1,redis://127.0.0.1:P2,...": every node, as --redis-url seeds.
    std::string seed_urls() const;
    /// TLS only: each node's TLS port, and "rediss://127.0.0.1:T1,..." as --redis-url seeds.
    std::uint16_t tls_port(std::size_t i) const { return tls_ports_.at(i); }
    std::string tls_seed_urls() const;
    /// The node's cluster id (CLUSTER MYID).
    const std::string& node_id(std::size_t i) const { return ids_.at(i); }

    /// Index of the node that serves `slot`, per CLUSTER SLOTS asked of a running node.
    std::size_t owner_of_slot(std::uint16_t slot);
    /// Index of the node serving the user's channel (ws:{user_id}).
    std::size_t owner_of_user(const std::string& user_id);

    /// Moves one (key-less) slot from its owner to node `to` with the documented steps:
    /// SETSLOT IMPORTING on `to`, MIGRATING on the owner, then SETSLOT NODE on `to`, the
    /// owner and every other node. The old owner then pushes `sunsubscribe` to the slot's
    /// sharded subscribers.
    void migrate_slot(std::uint16_t slot, std::size_t to);

    /// SPUBLISH channel payload on the slot's owner; the receiver count.
    long long spublish(const std::string& channel, const std::string& payload);

    /// Waits until every running node reports cluster_state:ok.
    bool wait_ok(std::chrono::milliseconds timeout);

private:
    options opts_;
    std::string dir_;  // nodes-*.conf live here; removed with this object
    std::vector<std::unique_ptr<redis_server>> nodes_;
    std::vector<std::string> ids_;
    std::vector<std::uint16_t> tls_ports_;
};

}  // namespace wsgate::test
