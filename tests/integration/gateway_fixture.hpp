// End-to-end fixture: a real redis-server and the real wsgate binary (WSGATE_BINARY) on
// 127.0.0.1, plus tokens, publishing, /metrics and /readyz helpers. Every wait has a
// deadline, and a per-test watchdog aborts the binary if a test overruns its hard limit,
// so a gateway bug fails a test rather than hanging the run. Test thread only.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json/object.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "auth/base64url.hpp"
#include "auth/token_minter.hpp"
#include "process.hpp"
#include "publisher/publisher.hpp"
#include "redis/channel.hpp"
#include "redis_server.hpp"
#include "ws_client.hpp"

namespace wsgate::test {

using namespace std::chrono_literals;

/// Aborts the whole test binary when a test outlives `limit`: the last line of defence
/// against a hang that no per-call deadline caught. Children die with us (PDEATHSIG).
class hard_deadline {
public:
    explicit hard_deadline(std::chrono::seconds limit)
        : thread_([this, limit] {
              std::unique_lock lock(mutex_);
              if (!done_cv_.wait_for(lock, limit, [this] { return done_; })) {
                  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
                  std::cerr << "\nHARD DEADLINE: " << (info ? info->test_suite_name() : "?") << "."
                            << (info ? info->name() : "?") << " still running after "
                            << limit.count() << "s; aborting\n"
                            << std::flush;
                  std::abort();
              }
          }) {}
    ~hard_deadline() {
        {
            std::lock_guard lock(mutex_);
            done_ = true;
        }
        done_cv_.notify_all();
        thread_.join();
    }
    hard_deadline(const hard_deadline&) = delete;
    hard_deadline& operator=(const hard_deadline&) = delete;

private:
    std::mutex mutex_;
    std::condition_variable done_cv_;
    bool done_ = false;
    std::thread thread_;  // last: starts after the members it uses
};

/// HS256 secret shared by the fixture's gateways and token minting (40 bytes).
inline const std::string test_jwt_secret = "wsgate-integration-secret-0123456789abcd";

/// Flags as (name, value) pairs; later entries replace earlier ones with the same name.
using flag_list = std::vector<std::pair<std::string, std::string>>;

/// Parsed /metrics: "name{labels}" (exactly as rendered) → value.
using metric_map = std::map<std::string, double>;

inline metric_map parse_metrics(const std::string& text) {
    metric_map out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line[0] == '#') continue;
        const auto space = line.rfind(' ');
        if (space == std::string::npos) continue;
        try {
            out[line.substr(0, space)] = std::stod(line.substr(space + 1));
        } catch (const std::exception&) {
        }
    }
    return out;
}

/// The wsgate binary as a child process, started and waited for.
class gateway_process {
public:
    /// Starts wsgate against `redis_url` with `flags` merged over the test defaults, and
    /// waits for its `listening` line (and /readyz 200 when `wait_ready`). Failures are
    /// reported as exceptions carrying the gateway's output.
    gateway_process(const std::string& redis_url, const flag_list& flags, bool wait_ready,
                    std::chrono::milliseconds timeout = 10s) {
        flag_list merged = {
            {"--listen", "127.0.0.1:0"},
            {"--redis-url", redis_url},
            {"--jwt-secret", test_jwt_secret},
            {"--threads", "2"},
            // Short enough that reconnect tests do not wait on the default 5 s backoff.
            {"--redis-backoff-max", "300ms"},
            {"--shutdown-timeout", "5s"},
        };
        for (const auto& [name, value] : flags) {
            bool replaced = false;
            for (auto& m : merged)
                if (m.first == name) m.second = value, replaced = true;
            if (!replaced) merged.emplace_back(name, value);
        }
        std::vector<std::string> args;
        for (const auto& [name, value] : merged) {
            args.push_back(name);
            args.push_back(value);
        }
        process_.emplace(WSGATE_BINARY, std::move(args));
        if (!process_->wait_for_output(" listening ", timeout))
            throw std::runtime_error("wsgate did not report its port:\n" + process_->output());
        std::smatch m;
        const std::string out = process_->output();
        static const std::regex listening(R"( listening [^\n]*port=(\d+))");
        if (!std::regex_search(out, m, listening))
            throw std::runtime_error("no port in the listening line:\n" + out);
        port_ = static_cast<std::uint16_t>(std::stoi(m[1].str()));
        if (wait_ready &&
            !wait_until([this] { return http_get(port_, "/readyz", {}, 2s).status == 200; },
                        timeout, 20ms))
            throw std::runtime_error("wsgate never became ready:\n" + process_->output());
    }

    std::uint16_t port() const noexcept { return port_; }
    child_process& process() { return *process_; }
    std::string output() const { return process_->output(); }
    bool running() { return process_->running(); }

    /// SIGTERM, SIGKILL after `grace`; the exit status (negative: killed by that signal).
    int terminate(std::chrono::milliseconds grace = 10s) {
        if (process_->exit_status()) return *process_->exit_status();
        return process_->terminate(grace);
    }

private:
    std::optional<child_process> process_;
    std::uint16_t port_ = 0;
};

/// Base fixture: a fresh redis-server and gateway per test. Derived fixtures change the
/// gateway's flags by overriding gateway_flags().
class gateway_fixture : public ::testing::Test {
protected:
    /// Extra flags for this fixture's gateway (merged over gateway_process's defaults).
    virtual flag_list gateway_flags() const { return {}; }
    /// Hard limit for one test, watched from another thread.
    virtual std::chrono::seconds test_limit() const { return 90s; }

    void SetUp() override {
        deadline_ = std::make_unique<hard_deadline>(test_limit());
        redis_ = std::make_unique<redis_server>();
        publisher_ = std::make_unique<publisher>(redis_->url(), 5s);
        start_gateway(gateway_flags());
    }

    void TearDown() override {
        if (gateway_) {
            const int status = gateway_->terminate();
            EXPECT_EQ(status, 0) << "wsgate did not exit cleanly; output:\n" << gateway_->output();
        }
        gateway_.reset();
        publisher_.reset();
        redis_.reset();
        deadline_.reset();
    }

    void start_gateway(const flag_list& flags, bool wait_ready = true) {
        gateway_.reset();
        gateway_ = std::make_unique<gateway_process>(redis_->url(), flags, wait_ready);
    }

    std::uint16_t port() const { return gateway_->port(); }
    gateway_process& gateway() { return *gateway_; }
    redis_server& redis() { return *redis_; }

    static std::string token_for(const std::string& user, std::chrono::seconds ttl = 1h) {
        return auth::mint_hs256(test_jwt_secret, user, ttl);
    }
    /// Signs arbitrary claims with the test secret.
    static std::string token_with(const boost::json::object& claims) {
        return auth::mint_token("HS256", test_jwt_secret, claims);
    }
    static std::int64_t unix_now() {
        return std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
    }
    /// `/ws/v1/status/{percent-encoded user}?token=...` (no token parameter when empty).
    static std::string target_for(const std::string& user, const std::string& token) {
        std::string t = "/ws/v1/status/" + percent_encode(user);
        if (!token.empty()) t += "?token=" + token;
        return t;
    }
    static std::string target_for(const std::string& user) {
        return target_for(user, token_for(user));
    }

    /// A connected client for `user` with a valid token; null (and a test failure) if the
    /// upgrade failed.
    std::unique_ptr<ws_client> connect_user(const std::string& user) {
        auto c = std::make_unique<ws_client>();
        if (auto ec = c->connect(port(), target_for(user))) {
            ADD_FAILURE() << "connect as " << user << ": " << ec.message() << " (HTTP "
                          << c->http_status() << ")";
            return nullptr;
        }
        return c;
    }

    /// PUBLISH ws:{user}; the receiver count (gateway shards subscribed to the user).
    long long publish(const std::string& user, std::string_view payload) {
        return publisher_->publish_user_notification(user, payload);
    }

    long long numsub(const std::string& user) { return redis_->numsub(channel_for_user(user)); }

    metric_map metrics() {
        auto r = http_get(port(), "/metrics", {}, 5s);
        EXPECT_EQ(r.status, 200) << "GET /metrics: " << r.error.message();
        return parse_metrics(r.body);
    }
    /// One value from /metrics, e.g. `wsgate_closes_total{cause="shutdown"}`; NaN if absent.
    double metric(const std::string& key) {
        auto all = metrics();
        auto it = all.find(key);
        if (it == all.end()) {
            ADD_FAILURE() << "metric " << key << " not found in /metrics";
            return std::nan("");
        }
        return it->second;
    }
    int readyz() { return http_get(port(), "/readyz", {}, 2s).status; }

    /// Polls /metrics until `key` reaches `value` or the deadline passes.
    bool wait_metric(const std::string& key, double value, std::chrono::milliseconds timeout) {
        return wait_until([&] { return metric(key) == value; }, timeout, 20ms);
    }

    std::unique_ptr<hard_deadline> deadline_;
    std::unique_ptr<redis_server> redis_;
    std::unique_ptr<publisher> publisher_;
    std::unique_ptr<gateway_process> gateway_;
};

}  // namespace wsgate::test
