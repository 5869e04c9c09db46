// fork/exec-based child processes for tests. The child is prepared entirely before fork()
// (argv, envp, file descriptors) because a multi-threaded parent may only make
// async-signal-safe calls between fork and exec.
#include "process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace wsgate::test {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

// Status recorded when someone else reaped our child (waitpid gives ECHILD).
constexpr int lost_status = -1000;

std::runtime_error sys_error(const std::string& what, int err = errno) {
    return std::runtime_error(what + ": " + std::strerror(err));
}

std::string base_name(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Resolves a bare name on PATH in the parent, so the child only needs execve().
std::string resolve_executable(const std::string& executable) {
    if (executable.empty()) throw std::runtime_error("child_process: empty executable name");
    if (auto path = find_executable(executable)) return *path;
    throw std::runtime_error("child_process: '" + executable + "' not found on PATH");
}

std::vector<std::string> build_environment(const process_options& options) {
    auto overridden = [&](std::string_view entry) {
        const std::string_view key = entry.substr(0, entry.find('='));
        return std::ranges::any_of(options.env, [&](const auto& kv) { return kv.first == key; }) ||
               std::ranges::any_of(options.unset_env, [&](const auto& k) { return k == key; });
    };
    std::vector<std::string> env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        if (!overridden(*e)) env.emplace_back(*e);
    }
    for (const auto& [key, value] : options.env) env.push_back(key + "=" + value);
    return env;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
    std::vector<char*> out;
    out.reserve(strings.size() + 1);
    for (auto& s : strings) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

std::string temp_dir() {
    const char* dir = std::getenv("TMPDIR");
    return dir != nullptr && *dir != '\0' ? dir : "/tmp";
}

// A temp file opened read-write and close-on-exec; `path` receives its name.
int make_temp_file(const std::string& stem, std::string& path) {
    std::string name = temp_dir() + "/wsgate-test-" + stem + "-XXXXXX";
    const int fd = ::mkostemp(name.data(), O_CLOEXEC);
    if (fd < 0) throw sys_error("child_process: mkostemp " + name);
    path = std::move(name);
    return fd;
}

int stdin_fd_for(const process_options& options) {
    if (!options.stdin_data) {
        const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) throw sys_error("child_process: open /dev/null");
        return fd;
    }
    std::string path;
    const int fd = make_temp_file("stdin", path);
    ::unlink(path.c_str());  // the open fd keeps the data alive
    const std::string& data = *options.stdin_data;
    for (std::size_t done = 0; done < data.size();) {
        const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int err = errno;
            ::close(fd);
            throw sys_error("child_process: write stdin data", err);
        }
        done += static_cast<std::size_t>(n);
    }
    ::lseek(fd, 0, SEEK_SET);
    return fd;
}

// Runs in the child between fork and exec: async-signal-safe calls only, no allocation.
[[noreturn]] void exec_child(const char* path, char* const* argv, char* const* envp, int stdin_fd,
                             int out_fd, int error_fd, int max_fd, pid_t parent) {
    // Die with the test binary even if it is SIGKILLed (a ctest timeout), so no redis-server
    // or gateway outlives it holding a port. The signal follows the *thread* that forked:
    // spawn from a thread that outlives the child, normally the test's main thread.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
    // Our own process group, so the destructor also kills grandchildren (`sh -c "...; sleep"`
    // wrappers) instead of leaving them to init.
    ::setpgid(0, 0);

    // Undo what exec would otherwise inherit: blocked signals (e.g. SIGPIPE blocked by the
    // publisher on this thread) and ignored ones.
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);

    if (::dup2(stdin_fd, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(out_fd, 2) < 0) {
        const int err = errno;
        (void)!::write(error_fd, &err, sizeof err);
        ::_exit(127);
    }
    // Close inherited descriptors that lack O_CLOEXEC (hiredis and Asio sockets of the test)
    // so the child cannot keep the test's ports open; keep only the error pipe.
    if (::close_range(static_cast<unsigned>(error_fd) + 1, ~0U, 0) != 0) {
        for (int fd = error_fd + 1; fd < max_fd; ++fd) ::close(fd);  // kernel < 5.9
    }
    for (int fd = 3; fd < error_fd; ++fd) ::close(fd);

    ::execve(path, argv, envp);
    const int err = errno;
    (void)!::write(error_fd, &err, sizeof err);
    ::_exit(127);
}

}  // namespace

child_process::child_process(std::string executable, std::vector<std::string> args,
                             process_options options)
    : name_(base_name(executable)) {
    const std::string path = resolve_executable(executable);

    std::vector<std::string> argv_storage;
    argv_storage.push_back(path);
    for (auto& a : args) argv_storage.push_back(std::move(a));
    std::vector<std::string> env_storage = build_environment(options);
    std::vector<char*> argv = c_strings(argv_storage);
    std::vector<char*> envp = c_strings(env_storage);

    const int out_fd = make_temp_file(name_, output_path_);
    int stdin_fd = -1;
    int error_pipe[2] = {-1, -1};
    auto close_all = [&] {
        for (int fd : {out_fd, stdin_fd, error_pipe[0], error_pipe[1]})
            if (fd >= 0) ::close(fd);
    };
    try {
        stdin_fd = stdin_fd_for(options);
    } catch (...) {
        close_all();
        ::unlink(output_path_.c_str());
        throw;
    }
    if (::pipe2(error_pipe, O_CLOEXEC) != 0) {
        const int err = errno;
        close_all();
        ::unlink(output_path_.c_str());
        throw sys_error("child_process: pipe2", err);
    }

    const pid_t parent = ::getpid();
    const long open_max = ::sysconf(_SC_OPEN_MAX);
    const int max_fd = open_max > 0 && open_max < 1'000'000 ? static_cast<int>(open_max) : 65536;
    pid_ = ::fork();
    if (pid_ < 0) {
        const int err = errno;
        close_all();
        ::unlink(output_path_.c_str());
        throw sys_error("child_process: fork", err);
    }
    if (pid_ == 0)
        exec_child(path.c_str(), argv.data(), envp.data(), stdin_fd, out_fd, error_pipe[1], max_fd,
                   parent);

    ::setpgid(pid_, pid_);  // also here, so the group exists before we might signal it

    // The pipe's write end closes on a successful exec, so EOF means success and an int
    // means exec (or dup2) failed with that errno.
    ::close(error_pipe[1]);
    error_pipe[1] = -1;
    int child_errno = 0;
    ssize_t n = 0;
    do {
        n = ::read(error_pipe[0], &child_errno, sizeof child_errno);
    } while (n < 0 && errno == EINTR);
    close_all();
    if (n == static_cast<ssize_t>(sizeof child_errno)) {
        int raw = 0;
        while (::waitpid(pid_, &raw, 0) < 0 && errno == EINTR) {
        }
        pid_ = -1;
        ::unlink(output_path_.c_str());
        throw sys_error("child_process: cannot execute " + path, child_errno);
    }
}

child_process::~child_process() {
    // The group outlives its leader while grandchildren run; it cannot be reused before all
    // of them are gone, so signalling it after the leader was reaped is safe.
    if (pid_ > 0) ::kill(-pid_, SIGKILL);
    if (pid_ > 0 && !status_) {
        ::kill(pid_, SIGKILL);
        int raw = 0;
        pid_t r = 0;
        while ((r = ::waitpid(pid_, &raw, 0)) < 0 && errno == EINTR) {
        }
        if (r == pid_) reap(raw);
    }
    if (!output_path_.empty()) {
        dump_output_if_test_failed();
        ::unlink(output_path_.c_str());
    }
}

child_process::child_process(child_process&& other) noexcept
    : name_(std::move(other.name_)),
      pid_(std::exchange(other.pid_, -1)),
      status_(std::exchange(other.status_, std::nullopt)),
      output_path_(std::exchange(other.output_path_, {})) {}

child_process& child_process::operator=(child_process&& other) noexcept {
    if (this != &other) {
        child_process dying(std::move(*this));
        name_ = std::move(other.name_);
        pid_ = std::exchange(other.pid_, -1);
        status_ = std::exchange(other.status_, std::nullopt);
        output_path_ = std::exchange(other.output_path_, {});
    }
    return *this;
}

void child_process::reap(int raw_status) {
    if (WIFEXITED(raw_status)) {
        status_ = WEXITSTATUS(raw_status);
    } else if (WIFSIGNALED(raw_status)) {
        status_ = -WTERMSIG(raw_status);
    } else {
        status_ = lost_status;
    }
}

bool child_process::running() {
    if (pid_ <= 0 || status_) return false;
    int raw = 0;
    pid_t r = 0;
    while ((r = ::waitpid(pid_, &raw, WNOHANG)) < 0 && errno == EINTR) {
    }
    if (r == 0) return true;
    if (r == pid_) {
        reap(raw);
    } else {
        status_ = lost_status;
    }
    return false;
}

bool child_process::signal(int sig) {
    if (!running()) return false;
    return ::kill(pid_, sig) == 0;
}

std::optional<int> child_process::wait_for_exit(std::chrono::milliseconds timeout) {
    wait_until([this] { return !running(); }, timeout, 5ms);
    return status_;
}

int child_process::terminate(std::chrono::milliseconds grace) {
    signal(SIGTERM);
    if (auto status = wait_for_exit(grace)) return *status;
    signal(SIGKILL);
    if (auto status = wait_for_exit(10s)) return *status;
    throw std::runtime_error("child_process: " + name_ + " survived SIGKILL");
}

std::string child_process::output() const {
    std::ifstream in(output_path_, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return std::move(text).str();
}

bool child_process::wait_for_output(std::string_view needle, std::chrono::milliseconds timeout) {
    // Stop early once the child has exited; the final read below still catches a needle
    // written just before the exit.
    wait_until([&] { return output().find(needle) != std::string::npos || !running(); }, timeout);
    return output().find(needle) != std::string::npos;
}

void child_process::dump_output_if_test_failed() const {
    if (!::testing::Test::HasFailure()) return;
    constexpr std::size_t max_dump = 64 * 1024;
    std::string text = output();
    std::cerr << "----- output of " << name_ << " (pid " << pid_ << ", ";
    if (status_) {
        std::cerr << "exit status " << *status_;
    } else {
        std::cerr << "still running";
    }
    std::cerr << ")";
    if (text.size() > max_dump) {
        std::cerr << ", last " << max_dump << " of " << text.size() << " bytes";
        text.erase(0, text.size() - max_dump);
    }
    std::cerr << " -----\n"
              << text << (text.empty() || text.back() == '\n' ? "" : "\n") << "----- end of "
              << name_ << " -----\n";
}

std::optional<std::string> find_executable(const std::string& executable) {
    if (executable.find('/') != std::string::npos) return executable;
    const char* path_env = std::getenv("PATH");
    std::string_view path = path_env != nullptr ? path_env : "/usr/local/bin:/usr/bin:/bin";
    while (!executable.empty()) {
        const auto colon = path.find(':');
        std::string dir(path.substr(0, colon));
        if (dir.empty()) dir = ".";
        std::string candidate = dir + "/" + executable;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
        if (colon == std::string_view::npos) break;
        path.remove_prefix(colon + 1);
    }
    return std::nullopt;
}

std::uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw sys_error("free_port: socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        const int err = errno;
        ::close(fd);
        throw sys_error("free_port: bind 127.0.0.1:0", err);
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll) {
    const auto deadline = steady::now() + timeout;
    while (true) {
        if (pred()) return true;
        const auto now = steady::now();
        if (now >= deadline) return false;
        std::this_thread::sleep_for(std::min<steady::duration>(poll, deadline - now));
        if (steady::now() >= deadline) return pred();
    }
}

std::pair<int, std::string> run_to_completion(std::string executable, std::vector<std::string> args,
                                              process_options options,
                                              std::chrono::milliseconds timeout) {
    child_process child(std::move(executable), std::move(args), std::move(options));
    if (auto status = child.wait_for_exit(timeout)) return {*status, child.output()};
    child.signal(SIGKILL);
    child.wait_for_exit(10s);
    throw std::runtime_error("run_to_completion: " + child.name() + " still running after " +
                             std::to_string(timeout.count()) + "ms; output:\n" + child.output());
}

}  // namespace wsgate::test
