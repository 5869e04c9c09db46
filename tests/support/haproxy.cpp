// haproxy: a config written from the backend list, validated with `haproxy -c`, then run in
// the foreground (-db) as a child_process. Readiness and server state come from the stats
// page's CSV, never from sleeps.
#include "haproxy.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "ws_client.hpp"

namespace wsgate::test {
namespace {

using namespace std::chrono_literals;

constexpr int max_port_attempts = 5;

std::string ms(std::chrono::milliseconds d) { return std::to_string(d.count()) + "ms"; }

std::vector<std::string> split_csv_line(const std::string& line) {
    // The stats CSV has no quoted fields in the columns we read (names, numbers, states).
    std::vector<std::string> out;
    std::string field;
    std::istringstream in(line);
    while (std::getline(in, field, ',')) out.push_back(field);
    if (!line.empty() && line.back() == ',') out.emplace_back();
    return out;
}

long long to_number(const std::string& s) {
    if (s.empty()) return 0;
    try {
        return std::stoll(s);
    } catch (const std::exception&) {
        return 0;
    }
}

}  // namespace

std::string find_haproxy() {
    if (auto on_path = find_executable("haproxy")) return *on_path;
    if (::access("/usr/sbin/haproxy", X_OK) == 0) return "/usr/sbin/haproxy";
    throw std::runtime_error(
        "haproxy not found on PATH or at /usr/sbin/haproxy; the many-gateways tests need it "
        "(Debian: apt-get install haproxy, or scripts/install-deps.sh)");
}

haproxy::haproxy(std::vector<haproxy_backend> backends) : haproxy(std::move(backends), options{}) {}

haproxy::haproxy(std::vector<haproxy_backend> backends, options opts)
    : opts_(opts), backends_(std::move(backends)), executable_(find_haproxy()) {
    if (backends_.empty()) throw std::runtime_error("haproxy: no backends");
    char path[] = "/tmp/wsgate-haproxy-XXXXXX.cfg";
    const int fd = ::mkstemps(path, 4);
    if (fd < 0) throw std::runtime_error("haproxy: cannot create a config file in /tmp");
    ::close(fd);
    config_path_ = path;

    // A free port may be taken between free_port() and HAProxy's bind: try again then.
    for (int attempt = 1;; ++attempt) {
        port_ = free_port();
        stats_port_ = free_port();
        while (stats_port_ == port_) stats_port_ = free_port();
        write_config(backends_);

        // Validate first: a config error is reported as such, not as "never came up".
        auto [status, out] = run_to_completion(executable_, {"-c", "-f", config_path_}, {}, 10s);
        if (status != 0)
            throw std::runtime_error("haproxy -c rejected the test config:\n" + out + "\n" +
                                     config_);

        process_.emplace(executable_, std::vector<std::string>{"-db", "-f", config_path_});
        const bool up = wait_until(
            [this] {
                if (!process_->running()) return true;  // decided below
                auto s = servers();
                if (s.size() != backends_.size()) return false;
                if (!opts_.wait_all_up) return true;
                for (const auto& [name, stat] : s)
                    if (stat.status != "UP" || stat.check != "L7OK") return false;
                return true;
            },
            opts_.startup_timeout, 20ms);
        if (process_->running() && up) return;
        const std::string out_run = process_->output();
        process_.reset();
        const bool port_taken = out_run.find("cannot bind") != std::string::npos ||
                                out_run.find("Address already in use") != std::string::npos;
        if (!port_taken || attempt == max_port_attempts)
            throw std::runtime_error("haproxy did not come up (every backend UP within " +
                                     ms(opts_.startup_timeout) + "):\n" + out_run + "\n" + config_);
    }
}

haproxy::~haproxy() {
    process_.reset();  // SIGKILL and reap, by PID
    if (!config_path_.empty()) ::unlink(config_path_.c_str());
}

void haproxy::write_config(const std::vector<haproxy_backend>& backends) {
    // The shape of deploy/haproxy/haproxy.cfg with test-sized numbers: checks every
    // `check_interval`, no chroot/user/daemon, logs on stdout (captured by child_process),
    // and a maxconn small enough that HAProxy's open-files need (~2 × maxconn) fits any CI
    // machine's limit.
    std::ostringstream c;
    c << "global\n"
         "    log stdout format raw local0\n"
         "    maxconn 1000\n"
         "\n"
         "defaults\n"
         "    mode http\n"
         "    log global\n"
         // Same log line as the example: method and path, never the query string (token).
         "    log-format \"%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc "
         "%ac/%fc/%bc/%sc/%rc %sq/%bq %HM %{+Q}HPO\"\n"
         "    option forwardfor\n"
         "    retries 2\n"
         "    option redispatch 1\n"
         "    timeout connect 1s\n"
         "    timeout http-request 5s\n"
         "    timeout client 10s\n"
         "    timeout server 10s\n"
         "    timeout tunnel 60s\n"
         "    timeout client-fin 2s\n"
         "    timeout server-fin 2s\n"
         "    timeout check 1s\n"
         "\n"
         "frontend wsgate\n"
         "    bind 127.0.0.1:"
      << port_
      << "\n"
         "    default_backend wsgate\n"
         "\n"
         "backend wsgate\n"
         "    balance leastconn\n"
         "    option httpchk GET /readyz\n"
         "    http-check expect status 200\n"
         "    default-server check inter "
      << ms(opts_.check_interval) << " fastinter " << ms(opts_.check_interval / 2) << " downinter "
      << ms(opts_.check_interval) << " fall " << opts_.fall << " rise " << opts_.rise << "\n";
    for (const auto& b : backends) c << "    server " << b.name << " 127.0.0.1:" << b.port << "\n";
    c << "\n"
         "frontend stats\n"
         "    bind 127.0.0.1:"
      << stats_port_
      << "\n"
         "    stats enable\n"
         "    stats uri /stats\n";
    config_ = c.str();
    std::ofstream f(config_path_, std::ios::trunc);
    f << config_;
    if (!f.flush()) throw std::runtime_error("haproxy: cannot write " + config_path_);
}

std::map<std::string, haproxy_server_stat> haproxy::servers() {
    std::map<std::string, haproxy_server_stat> out;
    auto r = http_get(stats_port_, "/stats;csv", {}, 2s);
    if (r.status != 200) return out;
    std::istringstream in(r.body);
    std::string line;
    if (!std::getline(in, line) || line.rfind("# ", 0) != 0) return out;
    const auto header = split_csv_line(line.substr(2));
    auto column = [&](std::string_view name) -> std::size_t {
        for (std::size_t i = 0; i < header.size(); ++i)
            if (header[i] == name) return i;
        throw std::runtime_error("haproxy stats CSV has no column " + std::string(name));
    };
    const auto px = column("pxname"), sv = column("svname"), status = column("status"),
               scur = column("scur"), stot = column("stot"), check = column("check_status");
    while (std::getline(in, line)) {
        const auto f = split_csv_line(line);
        if (f.size() < header.size() - 1 || f[px] != "wsgate") continue;
        if (f[sv] == "FRONTEND" || f[sv] == "BACKEND") continue;
        haproxy_server_stat s;
        s.status = f[status];
        s.current = to_number(f[scur]);
        s.total = to_number(f[stot]);
        s.check = check < f.size() ? f[check] : std::string();
        out[f[sv]] = std::move(s);
    }
    return out;
}

std::optional<haproxy_server_stat> haproxy::server(const std::string& name) {
    auto all = servers();
    auto it = all.find(name);
    if (it == all.end()) return std::nullopt;
    return it->second;
}

bool haproxy::wait_status(const std::string& name, const std::string& status,
                          std::chrono::milliseconds timeout) {
    return wait_until(
        [&] {
            auto s = server(name);
            return s && s->status == status;
        },
        timeout, 20ms);
}

int haproxy::stop(std::chrono::milliseconds grace) {
    if (!process_) return 0;
    if (auto status = process_->exit_status()) return *status;
    return process_->terminate(grace);
}

}  // namespace wsgate::test
