// wsgate-load: a load generator for the wsgate gateway that stays out of its way.
//
// Algorithm. --procs worker processes (default 1), each with one thread and one Asio event
// loop, forked by a conductor process that measures the gateway and Redis, orders the phases
// and merges the workers' results (the `conductor` class below). Each worker takes a slice of
// the users (and of the messages, the rate and --max-backlog, in proportion) and its own
// source addresses. In each worker, its users × C connections are opened as Beast
// `websocket::stream<tcp::socket>` clients (no TLS, no compression), at most K handshakes in
// flight; each socket is bound to a source address taken round-robin from its share of
// --source-ips (127.0.0.2…, so ephemeral ports do not run out) before it connects to
// /ws/v1/status/{user}?token=JWT, the token minted once per user with
// wsgate::auth::mint_hs256. The gateway answers 101 only after Redis confirmed the user's
// channel, so an open connection is a subscribed one. Every client keeps one async_read
// pending (it also answers the gateway's pings) and reads into a flat_buffer capped at
// --payload-bytes + 64. Each worker publishes on its own pipelined Redis connection driven by
// its loop: PUBLISH commands are formatted with hiredis's redisFormatCommandArgv,
// written in batches, and the integer replies parsed with hiredis's reader; at most
// --pipeline commands are unanswered at any time.
//
// Redis Cluster. With --redis-mode cluster (connect, fanout, latency), --redis-url lists seed
// nodes as the gateway takes them. The slot map is read once before the workers fork (CLUSTER
// SHARDS, else CLUSTER SLOTS, parsed by wsgate_redis_proto); each worker keeps one pipelined
// connection per master and sends `SPUBLISH ws:<user> payload` to the master owning the
// channel's slot (redis::key_slot). A MOVED answer re-reads the map (at most every 100 ms) and
// sends the message again to the node it names; ASK counts as a publish error. SPUBLISH's
// count is the sharded subscribers reached on that master, i.e. the gateway shards holding
// the user, as PUBLISH's is on one Redis. Redis figures (connected_clients, channels, CPU,
// output-buffer peak) are summed over the masters. --pipeline bounds the messages in flight
// over all of a worker's connections.
//
// Modes and parameters (defaults in --help):
//   connect  --users U --conns-per-user C --concurrency K --hold S: connect everything, then
//            hold for S seconds sampling the gateway's VmRSS (/proc/<pid>/status, summed over
//            --gateway-pid) and Redis `INFO clients`. RSS "before" is taken before the first
//            connect, "after" at the end of the hold.
//   fanout   connect as above, then publish --messages M payloads of --payload-bytes to
//            users drawn uniformly at random (--seed), as fast as the pipeline allows or at
//            --rate msgs/s; optionally keep at most --max-backlog deliveries outstanding.
//            Expected deliveries = Σ open connections of each message's user at publish
//            time. The clock stops at the last delivery once all arrived, or when nothing
//            arrived for --drain-timeout. Gateway CPU = Δ(utime+stime) of /proc/<pid>/stat
//            over publish start → drain end; alongside it the generator's own CPU, Redis's
//            (INFO cpu), each process's run-queue wait (/proc/<pid>/task/*/schedstat: time
//            runnable but not running, i.e. a shared core), per-core busy fractions
//            (/proc/stat), Redis's peak output buffer toward the gateway (INFO clients), and a
//            timeline of deliveries every 100 ms.
//   latency  connect, then publish at a fixed --rate for --duration seconds; each payload
//            starts with the CLOCK_MONOTONIC time of its formatting in ns (20 digits), and
//            the client records receive − publish (same machine, same clock). Reports
//            p50/p90/p99/p99.9/max. The publish side and the receive side share this one
//            thread, so the figures include up to one loop turn of the generator.
//   soak     hold --connections for --duration seconds while publishing at a steady --rate,
//            closing and reopening --churn connections a second and keeping --slow-readers
//            stalling connections; verify delivery per user sequence number and sample the
//            gateway's RSS, open descriptors and /metrics; report start/end/max, drift, slope
//            and whether they stayed flat (the `soak` class below; driver: bench/soak.sh).
//
// Merging. Counts are summed; connects/s and delivered msgs/s run from the earliest worker's
// start to the latest worker's last connect or delivery (CLOCK_MONOTONIC, one clock for all);
// the connect-time and latency percentiles come from log-linear histograms (within 0.8%)
// merged bucket by bucket. RSS, CPU and run-queue wait of the gateway are summed over every
// --gateway-pid (a comma-separated list: several gateways sharing a port with SO_REUSEPORT),
// and its open descriptors are listed per pid, which shows how the kernel spread the
// connections. `redis_clients_server` = Redis connected_clients while the connections are held,
// minus the conductor's own INFO connection, one per master on a cluster (the workers' PUBLISH
// connections open later).
//
// Limits. This machine caps every process at 20,000 open files, so a worker refuses more
// than 19,500 connections: 100,000 need --procs 6 or more. Only 127/8 addresses are accepted
// for the gateway, Redis and the source addresses.
//
// Output. One JSON line on stdout with every parameter and result (machine-readable; soak
// first prints one line per sample), and a short human table on stderr. Exit status 0 when
// the run completed (check "lost" and "failures"), 1 on a setup error, 2 on bad flags.
#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "auth/token_minter.hpp"
#include "redis/channel.hpp"
#include "redis/cluster_topology.hpp"
#include "redis/key_slot.hpp"
#include "redis/redis_url.hpp"

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
namespace json = boost::json;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using steady = std::chrono::steady_clock;

constexpr std::size_t max_conns_per_process = 19'500;  // the hard cap is 20,000 fds

// --- parameters -----------------------------------------------------------------------------

struct options {
    std::string mode;
    std::uint32_t users = 1000;
    std::uint32_t conns_per_user = 1;
    std::uint32_t concurrency = 200;
    std::uint64_t user_offset = 0;
    std::string user_prefix = "u";
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;
    std::string secret;
    std::string source_ips = "127.0.0.2-127.0.0.40";
    std::string redis_url = "redis://127.0.0.1:6379";
    std::string redis_mode = "single";  // or "cluster": --redis-url lists seed nodes
    std::vector<int> gateway_pids;
    double connect_timeout = 10;
    double settle = 0.5;
    double hold = 0;
    std::uint64_t messages = 100'000;
    std::uint32_t payload_bytes = 64;
    double rate = 0;  // msgs/s; 0 = as fast as the pipeline allows
    std::uint32_t pipeline = 1000;
    std::uint64_t max_backlog = 0;  // outstanding deliveries; 0 = unbounded
    double drain_timeout = 10;
    double duration = 10;
    std::uint64_t seed = 1;
    std::uint32_t procs = 1;     // worker processes (connect, fanout, latency)
    double phase_timeout = 300;  // seconds the conductor waits for the workers at each phase

    // soak (see the soak class for what each one drives)
    std::uint32_t soak_users = 10'000;
    std::uint32_t soak_connections = 10'000;
    double soak_rate = 2000;         // msgs/s to random regular users
    double soak_duration = 600;      // seconds of steady state after the ramp-up
    std::uint32_t churn = 50;        // connections closed and reopened per second
    std::uint32_t slow_readers = 2;  // connections that stall, each on a user of its own
    double slow_rate = 500;          // msgs/s to each slow reader's user
    std::uint32_t slow_payload_bytes = 1024;
    double slow_stall = 20;          // seconds a slow reader does not read
    double slow_read = 2;            // seconds it then reads
    int slow_rcvbuf = 16 * 1024;     // SO_RCVBUF of a slow reader's socket
    double retry_delay = 1;          // seconds before reconnecting after a failure or close
    double sample_interval = 10;     // seconds between samples
    double warmup = 60;              // seconds after the ramp-up left out of the slopes
    double ramp_timeout = 120;       // seconds allowed for the ramp-up
    double rss_slope_limit_pct = 1;  // "flat": RSS slope below this % of start per 10 min
    std::uint32_t fd_tolerance = 0;  // "flat": |fds end - start| <= this (0 = 2 x churn, >= 20)
};

// --- small helpers ---------------------------------------------------------------------------

double seconds_since(steady::time_point t0, steady::time_point t1 = steady::now()) {
    return std::chrono::duration<double>(t1 - t0).count();
}

std::uint64_t monotonic_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ull +
           static_cast<std::uint64_t>(ts.tv_nsec);
}

bool is_loopback(const net::ip::address_v4& a) { return (a.to_uint() >> 24) == 127; }

net::ip::address_v4 loopback_address(const std::string& text, const char* flag) {
    std::string t = text == "localhost" ? "127.0.0.1" : text;
    error_code ec;
    auto a = net::ip::make_address_v4(t, ec);
    if (ec || !is_loopback(a))
        throw std::invalid_argument(std::string(flag) + ": '" + text + "' is not a 127/8 address");
    return a;
}

/// "127.0.0.2-127.0.0.40" or "127.0.0.2,127.0.0.3" (ranges and single addresses may mix).
std::vector<net::ip::address_v4> parse_source_ips(const std::string& text) {
    std::vector<net::ip::address_v4> out;
    std::stringstream in(text);
    for (std::string item; std::getline(in, item, ',');) {
        if (item.empty()) continue;
        auto dash = item.find('-');
        if (dash == std::string::npos) {
            out.push_back(loopback_address(item, "--source-ips"));
            continue;
        }
        auto lo = loopback_address(item.substr(0, dash), "--source-ips").to_uint();
        auto hi = loopback_address(item.substr(dash + 1), "--source-ips").to_uint();
        if (hi < lo || hi - lo > 65535)
            throw std::invalid_argument("--source-ips: bad range '" + item + "'");
        for (auto a = lo; a <= hi; ++a) out.emplace_back(a);
    }
    if (out.empty()) throw std::invalid_argument("--source-ips: no address given");
    return out;
}

std::optional<long> rss_kb(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(in, line);)
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return std::nullopt;
}

/// Open descriptors of `pid` (/proc/<pid>/fd); nothing when it cannot be read.
std::optional<long> fd_count(int pid) {
    namespace fs = std::filesystem;
    std::error_code ec;
    long n = 0;
    fs::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec), end;
    if (ec) return std::nullopt;
    for (; it != end; it.increment(ec)) {
        if (ec) return std::nullopt;
        ++n;
    }
    return n;
}

/// utime + stime of `pid` in seconds, from /proc/<pid>/stat (fields 14 and 15).
std::optional<double> cpu_seconds(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto paren = all.rfind(')');
    if (paren == std::string::npos) return std::nullopt;
    std::istringstream fields(all.substr(paren + 2));  // field 3 (state) onwards
    std::string f;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> f; ++i) {
        if (i == 14) utime = std::stoull(f);
        if (i == 15) stime = std::stoull(f);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

/// Summed over pids; nothing when no pid is given or one cannot be read.
template <class F>
auto sum_over(const std::vector<int>& pids, F f) -> decltype(f(0)) {
    if (pids.empty()) return std::nullopt;
    typename decltype(f(0))::value_type total{};
    for (int p : pids) {
        auto v = f(p);
        if (!v) return std::nullopt;
        total += *v;
    }
    return total;
}

/// Seconds on a CPU and seconds runnable but waiting for one (other processes on the core),
/// summed over the threads of `pid` (/proc/<pid>/task/*/schedstat).
struct sched_times {
    double run_s = 0, wait_s = 0;
    sched_times& operator+=(const sched_times& o) {
        run_s += o.run_s;
        wait_s += o.wait_s;
        return *this;
    }
};
std::optional<sched_times> sched_of(int pid) {
    namespace fs = std::filesystem;
    std::error_code ec;
    sched_times t;
    bool any = false;
    for (const auto& e : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
        std::ifstream in(e.path() / "schedstat");
        unsigned long long run = 0, wait = 0;
        if (in >> run >> wait) {
            t.run_s += static_cast<double>(run) / 1e9;
            t.wait_s += static_cast<double>(wait) / 1e9;
            any = true;
        }
    }
    return any ? std::optional<sched_times>(t) : std::nullopt;
}

/// Busy and total jiffies of every core, from /proc/stat (busy excludes idle and iowait).
std::vector<std::pair<unsigned long long, unsigned long long>> core_jiffies() {
    std::vector<std::pair<unsigned long long, unsigned long long>> out;
    std::ifstream in("/proc/stat");
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("cpu", 0) != 0 || line.size() < 4 ||
            !std::isdigit(static_cast<unsigned char>(line[3])))
            continue;
        std::istringstream f(line.substr(line.find(' ')));
        unsigned long long v[8] = {}, total = 0;
        for (auto& x : v) {
            f >> x;
            total += x;
        }
        out.emplace_back(total - v[3] - v[4], total);
    }
    return out;
}

/// Busy fraction of each core between two core_jiffies() samples.
json::array core_busy(const std::vector<std::pair<unsigned long long, unsigned long long>>& a,
                      const std::vector<std::pair<unsigned long long, unsigned long long>>& b) {
    json::array out;
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
        auto total = b[i].second - a[i].second;
        out.push_back(total ? static_cast<double>(b[i].first - a[i].first) /
                                  static_cast<double>(total)
                            : 0.0);
    }
    return out;
}

double self_cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    auto tv = [](timeval t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    return tv(ru.ru_utime) + tv(ru.ru_stime);
}

template <class T>
json::value opt_json(const std::optional<T>& v) {
    return v ? json::value(*v) : json::value(nullptr);
}

// --- Redis INFO over a plain synchronous hiredis connection (off the hot path) -------------

class redis_info {
public:
    explicit redis_info(const wsgate::redis::redis_endpoint& ep) {
        timeval tv{2, 0};
        ctx_ = redisConnectWithTimeout(ep.host.c_str(), ep.port, tv);
        if (!ctx_ || ctx_->err) {
            error_ = ctx_ ? ctx_->errstr : "cannot allocate a hiredis context";
            if (ctx_) redisFree(ctx_);
            ctx_ = nullptr;
            return;
        }
        if (!ep.password.empty()) {
            auto* r = ep.username.empty() ? redisCommand(ctx_, "AUTH %s", ep.password.c_str())
                                          : redisCommand(ctx_, "AUTH %s %s", ep.username.c_str(),
                                                         ep.password.c_str());
            if (r) freeReplyObject(r);
        }
        redisSetTimeout(ctx_, tv);
    }
    ~redis_info() {
        if (ctx_) redisFree(ctx_);
    }
    redis_info(const redis_info&) = delete;
    redis_info& operator=(const redis_info&) = delete;

    bool ok() const { return ctx_ != nullptr; }
    const std::string& error() const { return error_; }

    /// The numeric field `key` of `INFO section`.
    std::optional<double> get(const char* section, const std::string& key) {
        if (!ctx_) return std::nullopt;
        auto* r = static_cast<redisReply*>(redisCommand(ctx_, "INFO %s", section));
        if (!r) return std::nullopt;
        std::optional<double> out;
        if (r->type == REDIS_REPLY_STRING) {
            std::istringstream in(std::string(r->str, r->len));
            for (std::string line; std::getline(in, line);) {
                if (line.rfind(key + ":", 0) == 0) {
                    out = std::stod(line.substr(key.size() + 1));
                    break;
                }
            }
        }
        freeReplyObject(r);
        return out;
    }
    std::optional<long> clients() {
        auto v = get("clients", "connected_clients");
        return v ? std::optional<long>(static_cast<long>(*v)) : std::nullopt;
    }
    std::optional<double> cpu() {
        auto s = get("cpu", "used_cpu_sys");
        auto u = get("cpu", "used_cpu_user");
        if (!s || !u) return std::nullopt;
        return *s + *u;
    }

private:
    redisContext* ctx_ = nullptr;
    std::string error_;
};

// --- PUBLISH over one pipelined Redis connection driven by the event loop -----------------
//
// Commands are formatted with hiredis's redisFormatCommandArgv into `out_`, written in
// batches (one async_write at a time), and the integer replies parsed with hiredis's reader.
// The caller bounds the commands in flight (sent - acked) and is called back after every
// write and every batch of replies, so it can publish more.

class redis_pipeline {
public:
    explicit redis_pipeline(net::io_context& ioc) : socket_(ioc) {}
    ~redis_pipeline() {
        if (reader_) redisReaderFree(reader_);
    }
    redis_pipeline(const redis_pipeline&) = delete;
    redis_pipeline& operator=(const redis_pipeline&) = delete;

    std::uint64_t sent = 0, acked = 0, zero_receivers = 0, errors = 0;
    std::function<void()> on_progress;  // after a write finished or replies arrived
    /// Cluster mode: called instead of counting the reply when a command was answered with
    /// MOVED, with the command's channel and payload, so it can be sent again to the
    /// node named. Set before connect(); it makes the pipeline keep its commands in flight.
    std::function<void(std::string, std::string, std::string_view)> on_redirect;
    /// "PUBLISH" (one Redis) or "SPUBLISH" (sharded Pub/Sub on a cluster's master).
    std::string command = "PUBLISH";

    /// Connects, names the client and authenticates synchronously, then starts reading.
    bool connect(const wsgate::redis::redis_endpoint& ep, std::string& err);
    void publish(std::string_view channel, std::string_view payload) {
        const char* argv[3] = {command.c_str(), channel.data(), payload.data()};
        std::size_t lens[3] = {command.size(), channel.size(), payload.size()};
        append(3, argv, lens);
        if (on_redirect) in_flight_.emplace_back(channel, payload);
        ++sent;
    }
    void flush();
    bool failed() const { return failed_; }
    /// From now on, socket errors are the end of the run, not publish errors.
    void close() {
        closing_ = true;
        error_code ignored;
        socket_.close(ignored);
    }

private:
    void append(int argc, const char** argv, const std::size_t* lens) {
        char* cmd = nullptr;
        int n = redisFormatCommandArgv(&cmd, argc, argv, lens);
        out_.append(cmd, static_cast<std::size_t>(n));
        redisFreeCommand(cmd);
    }
    void read_replies();
    void progress() {
        if (on_progress) on_progress();
    }

    tcp::socket socket_;
    redisReader* reader_ = nullptr;
    std::string out_, writing_;
    std::array<char, 64 * 1024> rbuf_{};
    bool write_busy_ = false, failed_ = false, closing_ = false;
    // With on_redirect: channel and payload of each command not yet answered, oldest first
    // (Redis answers a connection's commands in order).
    std::deque<std::pair<std::string, std::string>> in_flight_;
};

bool redis_pipeline::connect(const wsgate::redis::redis_endpoint& ep, std::string& err) {
    error_code ec;
    auto addr = loopback_address(ep.host, "--redis-url");
    socket_.connect(tcp::endpoint(addr, ep.port), ec);
    if (ec) {
        err = "cannot connect to Redis for publishing: " + ec.message();
        return false;
    }
    socket_.set_option(tcp::no_delay(true));
    reader_ = redisReaderCreate();
    std::size_t skip = 0;
    auto command = [&](std::vector<std::string> args) {
        std::vector<const char*> argv;
        std::vector<std::size_t> lens;
        for (auto& a : args) {
            argv.push_back(a.data());
            lens.push_back(a.size());
        }
        append(static_cast<int>(argv.size()), argv.data(), lens.data());
        ++skip;
    };
    if (!ep.password.empty()) {
        if (ep.username.empty())
            command({"AUTH", ep.password});
        else
            command({"AUTH", ep.username, ep.password});
    }
    if (ep.db != 0) command({"SELECT", std::to_string(ep.db)});
    command({"CLIENT", "SETNAME", "wsgate-load-publisher"});
    // The handshake is answered before any PUBLISH is written: do it synchronously.
    net::write(socket_, net::buffer(out_), ec);
    out_.clear();
    while (!ec && skip > 0) {
        auto n = socket_.read_some(net::buffer(rbuf_), ec);
        if (ec) break;
        redisReaderFeed(reader_, rbuf_.data(), n);
        void* r = nullptr;
        while (skip > 0 && redisReaderGetReply(reader_, &r) == REDIS_OK && r) {
            auto* reply = static_cast<redisReply*>(r);
            if (reply->type == REDIS_REPLY_ERROR) err = std::string(reply->str, reply->len);
            freeReplyObject(reply);
            --skip;
        }
    }
    if (ec) err = "Redis handshake: " + ec.message();
    if (!err.empty()) return false;
    read_replies();
    return true;
}

void redis_pipeline::flush() {
    if (write_busy_ || out_.empty() || failed_) return;
    write_busy_ = true;
    writing_.swap(out_);
    net::async_write(socket_, net::buffer(writing_), [this](error_code ec, std::size_t) {
        write_busy_ = false;
        writing_.clear();
        if (ec) {
            if (!closing_) ++errors;
            failed_ = true;
            return;
        }
        progress();
    });
}

void redis_pipeline::read_replies() {
    socket_.async_read_some(net::buffer(rbuf_), [this](error_code ec, std::size_t n) {
        if (ec) {
            if (!closing_ && acked < sent) ++errors;
            failed_ = true;
            return;
        }
        redisReaderFeed(reader_, rbuf_.data(), n);
        void* r = nullptr;
        while (redisReaderGetReply(reader_, &r) == REDIS_OK && r) {
            auto* reply = static_cast<redisReply*>(r);
            if (on_redirect && !in_flight_.empty()) {
                auto cmd = std::move(in_flight_.front());
                in_flight_.pop_front();
                std::string_view text = reply->type == REDIS_REPLY_ERROR
                                            ? std::string_view(reply->str, reply->len)
                                            : std::string_view();
                // ASK (a slot being migrated) needs ASKING first: it counts as an error.
                if (text.starts_with("MOVED ")) {
                    std::string copy(text);
                    freeReplyObject(reply);
                    on_redirect(std::move(cmd.first), std::move(cmd.second), copy);
                    continue;
                }
            }
            ++acked;
            if (reply->type == REDIS_REPLY_INTEGER) {
                if (reply->integer == 0) ++zero_receivers;
            } else {
                ++errors;
            }
            freeReplyObject(reply);
        }
        progress();
        read_replies();
    });
}

// --- Redis Cluster: the slot map, INFO summed over the masters, SPUBLISH routing -----------
//
// With --redis-mode cluster, --redis-url lists seed nodes (the gateway's form). The map is
// read once at start with CLUSTER SHARDS (CLUSTER SLOTS on a server without it), and again
// by a worker after a MOVED. Every master gets its own pipelined publishing connection and
// each `SPUBLISH ws:<user> payload` goes to its slot's master; SPUBLISH returns the sharded
// subscribers reached on that master, which are exactly the gateway shards holding the
// user, so its count means what PUBLISH's count means on one Redis.

using wsgate::redis::cluster_topology;
using wsgate::redis::node_address;
using wsgate::redis::redis_endpoint;

/// Where the load generator publishes and reads INFO: one Redis, or a cluster's masters.
struct redis_target {
    redis_endpoint single;                // single mode: the one Redis
    std::vector<redis_endpoint> seeds;    // cluster mode: --redis-url's entries
    std::optional<cluster_topology> map;  // cluster mode: the map read at start

    bool cluster() const { return map.has_value(); }
    /// The endpoint of a cluster node: the seeds' scheme and credentials, db 0.
    redis_endpoint endpoint_of(const node_address& a) const {
        auto ep = seeds.front();
        ep.host = a.host;
        ep.port = a.port;
        ep.db = 0;
        return ep;
    }
    /// The nodes whose INFO is summed: the one Redis, or every master.
    std::vector<redis_endpoint> info_nodes() const {
        if (!cluster()) return {single};
        std::vector<redis_endpoint> out;
        for (const auto& m : map->masters()) out.push_back(endpoint_of(m));
        return out;
    }
    /// For the report and messages: the URL, or the seeds; never credentials.
    std::string describe() const {
        if (!cluster()) return wsgate::redis::redacted_url(single);
        std::string out;
        for (const auto& s : seeds)
            out += (out.empty() ? "" : ",") + wsgate::redis::redacted_url(s);
        return out;
    }
};

/// Reads the slot map from the first of `nodes` that answers, synchronously (at start and
/// after a MOVED, off the hot path). Empty with `err` set when none could.
std::optional<cluster_topology> read_slot_map(const std::vector<redis_endpoint>& nodes,
                                              std::string& err) {
    err = "no node to ask";
    for (const auto& ep : nodes) {
        timeval tv{2, 0};
        redisContext* c = redisConnectWithTimeout(ep.host.c_str(), ep.port, tv);
        auto where = ep.host + ":" + std::to_string(ep.port);
        if (!c || c->err) {
            err = where + ": " + (c ? c->errstr : "cannot allocate a hiredis context");
            if (c) redisFree(c);
            continue;
        }
        redisSetTimeout(c, tv);
        auto run = [&](const std::vector<std::string>& args) {
            std::vector<const char*> argv;
            std::vector<std::size_t> lens;
            for (const auto& a : args) {
                argv.push_back(a.data());
                lens.push_back(a.size());
            }
            return static_cast<redisReply*>(
                redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
        };
        if (!ep.password.empty()) {
            auto* r = ep.username.empty() ? run({"AUTH", ep.password})
                                          : run({"AUTH", ep.username, ep.password});
            if (r) freeReplyObject(r);
        }
        std::optional<cluster_topology> out;
        redisReply* r = run({"CLUSTER", "SHARDS"});
        if (r && r->type == REDIS_REPLY_ARRAY) {
            auto t = wsgate::redis::parse_cluster_shards(*r, ep.host, false);
            if (t)
                out = std::move(*t);
            else
                err = where + ": CLUSTER SHARDS: " + t.error().message();
        } else if (r && r->type == REDIS_REPLY_ERROR) {
            // A server older than 7.0 has no CLUSTER SHARDS.
            std::string first(r->str, r->len);
            freeReplyObject(r);
            r = run({"CLUSTER", "SLOTS"});
            if (r && r->type == REDIS_REPLY_ARRAY) {
                auto t = wsgate::redis::parse_cluster_slots(*r, ep.host);
                if (t)
                    out = std::move(*t);
                else
                    err = where + ": CLUSTER SLOTS: " + t.error().message();
            } else {
                err = where + ": " +
                      (r && r->type == REDIS_REPLY_ERROR ? std::string(r->str, r->len) : first);
            }
        } else {
            err = where + ": " + (c->err ? c->errstr : "unexpected CLUSTER SHARDS reply");
        }
        if (r) freeReplyObject(r);
        redisFree(c);
        if (out) return out;
    }
    return std::nullopt;
}

/// INFO of every node of a redis_target, summed: the one Redis, or the cluster's masters.
class redis_infos {
public:
    explicit redis_infos(const redis_target& t) : cluster_(t.cluster()) {
        for (const auto& ep : t.info_nodes()) {
            nodes_.push_back(std::make_unique<redis_info>(ep));
            names_.push_back(ep.host + ":" + std::to_string(ep.port));
        }
    }
    bool ok() const {
        for (const auto& n : nodes_)
            if (!n->ok()) return false;
        return true;
    }
    std::string error() const {
        for (std::size_t i = 0; i < nodes_.size(); ++i)
            if (!nodes_[i]->ok())
                return cluster_ ? "master " + names_[i] + ": " + nodes_[i]->error()
                                : nodes_[i]->error();
        return {};
    }
    /// Our own INFO connections, one per node (they show in connected_clients).
    std::size_t size() const { return nodes_.size(); }
    /// The sum of the field over the nodes; empty when a node lacks it.
    std::optional<double> get(const char* section, const std::string& key) {
        double sum = 0;
        for (auto& n : nodes_) {
            auto v = n->get(section, key);
            if (!v) return std::nullopt;
            sum += *v;
        }
        return sum;
    }
    std::optional<long> clients() {
        auto v = get("clients", "connected_clients");
        return v ? std::optional<long>(static_cast<long>(*v)) : std::nullopt;
    }
    std::optional<double> cpu() {
        auto s = get("cpu", "used_cpu_sys");
        auto u = get("cpu", "used_cpu_user");
        if (!s || !u) return std::nullopt;
        return *s + *u;
    }
    /// Subscribed channels: classic ones on one Redis, sharded ones on a cluster.
    std::optional<double> channels() {
        return get("stats", cluster_ ? "pubsubshard_channels" : "pubsub_channels");
    }
    /// connected_clients per node, in the order of the masters.
    json::array clients_per_node() {
        json::array out;
        for (auto& n : nodes_) out.push_back(opt_json(n->clients()));
        return out;
    }

private:
    bool cluster_;
    std::vector<std::unique_ptr<redis_info>> nodes_;
    std::vector<std::string> names_;
};

/// A worker's publishing side: one redis_pipeline with PUBLISH on one Redis, or one with
/// SPUBLISH per master, each message sent to its slot's master. A MOVED answer re-reads the
/// map (at most every 100 ms) and sends the message again to the node the answer named; the
/// counts then see it once: `sent` counts messages, not commands, and `acked` final answers.
class publisher_set {
public:
    explicit publisher_set(net::io_context& ioc) : ioc_(ioc) {}

    std::function<void()> on_progress;  // after any pipeline wrote or read

    /// Connects to the one Redis, or to every master of `t`'s map.
    bool connect(const redis_target& t, std::string& err) {
        target_ = &t;
        if (!t.cluster()) return add(t.single, "", err) != nullptr;
        map_ = *t.map;
        t_map_ = steady::now();
        return route_masters(err);
    }
    void publish(std::string_view channel, std::string_view payload) {
        if (!map_) return pipes_.front()->publish(channel, payload);
        const auto* owner = map_->owner(wsgate::redis::key_slot(channel));
        auto i =
            owner ? pipe_of_master_[static_cast<std::size_t>(owner - map_->masters().data())] : -1;
        if (i < 0) {
            ++unrouted_;  // no master serves the slot: answered here, as an error
            return;
        }
        pipes_[static_cast<std::size_t>(i)]->publish(channel, payload);
    }
    void flush() {
        for (auto& p : pipes_) p->flush();
    }
    void close() {
        for (auto& p : pipes_) p->close();
    }
    bool failed() const {
        for (const auto& p : pipes_)
            if (p->failed()) return true;
        return false;
    }
    std::uint64_t sent() const { return sum(&redis_pipeline::sent) - redirects_ + unrouted_; }
    std::uint64_t acked() const { return sum(&redis_pipeline::acked) + unrouted_; }
    std::uint64_t zero_receivers() const { return sum(&redis_pipeline::zero_receivers); }
    std::uint64_t errors() const { return sum(&redis_pipeline::errors) + unrouted_; }
    std::uint64_t redirects() const { return redirects_; }
    std::uint64_t map_reads() const { return map_reads_; }
    std::size_t connections() const { return pipes_.size(); }

private:
    std::uint64_t sum(std::uint64_t redis_pipeline::*field) const {
        std::uint64_t n = 0;
        for (const auto& p : pipes_) n += (*p).*field;
        return n;
    }
    /// The pipeline to `ep` (key "host:port"), connecting one if there is none yet.
    redis_pipeline* add(const redis_endpoint& ep, const std::string& key, std::string& err) {
        for (std::size_t i = 0; i < keys_.size(); ++i)
            if (!key.empty() && keys_[i] == key) return pipes_[i].get();
        auto p = std::make_unique<redis_pipeline>(ioc_);
        p->on_progress = [this] {
            if (on_progress) on_progress();
        };
        if (!key.empty()) {
            p->command = "SPUBLISH";
            p->on_redirect = [this](std::string channel, std::string payload,
                                    std::string_view text) {
                redirected(std::move(channel), std::move(payload), text);
            };
        }
        if (!p->connect(ep, err)) {
            if (!key.empty()) err = "master " + key + ": " + err;
            return nullptr;
        }
        pipes_.push_back(std::move(p));
        keys_.push_back(key);
        return pipes_.back().get();
    }
    /// Points every master of map_ at its pipeline, connecting new masters.
    bool route_masters(std::string& err) {
        pipe_of_master_.assign(map_->masters().size(), -1);
        for (std::size_t m = 0; m < map_->masters().size(); ++m) {
            const auto& a = map_->masters()[m];
            loopback_address(a.host, "--redis-url (a cluster node)");
            if (!add(target_->endpoint_of(a), a.key(), err)) return false;
            for (std::size_t i = 0; i < keys_.size(); ++i)
                if (keys_[i] == a.key()) pipe_of_master_[m] = static_cast<int>(i);
        }
        return true;
    }
    void redirected(std::string channel, std::string payload, std::string_view text) {
        ++redirects_;
        std::string err;
        if (seconds_since(t_map_) >= 0.1) {
            t_map_ = steady::now();
            std::vector<redis_endpoint> ask;
            for (const auto& m : map_->masters()) ask.push_back(target_->endpoint_of(m));
            for (const auto& s : target_->seeds) ask.push_back(s);
            if (auto m = read_slot_map(ask, err)) {
                ++map_reads_;
                map_ = std::move(*m);
                try {
                    if (!route_masters(err)) std::cerr << "wsgate-load: " << err << "\n";
                } catch (const std::exception& e) {
                    std::cerr << "wsgate-load: " << e.what() << "\n";
                }
            }
        }
        // "MOVED <slot> <host>:<port>": the node that serves the slot now.
        redis_pipeline* to = nullptr;
        auto at = text.rfind(' ');
        auto colon = text.rfind(':');
        if (at != std::string_view::npos && colon != std::string_view::npos && colon > at) {
            node_address a{std::string(text.substr(at + 1, colon - at - 1)), 0};
            try {
                a.port = static_cast<std::uint16_t>(std::stoi(std::string(text.substr(colon + 1))));
                loopback_address(a.host, "MOVED");
                to = add(target_->endpoint_of(a), a.key(), err);
            } catch (const std::exception&) {
            }
        }
        if (!to) {
            ++unrouted_;
            return;
        }
        to->publish(channel, payload);
        to->flush();
    }

    net::io_context& ioc_;
    const redis_target* target_ = nullptr;
    std::vector<std::unique_ptr<redis_pipeline>> pipes_;
    std::vector<std::string> keys_;  // "host:port" of each pipeline (cluster mode)
    std::optional<cluster_topology> map_;
    std::vector<int> pipe_of_master_;  // map_->masters()[i] → index into pipes_
    steady::time_point t_map_{};
    std::uint64_t redirects_ = 0, unrouted_ = 0, map_reads_ = 0;
};

// --- a mergeable histogram ----------------------------------------------------------------------
//
// Values below 128 get a bucket each; above that, 64 buckets per power of two, so a bucket is
// at most 1/64 of its lower bound wide and a percentile read from its midpoint is within 0.8%
// of the exact one. Workers send theirs to the conductor, which adds the buckets up: the
// percentiles are those of the merged distribution, never averages of per-process percentiles.

class histogram {
public:
    void add(std::uint64_t v) {
        auto i = index(v);
        if (i >= counts_.size()) counts_.resize(i + 1, 0);
        ++counts_[i];
        ++n_;
        max_ = std::max(max_, v);
    }
    void merge(const histogram& o) {
        if (o.counts_.size() > counts_.size()) counts_.resize(o.counts_.size(), 0);
        for (std::size_t i = 0; i < o.counts_.size(); ++i) counts_[i] += o.counts_[i];
        n_ += o.n_;
        max_ = std::max(max_, o.max_);
    }
    std::uint64_t count() const { return n_; }
    /// The value at rank round(p/100 · (n−1)) (p = 100: the exact maximum); 0 when empty.
    double percentile(double p) const {
        if (n_ == 0) return 0;
        if (p >= 100) return static_cast<double>(max_);
        auto rank = static_cast<std::uint64_t>(p / 100.0 * static_cast<double>(n_ - 1) + 0.5);
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < counts_.size(); ++i) {
            seen += counts_[i];
            if (seen > rank) return std::min(midpoint(i), static_cast<double>(max_));
        }
        return static_cast<double>(max_);
    }
    json::object to_json() const {
        json::array b;
        for (std::size_t i = 0; i < counts_.size(); ++i)
            if (counts_[i]) b.push_back(json::array{i, counts_[i]});
        return {{"n", n_}, {"max", max_}, {"buckets", b}};
    }
    static histogram from_json(const json::value& v) {
        histogram h;
        const auto& o = v.as_object();
        for (const auto& e : o.at("buckets").as_array()) {
            auto i = static_cast<std::size_t>(e.as_array().at(0).to_number<std::uint64_t>());
            auto c = e.as_array().at(1).to_number<std::uint64_t>();
            if (i >= h.counts_.size()) h.counts_.resize(i + 1, 0);
            h.counts_[i] += c;
        }
        h.n_ = o.at("n").to_number<std::uint64_t>();
        h.max_ = o.at("max").to_number<std::uint64_t>();
        return h;
    }

private:
    static std::size_t index(std::uint64_t v) {
        if (v < 128) return static_cast<std::size_t>(v);
        int shift = (63 - __builtin_clzll(v)) - 6;
        return static_cast<std::size_t>(shift + 1) * 64 + static_cast<std::size_t>(v >> shift) - 64;
    }
    static double midpoint(std::size_t i) {
        if (i < 128) return static_cast<double>(i);
        auto shift = i / 64 - 1;
        std::uint64_t m = i % 64 + 64;
        return (static_cast<double>(m << shift) + static_cast<double>(((m + 1) << shift) - 1)) / 2;
    }
    std::vector<std::uint64_t> counts_;
    std::uint64_t n_ = 0, max_ = 0;
};

std::uint64_t to_ns(steady::time_point t) {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

// --- the load generator: one worker process ----------------------------------------------------
//
// A worker owns a slice of the users, its clients, its own source addresses, its own PUBLISH
// connection and its own event loop. It measures only itself; the conductor (the parent
// process, below) measures the gateway and Redis and orders the phases over two pipes: the
// worker writes one line per milestone ("R" tokens minted, "C" all connects done, "D" publish
// drained, finally "J {json}" with its counts and histograms) and, at each of them but "C",
// waits for one order byte ("G" connect, "P" publish, "Q" report and quit). A worker thus
// never closes its sockets while another is still being measured.

enum class cstate : std::uint8_t { idle, connecting, open, closed };

struct client {
    client(net::io_context& ioc, std::uint32_t u, std::size_t read_limit)
        : ws(ioc), buf(read_limit), user(u) {}
    websocket::stream<tcp::socket> ws;
    beast::flat_buffer buf;
    std::unique_ptr<net::steady_timer> deadline;         // during the connect only
    std::unique_ptr<websocket::response_type> response;  // during the handshake only
    steady::time_point started{};
    std::uint32_t user;
    std::uint32_t received = 0;
    cstate state = cstate::idle;
    bool timed_out = false;
};

class load {
public:
    /// `up_fd`: the write end towards the conductor; `down_fd`: the read end of its orders.
    load(options o, std::vector<net::ip::address_v4> sources, redis_target redis, int up_fd,
         int down_fd)
        : o_(std::move(o)),
          sources_(std::move(sources)),
          redis_(std::move(redis)),
          server_(loopback_address(o_.host, "--host"), o_.port),
          down_(ioc_, down_fd),
          up_fd_(up_fd),
          pub_(ioc_) {}

    int run();

private:
    // connect phase
    void build_clients();
    void start_more();
    void start_connect(client& c, std::size_t index);
    void connect_failed(client& c, error_code ec, bool handshake);
    void connect_succeeded(client& c);
    void finish_attempt(client& c);
    void read_next(client& c);
    void on_read(client& c, error_code ec);
    std::string user_id(std::uint32_t u) const {
        return o_.user_prefix + std::to_string(o_.user_offset + u);
    }
    std::string failure_kind(const client& c, error_code ec) const;

    // publisher
    bool publisher_connect(std::string& err);
    void publish_one();
    void pump();

    // the conductor
    void tell(const std::string& line);
    net::awaitable<char> next_order();

    net::awaitable<void> main_flow();
    net::awaitable<void> sleep_for(double s) {
        net::steady_timer t(ioc_);
        t.expires_after(
            std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(s)));
        co_await t.async_wait(net::as_tuple(net::use_awaitable));
    }
    net::awaitable<void> connect_all();
    net::awaitable<void> publish_and_drain();

    json::object result();

    options o_;
    std::vector<net::ip::address_v4> sources_;
    redis_target redis_;
    tcp::endpoint server_;
    net::io_context ioc_{1};
    net::posix::stream_descriptor down_;
    int up_fd_;
    std::vector<std::string> tokens_;
    std::vector<std::unique_ptr<client>> clients_;
    std::vector<std::uint32_t> open_per_user_;
    bool stopping_ = false;
    std::string error_;

    // connect results
    std::size_t next_ = 0, inflight_ = 0;
    std::uint64_t connected_ = 0, open_ = 0;
    std::map<std::string, std::uint64_t> failures_, closes_;
    histogram connect_us_;
    steady::time_point t_connect0_{}, t_last_connect_{};
    long self_rss_before_ = 0, self_rss_after_ = 0;
    std::uint64_t open_after_connect_ = 0;
    double connect_self_cpu_ = 0;

    // publish results
    publisher_set pub_;
    bool published_ = false;
    std::uint64_t target_ = 0;  // messages to publish (fanout) or 0 = until stop_publishing_
    bool stop_publishing_ = false;
    std::uint64_t expected_ = 0, received_ = 0;
    std::vector<std::uint32_t> published_per_user_;
    std::mt19937_64 rng_;
    steady::time_point t_pub0_{}, t_pub_end_{}, t_last_rx_{}, t_drain_end_{};
    histogram latency_ns_;
    double self_cpu0_ = 0, self_cpu1_ = 0;
    std::optional<sched_times> self_sched0_, self_sched1_;
    json::array timeline_;  // [seconds since publish start, messages received so far]
    bool drained_ = false;
    bool stalled_ = false;  // publishing gave up: no reply and no delivery for --drain-timeout
    bool latency_mode_ = false;
};

void load::build_clients() {
    std::size_t limit = o_.payload_bytes + 64;
    tokens_.reserve(o_.users);
    for (std::uint32_t u = 0; u < o_.users; ++u)
        tokens_.push_back(wsgate::auth::mint_hs256(o_.secret, user_id(u), std::chrono::hours(24)));
    clients_.reserve(std::size_t{o_.users} * o_.conns_per_user);
    // Interleave users so that each user's connections are spread over the run.
    for (std::uint32_t k = 0; k < o_.conns_per_user; ++k)
        for (std::uint32_t u = 0; u < o_.users; ++u)
            clients_.push_back(std::make_unique<client>(ioc_, u, limit));
    open_per_user_.assign(o_.users, 0);
    published_per_user_.assign(o_.users, 0);
}

void load::start_more() {
    while (inflight_ < o_.concurrency && next_ < clients_.size()) {
        auto i = next_++;
        start_connect(*clients_[i], i);
    }
}

std::string load::failure_kind(const client& c, error_code ec) const {
    if (c.timed_out) return "timeout";
    if (ec == net::error::connection_refused) return "refused";
    if (ec == net::error::connection_reset) return "reset";
    if (ec == net::error::eof || ec == beast::http::error::end_of_stream) return "eof";
    if (ec == net::error::no_descriptors) return "no_descriptors";
    if (ec == net::error::address_in_use || ec == boost::system::errc::address_not_available)
        return "no_source_port";
    if (ec == websocket::error::upgrade_declined && c.response)
        return "http_" + std::to_string(c.response->result_int());
    return ec.message();
}

void load::start_connect(client& c, std::size_t index) {
    ++inflight_;
    c.state = cstate::connecting;
    c.started = steady::now();
    auto& sock = c.ws.next_layer();
    error_code ec;
    sock.open(tcp::v4(), ec);
    if (!ec) {
        // Let connect() pick the port per (source, destination) instead of bind().
        int one = 1;
        ::setsockopt(sock.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        sock.bind(tcp::endpoint(sources_[index % sources_.size()], 0), ec);
    }
    if (ec) {
        // Report from the loop, not from inside start_more().
        net::post(ioc_, [this, &c, ec] { connect_failed(c, ec, false); });
        return;
    }
    websocket::stream_base::timeout t{};
    t.handshake_timeout = websocket::stream_base::none();  // our own deadline covers it
    t.idle_timeout = websocket::stream_base::none();
    t.keep_alive_pings = false;
    c.ws.set_option(t);
    c.ws.write_buffer_bytes(256);  // clients only send control frames
    c.ws.read_message_max(o_.payload_bytes + 64);
    c.deadline = std::make_unique<net::steady_timer>(ioc_);
    c.deadline->expires_after(std::chrono::duration_cast<steady::duration>(
        std::chrono::duration<double>(o_.connect_timeout)));
    c.deadline->async_wait([&c](error_code e) {
        if (e || c.state != cstate::connecting) return;
        c.timed_out = true;
        error_code ignored;
        c.ws.next_layer().close(ignored);
    });
    sock.async_connect(server_, [this, &c](error_code e) {
        if (e) return connect_failed(c, e, false);
        c.response = std::make_unique<websocket::response_type>();
        auto target = "/ws/v1/status/" + user_id(c.user) + "?token=" + tokens_[c.user];
        auto host = o_.host + ":" + std::to_string(o_.port);
        c.ws.async_handshake(*c.response, host, target, [this, &c](error_code he) {
            if (he) return connect_failed(c, he, true);
            connect_succeeded(c);
        });
    });
}

void load::finish_attempt(client& c) {
    if (c.deadline) c.deadline->cancel();
    c.deadline.reset();
    c.response.reset();
    --inflight_;
    start_more();
}

void load::connect_failed(client& c, error_code ec, bool) {
    ++failures_[failure_kind(c, ec)];
    c.state = cstate::closed;
    error_code ignored;
    c.ws.next_layer().close(ignored);
    finish_attempt(c);
}

void load::connect_succeeded(client& c) {
    auto now = steady::now();
    c.state = cstate::open;
    connect_us_.add(static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(now - c.started).count()));
    ++connected_;
    ++open_;
    ++open_per_user_[c.user];
    t_last_connect_ = now;
    finish_attempt(c);
    read_next(c);
}

void load::read_next(client& c) {
    c.ws.async_read(c.buf, [this, &c](error_code ec, std::size_t) { on_read(c, ec); });
}

void load::on_read(client& c, error_code ec) {
    if (ec) {
        if (c.state == cstate::open) {
            c.state = cstate::closed;
            --open_;
            --open_per_user_[c.user];
            if (!stopping_) {
                std::string kind = ec == websocket::error::closed
                                       ? "close_" + std::to_string(c.ws.reason().code)
                                       : failure_kind(c, ec);
                ++closes_[kind];
            }
        }
        return;
    }
    auto now = steady::now();
    ++c.received;
    ++received_;
    t_last_rx_ = now;
    if (latency_mode_) {
        auto data = c.buf.cdata();
        const char* p = static_cast<const char*>(data.data());
        if (data.size() >= 20) {
            std::uint64_t sent_ns = 0;
            for (int i = 0; i < 20; ++i)
                sent_ns = sent_ns * 10 + static_cast<std::uint64_t>(p[i] - '0');
            auto now_ns = monotonic_ns();
            latency_ns_.add(now_ns > sent_ns ? now_ns - sent_ns : 0);
        }
    }
    c.buf.consume(c.buf.size());
    read_next(c);
}

// --- publisher: Asio socket + hiredis formatting and reply parsing ---------------------------

bool load::publisher_connect(std::string& err) {
    pub_.on_progress = [this] {
        if (pub_.acked() == pub_.sent() && target_ != 0 && pub_.sent() == target_ &&
            t_pub_end_ == steady::time_point{})
            t_pub_end_ = steady::now();
        pump();
    };
    return pub_.connect(redis_, err);
}

void load::publish_one() {
    auto u = static_cast<std::uint32_t>(rng_() % o_.users);
    auto channel = wsgate::channel_for_user(user_id(u));
    // First 20 bytes: CLOCK_MONOTONIC ns; then the sequence number; then 'x' padding. Text,
    // valid UTF-8, exactly --payload-bytes long.
    char head[48];
    int n = std::snprintf(head, sizeof head, "%020llu %llu ",
                          static_cast<unsigned long long>(monotonic_ns()),
                          static_cast<unsigned long long>(pub_.sent()));
    std::string payload(head, static_cast<std::size_t>(n));
    if (payload.size() < o_.payload_bytes)
        payload.append(o_.payload_bytes - payload.size(), 'x');
    else
        payload.resize(o_.payload_bytes);
    pub_.publish(channel, payload);
    ++published_per_user_[u];
    expected_ += open_per_user_[u];
}

void load::pump() {
    if (pub_.failed()) stop_publishing_ = true;
    if (stop_publishing_) return;
    std::uint64_t due = UINT64_MAX;
    if (o_.rate > 0) due = static_cast<std::uint64_t>(seconds_since(t_pub0_) * o_.rate) + 1;
    while ((target_ == 0 || pub_.sent() < target_) && pub_.sent() < due &&
           pub_.sent() - pub_.acked() < o_.pipeline &&
           (o_.max_backlog == 0 || expected_ - received_ < o_.max_backlog))
        publish_one();
    pub_.flush();
}

// --- the conductor's pipes -------------------------------------------------------------------

void load::tell(const std::string& line) {
    // Blocking on purpose: the lines are short, except the final result, which the conductor
    // reads while this worker has nothing else to do.
    std::string s = line + "\n";
    const char* p = s.data();
    std::size_t left = s.size();
    while (left > 0) {
        auto n = ::write(up_fd_, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // the conductor is gone; the next order read ends this worker
        p += n;
        left -= static_cast<std::size_t>(n);
    }
}

/// The conductor's next order byte, or 'Q' when its pipe is closed (it exited).
net::awaitable<char> load::next_order() {
    char c = 'Q';
    auto [ec, n] =
        co_await net::async_read(down_, net::buffer(&c, 1), net::as_tuple(net::use_awaitable));
    co_return ec || n != 1 ? 'Q' : c;
}

// --- phases ------------------------------------------------------------------------------------

net::awaitable<void> load::connect_all() {
    self_rss_before_ = rss_kb(getpid()).value_or(0);
    auto self0 = self_cpu_seconds();
    t_connect0_ = steady::now();
    start_more();
    while (inflight_ > 0 || next_ < clients_.size()) co_await sleep_for(0.01);
    if (!connected_) t_last_connect_ = steady::now();
    connect_self_cpu_ = self_cpu_seconds() - self0;
}

net::awaitable<void> load::publish_and_drain() {
    rng_.seed(o_.seed);
    latency_mode_ = o_.mode == "latency";
    target_ = latency_mode_ ? 0 : o_.messages;
    self_cpu0_ = self_cpu_seconds();
    self_sched0_ = sched_of(getpid());
    t_pub0_ = steady::now();
    // A fanout worker whose share of the messages is 0 only waits (there is no "none" target).
    if (!latency_mode_ && target_ == 0) stop_publishing_ = true;
    pump();
    // Every 100 ms: deliveries so far, to see stalls and the shape of the drain.
    auto next_sample = 0.1;
    auto sample = [&] {
        auto t = seconds_since(t_pub0_);
        if (t < next_sample || timeline_.size() >= 600) return;
        next_sample = t + 0.1;
        timeline_.push_back(json::array{std::round(t * 1000) / 1000, received_});
    };
    // With a rate, a 1 ms tick releases what is due; otherwise replies drive the pump.
    // Publishing ends early when neither a reply nor a delivery arrived for --drain-timeout
    // (a dead gateway with --max-backlog, or a dead Redis), so the phase stays bounded.
    std::uint64_t seen_acked = 0, seen_received = 0;
    auto t_moved = steady::now();
    while (true) {
        if (latency_mode_ && seconds_since(t_pub0_) >= o_.duration) stop_publishing_ = true;
        if (stop_publishing_ || (target_ != 0 && pub_.acked() >= target_)) break;
        co_await sleep_for(o_.rate > 0 ? 0.001 : 0.005);
        sample();
        pump();
        if (pub_.acked() != seen_acked || received_ != seen_received) {
            seen_acked = pub_.acked();
            seen_received = received_;
            t_moved = steady::now();
        } else if (seconds_since(t_moved) >= o_.drain_timeout) {
            stalled_ = true;
            break;
        }
    }
    stop_publishing_ = true;
    // Wait for the replies still due, then for the deliveries.
    auto t_wait = steady::now();
    while (pub_.acked() < pub_.sent() && seconds_since(t_wait) < o_.drain_timeout) {
        co_await sleep_for(0.002);
        sample();
    }
    if (t_pub_end_ == steady::time_point{}) t_pub_end_ = steady::now();
    std::uint64_t last_seen = received_;
    auto t_progress = steady::now();
    while (received_ < expected_) {
        co_await sleep_for(0.002);
        sample();
        if (received_ != last_seen) {
            last_seen = received_;
            t_progress = steady::now();
        } else if (seconds_since(t_progress) >= o_.drain_timeout) {
            break;
        }
    }
    drained_ = received_ >= expected_;
    t_drain_end_ = received_ > 0 ? std::max(t_last_rx_, t_pub_end_) : steady::now();
    self_cpu1_ = self_cpu_seconds();
    self_sched1_ = sched_of(getpid());
    timeline_.push_back(json::array{std::round(seconds_since(t_pub0_) * 1000) / 1000, received_});
}

net::awaitable<void> load::main_flow() {
    tell("R");
    char order = co_await next_order();
    if (order == 'G') {
        co_await connect_all();
        tell("C");
        // Give refusals delivered as a close right after the 101 (1008 bad token, 1013) time
        // to arrive before counting what is open.
        co_await sleep_for(o_.settle);
        open_after_connect_ = open_;
        self_rss_after_ = rss_kb(getpid()).value_or(0);
        order = co_await next_order();
        if (order == 'P') {
            if (!publisher_connect(error_)) {
                std::cerr << "wsgate-load: " << error_ << "\n";
            } else {
                published_ = true;
                co_await publish_and_drain();
            }
            tell("D");
            order = co_await next_order();
        }
    }
    tell("J " + json::serialize(result()));
    // Stop: close every socket; the pending reads then complete with operation_aborted.
    stopping_ = true;
    error_code ignored;
    for (auto& c : clients_) c->ws.next_layer().close(ignored);
    pub_.close();
    down_.close(ignored);
}

/// This worker's counts, times (CLOCK_MONOTONIC ns, comparable across processes) and
/// histograms, for the conductor to merge.
json::object load::result() {
    json::object fail, closed;
    for (auto& [k, v] : failures_) fail[k] = v;
    for (auto& [k, v] : closes_) closed[k] = v;
    json::object conn{
        {"attempted", next_},
        {"connected", connected_},
        {"failures", fail},
        {"closed_by_server", closed},
        {"open_after_connect", open_after_connect_},
        {"open_at_end", open_},
        {"t0_ns", to_ns(t_connect0_)},
        {"t_last_ns", to_ns(t_last_connect_)},
        {"connect_us", connect_us_.to_json()},
        {"cpu_s", connect_self_cpu_},
        {"rss_kb_before", self_rss_before_},
        {"rss_kb_after", self_rss_after_},
    };
    json::object out{{"connect", conn}, {"error", error_}};
    if (published_) {
        // Per-client loss attribution: which open clients missed messages of their user.
        std::uint64_t clients_short = 0, missing_on_open = 0;
        for (auto& c : clients_) {
            if (c->state != cstate::open) continue;
            auto want = published_per_user_[c->user];
            if (c->received < want) {
                ++clients_short;
                missing_on_open += want - c->received;
            }
        }
        json::object pub{
            {"published", pub_.sent()},
            {"acked", pub_.acked()},
            {"publish_zero_receivers", pub_.zero_receivers()},
            {"publish_errors", pub_.errors()},
            {"publish_redirects", pub_.redirects()},
            {"publish_map_reads", pub_.map_reads()},
            {"publish_connections", pub_.connections()},
            {"expected_deliveries", expected_},
            {"received", received_},
            {"drained", drained_},
            {"stalled", stalled_},
            {"clients_short", clients_short},
            {"missing_on_open_clients", missing_on_open},
            {"t0_ns", to_ns(t_pub0_)},
            {"t_end_ns", to_ns(t_pub_end_)},
            {"t_drain_end_ns", to_ns(t_drain_end_)},
            {"cpu_s", self_cpu1_ - self_cpu0_},
            {"runqueue_wait_s", self_sched0_ && self_sched1_
                                    ? json::value(self_sched1_->wait_s - self_sched0_->wait_s)
                                    : json::value(nullptr)},
            {"timeline", timeline_},
            {"latency_ns", latency_ns_.to_json()},
        };
        out["publish"] = pub;
    }
    return out;
}

int load::run() {
    build_clients();
    int rc = 0;
    net::co_spawn(ioc_, main_flow(), [&rc](std::exception_ptr e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            std::cerr << "wsgate-load worker: " << x.what() << "\n";
        }
        rc = 1;
    });
    ioc_.run();
    return rc;
}

// --- the conductor: forks the workers, measures the gateway and Redis, merges ----------------
//
// The conductor never opens a WebSocket. It splits the users (and the messages and rate in
// proportion), the source addresses (round-robin, when there are at least as many as
// workers) over --procs workers, forks them before it creates anything else, and then:
//   ready    waits for every "R"; samples the gateway's RSS (summed over --gateway-pid),
//            CPU and open descriptors per pid, and Redis INFO clients;
//   connect  orders "G"; at the last "C" takes the gateway's CPU (connect phase); after
//            --settle samples RSS, descriptors per gateway pid (how SO_REUSEPORT spread the
//            connections), Redis connected_clients and pubsub_channels; holds --hold seconds
//            sampling RSS;
//   publish  (fanout, latency) takes CPU, run-queue and core samples, orders "P", samples
//            Redis's output buffers every 100 ms until every "D", then samples again;
//   report   orders "Q", reads every "J" result and merges: counts summed, times as the
//            earliest start and the latest end over the workers, histograms merged,
//            timelines re-binned on a common clock and summed.
// A worker that dies or a phase longer than --phase-timeout ends the run: the conductor
// stops its workers (SIGTERM by pid, then SIGKILL) and exits 1. Workers die with it
// (PR_SET_PDEATHSIG).

class conductor {
public:
    conductor(options o, std::vector<net::ip::address_v4> sources, redis_target redis)
        : o_(std::move(o)), sources_(std::move(sources)), redis_(std::move(redis)) {}
    int run();

private:
    struct worker {
        options o;
        std::vector<net::ip::address_v4> sources;
        pid_t pid = -1;
        int up_fd = -1;    // conductor reads the worker's lines
        int down_fd = -1;  // conductor writes orders
        std::string buf;
        json::value result;
    };
    void split();
    bool spawn();
    bool wait_all(char tag, double timeout_s, const std::function<void()>& tick = {});
    void order_all(char c);
    void stop_workers();
    void sleep_s(double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }
    json::array gateway_fds() const {
        json::array out;
        for (int p : o_.gateway_pids) out.push_back(opt_json(fd_count(p)));
        return out;
    }
    void report();

    options o_;
    std::vector<net::ip::address_v4> sources_;
    redis_target redis_;
    std::vector<worker> workers_;
    std::unique_ptr<redis_infos> info_;  // one Redis, or summed over a cluster's masters
    std::string error_;

    // gateway and Redis, connect phase
    std::optional<long> rss_before_, rss_after_connect_, rss_after_, rss_max_, rss_after_publish_;
    std::optional<long> redis_clients_before_, redis_clients_after_;
    std::optional<double> redis_channels_, connect_gw_cpu_;
    json::array redis_clients_per_node_;
    json::array fds_before_, fds_after_;
    // publish phase
    std::optional<double> gw_cpu0_, gw_cpu1_, redis_cpu0_, redis_cpu1_;
    std::optional<sched_times> gw_sched0_, gw_sched1_;
    std::vector<std::pair<unsigned long long, unsigned long long>> cores0_, cores1_;
    std::optional<double> redis_max_obuf_;
};

void conductor::split() {
    auto n = o_.procs;
    std::uint64_t users_before = 0, messages_before = 0;
    for (std::uint32_t i = 0; i < n; ++i) {
        worker w;
        w.o = o_;
        w.o.users = o_.users / n + (i < o_.users % n ? 1 : 0);
        w.o.user_offset = o_.user_offset + users_before;
        // The messages and the rate follow the share of users, so every user is as likely to
        // be drawn as with one process; the cumulative rounding keeps the total exact.
        auto users_after = users_before + w.o.users;
        auto messages_after = o_.messages * users_after / o_.users;
        w.o.messages = messages_after - messages_before;
        w.o.rate = o_.rate * static_cast<double>(w.o.users) / static_cast<double>(o_.users);
        if (o_.max_backlog > 0)  // a total over the workers, like --messages
            w.o.max_backlog = std::max<std::uint64_t>(1, o_.max_backlog * w.o.users / o_.users);
        w.o.seed = o_.seed + i;
        users_before = users_after;
        messages_before = messages_after;
        if (sources_.size() >= n) {
            for (std::size_t j = i; j < sources_.size(); j += n) w.sources.push_back(sources_[j]);
        } else {
            w.sources = sources_;  // shared: connect() still picks a distinct port per socket
        }
        workers_.push_back(std::move(w));
    }
}

bool conductor::spawn() {
    std::cout.flush();
    std::cerr.flush();
    for (auto& w : workers_) {
        int up[2], down[2];
        if (::pipe2(up, O_CLOEXEC) != 0 || ::pipe2(down, O_CLOEXEC) != 0) {
            error_ = std::string("pipe: ") + std::strerror(errno);
            return false;
        }
        pid_t parent = ::getpid();
        pid_t pid = ::fork();
        if (pid < 0) {
            error_ = std::string("fork: ") + std::strerror(errno);
            return false;
        }
        if (pid == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (::getppid() != parent) ::_exit(1);
            ::close(up[0]);
            ::close(down[1]);
            for (auto& other : workers_)
                if (other.pid > 0) {
                    ::close(other.up_fd);
                    ::close(other.down_fd);
                }
            int rc = 1;
            try {
                load l(w.o, w.sources, redis_, up[1], down[0]);
                rc = l.run();
            } catch (const std::exception& e) {
                std::cerr << "wsgate-load worker: " << e.what() << "\n";
            }
            std::cerr.flush();
            ::_exit(rc);
        }
        ::close(up[1]);
        ::close(down[0]);
        w.pid = pid;
        w.up_fd = up[0];
        w.down_fd = down[1];
    }
    return true;
}

bool conductor::wait_all(char tag, double timeout_s, const std::function<void()>& tick) {
    auto t0 = steady::now();
    std::vector<bool> got(workers_.size(), false);
    std::size_t left = workers_.size();
    while (left > 0) {
        if (seconds_since(t0) > timeout_s) {
            error_ = std::string("the workers did not reach '") + tag + "' within " +
                     std::to_string(static_cast<int>(timeout_s)) + " s (--phase-timeout)";
            return false;
        }
        std::vector<pollfd> fds;
        std::vector<std::size_t> which;
        for (std::size_t i = 0; i < workers_.size(); ++i)
            if (!got[i]) {
                fds.push_back(pollfd{workers_[i].up_fd, POLLIN, 0});
                which.push_back(i);
            }
        int n = ::poll(fds.data(), fds.size(), 100);
        if (tick) tick();
        if (n <= 0) continue;
        for (std::size_t k = 0; k < fds.size(); ++k) {
            if (!fds[k].revents) continue;
            auto& w = workers_[which[k]];
            char chunk[65536];
            auto r = ::read(w.up_fd, chunk, sizeof chunk);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) {
                error_ = "worker " + std::to_string(which[k]) + " (pid " + std::to_string(w.pid) +
                         ") exited before '" + tag + "'";
                return false;
            }
            w.buf.append(chunk, static_cast<std::size_t>(r));
            for (auto nl = w.buf.find('\n'); nl != std::string::npos && !got[which[k]];
                 nl = w.buf.find('\n')) {
                std::string line = w.buf.substr(0, nl);
                w.buf.erase(0, nl + 1);
                if (line.empty() || line[0] != tag) continue;
                if (tag == 'J') w.result = json::parse(line.substr(2));
                got[which[k]] = true;
                --left;
            }
        }
    }
    return true;
}

void conductor::order_all(char c) {
    for (auto& w : workers_)
        if (w.down_fd >= 0 && ::write(w.down_fd, &c, 1) != 1) {
            // A dead worker shows up as EOF in wait_all.
        }
}

void conductor::stop_workers() {
    for (auto& w : workers_)
        if (w.pid > 0) ::kill(w.pid, SIGTERM);
    auto t0 = steady::now();
    for (auto& w : workers_) {
        while (w.pid > 0) {
            int status = 0;
            auto r = ::waitpid(w.pid, &status, WNOHANG);
            if (r == w.pid || r < 0) {
                w.pid = -1;
                break;
            }
            if (seconds_since(t0) > 5) ::kill(w.pid, SIGKILL);
            sleep_s(0.02);
        }
    }
}

int conductor::run() {
    split();
    if (!spawn()) {
        std::cerr << "wsgate-load: " << error_ << "\n";
        stop_workers();
        return 1;
    }
    // Only now (the workers must not inherit it): the INFO connection.
    if (redis_.cluster() || !redis_.single.host.empty()) {
        info_ = std::make_unique<redis_infos>(redis_);
        if (!info_->ok()) {
            std::cerr << "wsgate-load: " << (o_.mode == "connect" ? "warning: " : "") << "Redis at "
                      << redis_.describe() << ": " << info_->error() << "\n";
            if (o_.mode != "connect") {
                stop_workers();
                return 1;
            }
        }
    }
    auto fail = [&] {
        std::cerr << "wsgate-load: " << error_ << "\n";
        stop_workers();
        return 1;
    };
    bool info = info_ && info_->ok();
    if (!wait_all('R', o_.phase_timeout)) return fail();

    if (info) redis_clients_before_ = info_->clients();
    rss_before_ = sum_over(o_.gateway_pids, rss_kb);
    fds_before_ = gateway_fds();
    auto gw0 = sum_over(o_.gateway_pids, cpu_seconds);
    order_all('G');
    if (!wait_all('C', o_.phase_timeout)) return fail();
    auto gw1 = sum_over(o_.gateway_pids, cpu_seconds);
    if (gw0 && gw1) connect_gw_cpu_ = *gw1 - *gw0;
    sleep_s(o_.settle);
    rss_after_connect_ = sum_over(o_.gateway_pids, rss_kb);
    fds_after_ = gateway_fds();
    if (info) {
        redis_clients_after_ = info_->clients();
        redis_channels_ = info_->channels();
        redis_clients_per_node_ = info_->clients_per_node();
    }
    rss_max_ = rss_after_connect_;
    auto t_hold = steady::now();
    while (seconds_since(t_hold) < o_.hold) {
        sleep_s(std::min(1.0, o_.hold - seconds_since(t_hold)));
        auto r = sum_over(o_.gateway_pids, rss_kb);
        if (r && (!rss_max_ || *r > *rss_max_)) rss_max_ = r;
    }
    rss_after_ = sum_over(o_.gateway_pids, rss_kb);
    if (info && o_.hold > 0) {
        redis_clients_after_ = info_->clients();
        redis_clients_per_node_ = info_->clients_per_node();
    }

    if (o_.mode != "connect") {
        redis_cpu0_ = info ? info_->cpu() : std::nullopt;
        gw_cpu0_ = sum_over(o_.gateway_pids, cpu_seconds);
        gw_sched0_ = sum_over(o_.gateway_pids, sched_of);
        cores0_ = core_jiffies();
        order_all('P');
        // The gateway's backlog lives in Redis's output buffer for its subscriber
        // connection; Redis drops the connection past client-output-buffer-limit pubsub
        // (32 MB by default). On a cluster: each master's peak, summed.
        auto sample_obuf = [&] {
            if (!info) return;
            auto ob = info_->get("clients", "client_recent_max_output_buffer");
            if (ob && (!redis_max_obuf_ || *ob > *redis_max_obuf_)) redis_max_obuf_ = ob;
        };
        if (!wait_all('D', o_.phase_timeout, sample_obuf)) return fail();
        gw_cpu1_ = sum_over(o_.gateway_pids, cpu_seconds);
        gw_sched1_ = sum_over(o_.gateway_pids, sched_of);
        cores1_ = core_jiffies();
        redis_cpu1_ = info ? info_->cpu() : std::nullopt;
        rss_after_publish_ = sum_over(o_.gateway_pids, rss_kb);
    }
    order_all('Q');
    if (!wait_all('J', o_.phase_timeout)) return fail();
    int rc = 0;
    for (auto& w : workers_) {
        int status = 0;
        if (::waitpid(w.pid, &status, 0) == w.pid &&
            !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
            rc = 1;
        w.pid = -1;
        ::close(w.up_fd);
        ::close(w.down_fd);
        if (!w.result.as_object().at("error").as_string().empty()) rc = 1;
    }
    report();
    return rc;
}

// --- output -------------------------------------------------------------------------------

void conductor::report() {
    auto u64 = [](const json::value& v) { return v.to_number<std::uint64_t>(); };
    auto dbl = [](const json::value& v) { return v.is_null() ? 0.0 : v.to_number<double>(); };

    json::object params{
        {"mode", o_.mode},
        {"users", o_.users},
        {"conns_per_user", o_.conns_per_user},
        {"connections", std::uint64_t{o_.users} * o_.conns_per_user},
        {"procs", o_.procs},
        {"concurrency", o_.concurrency},
        {"user_offset", o_.user_offset},
        {"host", o_.host},
        {"port", o_.port},
        {"source_ips", o_.source_ips},
        {"source_ip_count", sources_.size()},
        {"redis", redis_.describe()},
        {"redis_mode", o_.redis_mode},
        {"redis_nodes", redis_.cluster() ? redis_.map->masters().size() : std::size_t{1}},
        {"connect_timeout_s", o_.connect_timeout},
        {"hold_s", o_.hold},
    };
    json::array pids;
    for (int p : o_.gateway_pids) pids.push_back(p);
    params["gateway_pids"] = pids;
    if (o_.mode != "connect") {
        params["payload_bytes"] = o_.payload_bytes;
        params["rate"] = o_.rate;
        params["pipeline"] = o_.pipeline;
        params["max_backlog"] = o_.max_backlog;
        params["drain_timeout_s"] = o_.drain_timeout;
        params["seed"] = o_.seed;
        if (o_.mode == "fanout")
            params["messages"] = o_.messages;
        else
            params["duration_s"] = o_.duration;
    }

    // --- connect: counts summed, the clock from the first start to the last connect
    std::uint64_t attempted = 0, connected = 0, open_after = 0, open_end = 0, failed = 0;
    std::uint64_t t0 = UINT64_MAX, t_last = 0;
    double self_cpu = 0;
    long self_rss_before = 0, self_rss_after = 0;
    std::map<std::string, std::uint64_t> failures, closes;
    histogram connect_us;
    json::array per_worker;
    for (auto& w : workers_) {
        const auto& c = w.result.as_object().at("connect").as_object();
        attempted += u64(c.at("attempted"));
        connected += u64(c.at("connected"));
        open_after += u64(c.at("open_after_connect"));
        open_end += u64(c.at("open_at_end"));
        t0 = std::min(t0, u64(c.at("t0_ns")));
        t_last = std::max(t_last, u64(c.at("t_last_ns")));
        self_cpu += dbl(c.at("cpu_s"));
        self_rss_before += static_cast<long>(u64(c.at("rss_kb_before")));
        self_rss_after += static_cast<long>(u64(c.at("rss_kb_after")));
        for (const auto& [k, v] : c.at("failures").as_object()) failures[k] += u64(v);
        for (const auto& [k, v] : c.at("closed_by_server").as_object()) closes[k] += u64(v);
        connect_us.merge(histogram::from_json(c.at("connect_us")));
        per_worker.push_back(u64(c.at("connected")));
    }
    json::object fail, closed;
    for (auto& [k, v] : failures) {
        fail[k] = v;
        failed += v;
    }
    for (auto& [k, v] : closes) closed[k] = v;
    double connect_elapsed = t_last > t0 ? static_cast<double>(t_last - t0) / 1e9 : 0;
    std::optional<double> bytes_per_conn;
    if (rss_before_ && rss_after_ && open_after)
        bytes_per_conn = static_cast<double>(*rss_after_ - *rss_before_) * 1024.0 /
                         static_cast<double>(open_after);
    double connects_per_s =
        connect_elapsed > 0 ? static_cast<double>(connected) / connect_elapsed : 0;
    // The conductor's INFO connection (one per master on a cluster) is the only one of ours
    // open while connections are held (the workers' PUBLISH connections open later): the
    // rest belong to the server.
    std::optional<long> redis_server_clients;
    if (redis_clients_after_)
        redis_server_clients = *redis_clients_after_ - static_cast<long>(info_->size());
    json::object conn{
        {"attempted", attempted},
        {"connected", connected},
        {"failed", failed},
        {"failures", fail},
        {"open_after_connect", open_after},
        {"open_at_end", open_end},
        {"closed_by_server", closed},
        {"connected_per_worker", per_worker},
        {"elapsed_s", connect_elapsed},
        {"connects_per_s", connects_per_s},
        {"connect_ms_p50", connect_us.percentile(50) / 1e3},
        {"connect_ms_p99", connect_us.percentile(99) / 1e3},
        {"connect_ms_max", connect_us.percentile(100) / 1e3},
        {"gateway_cpu_s", opt_json(connect_gw_cpu_)},
        {"loadgen_cpu_s", self_cpu},
        {"gateway_rss_kb_before", opt_json(rss_before_)},
        {"gateway_rss_kb_after_connect", opt_json(rss_after_connect_)},
        {"gateway_rss_kb_after", opt_json(rss_after_)},
        {"gateway_rss_kb_max", opt_json(rss_max_)},
        {"gateway_bytes_per_conn", opt_json(bytes_per_conn)},
        {"gateway_open_fds_before", fds_before_},
        {"gateway_open_fds_after", fds_after_},
        {"redis_clients_before", opt_json(redis_clients_before_)},
        {"redis_clients_after", opt_json(redis_clients_after_)},
        {"redis_clients_server", opt_json(redis_server_clients)},
        {"redis_clients_per_node", redis_clients_per_node_},
        {"redis_pubsub_channels", opt_json(redis_channels_)},
        {"loadgen_rss_kb_before", self_rss_before},
        {"loadgen_rss_kb_after", self_rss_after},
    };
    json::object out{{"tool", "wsgate-load"}, {"params", params}, {"connect", conn}};

    auto& err = std::cerr;
    char line[320];
    err << "wsgate-load " << o_.mode << ": " << std::uint64_t{o_.users} * o_.conns_per_user
        << " connections (" << o_.users << " users x " << o_.conns_per_user
        << "), K=" << o_.concurrency
        << (o_.procs > 1 ? " per process, " + std::to_string(o_.procs) + " processes"
                         : std::string())
        << "\n";
    std::snprintf(
        line, sizeof line,
        "  connected %llu  failed %llu  open %llu  in %.2f s = %.0f connects/s (p50 %.1f ms, p99 "
        "%.1f ms)\n",
        static_cast<unsigned long long>(connected), static_cast<unsigned long long>(failed),
        static_cast<unsigned long long>(open_after), connect_elapsed, connects_per_s,
        connect_us.percentile(50) / 1e3, connect_us.percentile(99) / 1e3);
    err << line;
    std::snprintf(line, sizeof line, "  connect phase CPU s: gateway %.2f, loadgen %.2f\n",
                  connect_gw_cpu_.value_or(-1), self_cpu);
    err << line;
    for (auto& [k, v] : failures) err << "    failure " << k << ": " << v << "\n";
    for (auto& [k, v] : closes) err << "    closed by server " << k << ": " << v << "\n";
    if (rss_before_)
        err << "  gateway RSS before " << *rss_before_ << " kB, after connect "
            << rss_after_connect_.value_or(-1) << " kB, after hold " << rss_after_.value_or(-1)
            << " kB"
            << (bytes_per_conn
                    ? " = " + std::to_string(static_cast<long>(*bytes_per_conn)) + " B/conn"
                    : "")
            << (o_.gateway_pids.size() > 1
                    ? " (summed over " + std::to_string(o_.gateway_pids.size()) + " processes)"
                    : std::string())
            << "\n";
    if (o_.gateway_pids.size() > 1) {
        err << "  gateway open descriptors per process:";
        for (auto& v : fds_after_) err << " " << (v.is_null() ? -1 : v.to_number<long>());
        err << "\n";
    }
    if (redis_clients_before_)
        err << "  redis clients before " << *redis_clients_before_ << ", after "
            << redis_clients_after_.value_or(-1)
            << " (server's: " << redis_server_clients.value_or(-1) << "); pubsub channels "
            << static_cast<long>(redis_channels_.value_or(-1)) << "\n";

    if (o_.mode != "connect") {
        std::uint64_t sent = 0, acked = 0, zero = 0, errors = 0, expected = 0, received = 0,
                      short_clients = 0, missing = 0, redirects = 0, pub_conns = 0;
        std::uint64_t p0 = UINT64_MAX, p_end = 0, p_drain = 0;
        double self_pub_cpu = 0, self_wait = 0;
        bool drained = true, have_wait = true, stalled = false;
        histogram lat;
        std::vector<std::pair<std::uint64_t, const json::array*>> timelines;
        for (auto& w : workers_) {
            const auto* pp = w.result.as_object().if_contains("publish");
            if (!pp) {
                drained = false;
                continue;
            }
            const auto& p = pp->as_object();
            sent += u64(p.at("published"));
            acked += u64(p.at("acked"));
            zero += u64(p.at("publish_zero_receivers"));
            errors += u64(p.at("publish_errors"));
            redirects += u64(p.at("publish_redirects"));
            pub_conns += u64(p.at("publish_connections"));
            expected += u64(p.at("expected_deliveries"));
            received += u64(p.at("received"));
            short_clients += u64(p.at("clients_short"));
            missing += u64(p.at("missing_on_open_clients"));
            drained = drained && p.at("drained").as_bool();
            stalled = stalled || p.at("stalled").as_bool();
            p0 = std::min(p0, u64(p.at("t0_ns")));
            p_end = std::max(p_end, u64(p.at("t_end_ns")));
            p_drain = std::max(p_drain, u64(p.at("t_drain_end_ns")));
            self_pub_cpu += dbl(p.at("cpu_s"));
            if (p.at("runqueue_wait_s").is_null())
                have_wait = false;
            else
                self_wait += dbl(p.at("runqueue_wait_s"));
            lat.merge(histogram::from_json(p.at("latency_ns")));
            timelines.emplace_back(u64(p.at("t0_ns")), &p.at("timeline").as_array());
        }
        if (p0 == UINT64_MAX) p0 = p_end = p_drain = 0;
        double pub_s = p_end > p0 ? static_cast<double>(p_end - p0) / 1e9 : 0;
        double total_s = p_drain > p0 ? static_cast<double>(p_drain - p0) / 1e9 : 0;
        auto lost = static_cast<std::int64_t>(expected) - static_cast<std::int64_t>(received);
        // Timelines: each worker's [t since its own start, received] re-binned every 100 ms
        // from the earliest start, each bin holding the sum of every worker's latest count.
        json::array timeline;
        for (double bin = 0.1; timeline.size() < 600; bin += 0.1) {
            bool last = bin >= total_s;
            double at = last ? total_s : bin;
            std::uint64_t sum = 0;
            for (auto& [start, tl] : timelines) {
                double offset = static_cast<double>(start - p0) / 1e9;
                std::uint64_t v = 0;
                for (const auto& e : *tl) {
                    // The last bin takes every worker's final count (noted after its drain).
                    if (!last && offset + dbl(e.as_array().at(0)) > at + 1e-9) break;
                    v = u64(e.as_array().at(1));
                }
                sum += v;
            }
            timeline.push_back(json::array{std::round(at * 1000) / 1000, sum});
            if (last) break;
        }
        std::optional<double> gw_cpu, redis_cpu, gw_wait;
        if (gw_cpu0_ && gw_cpu1_) gw_cpu = *gw_cpu1_ - *gw_cpu0_;
        if (redis_cpu0_ && redis_cpu1_) redis_cpu = *redis_cpu1_ - *redis_cpu0_;
        if (gw_sched0_ && gw_sched1_) gw_wait = gw_sched1_->wait_s - gw_sched0_->wait_s;
        json::object pub{
            {"published", sent},
            {"acked", acked},
            {"publish_zero_receivers", zero},
            {"publish_errors", errors},
            {"publish_redirects", redirects},
            {"publish_connections", pub_conns},
            {"expected_deliveries", expected},
            {"received", received},
            {"lost", lost},
            {"drained", drained},
            {"stalled", stalled},
            {"clients_short", short_clients},
            {"missing_on_open_clients", missing},
            {"publish_elapsed_s", pub_s},
            {"elapsed_s", total_s},
            {"published_per_s", pub_s > 0 ? static_cast<double>(sent) / pub_s : 0},
            {"delivered_per_s", total_s > 0 ? static_cast<double>(received) / total_s : 0},
            {"gateway_cpu_s", opt_json(gw_cpu)},
            {"gateway_cpu_util",
             gw_cpu && total_s > 0 ? json::value(*gw_cpu / total_s) : json::value(nullptr)},
            {"delivered_per_gateway_cpu_s",
             gw_cpu && *gw_cpu > 0 ? json::value(static_cast<double>(received) / *gw_cpu)
                                   : json::value(nullptr)},
            {"loadgen_cpu_s", self_pub_cpu},
            {"loadgen_cpu_util", total_s > 0 ? self_pub_cpu / total_s : 0},
            {"redis_cpu_s", opt_json(redis_cpu)},
            {"gateway_rss_kb_after_publish", opt_json(rss_after_publish_)},
            {"redis_max_output_buffer_bytes", opt_json(redis_max_obuf_)},
            {"core_busy", core_busy(cores0_, cores1_)},
            {"timeline", timeline},
            {"gateway_runqueue_wait_s", opt_json(gw_wait)},
            {"loadgen_runqueue_wait_s", have_wait ? json::value(self_wait) : json::value(nullptr)},
        };
        std::snprintf(
            line, sizeof line,
            "  published %llu in %.3f s (%.0f/s), expected %llu, received %llu, lost %lld%s\n",
            static_cast<unsigned long long>(sent), pub_s,
            pub_s > 0 ? static_cast<double>(sent) / pub_s : 0,
            static_cast<unsigned long long>(expected), static_cast<unsigned long long>(received),
            static_cast<long long>(lost), drained ? "" : " (drain timed out)");
        err << line;
        std::snprintf(line, sizeof line,
                      "  delivered %.0f msgs/s over %.3f s; CPU s: gateway %.3f (%.0f%%), loadgen "
                      "%.3f (%.0f%%), redis %.3f\n",
                      total_s > 0 ? static_cast<double>(received) / total_s : 0, total_s,
                      gw_cpu.value_or(-1), gw_cpu && total_s > 0 ? 100 * *gw_cpu / total_s : -1,
                      self_pub_cpu, total_s > 0 ? 100 * self_pub_cpu / total_s : -1,
                      redis_cpu.value_or(-1));
        err << line;
        {
            std::string busy;
            for (auto& v : pub["core_busy"].as_array())
                busy += " " + std::to_string(static_cast<int>(100 * v.as_double())) + "%";
            std::snprintf(
                line, sizeof line,
                "  waiting for a CPU (runqueue) s: gateway %.3f, loadgen %.3f; cores busy:%s\n",
                gw_wait.value_or(-1), have_wait ? self_wait : -1, busy.c_str());
            err << line;
        }
        if (gw_cpu && *gw_cpu > 0) {
            std::snprintf(line, sizeof line, "  %.0f delivered msgs per gateway CPU-second\n",
                          static_cast<double>(received) / *gw_cpu);
            err << line;
        }
        if (redis_max_obuf_)
            err << "  Redis output buffer toward the gateway peaked at "
                << static_cast<long>(*redis_max_obuf_ / 1024)
                << " KiB (pubsub limit: 32 MiB hard, 8 MiB for 60 s by default)\n";
        if (zero)
            err << "  WARNING: " << zero << (redis_.cluster() ? " SPUBLISH" : " PUBLISH")
                << " reached no subscriber\n";
        if (errors) err << "  WARNING: " << errors << " publish commands failed\n";
        if (redirects)
            err << "  " << redirects
                << " SPUBLISH answered MOVED and sent again to the new owner\n";
        if (stalled)
            err << "  WARNING: publishing stopped early: no reply and no delivery for "
                << o_.drain_timeout << " s (--drain-timeout)\n";
        if (total_s > 0 && self_pub_cpu / total_s > 0.9)
            err << "  WARNING: the load generator used >90% of a core: it may be the bottleneck\n";
        if (o_.mode == "latency") {
            json::object l{
                {"samples", lat.count()},
                {"p50_us", lat.percentile(50) / 1e3},
                {"p90_us", lat.percentile(90) / 1e3},
                {"p99_us", lat.percentile(99) / 1e3},
                {"p999_us", lat.percentile(99.9) / 1e3},
                {"max_us", lat.percentile(100) / 1e3},
            };
            std::snprintf(line, sizeof line,
                          "  latency us: p50 %.0f  p90 %.0f  p99 %.0f  p99.9 %.0f  max %.0f (%llu "
                          "samples)\n",
                          lat.percentile(50) / 1e3, lat.percentile(90) / 1e3,
                          lat.percentile(99) / 1e3, lat.percentile(99.9) / 1e3,
                          lat.percentile(100) / 1e3, static_cast<unsigned long long>(lat.count()));
            err << line;
            pub["latency"] = l;
        }
        out["publish"] = pub;
    }
    std::cout << json::serialize(out) << std::endl;
}

// --- soak: hold, churn, publish steadily and sample the gateway for a long time --------------
//
// Algorithm. The same single-threaded loop as `load`, but connections are not one-shot: each
// of the --connections regular slots (slot i on user i mod --users) and --slow-readers slow
// slots (one extra user each) holds one connection at a time and reopens it when it ends.
//   ramp-up   open every slot, at most --concurrency handshakes in flight; failures retry
//             after --retry-delay. The soak clock starts when all are open (or at
//             --ramp-timeout).
//   publish   every 5 ms, PUBLISH what is due at --rate msgs/s to regular users drawn at
//             random and --slow-rate msgs/s to each slow reader's user (--slow-payload-bytes),
//             on the pipelined connection. Each payload starts with the user's own sequence
//             number, counted from 0 per user by the generator.
//   verify    a connection notes its user's next sequence number when its 101 arrives; every
//             later number must then arrive in order. A jump from n to m > n counts m − n
//             lost; numbers published before the open that still arrive are "early" and fine.
//             Messages still on their way when the generator itself closes a connection are
//             "in flight at close", not losses; after the run, publishing stops, the open
//             connections are drained (--drain-timeout without progress at most) and what
//             they still miss is lost.
//   churn     every second, --churn random open regular connections are closed, alternately
//             with a close handshake (1000) and with an RST (SO_LINGER 0), and reopened at once.
//   slow      a slow reader's socket has SO_RCVBUF = --slow-rcvbuf; it alternates --slow-stall
//             seconds without reading and --slow-read seconds of reading, so the gateway's send
//             queue for it overflows and the gateway closes it (4008, or cuts the socket when
//             the close frame cannot be written). It reconnects --retry-delay after it noticed.
//   sample    at t = 0 and every --sample-interval: the gateway's VmRSS and open descriptors
//             (/proc/<pid>/status, /proc/<pid>/fd, summed over --gateway-pid), its /metrics
//             (wsgate_connections, wsgate_queued_bytes, wsgate_closes_total{cause=
//             "slow_consumer"}, wsgate_redis_reconnects_total), Redis INFO (used_memory,
//             connected_clients), the generator's own RSS and descriptors, and the run's counters;
//             one JSON line each on stdout.
// Result: start (t = 0), end, max, drift (end − start) and the least-squares slope over the
// samples after --warmup, for RSS and for descriptors, and the verdict. "Flat" = the RSS slope
// is below --rss-slope-limit-pct % of the start RSS per 10 minutes, and the descriptors at the
// end are within --fd-tolerance of the start (connections being reopened at a sampling
// instant account for the difference).

struct soak_conn {
    soak_conn(net::io_context& ioc, std::uint32_t s, std::size_t read_limit)
        : ws(ioc), buf(read_limit), timer(ioc), slot(s) {}
    enum class st : std::uint8_t { connecting, open, closing, done };
    websocket::stream<tcp::socket> ws;
    beast::flat_buffer buf;
    net::steady_timer timer;  // the connect deadline, then a slow reader's phases or a close
    websocket::response_type response;
    std::uint32_t slot;
    st state = st::connecting;
    bool timed_out = false;
    bool read_pending = false;
    bool stalled = false;         // slow readers: not reading now
    std::uint64_t first_seq = 0;  // the user's first sequence number published after the open
    std::uint64_t next_seq = 0;   // the next one expected
};
using conn_ptr = std::shared_ptr<soak_conn>;

struct soak_slot {
    std::uint32_t user = 0;
    bool slow = false;
    conn_ptr conn;  // the current attempt or connection
};

std::string load_average() {
    std::ifstream in("/proc/loadavg");
    std::string a, b, c;
    in >> a >> b >> c;
    return a + " " + b + " " + c;
}

/// GET /metrics from the gateway, blocking with 2 s timeouts; nothing on any failure.
std::optional<std::string> scrape_metrics(const tcp::endpoint& ep) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::nullopt;
    timeval tv{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(ep.port());
    sa.sin_addr.s_addr = htonl(ep.address().to_v4().to_uint());
    std::optional<std::string> out;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) {
        std::string req = "GET /metrics HTTP/1.1\r\nHost: " + ep.address().to_string() +
                          "\r\nConnection: close\r\n\r\n";
        if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
            std::string body;
            char chunk[16384];
            ssize_t n = 0;
            while (body.size() < (8u << 20) && (n = ::recv(fd, chunk, sizeof chunk, 0)) > 0)
                body.append(chunk, static_cast<std::size_t>(n));
            if (n == 0 && body.rfind("HTTP/1.1 200", 0) == 0) out = std::move(body);
        }
    }
    ::close(fd);
    return out;
}

/// Sum of the samples of `name` whose labels contain `label` (e.g. cause="slow_consumer").
std::optional<double> metric_sum(const std::string& text, const std::string& name,
                                 const std::string& label = "") {
    std::optional<double> sum;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line[0] == '#' || line.rfind(name, 0) != 0) continue;
        if (line.size() <= name.size() || (line[name.size()] != ' ' && line[name.size()] != '{'))
            continue;
        auto sp = line.rfind(' ');
        auto labels_end = line.find('}');
        std::string labels = line[name.size()] == '{' && labels_end != std::string::npos
                                 ? line.substr(name.size(), labels_end - name.size() + 1)
                                 : std::string();
        if (!label.empty() && labels.find(label) == std::string::npos) continue;
        try {
            sum = sum.value_or(0) + std::stod(line.substr(sp + 1));
        } catch (const std::exception&) {
        }
    }
    return sum;
}

/// start, end, max, drift and least-squares slope (per minute, over t >= warmup) of a series.
json::object series_stats(const std::vector<double>& t, const std::vector<std::optional<long>>& y,
                          double warmup) {
    json::object o;
    std::vector<std::pair<double, double>> pts, after;
    for (std::size_t i = 0; i < t.size(); ++i)
        if (y[i]) {
            pts.emplace_back(t[i], static_cast<double>(*y[i]));
            if (t[i] >= warmup) after.emplace_back(t[i], static_cast<double>(*y[i]));
        }
    if (pts.empty()) return o;
    double mx = pts.front().second, mn = pts.front().second;
    for (auto& p : pts) {
        mx = std::max(mx, p.second);
        mn = std::min(mn, p.second);
    }
    o["start"] = pts.front().second;
    o["end"] = pts.back().second;
    o["max"] = mx;
    o["min"] = mn;
    o["drift"] = pts.back().second - pts.front().second;
    o["at_warmup"] = after.empty() ? json::value(nullptr) : json::value(after.front().second);
    o["drift_after_warmup"] = after.empty() ? json::value(nullptr)
                                            : json::value(pts.back().second - after.front().second);
    if (after.size() >= 2) {
        double tm = 0, ym = 0;
        for (auto& p : after) {
            tm += p.first;
            ym += p.second;
        }
        tm /= static_cast<double>(after.size());
        ym /= static_cast<double>(after.size());
        double num = 0, den = 0;
        for (auto& p : after) {
            num += (p.first - tm) * (p.second - ym);
            den += (p.first - tm) * (p.first - tm);
        }
        o["slope_per_min"] = den > 0 ? num / den * 60 : 0.0;
        o["slope_points"] = after.size();
    } else {
        o["slope_per_min"] = nullptr;
        o["slope_points"] = after.size();
    }
    return o;
}

class soak {
public:
    soak(options o, std::vector<net::ip::address_v4> sources, wsgate::redis::redis_endpoint redis)
        : o_(std::move(o)),
          sources_(std::move(sources)),
          redis_ep_(std::move(redis)),
          server_(loopback_address(o_.host, "--host"), o_.port),
          pub_(ioc_) {}

    int run();

private:
    std::string user_id(std::uint32_t u) const {
        return o_.user_prefix + std::to_string(o_.user_offset + u);
    }
    std::uint32_t total_users() const { return o_.soak_users + o_.slow_readers; }
    std::string failure_kind(const soak_conn& c, error_code ec) const;
    std::string close_kind(const soak_conn& c, error_code ec) const {
        return ec == websocket::error::closed ? "close_" + std::to_string(c.ws.reason().code)
                                              : failure_kind(c, ec);
    }

    void open_slot(std::uint32_t s) {
        waiting_.push_back(s);
        start_more();
    }
    void start_more();
    void start_connect(std::uint32_t s);
    void connect_done(const conn_ptr& c, error_code ec);
    void reconnect_later(std::uint32_t s);
    void mark_closed(soak_conn& c);
    void read_next(const conn_ptr& c);
    void on_read(const conn_ptr& c, error_code ec);
    void on_message(soak_conn& c);
    void slow_phase(const conn_ptr& c, bool stall);
    void close_by_us(const conn_ptr& c, bool clean);
    void churn_tick();
    void publish_to(std::uint32_t u, std::uint32_t bytes);
    void publish_due();
    std::uint64_t behind() const;
    void take_sample(double t);

    net::awaitable<void> sleep_for(double s) {
        net::steady_timer t(ioc_);
        t.expires_after(
            std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(s)));
        co_await t.async_wait(net::as_tuple(net::use_awaitable));
    }
    net::awaitable<void> main_flow();
    void report();

    options o_;
    std::vector<net::ip::address_v4> sources_;
    wsgate::redis::redis_endpoint redis_ep_;
    tcp::endpoint server_;
    net::io_context ioc_{1};
    std::unique_ptr<redis_info> info_;
    redis_pipeline pub_;
    std::vector<std::string> tokens_, channels_;
    std::vector<soak_slot> slots_;
    std::vector<std::uint64_t> pub_seq_;  // per user: the next sequence number to publish
    std::deque<std::uint32_t> waiting_;   // slots to connect
    std::size_t inflight_ = 0, next_source_ = 0;
    std::size_t read_limit_ = 0;
    std::mt19937_64 rng_;
    bool stopping_ = false, publishing_ = false, in_ramp_ = true, clean_next_ = true;
    int exit_code_ = 0;

    // counters
    std::uint64_t open_regular_ = 0, open_slow_ = 0;
    std::uint64_t connects_ = 0, ramp_connects_ = 0;
    std::map<std::string, std::uint64_t> connect_failures_, server_closes_, slow_closes_,
        churn_close_errors_;
    std::uint64_t churned_clean_ = 0, churned_reset_ = 0, churn_skipped_ = 0;
    std::uint64_t reg_sent_ = 0, slow_sent_ = 0, publish_behind_ticks_ = 0;
    std::uint64_t received_total_ = 0, delivered_ = 0, early_ = 0, lost_ = 0, gaps_ = 0,
                  out_of_order_ = 0, malformed_ = 0, slow_received_ = 0;
    std::uint64_t inflight_at_close_ = 0, unverified_at_server_close_ = 0, lost_at_end_ = 0;
    bool drained_ = false;

    // timing and samples
    steady::time_point t0_{};
    double ramp_s_ = 0;
    bool ramp_complete_ = false;
    std::optional<long> rss_before_, fds_before_;
    std::vector<double> sample_t_;
    std::vector<std::optional<long>> sample_rss_, sample_fds_;
    std::vector<json::object> samples_;
    std::optional<double> gw_cpu0_, gw_cpu1_;
    std::optional<sched_times> gw_sched0_, gw_sched1_;
    double self_cpu0_ = 0, self_cpu1_ = 0;
    std::string loadavg0_, loadavg1_;
};

std::string soak::failure_kind(const soak_conn& c, error_code ec) const {
    if (c.timed_out) return "timeout";
    if (ec == net::error::connection_refused) return "refused";
    if (ec == net::error::connection_reset) return "reset";
    if (ec == net::error::eof || ec == beast::http::error::end_of_stream) return "eof";
    if (ec == net::error::no_descriptors) return "no_descriptors";
    if (ec == net::error::address_in_use || ec == boost::system::errc::address_not_available)
        return "no_source_port";
    if (ec == websocket::error::upgrade_declined)
        return "http_" + std::to_string(c.response.result_int());
    return ec.message();
}

void soak::start_more() {
    while (inflight_ < o_.concurrency && !waiting_.empty() && !stopping_) {
        auto s = waiting_.front();
        waiting_.pop_front();
        start_connect(s);
    }
}

void soak::start_connect(std::uint32_t s) {
    ++inflight_;
    auto c = std::make_shared<soak_conn>(ioc_, s, read_limit_);
    slots_[s].conn = c;
    auto& sock = c->ws.next_layer();
    error_code ec;
    sock.open(tcp::v4(), ec);
    if (!ec) {
        int one = 1;
        ::setsockopt(sock.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        // A small receive buffer makes a stalled reader's backlog reach the gateway's queue.
        if (slots_[s].slow) sock.set_option(net::socket_base::receive_buffer_size(o_.slow_rcvbuf));
        sock.bind(tcp::endpoint(sources_[next_source_++ % sources_.size()], 0), ec);
    }
    if (ec) {
        net::post(ioc_, [this, c, ec] { connect_done(c, ec); });
        return;
    }
    websocket::stream_base::timeout t{};
    t.handshake_timeout = websocket::stream_base::none();  // our own deadlines cover it
    t.idle_timeout = websocket::stream_base::none();
    t.keep_alive_pings = false;
    c->ws.set_option(t);
    c->ws.write_buffer_bytes(256);
    c->ws.read_message_max(read_limit_);
    c->timer.expires_after(std::chrono::duration_cast<steady::duration>(
        std::chrono::duration<double>(o_.connect_timeout)));
    c->timer.async_wait([c](error_code e) {
        if (e || c->state != soak_conn::st::connecting) return;
        c->timed_out = true;
        error_code ignored;
        c->ws.next_layer().close(ignored);
    });
    sock.async_connect(server_, [this, c](error_code e) {
        if (e) return connect_done(c, e);
        auto target = "/ws/v1/status/" + user_id(slots_[c->slot].user) +
                      "?token=" + tokens_[slots_[c->slot].user];
        auto host = o_.host + ":" + std::to_string(o_.port);
        c->ws.async_handshake(c->response, host, target,
                              [this, c](error_code he) { connect_done(c, he); });
    });
}

void soak::connect_done(const conn_ptr& c, error_code ec) {
    --inflight_;
    c->timer.cancel();
    error_code ignored;
    if (stopping_) {
        c->state = soak_conn::st::done;
        c->ws.next_layer().close(ignored);
        return;
    }
    auto& sl = slots_[c->slot];
    if (ec) {
        ++connect_failures_[failure_kind(*c, ec)];
        c->state = soak_conn::st::done;
        c->ws.next_layer().close(ignored);
        reconnect_later(c->slot);
        start_more();
        return;
    }
    c->state = soak_conn::st::open;
    c->response = {};
    c->first_seq = c->next_seq = pub_seq_[sl.user];
    ++connects_;
    if (in_ramp_) ++ramp_connects_;
    ++(sl.slow ? open_slow_ : open_regular_);
    start_more();
    if (sl.slow)
        slow_phase(c, true);
    else
        read_next(c);
}

void soak::reconnect_later(std::uint32_t s) {
    auto t = std::make_shared<net::steady_timer>(ioc_);
    t->expires_after(std::chrono::duration_cast<steady::duration>(
        std::chrono::duration<double>(o_.retry_delay)));
    t->async_wait([this, s, t](error_code ec) {
        if (!ec && !stopping_) open_slot(s);
    });
}

void soak::mark_closed(soak_conn& c) {
    if (c.state != soak_conn::st::open) return;
    --(slots_[c.slot].slow ? open_slow_ : open_regular_);
}

void soak::read_next(const conn_ptr& c) {
    c->read_pending = true;
    c->ws.async_read(c->buf, [this, c](error_code ec, std::size_t) {
        c->read_pending = false;
        on_read(c, ec);
    });
}

void soak::on_read(const conn_ptr& c, error_code ec) {
    if (c->state != soak_conn::st::open) return;  // closed by us: nothing more to count
    if (ec) {
        // Closed by the gateway or the network.
        auto& sl = slots_[c->slot];
        auto kind = close_kind(*c, ec);
        mark_closed(*c);
        c->state = soak_conn::st::done;
        if (stopping_) return;
        if (sl.slow) {
            ++slow_closes_[kind];
        } else {
            ++server_closes_[kind];
            unverified_at_server_close_ += pub_seq_[sl.user] - c->next_seq;
        }
        error_code ignored;
        c->ws.next_layer().close(ignored);
        c->timer.cancel();
        reconnect_later(c->slot);
        return;
    }
    on_message(*c);
    c->buf.consume(c->buf.size());
    if (!c->stalled) read_next(c);
}

void soak::on_message(soak_conn& c) {
    ++received_total_;
    auto data = c.buf.cdata();
    const char* p = static_cast<const char*>(data.data());
    std::size_t n = data.size(), i = 0;
    std::uint64_t seq = 0;
    while (i < n && i < 20 && p[i] >= '0' && p[i] <= '9')
        seq = seq * 10 + static_cast<std::uint64_t>(p[i++] - '0');
    if (i == 0 || i >= n || p[i] != ' ') {
        ++malformed_;
        return;
    }
    if (slots_[c.slot].slow) {
        ++slow_received_;
        return;
    }
    if (seq < c.first_seq) {
        ++early_;
    } else if (seq == c.next_seq) {
        ++delivered_;
        ++c.next_seq;
    } else if (seq > c.next_seq) {
        lost_ += seq - c.next_seq;
        ++gaps_;
        ++delivered_;
        c.next_seq = seq + 1;
    } else {
        ++out_of_order_;
    }
}

void soak::slow_phase(const conn_ptr& c, bool stall) {
    if (c->state != soak_conn::st::open || stopping_) return;
    c->stalled = stall;
    if (!stall && !c->read_pending) read_next(c);
    c->timer.expires_after(std::chrono::duration_cast<steady::duration>(
        std::chrono::duration<double>(stall ? o_.slow_stall : o_.slow_read)));
    c->timer.async_wait([this, c, stall](error_code ec) {
        if (!ec) slow_phase(c, !stall);
    });
}

void soak::close_by_us(const conn_ptr& c, bool clean) {
    auto& sl = slots_[c->slot];
    inflight_at_close_ += pub_seq_[sl.user] - c->next_seq;
    mark_closed(*c);
    error_code ignored;
    if (!clean) {
        c->state = soak_conn::st::done;
        c->ws.next_layer().set_option(net::socket_base::linger(true, 0), ignored);
        c->ws.next_layer().close(ignored);
        ++churned_reset_;
        open_slot(c->slot);
        return;
    }
    c->state = soak_conn::st::closing;
    c->timer.expires_after(std::chrono::seconds(5));
    c->timer.async_wait([c](error_code ec) {
        if (ec || c->state != soak_conn::st::closing) return;
        error_code ignored2;
        c->ws.next_layer().close(ignored2);
    });
    c->ws.async_close(websocket::close_code::normal, [this, c](error_code ec) {
        c->state = soak_conn::st::done;
        c->timer.cancel();
        error_code ignored2;
        c->ws.next_layer().close(ignored2);
        if (stopping_) return;
        if (ec) ++churn_close_errors_[failure_kind(*c, ec)];
        ++churned_clean_;
        open_slot(c->slot);
    });
}

void soak::churn_tick() {
    if (o_.soak_connections == 0) return;
    for (std::uint32_t k = 0; k < o_.churn; ++k) {
        conn_ptr pick;
        for (int tries = 0; tries < 20 && !pick; ++tries) {
            auto s = static_cast<std::uint32_t>(rng_() % o_.soak_connections);
            auto& c = slots_[s].conn;
            if (c && c->state == soak_conn::st::open) pick = c;
        }
        if (!pick) {
            ++churn_skipped_;
            continue;
        }
        close_by_us(pick, clean_next_);
        clean_next_ = !clean_next_;
    }
}

void soak::publish_to(std::uint32_t u, std::uint32_t bytes) {
    // "<user sequence> <global sequence> xxx…": text, exactly `bytes` long.
    char head[48];
    int n = std::snprintf(head, sizeof head, "%llu %llu ",
                          static_cast<unsigned long long>(pub_seq_[u]++),
                          static_cast<unsigned long long>(pub_.sent));
    std::string payload(head, static_cast<std::size_t>(n));
    if (payload.size() < bytes)
        payload.append(bytes - payload.size(), 'x');
    else
        payload.resize(bytes);
    pub_.publish(channels_[u], payload);
}

void soak::publish_due() {
    if (!publishing_ || pub_.failed()) return;
    double t = seconds_since(t0_);
    auto due_regular =
        o_.soak_users ? static_cast<std::uint64_t>(t * o_.soak_rate) : std::uint64_t{0};
    auto due_slow = static_cast<std::uint64_t>(t * o_.slow_rate * o_.slow_readers);
    bool blocked = false;
    while (reg_sent_ < due_regular || slow_sent_ < due_slow) {
        if (pub_.sent - pub_.acked >= o_.pipeline) {
            blocked = true;
            break;
        }
        if (reg_sent_ < due_regular) {
            publish_to(static_cast<std::uint32_t>(rng_() % o_.soak_users), o_.payload_bytes);
            ++reg_sent_;
        }
        if (slow_sent_ < due_slow && pub_.sent - pub_.acked < o_.pipeline) {
            publish_to(o_.soak_users + static_cast<std::uint32_t>(slow_sent_ % o_.slow_readers),
                       o_.slow_payload_bytes);
            ++slow_sent_;
        }
    }
    if (blocked) ++publish_behind_ticks_;
    pub_.flush();
}

std::uint64_t soak::behind() const {
    std::uint64_t b = 0;
    for (auto& sl : slots_)
        if (!sl.slow && sl.conn && sl.conn->state == soak_conn::st::open)
            b += pub_seq_[sl.user] - sl.conn->next_seq;
    return b;
}

void soak::take_sample(double t) {
    auto rss = sum_over(o_.gateway_pids, rss_kb);
    auto fds = sum_over(o_.gateway_pids, fd_count);
    auto metrics = scrape_metrics(server_);
    std::optional<double> conns, queued, slow_closes, redis_reconnects;
    if (metrics) {
        redis_reconnects = metric_sum(*metrics, "wsgate_redis_reconnects_total");
        conns = metric_sum(*metrics, "wsgate_connections");
        queued = metric_sum(*metrics, "wsgate_queued_bytes");
        slow_closes =
            metric_sum(*metrics, "wsgate_closes_total", "cause=\"slow_consumer\"").value_or(0);
    }
    std::optional<double> redis_mem, redis_clients;
    if (info_ && info_->ok()) {
        redis_mem = info_->get("memory", "used_memory");
        redis_clients = info_->get("clients", "connected_clients");
    }
    std::uint64_t slow_closed = 0;
    for (auto& [k, v] : slow_closes_) slow_closed += v;
    std::uint64_t failures = 0;
    for (auto& [k, v] : connect_failures_) failures += v;
    json::object smp{
        {"type", "sample"},
        {"t_s", std::round(t * 10) / 10},
        {"gateway_rss_kb", opt_json(rss)},
        {"gateway_fds", opt_json(fds)},
        {"wsgate_connections", opt_json(conns)},
        {"wsgate_queued_bytes", opt_json(queued)},
        {"wsgate_slow_consumer_closes", opt_json(slow_closes)},
        {"wsgate_redis_reconnects", opt_json(redis_reconnects)},
        {"redis_used_memory", opt_json(redis_mem)},
        {"redis_connected_clients", opt_json(redis_clients)},
        {"loadgen_rss_kb", opt_json(rss_kb(getpid()))},
        {"loadgen_fds", opt_json(fd_count(getpid()))},
        {"open", open_regular_},
        {"open_slow", open_slow_},
        {"published", pub_.sent},
        {"delivered", delivered_},
        {"lost", lost_},
        {"churned", churned_clean_ + churned_reset_},
        {"slow_closed", slow_closed},
        {"connect_failures", failures},
        {"loadavg", load_average()},
    };
    std::cout << json::serialize(smp) << std::endl;
    char line[256];
    std::snprintf(line, sizeof line,
                  "  t=%6.0fs rss %7ld kB fds %6ld conns %6.0f queued %8.0f B slow-closes %4.0f "
                  "published %9llu lost %llu\n",
                  t, rss.value_or(-1), fds.value_or(-1), conns.value_or(-1), queued.value_or(-1),
                  slow_closes.value_or(-1), static_cast<unsigned long long>(pub_.sent),
                  static_cast<unsigned long long>(lost_));
    std::cerr << line << std::flush;
    sample_t_.push_back(t);
    sample_rss_.push_back(rss);
    sample_fds_.push_back(fds);
    samples_.push_back(std::move(smp));
}

net::awaitable<void> soak::main_flow() {
    rss_before_ = sum_over(o_.gateway_pids, rss_kb);
    fds_before_ = sum_over(o_.gateway_pids, fd_count);
    auto t_ramp = steady::now();
    for (std::uint32_t s = 0; s < slots_.size(); ++s) waiting_.push_back(s);
    start_more();
    const std::uint64_t want = slots_.size();
    while (open_regular_ + open_slow_ < want && seconds_since(t_ramp) < o_.ramp_timeout)
        co_await sleep_for(0.02);
    ramp_s_ = seconds_since(t_ramp);
    in_ramp_ = false;
    ramp_complete_ = open_regular_ + open_slow_ == want;
    std::cerr << "wsgate-load soak: " << open_regular_ << " + " << open_slow_ << " slow open in "
              << ramp_s_ << " s" << (ramp_complete_ ? "" : " (ramp-up timed out)") << "\n";
    co_await sleep_for(o_.settle);

    t0_ = steady::now();
    gw_cpu0_ = sum_over(o_.gateway_pids, cpu_seconds);
    gw_sched0_ = sum_over(o_.gateway_pids, sched_of);
    self_cpu0_ = self_cpu_seconds();
    loadavg0_ = load_average();
    publishing_ = true;
    take_sample(0);
    double next_sample = o_.sample_interval, next_churn = 1;
    while (seconds_since(t0_) < o_.soak_duration) {
        co_await sleep_for(0.005);
        publish_due();
        auto t = seconds_since(t0_);
        if (t >= next_churn) {
            churn_tick();
            next_churn += 1;
        }
        if (t >= next_sample && next_sample < o_.soak_duration) {
            take_sample(t);
            next_sample += o_.sample_interval;
        }
    }
    publishing_ = false;
    take_sample(seconds_since(t0_));
    gw_cpu1_ = sum_over(o_.gateway_pids, cpu_seconds);
    gw_sched1_ = sum_over(o_.gateway_pids, sched_of);
    self_cpu1_ = self_cpu_seconds();
    loadavg1_ = load_average();

    // Drain: the open connections must catch up with everything published to their users.
    auto t_wait = steady::now();
    while (pub_.acked < pub_.sent && seconds_since(t_wait) < o_.drain_timeout)
        co_await sleep_for(0.01);
    auto last = behind();
    auto t_progress = steady::now();
    while (last > 0 && seconds_since(t_progress) < o_.drain_timeout) {
        co_await sleep_for(0.02);
        auto b = behind();
        if (b != last) t_progress = steady::now();
        last = b;
    }
    drained_ = last == 0;
    lost_at_end_ = last;
    report();

    stopping_ = true;
    error_code ignored;
    for (auto& sl : slots_)
        if (sl.conn) sl.conn->ws.next_layer().close(ignored);
    pub_.close();
    ioc_.stop();
}

void soak::report() {
    auto as_obj = [](const std::map<std::string, std::uint64_t>& m) {
        json::object o;
        for (auto& [k, v] : m) o[k] = v;
        return o;
    };
    double elapsed = sample_t_.empty() ? 0 : sample_t_.back();
    auto rss = series_stats(sample_t_, sample_rss_, o_.warmup);
    auto fds = series_stats(sample_t_, sample_fds_, o_.warmup);
    std::uint32_t fd_tol = o_.fd_tolerance ? o_.fd_tolerance : std::max(20u, 2 * o_.churn);
    std::optional<double> rss_limit;
    std::optional<bool> rss_flat, fds_flat;
    if (rss.contains("start") && !rss["slope_per_min"].is_null()) {
        rss_limit = rss["start"].as_double() * o_.rss_slope_limit_pct / 100.0 / 10.0;
        rss_flat = rss["slope_per_min"].as_double() <= *rss_limit;
    }
    if (fds.contains("start"))
        fds_flat = std::abs(fds["end"].as_double() - fds["start"].as_double()) <= fd_tol;
    std::uint64_t lost_total = lost_ + lost_at_end_;
    bool flat = rss_flat.value_or(false) && fds_flat.value_or(false);

    json::array pids;
    for (int p : o_.gateway_pids) pids.push_back(p);
    json::object params{
        {"mode", "soak"},
        {"connections", o_.soak_connections},
        {"users", o_.soak_users},
        {"slow_readers", o_.slow_readers},
        {"concurrency", o_.concurrency},
        {"user_offset", o_.user_offset},
        {"host", o_.host},
        {"port", o_.port},
        {"source_ips", o_.source_ips},
        {"source_ip_count", sources_.size()},
        {"redis", wsgate::redis::redacted_url(redis_ep_)},
        {"gateway_pids", pids},
        {"duration_s", o_.soak_duration},
        {"rate", o_.soak_rate},
        {"payload_bytes", o_.payload_bytes},
        {"churn_per_s", o_.churn},
        {"slow_rate", o_.slow_rate},
        {"slow_payload_bytes", o_.slow_payload_bytes},
        {"slow_stall_s", o_.slow_stall},
        {"slow_read_s", o_.slow_read},
        {"slow_rcvbuf", o_.slow_rcvbuf},
        {"retry_delay_s", o_.retry_delay},
        {"sample_interval_s", o_.sample_interval},
        {"warmup_s", o_.warmup},
        {"pipeline", o_.pipeline},
        {"drain_timeout_s", o_.drain_timeout},
        {"seed", o_.seed},
        {"rss_slope_limit_pct_per_10min", o_.rss_slope_limit_pct},
        {"fd_tolerance", fd_tol},
    };
    std::optional<double> gw_cpu, gw_wait;
    if (gw_cpu0_ && gw_cpu1_) gw_cpu = *gw_cpu1_ - *gw_cpu0_;
    if (gw_sched0_ && gw_sched1_) gw_wait = gw_sched1_->wait_s - gw_sched0_->wait_s;
    json::object res{
        {"ramp_s", ramp_s_},
        {"ramp_complete", ramp_complete_},
        {"elapsed_s", elapsed},
        {"gateway_rss_kb_before_connect", opt_json(rss_before_)},
        {"gateway_fds_before_connect", opt_json(fds_before_)},
        {"rss_kb", rss},
        {"fds", fds},
        {"rss_slope_limit_kb_per_min", opt_json(rss_limit)},
        {"rss_flat", opt_json(rss_flat)},
        {"fds_flat", opt_json(fds_flat)},
        {"verdict", flat ? "flat" : "not flat"},
        {"published", pub_.sent},
        {"published_regular", reg_sent_},
        {"published_slow", slow_sent_},
        {"publish_acked", pub_.acked},
        {"publish_zero_receivers", pub_.zero_receivers},
        {"publish_errors", pub_.errors},
        {"publish_pipeline_full_ticks", publish_behind_ticks_},
        {"received", received_total_},
        {"delivered_verified", delivered_},
        {"delivered_early", early_},
        {"delivered_slow", slow_received_},
        {"lost", lost_total},
        {"lost_gaps", lost_},
        {"gap_events", gaps_},
        {"lost_at_end", lost_at_end_},
        {"drained", drained_},
        {"out_of_order", out_of_order_},
        {"malformed", malformed_},
        {"in_flight_at_churn_close", inflight_at_close_},
        {"unverified_at_server_close", unverified_at_server_close_},
        {"connects", connects_},
        {"connects_ramp", ramp_connects_},
        {"connect_failures", as_obj(connect_failures_)},
        {"churned_clean", churned_clean_},
        {"churned_reset", churned_reset_},
        {"churn_skipped", churn_skipped_},
        {"churn_close_errors", as_obj(churn_close_errors_)},
        {"server_closes_regular", as_obj(server_closes_)},
        {"slow_reader_closes", as_obj(slow_closes_)},
        {"open_at_end", open_regular_},
        {"open_slow_at_end", open_slow_},
        {"gateway_cpu_s", opt_json(gw_cpu)},
        {"gateway_runqueue_wait_s", opt_json(gw_wait)},
        {"loadgen_cpu_s", self_cpu1_ - self_cpu0_},
        {"loadavg_start", loadavg0_},
        {"loadavg_end", loadavg1_},
    };
    json::object out{{"tool", "wsgate-load"}, {"params", params}, {"soak", res}};
    std::cout << json::serialize(out) << std::endl;

    auto& err = std::cerr;
    char line[320];
    err << "\nwsgate-load soak: " << o_.soak_connections << " connections over " << o_.soak_users
        << " users + " << o_.slow_readers << " slow readers, " << o_.soak_rate << " msgs/s, churn "
        << o_.churn << "/s, " << elapsed << " s\n";
    err << "  t(s)    gw RSS kB  gw fds  conns  queued B  slow-closes  redis mem   published  "
           "lost\n";
    for (auto& smp : samples_) {
        auto num = [&](const char* k) {
            auto& v = smp.at(k);
            return v.is_null() ? -1.0 : v.to_number<double>();
        };
        std::snprintf(line, sizeof line,
                      "  %5.0f %12.0f %7.0f %6.0f %9.0f %12.0f %10.0f %11.0f %5.0f\n", num("t_s"),
                      num("gateway_rss_kb"), num("gateway_fds"), num("wsgate_connections"),
                      num("wsgate_queued_bytes"), num("wsgate_slow_consumer_closes"),
                      num("redis_used_memory"), num("published"), num("lost"));
        err << line;
    }
    auto stat_line = [&](const char* what, json::object& s, const char* unit) {
        if (!s.contains("start")) return;
        std::snprintf(line, sizeof line,
                      "  %s: start %.0f, end %.0f, max %.0f, drift %+.0f %s; after %.0f s warm-up "
                      "%.0f -> %.0f, slope %+.1f %s/min\n",
                      what, s["start"].as_double(), s["end"].as_double(), s["max"].as_double(),
                      s["drift"].as_double(), unit, o_.warmup,
                      s["at_warmup"].is_null() ? -1.0 : s["at_warmup"].as_double(),
                      s["end"].as_double(),
                      s["slope_per_min"].is_null() ? 0.0 : s["slope_per_min"].as_double(), unit);
        err << line;
    };
    stat_line("gateway RSS", rss, "kB");
    stat_line("gateway fds", fds, "fds");
    std::snprintf(line, sizeof line,
                  "  verdict: %s (RSS slope limit %.1f kB/min = %.2f%% of start per 10 min: %s; "
                  "fds |end - start| <= %u: %s)\n",
                  flat ? "flat" : "NOT flat", rss_limit.value_or(-1), o_.rss_slope_limit_pct,
                  rss_flat ? (*rss_flat ? "yes" : "no") : "n/a", fd_tol,
                  fds_flat ? (*fds_flat ? "yes" : "no") : "n/a");
    err << line;
    std::snprintf(
        line, sizeof line,
        "  published %llu (%llu regular, %llu slow); delivered %llu verified + %llu "
        "early; lost %llu (gaps %llu, at end %llu)%s\n",
        static_cast<unsigned long long>(pub_.sent), static_cast<unsigned long long>(reg_sent_),
        static_cast<unsigned long long>(slow_sent_), static_cast<unsigned long long>(delivered_),
        static_cast<unsigned long long>(early_), static_cast<unsigned long long>(lost_total),
        static_cast<unsigned long long>(lost_), static_cast<unsigned long long>(lost_at_end_),
        drained_ ? "" : " (drain timed out)");
    err << line;
    std::snprintf(
        line, sizeof line,
        "  churned %llu clean + %llu reset; connects %llu (%llu in the ramp-up); in flight "
        "at churn close %llu\n",
        static_cast<unsigned long long>(churned_clean_),
        static_cast<unsigned long long>(churned_reset_), static_cast<unsigned long long>(connects_),
        static_cast<unsigned long long>(ramp_connects_),
        static_cast<unsigned long long>(inflight_at_close_));
    err << line;
    for (auto& [k, v] : connect_failures_) err << "    connect failure " << k << ": " << v << "\n";
    for (auto& [k, v] : server_closes_)
        err << "    regular connection closed by the gateway " << k << ": " << v << "\n";
    for (auto& [k, v] : slow_closes_) err << "    slow reader closed " << k << ": " << v << "\n";
    for (auto& [k, v] : churn_close_errors_)
        err << "    churn close handshake error " << k << ": " << v << "\n";
    std::snprintf(line, sizeof line,
                  "  CPU s over the soak: gateway %.1f (run-queue wait %.1f), loadgen %.1f; load "
                  "average %s -> %s\n",
                  gw_cpu.value_or(-1), gw_wait.value_or(-1), self_cpu1_ - self_cpu0_,
                  loadavg0_.c_str(), loadavg1_.c_str());
    err << line;
}

int soak::run() {
    info_ = std::make_unique<redis_info>(redis_ep_);
    if (!info_->ok())
        std::cerr << "wsgate-load: warning: no Redis INFO (" << info_->error() << ")\n";
    std::string err;
    if (!pub_.connect(redis_ep_, err)) {
        std::cerr << "wsgate-load: " << err << "\n";
        return 1;
    }
    pub_.on_progress = [this] { publish_due(); };
    rng_.seed(o_.seed);
    read_limit_ = std::max(o_.payload_bytes, o_.slow_payload_bytes) + 64;
    for (std::uint32_t u = 0; u < total_users(); ++u) {
        tokens_.push_back(wsgate::auth::mint_hs256(o_.secret, user_id(u), std::chrono::hours(24)));
        channels_.push_back(wsgate::channel_for_user(user_id(u)));
    }
    pub_seq_.assign(total_users(), 0);
    slots_.resize(std::size_t{o_.soak_connections} + o_.slow_readers);
    for (std::uint32_t s = 0; s < slots_.size(); ++s) {
        if (s < o_.soak_connections) {
            slots_[s].user = s % o_.soak_users;
        } else {
            slots_[s].user = o_.soak_users + (s - o_.soak_connections);
            slots_[s].slow = true;
        }
    }
    net::co_spawn(ioc_, main_flow(), [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
    });
    ioc_.run();
    return exit_code_;
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    CLI::App app{
        "wsgate-load: connect / fanout / latency load against a wsgate gateway (see the "
        "comment atop bench/wsload.cpp)",
        "wsgate-load"};
    app.require_subcommand(1, 1);
    auto common = [&](CLI::App* s) {
        s->add_option("--users", o.users, "distinct users")->capture_default_str();
        s->add_option("--conns-per-user", o.conns_per_user, "connections per user")
            ->capture_default_str();
        s->add_option("--settle", o.settle,
                      "seconds to wait after the last connect before counting")
            ->capture_default_str();
        s->add_option("--hold", o.hold, "seconds to hold the connections open, sampling RSS")
            ->capture_default_str();
        s->add_option("--procs", o.procs,
                      "worker processes, each with its own event loop, a slice of the users and "
                      "of --source-ips (at most 19,500 connections each)")
            ->capture_default_str();
        s->add_option("--phase-timeout", o.phase_timeout,
                      "seconds the workers may take for one phase (ready, connect, publish)")
            ->capture_default_str();
        s->add_option("--redis-mode", o.redis_mode,
                      "single: PUBLISH on --redis-url; cluster: --redis-url lists seed nodes of a "
                      "Redis Cluster, SPUBLISH goes to each slot's master, INFO is summed over "
                      "the masters")
            ->check(CLI::IsMember({"single", "cluster"}))
            ->capture_default_str();
    };
    auto target = [&](CLI::App* s) {
        s->add_option("--concurrency", o.concurrency, "handshakes in flight")
            ->capture_default_str();
        s->add_option("--user-offset", o.user_offset,
                      "first user number (split users across processes)")
            ->capture_default_str();
        s->add_option("--user-prefix", o.user_prefix, "user id = prefix + number")
            ->capture_default_str();
        s->add_option("--host", o.host, "gateway address (127/8)")->capture_default_str();
        s->add_option("--port", o.port, "gateway port")->required();
        s->add_option("--secret", o.secret, "HS256 secret the gateway was given (--jwt-secret)")
            ->required();
        s->add_option("--source-ips", o.source_ips,
                      "source addresses, round-robin: A-B ranges and/or commas")
            ->capture_default_str();
        s->add_option("--redis-url", o.redis_url, "Redis for PUBLISH and INFO")
            ->capture_default_str();
        s->add_option("--gateway-pid", o.gateway_pids,
                      "gateway process(es) to sample; repeatable or a,b")
            ->delimiter(',');
        s->add_option("--connect-timeout", o.connect_timeout, "seconds per connect + handshake")
            ->capture_default_str();
    };
    auto publishing = [&](CLI::App* s) {
        s->add_option("--payload-bytes", o.payload_bytes, "payload size (>= 32)")
            ->capture_default_str();
        s->add_option("--pipeline", o.pipeline, "PUBLISH commands in flight")
            ->capture_default_str();
        s->add_option("--max-backlog", o.max_backlog,
                      "deliveries outstanding before publishing pauses (0 = off)")
            ->capture_default_str();
        s->add_option("--drain-timeout", o.drain_timeout,
                      "seconds without progress before giving up the drain")
            ->capture_default_str();
        s->add_option("--seed", o.seed, "seed for the choice of users")->capture_default_str();
    };
    auto* connect =
        app.add_subcommand("connect", "connect, hold, report connects/s and gateway memory");
    common(connect);
    target(connect);
    auto* fanout = app.add_subcommand(
        "fanout", "connect, publish M messages to random users, count deliveries");
    common(fanout);
    target(fanout);
    publishing(fanout);
    fanout->add_option("--messages", o.messages, "messages to publish")->capture_default_str();
    fanout->add_option("--rate", o.rate, "msgs/s; 0 = as fast as the pipeline allows")
        ->capture_default_str();
    auto* latency =
        app.add_subcommand("latency", "connect, publish at a fixed rate, report publish→receive");
    common(latency);
    target(latency);
    publishing(latency);
    latency->add_option("--rate", o.rate, "msgs/s")->required();
    latency->add_option("--duration", o.duration, "seconds of publishing")->capture_default_str();
    auto* soak_cmd = app.add_subcommand(
        "soak",
        "hold connections for a long time with steady publishing, churn and slow readers; "
        "sample the gateway's RSS and descriptors");
    target(soak_cmd);
    soak_cmd->add_option("--connections", o.soak_connections, "regular connections held")
        ->capture_default_str();
    soak_cmd->add_option("--users", o.soak_users, "regular users (connection i is on user i mod U)")
        ->capture_default_str();
    soak_cmd->add_option("--duration", o.soak_duration, "seconds of soak after the ramp-up")
        ->capture_default_str();
    soak_cmd->add_option("--rate", o.soak_rate, "msgs/s to random regular users")
        ->capture_default_str();
    soak_cmd->add_option("--payload-bytes", o.payload_bytes, "regular payload size (>= 32)")
        ->capture_default_str();
    soak_cmd->add_option("--churn", o.churn, "connections closed and reopened per second")
        ->capture_default_str();
    soak_cmd->add_option("--slow-readers", o.slow_readers, "stalling connections, one user each")
        ->capture_default_str();
    soak_cmd->add_option("--slow-rate", o.slow_rate, "msgs/s to each slow reader's user")
        ->capture_default_str();
    soak_cmd->add_option("--slow-payload-bytes", o.slow_payload_bytes, "slow readers' payload size")
        ->capture_default_str();
    soak_cmd->add_option("--slow-stall", o.slow_stall, "seconds a slow reader stops reading")
        ->capture_default_str();
    soak_cmd->add_option("--slow-read", o.slow_read, "seconds it then reads")
        ->capture_default_str();
    soak_cmd->add_option("--slow-rcvbuf", o.slow_rcvbuf, "SO_RCVBUF of a slow reader's socket")
        ->capture_default_str();
    soak_cmd
        ->add_option("--retry-delay", o.retry_delay,
                     "seconds before reconnecting after a failure or a gateway close")
        ->capture_default_str();
    soak_cmd->add_option("--sample-interval", o.sample_interval, "seconds between samples")
        ->capture_default_str();
    soak_cmd->add_option("--warmup", o.warmup, "seconds after the ramp-up left out of the slopes")
        ->capture_default_str();
    soak_cmd->add_option("--ramp-timeout", o.ramp_timeout, "seconds allowed for the ramp-up")
        ->capture_default_str();
    soak_cmd->add_option("--settle", o.settle, "seconds between the ramp-up and the soak")
        ->capture_default_str();
    soak_cmd->add_option("--pipeline", o.pipeline, "PUBLISH commands in flight")
        ->capture_default_str();
    soak_cmd
        ->add_option("--drain-timeout", o.drain_timeout,
                     "seconds without progress before giving up the final drain")
        ->capture_default_str();
    soak_cmd->add_option("--seed", o.seed, "seed for the choice of users")->capture_default_str();
    soak_cmd
        ->add_option("--rss-slope-limit-pct", o.rss_slope_limit_pct,
                     "flat: RSS slope below this % of the start RSS per 10 minutes")
        ->capture_default_str();
    soak_cmd
        ->add_option("--fd-tolerance", o.fd_tolerance,
                     "flat: |descriptors at end - at start| at most this (0 = 2 x churn, "
                     "at least 20)")
        ->capture_default_str();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    o.mode = app.get_subcommands().front()->get_name();

    try {
        const bool soak_mode = o.mode == "soak";
        // A soak also holds the sockets of connections being closed and reopened.
        if (o.procs == 0 || o.procs > 64) throw std::invalid_argument("--procs must be 1..64");
        if (!soak_mode && o.procs > o.users)
            throw std::invalid_argument("--procs must not exceed --users");
        if (o.phase_timeout <= 0) throw std::invalid_argument("--phase-timeout must be positive");
        // Connections held by one process (the busiest worker when --procs splits the users).
        std::uint64_t total =
            soak_mode
                ? std::uint64_t{o.soak_connections} + o.slow_readers + std::uint64_t{o.churn} * 2
                : std::uint64_t{(o.users + o.procs - 1) / o.procs} * o.conns_per_user;
        if (soak_mode) {
            if (o.soak_users == 0 || o.soak_connections == 0)
                throw std::invalid_argument("--users and --connections must be > 0");
            if (o.soak_users > o.soak_connections)
                throw std::invalid_argument("--users must not exceed --connections");
            if (o.slow_payload_bytes < 32 || o.slow_payload_bytes > (1u << 20))
                throw std::invalid_argument("--slow-payload-bytes must be between 32 and 1048576");
            if (o.soak_rate < 0 || o.slow_rate < 0 || o.soak_duration <= 0 || o.slow_stall <= 0 ||
                o.slow_read <= 0 || o.retry_delay <= 0 || o.sample_interval <= 0 || o.warmup < 0 ||
                o.ramp_timeout <= 0 || o.rss_slope_limit_pct <= 0 || o.slow_rcvbuf <= 0)
                throw std::invalid_argument("durations, rates and limits must be positive");
            if (o.churn > o.soak_connections / 4)
                throw std::invalid_argument("--churn must be at most a quarter of --connections");
        } else if (o.users == 0 || o.conns_per_user == 0)
            throw std::invalid_argument("--users and --conns-per-user must be > 0");
        if (total > max_conns_per_process)
            throw std::invalid_argument(
                std::to_string(total) +
                " connections in one process: one process may hold at most 20,000 open files "
                "here, so wsgate-load takes at most " +
                std::to_string(max_conns_per_process) + " per process; " +
                (soak_mode ? std::string("run several soaks with disjoint --user-offset ranges")
                           : std::string("raise --procs")));
        if (o.concurrency == 0) throw std::invalid_argument("--concurrency must be > 0");
        if (o.payload_bytes < 32 || o.payload_bytes > (1u << 20))
            throw std::invalid_argument("--payload-bytes must be between 32 and 1048576");
        if (o.pipeline == 0) throw std::invalid_argument("--pipeline must be > 0");
        if (o.mode == "latency" && o.rate <= 0)
            throw std::invalid_argument("--rate must be > 0 for latency");
        if (o.rate < 0 || o.hold < 0 || o.duration <= 0 || o.connect_timeout <= 0 ||
            o.drain_timeout <= 0)
            throw std::invalid_argument("durations and rates must be positive");
        if (o.messages == 0) throw std::invalid_argument("--messages must be > 0");
        loopback_address(o.host, "--host");
        auto sources = parse_source_ips(o.source_ips);
        auto sources_per_process =
            sources.size() >= o.procs ? sources.size() / o.procs : sources.size();
        if (total / sources_per_process > 28'000)
            throw std::invalid_argument("--source-ips: too few addresses for " +
                                        std::to_string(total) +
                                        " connections (28,232 ephemeral ports each)");
        redis_target redis;
        if (o.redis_mode == "cluster") {
            auto seeds = wsgate::redis::parse_redis_url_list(o.redis_url);
            if (!seeds || seeds->empty() || seeds->front().tls)
                throw std::invalid_argument(
                    "--redis-url: not a list of redis:// URLs (redis://h1:p1,redis://h2:p2)");
            for (const auto& s : *seeds) loopback_address(s.host, "--redis-url");
            redis.seeds = *seeds;
            // Read before the workers fork, on a connection closed at once: they inherit the
            // map, not the socket.
            std::string err;
            redis.map = read_slot_map(redis.seeds, err);
            if (!redis.map)
                throw std::runtime_error("--redis-url: cannot read the cluster slot map: " + err);
            if (redis.map->covered() != wsgate::redis::cluster_slots)
                throw std::runtime_error("--redis-url: the cluster serves " +
                                         std::to_string(redis.map->covered()) +
                                         " of 16384 slots; wait for cluster_state:ok");
            for (const auto& m : redis.map->masters())
                loopback_address(m.host, "--redis-url (a cluster master)");
        } else {
            auto ep = wsgate::redis::parse_redis_url(o.redis_url);
            if (!ep || ep->tls) throw std::invalid_argument("--redis-url: not a redis:// URL");
            loopback_address(ep->host, "--redis-url");
            redis.single = *ep;
        }

        // Use the whole hard limit; refuse if it cannot hold the sockets plus a margin.
        rlimit rl{};
        getrlimit(RLIMIT_NOFILE, &rl);
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
        if (total + 64 > rl.rlim_cur)
            throw std::invalid_argument("the open-file limit is " + std::to_string(rl.rlim_cur) +
                                        ", too low for " + std::to_string(total) + " connections");
        if (soak_mode) {
            soak k(o, std::move(sources), redis.single);
            return k.run();
        }
        // A worker that dies must not kill the conductor when it writes the next order.
        std::signal(SIGPIPE, SIG_IGN);
        conductor c(o, std::move(sources), std::move(redis));
        return c.run();
    } catch (const std::invalid_argument& e) {
        std::cerr << "wsgate-load: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "wsgate-load: " << e.what() << "\n";
        return 1;
    }
}
