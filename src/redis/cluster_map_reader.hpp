// Reads a Redis Cluster's slot map from one node, asynchronously, on a connection of its
// own (a subscribed connection cannot run CLUSTER commands).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>

#include "redis/cluster_topology.hpp"
#include "redis/redis_url.hpp"
#include "redis/tls_options.hpp"

namespace wsgate::redis {

/// Connects to `ep` (TLS with `tls` when ep.tls), sends AUTH when the endpoint has
/// credentials, then CLUSTER SHARDS, or CLUSTER SLOTS where SHARDS is unknown, and parses
/// the answer. Everything must finish within `timeout`, measured on `deadline` (cancel it
/// to abandon the read). Fails with the I/O error, errc::redis_timeout,
/// errc::redis_error_reply (AUTH refused, cluster support disabled: logged) or
/// errc::redis_unexpected_reply.
boost::asio::awaitable<result<cluster_topology>> read_cluster_map(
    boost::asio::any_io_executor ex, const redis_endpoint& ep, const tls_options& tls,
    std::chrono::milliseconds timeout, boost::asio::steady_timer& deadline);

}  // namespace wsgate::redis
