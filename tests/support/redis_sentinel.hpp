// A throwaway Redis Sentinel deployment for integration tests: a master and one replica
// (redis_server, kernel-chosen 127.0.0.1 ports) and three sentinels (`redis-server
// sentinel.conf --sentinel`, each with a writable conf file of its own, since Sentinel
// rewrites it) monitoring them with quorum 2 and short timeouts. Everything is stopped by
// PID when this object goes. Test thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "process.hpp"
#include "redis_server.hpp"

namespace wsgate::test {

class redis_sentinel {
public:
    struct options {
        std::string master_name = "wsgate-master";
        std::size_t sentinels = 3;
        /// sentinel down-after-milliseconds: how long a silent master takes to be down.
        std::chrono::milliseconds down_after = std::chrono::milliseconds(1000);
        /// sentinel failover-timeout.
        std::chrono::milliseconds failover_timeout = std::chrono::milliseconds(5000);
        std::chrono::milliseconds startup_timeout = std::chrono::seconds(20);
    };

    /// Starts master, replica (waits for its link) and sentinels, and waits until every
    /// sentinel knows the replica and the other sentinels, so a failover can be agreed.
    /// Throws std::runtime_error (with the processes' output) when that fails; a missing
    /// redis-server is a test failure, never a skip.
    redis_sentinel();
    explicit redis_sentinel(options opts);
    ~redis_sentinel();
    redis_sentinel(const redis_sentinel&) = delete;
    redis_sentinel& operator=(const redis_sentinel&) = delete;

    const std::string& master_name() const noexcept { return opts_.master_name; }
    /// Data node 0 (the first master) or 1 (the first replica).
    redis_server& node(std::size_t i) { return *nodes_.at(i); }
    std::uint16_t sentinel_port(std::size_t i) const { return sentinel_ports_.at(i); }
    /// "redis+sentinel://127.0.0.1:S1,127.0.0.1:S2,127.0.0.1:S3/NAME" (`name` overrides
    /// the master name, e.g. to test a wrong one).
    std::string url(const std::string& name = {}) const;

    /// One command on sentinel `i` (a fresh connection); throws on I/O failure.
    test_reply sentinel_command(std::size_t i, const std::vector<std::string>& args);
    /// The data node (0 or 1) sentinel `i` names as master; nothing if it names another.
    std::optional<std::size_t> named_master(std::size_t i);
    /// Waits until every running sentinel names node `index` and that node's ROLE is master.
    bool wait_master(std::size_t index, std::chrono::milliseconds timeout);
    /// SENTINEL FAILOVER on sentinel 0 (a forced failover, no agreement needed); returns
    /// the reply.
    test_reply force_failover();

private:
    void start_sentinel(std::size_t i);
    bool sentinel_ready(std::size_t i);

    options opts_;
    std::string dir_;
    std::string executable_;
    std::vector<std::unique_ptr<redis_server>> nodes_;
    std::vector<std::uint16_t> sentinel_ports_;
    std::vector<std::unique_ptr<child_process>> sentinels_;
};

}  // namespace wsgate::test
