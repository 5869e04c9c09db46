// A throwaway redis-server on a free 127.0.0.1 port for integration tests, with the fault
// controls (stop, restart, pause) the gateway tests need and a small synchronous command
// client. Use from the test's main thread; not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "process.hpp"

struct redisContext;  // hiredis

namespace wsgate::test {

/// A reply copied out of hiredis, so tests can hold and compare it freely.
struct test_reply {
    enum class kind { string, array, integer, nil, status, error };
    kind type = kind::nil;
    std::string str;  // string, status and error replies
    long long integer = 0;
    std::vector<test_reply> elements;

    bool is_error() const noexcept { return type == kind::error; }
    friend bool operator==(const test_reply&, const test_reply&) = default;
};
std::ostream& operator<<(std::ostream& os, const test_reply& r);

/// One redis-server child process, persistence off, killed with this object.
class redis_server {
public:
    struct options {
        // Assign the fields you need: g++ 12 -Wextra flags designated initializers that
        // omit members (-Wmissing-field-initializers).
        std::uint16_t port = 0;  // 0: a free port
        std::string password;    // non-empty: --requirepass; url() and command() use it
        std::vector<std::string>
            extra_args;  // appended, e.g. {"--user", "alice", "on", ">pw", "+@all", "&*"}
        std::chrono::milliseconds startup_timeout = std::chrono::seconds(10);
        std::chrono::milliseconds command_timeout = std::chrono::seconds(5);  // for command()
    };

    /// Starts the server and waits until PING answers. Throws std::runtime_error when
    /// redis-server is not installed (PATH, then /usr/bin/redis-server) or does not come up;
    /// a missing server is a test failure, never a skip.
    redis_server();
    explicit redis_server(options opts);
    ~redis_server();
    redis_server(const redis_server&) = delete;
    redis_server& operator=(const redis_server&) = delete;

    std::uint16_t port() const noexcept { return port_; }
    /// "redis://127.0.0.1:P", or "redis://:PASSWORD@127.0.0.1:P" with a password.
    std::string url() const;
    /// The process, e.g. for its output; null while stopped.
    child_process* process() noexcept { return process_ ? &*process_ : nullptr; }
    bool running() noexcept { return process_ && process_->running(); }

    /// SIGTERM (SIGKILL after 5 s) and wait; connections see EOF. No-op when stopped.
    void stop();
    /// SIGKILL and wait: connections see a reset or EOF, like a crash.
    void kill();
    /// Starts again on the same port and waits for PING. Throws if the port was taken.
    void start();
    void restart() {
        stop();
        start();
    }
    /// SIGSTOP / SIGCONT: the server keeps its sockets but answers nothing, so clients hit
    /// their timeouts instead of seeing a disconnect.
    void pause();
    void resume();

    /// Runs one command on a cached connection (reconnecting once if it broke, e.g. after a
    /// restart); error replies come back as kind::error. Throws std::runtime_error on I/O
    /// failure or after options::command_timeout (e.g. while paused).
    test_reply command(const std::vector<std::string>& args);
    /// PUBSUB NUMSUB channel → the subscriber count.
    long long numsub(const std::string& channel);

private:
    struct context_deleter {
        void operator()(redisContext* c) const noexcept;
    };

    void spawn_and_wait();
    bool ping_once();

    options opts_;
    std::string executable_;
    std::uint16_t port_ = 0;
    std::optional<child_process> process_;
    std::unique_ptr<redisContext, context_deleter> client_;  // command()'s connection
};

}  // namespace wsgate::test
