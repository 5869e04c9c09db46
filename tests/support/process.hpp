// Child processes for integration tests (redis-server, wsgate, wsgate-publish) and the
// waiting helpers that replace sleeps. Used from the test's main thread; not thread-safe.
// A child is killed when its child_process is destroyed, or when the test binary dies.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wsgate::test {

/// How to start a child; everything is optional. Assign the fields you need: g++ 12 -Wextra
/// flags designated initializers that omit members (-Wmissing-field-initializers).
struct process_options {
    /// Added to (or replacing in) the test's own environment.
    std::vector<std::pair<std::string, std::string>> env;
    /// Removed from the inherited environment, e.g. "WSGATE_REDIS_URL" to test a default.
    std::vector<std::string> unset_env;
    /// Bytes for the child's stdin (via a temp file, so any size and any bytes); without
    /// it, stdin is /dev/null.
    std::optional<std::string> stdin_data;
};

/// One running executable with stdout and stderr captured in a temp file.
class child_process {
public:
    /// Starts `executable` (a path, or a bare name looked up on PATH) with `args` (argv[1..]).
    /// Throws std::runtime_error when it cannot be found or executed; the reason is exact,
    /// because exec failures are reported back from the child.
    child_process(std::string executable, std::vector<std::string> args,
                  process_options options = {});
    /// SIGKILL the child's process group (the child and anything it started) and reap the
    /// child; if the current test has failed, prints the tail of the output to stderr first.
    /// Removes the output file.
    ~child_process();
    child_process(child_process&& other) noexcept;
    child_process& operator=(child_process&& other) noexcept;
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;

    pid_t pid() const noexcept { return pid_; }
    /// The executable's base name, for messages.
    const std::string& name() const noexcept { return name_; }

    /// False once the child has exited (and then it is reaped).
    bool running();
    /// Sends `sig` to the child only (not its group) unless the child was already reaped
    /// (its pid may be reused then). Returns whether a signal was sent.
    bool signal(int sig);
    /// Exit status (>= 0) or -signal number once the child has exited; nothing if it is still
    /// running at the deadline. Polls; a zero timeout just checks.
    std::optional<int> wait_for_exit(std::chrono::milliseconds timeout);
    /// SIGTERM, then SIGKILL after `grace`; returns the exit status as wait_for_exit does.
    int terminate(std::chrono::milliseconds grace = std::chrono::seconds(5));
    /// The exit status if the child has been reaped.
    std::optional<int> exit_status() const noexcept { return status_; }

    /// Everything the child wrote to stdout and stderr so far (interleaved as written).
    std::string output() const;
    /// Path of the output file, e.g. for a failure message.
    const std::string& output_path() const noexcept { return output_path_; }
    /// Waits until output() contains `needle`. Returns false at the deadline, or as soon as
    /// the child has exited without writing it.
    bool wait_for_output(std::string_view needle, std::chrono::milliseconds timeout);

private:
    void reap(int raw_status);
    void dump_output_if_test_failed() const;

    std::string name_;
    pid_t pid_ = -1;
    std::optional<int> status_;  // set once reaped
    std::string output_path_;
};

/// The path `executable` would run as: itself when it contains '/', else the first
/// executable match on PATH; nothing when there is none.
std::optional<std::string> find_executable(const std::string& executable);

/// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, close).
/// Another process may take it before you bind it: retry on EADDRINUSE where it matters.
std::uint16_t free_port();

/// Calls `pred` every `poll` until it returns true or `timeout` has passed; returns the last
/// result. `pred` runs at least once, and once more right at the deadline.
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll = std::chrono::milliseconds(10));

/// Runs `executable` to completion with a deadline: returns {exit status, output}. Throws
/// std::runtime_error if it is still running at the deadline (after killing it).
std::pair<int, std::string> run_to_completion(
    std::string executable, std::vector<std::string> args, process_options options = {},
    std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace wsgate::test
