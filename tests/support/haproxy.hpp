// A throwaway HAProxy in front of the given wsgate instances for integration tests: writes a
// config shaped like deploy/haproxy/haproxy.cfg (health checks on /readyz, leastconn,
// tunnel timeouts) with short check intervals, validates it with `haproxy -c`, runs
// `haproxy -db -f cfg` on free 127.0.0.1 ports, and reads the loopback stats page to tell
// where connections went and which instances HAProxy sees as up. Test thread only; uses
// http_get() from ws_client.hpp. A missing haproxy binary is an exception (a test failure).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "process.hpp"

namespace wsgate::test {

/// One `server` line: its name in HAProxy and the gateway's port on 127.0.0.1.
struct haproxy_backend {
    std::string name;
    std::uint16_t port = 0;
};

/// One server's row of the stats CSV.
struct haproxy_server_stat {
    std::string status;     // "UP", "DOWN", "MAINT", "DRAIN", "UP 1/2" while rising, ...
    long long current = 0;  // scur: connections open to it now
    long long total = 0;    // stot: connections sent to it since start (checks excluded)
    std::string check;      // check_status of the last health check: "L7OK", "L7STS", ...
};

/// One haproxy child process and its temporary config file.
class haproxy {
public:
    struct options {
        // Assign the fields you need: g++ 12 -Wextra flags designated initializers that
        // omit members (-Wmissing-field-initializers).
        std::chrono::milliseconds check_interval = std::chrono::milliseconds(200);  // inter
        int fall = 2;  // failed checks before "DOWN"
        int rise = 1;  // passed checks before "UP"
        /// Wait, after start, until every backend is UP (false: just until the port answers).
        bool wait_all_up = true;
        std::chrono::milliseconds startup_timeout = std::chrono::seconds(10);
    };

    /// Writes the config, checks it with `haproxy -c` (the output is in the exception when
    /// it fails), starts HAProxy and waits for its stats page (and for every backend to be
    /// UP unless told otherwise). Throws std::runtime_error when haproxy is not installed
    /// (PATH, then /usr/sbin/haproxy) or does not come up.
    explicit haproxy(std::vector<haproxy_backend> backends);
    haproxy(std::vector<haproxy_backend> backends, options opts);
    /// Stops HAProxy (SIGKILL by PID via child_process) and removes the config file.
    ~haproxy();
    haproxy(const haproxy&) = delete;
    haproxy& operator=(const haproxy&) = delete;

    /// The frontend clients connect to (127.0.0.1).
    std::uint16_t port() const noexcept { return port_; }
    /// The stats page: GET /stats (HTML) or /stats;csv.
    std::uint16_t stats_port() const noexcept { return stats_port_; }
    const std::string& config() const noexcept { return config_; }
    child_process& process() { return *process_; }
    /// HAProxy's stdout and stderr so far, including its log lines (one per request).
    std::string output() const { return process_ ? process_->output() : std::string(); }

    /// The backend's servers, by name, from the stats CSV; empty if the page did not answer.
    std::map<std::string, haproxy_server_stat> servers();
    /// One server's row; nothing when the page did not answer or has no such server.
    std::optional<haproxy_server_stat> server(const std::string& name);
    /// Polls the stats page until `name`'s status is exactly `status` ("UP", "DOWN"; not
    /// the transitional "UP 1/2" or "DOWN 1/2").
    bool wait_status(const std::string& name, const std::string& status,
                     std::chrono::milliseconds timeout);
    /// SIGTERM, SIGKILL after `grace`; the exit status.
    int stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

private:
    void write_config(const std::vector<haproxy_backend>& backends);

    options opts_;
    std::vector<haproxy_backend> backends_;
    std::string executable_;
    std::string config_path_;
    std::string config_;
    std::uint16_t port_ = 0;
    std::uint16_t stats_port_ = 0;
    std::optional<child_process> process_;
};

/// The path of the haproxy binary (PATH, then /usr/sbin/haproxy); throws with an install
/// hint when there is none.
std::string find_haproxy();

}  // namespace wsgate::test
