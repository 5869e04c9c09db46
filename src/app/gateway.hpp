// The whole gateway process: the verifier, the metrics, one shard per thread, and the
// signal handling that drives an orderly shutdown.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdint>
#include <memory>
#include <vector>

#include "auth/jwt_verifier.hpp"
#include "config/config.hpp"
#include "metrics/metrics.hpp"

namespace wsgate {

class shard;

class gateway {
public:
    /// Builds everything and binds the listening sockets. Throws std::exception with a
    /// message naming the problem (bad key file, port in use...).
    explicit gateway(config cfg);
    ~gateway();

    /// The bound port (useful with --listen HOST:0).
    std::uint16_t port() const noexcept { return port_; }

    /// Runs until SIGTERM or SIGINT, then shuts down within the configured timeout.
    /// Returns the process exit code.
    int run();

private:
    config cfg_;
    // The control loop and its signals come first: a SIGTERM that arrives while the
    // shards are being built is then held for run() instead of killing the process.
    boost::asio::io_context control_{1};
    boost::asio::signal_set signals_{control_, SIGINT, SIGTERM};
    auth::jwt_verifier verifier_;
    metrics_registry registry_;
    std::atomic<bool> stopping_{false};
    std::vector<std::unique_ptr<shard>> shards_;
    std::uint16_t port_ = 0;
};

}  // namespace wsgate
