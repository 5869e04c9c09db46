// The whole gateway process: the JWT keys, the metrics, one shard per thread, and the
// signal handling that drives an orderly shutdown and key reloads.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <cstdint>
#include <memory>
#include <vector>

#include "auth/verifier_store.hpp"
#include "config/config.hpp"
#include "metrics/metrics.hpp"
#include "server/admission.hpp"
#include "server/origin.hpp"

namespace wsgate {

class shard;
struct demo_mode;

class gateway {
public:
    /// Builds everything and binds the listening sockets. Throws std::exception with a
    /// message naming the problem (bad key file, port in use...).
    explicit gateway(config cfg);
    ~gateway();

    /// The bound port (useful with --listen HOST:0).
    std::uint16_t port() const noexcept { return port_; }

    /// Runs until SIGTERM or SIGINT, then shuts down within the configured timeout.
    /// SIGHUP, and a changed key file (checked every --jwt-reload-interval), reload the JWT
    /// keys. Returns the process exit code.
    int run();

private:
    // JWT key reloads; control thread only.
    void wait_for_reload_signal();
    void poll_key_files();
    void reload_keys(const char* trigger);
    void report_keys(const char* event, const char* trigger);

    config cfg_;
    // The control loop and its signals come first: a SIGTERM that arrives while the
    // shards are being built is then held for run() instead of killing the process.
    boost::asio::io_context control_{1};
    boost::asio::signal_set signals_{control_, SIGINT, SIGTERM};
    boost::asio::signal_set reload_signals_{control_, SIGHUP};  // never stops the gateway
    boost::asio::steady_timer reload_timer_{control_};
    auth::verifier_store verifiers_;
    metrics_registry registry_;
    admission admission_;
    origin_policy origins_;
    std::atomic<bool> stopping_{false};
    std::vector<std::unique_ptr<shard>> shards_;
    // --demo's keys and publisher, used by every shard; after shards_, so it is destroyed
    // first and the publisher's worker never posts a result to a shard that is gone.
    std::unique_ptr<demo_mode> demo_;
    std::uint16_t port_ = 0;
    std::uint16_t metrics_port_ = 0;  // --metrics-listen's bound port; 0 without it
};

}  // namespace wsgate
