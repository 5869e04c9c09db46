// redis_sentinel: master + replica via redis_server, sentinels via child_process; readiness
// is asked of the sentinels themselves (SENTINEL MASTER), never a sleep.
#include "redis_sentinel.hpp"

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <sys/time.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace wsgate::test {
namespace {

using namespace std::chrono_literals;

std::string find_redis_server() {
    if (auto on_path = find_executable("redis-server")) return *on_path;
    if (::access("/usr/bin/redis-server", X_OK) == 0) return "/usr/bin/redis-server";
    throw std::runtime_error(
        "redis-server not found on PATH or at /usr/bin/redis-server; the Sentinel tests need it "
        "(Debian: apt-get install redis-server)");
}

// The value of `key` in a flat [k1, v1, k2, v2, ...] reply (SENTINEL MASTER), or "".
std::string field(const test_reply& r, const std::string& key) {
    for (std::size_t i = 0; i + 1 < r.elements.size(); i += 2)
        if (r.elements[i].str == key) return r.elements[i + 1].str;
    return {};
}

test_reply copy(const redisReply& r) {
    test_reply out;
    switch (r.type) {
        case REDIS_REPLY_STRING:
            out.type = test_reply::kind::string;
            break;
        case REDIS_REPLY_ARRAY:
            out.type = test_reply::kind::array;
            break;
        case REDIS_REPLY_INTEGER:
            out.type = test_reply::kind::integer;
            break;
        case REDIS_REPLY_STATUS:
            out.type = test_reply::kind::status;
            break;
        case REDIS_REPLY_ERROR:
            out.type = test_reply::kind::error;
            break;
        default:
            out.type = test_reply::kind::nil;
            break;
    }
    if (r.type == REDIS_REPLY_STRING || r.type == REDIS_REPLY_STATUS || r.type == REDIS_REPLY_ERROR)
        out.str.assign(r.str, r.len);
    if (r.type == REDIS_REPLY_INTEGER) out.integer = r.integer;
    for (std::size_t i = 0; r.type == REDIS_REPLY_ARRAY && i < r.elements; ++i)
        out.elements.push_back(copy(*r.element[i]));
    return out;
}

}  // namespace

redis_sentinel::redis_sentinel() : redis_sentinel(options{}) {}

redis_sentinel::redis_sentinel(options opts)
    : opts_(std::move(opts)), executable_(find_redis_server()) {
    std::string templ =
        (std::filesystem::temp_directory_path() / "wsgate-sentinel-XXXXXX").string();
    if (!mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
    dir_ = templ;

    // --dir: a replica writes the RDB it receives (dump.rdb) into its working directory,
    // which would otherwise be the test's.
    redis_server::options master;
    master.extra_args = {"--dir", dir_};
    nodes_.push_back(std::make_unique<redis_server>(master));
    redis_server::options replica;
    replica.extra_args = {"--dir", dir_, "--replicaof", "127.0.0.1",
                          std::to_string(nodes_[0]->port())};
    nodes_.push_back(std::make_unique<redis_server>(replica));
    if (!wait_until(
            [&] {
                auto info = nodes_[1]->command({"INFO", "replication"});
                return info.str.find("master_link_status:up") != std::string::npos;
            },
            opts_.startup_timeout, 20ms))
        throw std::runtime_error("the replica never linked to the master");

    for (std::size_t i = 0; i < opts_.sentinels; ++i) start_sentinel(i);
    // A failover needs the replica known (from the master's INFO) and a majority of the
    // sentinels known to each other (hello messages every 2 s).
    if (!wait_until(
            [&] {
                for (std::size_t i = 0; i < sentinels_.size(); ++i)
                    if (!sentinel_ready(i)) return false;
                return true;
            },
            opts_.startup_timeout, 50ms)) {
        std::string out;
        for (auto& s : sentinels_) out += s->output();
        throw std::runtime_error("the sentinels never found each other and the replica:\n" + out);
    }
}

redis_sentinel::~redis_sentinel() {
    sentinels_.clear();  // SIGKILL by PID
    nodes_.clear();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
}

void redis_sentinel::start_sentinel(std::size_t i) {
    const auto port = free_port();
    const std::string conf = dir_ + "/sentinel-" + std::to_string(i) + ".conf";
    const auto& n = opts_.master_name;
    {
        std::ofstream f(conf);
        f << "port " << port << "\nbind 127.0.0.1\nprotected-mode no\ndaemonize no\n"
          << "dir " << dir_ << "\n"
          << "sentinel monitor " << n << " 127.0.0.1 " << nodes_[0]->port() << " 2\n"
          << "sentinel down-after-milliseconds " << n << ' ' << opts_.down_after.count() << '\n'
          << "sentinel failover-timeout " << n << ' ' << opts_.failover_timeout.count() << '\n'
          << "sentinel parallel-syncs " << n << " 1\n";
        if (!f) throw std::runtime_error("cannot write " + conf);
    }
    sentinels_.push_back(
        std::make_unique<child_process>(executable_, std::vector<std::string>{conf, "--sentinel"}));
    sentinel_ports_.push_back(port);
    if (!wait_until(
            [&] {
                if (!sentinels_.back()->running()) return true;
                try {
                    return sentinel_command(i, {"PING"}).str == "PONG";
                } catch (const std::runtime_error&) {
                    return false;
                }
            },
            opts_.startup_timeout, 20ms) ||
        !sentinels_.back()->running())
        throw std::runtime_error("sentinel " + std::to_string(i) + " did not come up:\n" +
                                 sentinels_.back()->output());
}

bool redis_sentinel::sentinel_ready(std::size_t i) {
    try {
        auto m = sentinel_command(i, {"SENTINEL", "MASTER", opts_.master_name});
        return field(m, "num-slaves") == "1" &&
               field(m, "num-other-sentinels") == std::to_string(opts_.sentinels - 1);
    } catch (const std::runtime_error&) {
        return false;
    }
}

std::string redis_sentinel::url(const std::string& name) const {
    std::string out = "redis+sentinel://";
    for (std::size_t i = 0; i < sentinel_ports_.size(); ++i) {
        if (i) out += ',';
        out += "127.0.0.1:" + std::to_string(sentinel_ports_[i]);
    }
    return out + "/" + (name.empty() ? opts_.master_name : name);
}

test_reply redis_sentinel::sentinel_command(std::size_t i, const std::vector<std::string>& args) {
    const timeval tv{2, 0};
    std::unique_ptr<redisContext, void (*)(redisContext*)> c(
        redisConnectWithTimeout("127.0.0.1", sentinel_ports_.at(i), tv), redisFree);
    if (!c || c->err)
        throw std::runtime_error("cannot connect to sentinel " + std::to_string(i) + ": " +
                                 (c ? c->errstr : "out of memory"));
    redisSetTimeout(c.get(), tv);
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (const auto& a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(c.get(), static_cast<int>(args.size()), argv.data(), lens.data()));
    if (!r) throw std::runtime_error("sentinel command failed: " + std::string(c->errstr));
    test_reply out = copy(*r);
    freeReplyObject(r);
    return out;
}

std::optional<std::size_t> redis_sentinel::named_master(std::size_t i) {
    auto r = sentinel_command(i, {"SENTINEL", "get-master-addr-by-name", opts_.master_name});
    if (r.elements.size() != 2) return std::nullopt;
    for (std::size_t n = 0; n < nodes_.size(); ++n)
        if (r.elements[1].str == std::to_string(nodes_[n]->port())) return n;
    return std::nullopt;
}

bool redis_sentinel::wait_master(std::size_t index, std::chrono::milliseconds timeout) {
    return wait_until(
        [&] {
            try {
                for (std::size_t i = 0; i < sentinels_.size(); ++i)
                    if (sentinels_[i]->running() && named_master(i) != index) return false;
                if (!nodes_.at(index)->running()) return false;
                auto role = nodes_[index]->command({"ROLE"});
                return !role.elements.empty() && role.elements[0].str == "master";
            } catch (const std::runtime_error&) {
                return false;
            }
        },
        timeout, 50ms);
}

test_reply redis_sentinel::force_failover() {
    // Until the sentinel has read the replica's own INFO it answers NOGOODSLAVE: retry.
    test_reply r;
    wait_until(
        [&] {
            r = sentinel_command(0, {"SENTINEL", "FAILOVER", opts_.master_name});
            return !r.is_error() || r.str.find("NOGOODSLAVE") == std::string::npos;
        },
        10s, 100ms);
    return r;
}

}  // namespace wsgate::test
