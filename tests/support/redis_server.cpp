// redis_server: spawns redis-server through child_process and talks to it with hiredis's
// blocking client. Readiness is "PING answers", never a sleep.
#include "redis_server.hpp"

#include <hiredis/hiredis.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <fstream>
#include <ostream>
#include <stdexcept>
#include <string_view>

namespace wsgate::test {
namespace {

using namespace std::chrono_literals;

constexpr int max_port_attempts = 5;

struct reply_deleter {
    void operator()(redisReply* r) const noexcept { freeReplyObject(r); }
};
using reply_ptr = std::unique_ptr<redisReply, reply_deleter>;

timeval to_timeval(std::chrono::milliseconds ms) {
    return timeval{static_cast<time_t>(ms.count() / 1000),
                   static_cast<suseconds_t>(ms.count() % 1000 * 1000)};
}

std::string find_redis_server() {
    if (auto on_path = find_executable("redis-server")) return *on_path;
    if (::access("/usr/bin/redis-server", X_OK) == 0) return "/usr/bin/redis-server";
    throw std::runtime_error(
        "redis-server not found on PATH or at /usr/bin/redis-server; the integration tests need it "
        "(Debian: apt-get install redis-server)");
}

test_reply copy_reply(const redisReply& r) {
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
        out.elements.push_back(copy_reply(*r.element[i]));
    return out;
}

reply_ptr run(redisContext* c, const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (const auto& a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
    }
    return reply_ptr(static_cast<redisReply*>(
        redisCommandArgv(c, static_cast<int>(args.size()), argv.data(), lens.data())));
}

// The state letter from /proc/<pid>/stat ('T' when stopped), or 0 when unreadable.
char process_state(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const auto paren = text.rfind(')');  // the command name may contain spaces and parens
    return paren != std::string::npos && paren + 2 < text.size() ? text[paren + 2] : '\0';
}

std::string percent_encode(std::string_view s) {
    return boost::urls::encode(s, boost::urls::unreserved_chars);
}

}  // namespace

std::ostream& operator<<(std::ostream& os, const test_reply& r) {
    switch (r.type) {
        case test_reply::kind::string:
            return os << '"' << r.str << '"';
        case test_reply::kind::status:
            return os << '+' << r.str;
        case test_reply::kind::error:
            return os << '-' << r.str;
        case test_reply::kind::integer:
            return os << ':' << r.integer;
        case test_reply::kind::nil:
            return os << "(nil)";
        case test_reply::kind::array:
            os << '[';
            for (std::size_t i = 0; i < r.elements.size(); ++i)
                os << (i ? ", " : "") << r.elements[i];
            return os << ']';
    }
    return os;
}

void redis_server::context_deleter::operator()(redisContext* c) const noexcept { redisFree(c); }

redis_server::redis_server() : redis_server(options{}) {}

redis_server::redis_server(options opts)
    : opts_(std::move(opts)), executable_(find_redis_server()) {
    // Tests kill servers on purpose; a later write on a dead connection must fail with EPIPE
    // rather than kill the test binary. Children get default dispositions back (process.cpp).
    std::signal(SIGPIPE, SIG_IGN);
    if (opts_.port != 0) {
        port_ = opts_.port;
        spawn_and_wait();
        return;
    }
    // A free port can be taken between free_port() and redis's bind; try a few.
    for (int attempt = 1;; ++attempt) {
        port_ = free_port();
        try {
            spawn_and_wait();
            return;
        } catch (const std::runtime_error& e) {
            const bool port_taken =
                std::string_view(e.what()).find("in use") != std::string_view::npos;
            if (!port_taken || attempt == max_port_attempts) throw;
        }
    }
}

redis_server::~redis_server() {
    client_.reset();
    process_.reset();  // SIGKILL and reap
}

std::string redis_server::url() const {
    std::string out = "redis://";
    if (!opts_.password.empty()) out += ":" + percent_encode(opts_.password) + "@";
    return out + "127.0.0.1:" + std::to_string(port_);
}

void redis_server::spawn_and_wait() {
    std::vector<std::string> args = {
        "--port", std::to_string(port_), "--bind", "127.0.0.1",   "--save", "", "--appendonly",
        "no",     "--protected-mode",    "no",     "--daemonize", "no"};
    if (!opts_.password.empty()) {
        args.push_back("--requirepass");
        args.push_back(opts_.password);
    }
    args.insert(args.end(), opts_.extra_args.begin(), opts_.extra_args.end());
    process_.emplace(executable_, std::move(args));

    const bool up = wait_until([this] { return !process_->running() || ping_once(); },
                               opts_.startup_timeout, 20ms) &&
                    process_->running();
    if (!up) {
        std::string what =
            "redis-server on 127.0.0.1:" + std::to_string(port_) +
            (process_->running() ? " did not answer PING in time" : " exited at startup") +
            "; its output:\n" + process_->output();
        process_.reset();
        throw std::runtime_error(what);
    }
}

bool redis_server::ping_once() {
    std::unique_ptr<redisContext, context_deleter> c(
        redisConnectWithTimeout("127.0.0.1", port_, to_timeval(200ms)));
    if (!c || c->err) return false;
    redisSetTimeout(c.get(), to_timeval(1s));
    if (!opts_.password.empty()) {
        reply_ptr auth = run(c.get(), {"AUTH", opts_.password});
        if (!auth || auth->type == REDIS_REPLY_ERROR) return false;
    }
    reply_ptr pong = run(c.get(), {"PING"});
    return pong && pong->type == REDIS_REPLY_STATUS &&
           std::string_view(pong->str, pong->len) == "PONG";
}

void redis_server::stop() {
    client_.reset();
    if (!process_) return;
    if (process_->running()) {
        process_->signal(SIGCONT);  // a paused server cannot handle SIGTERM
        process_->terminate(5s);
    }
    process_.reset();
}

void redis_server::kill() {
    client_.reset();
    if (!process_) return;
    process_->signal(SIGKILL);
    process_->wait_for_exit(10s);
    process_.reset();
}

void redis_server::start() {
    if (running()) return;
    spawn_and_wait();
}

void redis_server::pause() {
    if (!running()) throw std::runtime_error("redis_server::pause: not running");
    process_->signal(SIGSTOP);
    // SIGSTOP takes effect asynchronously; wait until the kernel reports it stopped.
    if (!wait_until([this] { return process_state(process_->pid()) == 'T'; }, 5s, 1ms))
        throw std::runtime_error("redis_server::pause: redis-server did not stop");
}

void redis_server::resume() {
    if (!running()) throw std::runtime_error("redis_server::resume: not running");
    process_->signal(SIGCONT);
    if (!wait_until([this] { return process_state(process_->pid()) != 'T'; }, 5s, 1ms))
        throw std::runtime_error("redis_server::resume: redis-server did not continue");
}

test_reply redis_server::command(const std::vector<std::string>& args) {
    for (int attempt = 0;; ++attempt) {
        const bool reused = client_ != nullptr;
        if (!client_) {
            client_.reset(
                redisConnectWithTimeout("127.0.0.1", port_, to_timeval(opts_.command_timeout)));
            if (!client_ || client_->err) {
                const std::string why = client_ ? client_->errstr : "out of memory";
                client_.reset();
                throw std::runtime_error("redis_server::command: cannot connect to 127.0.0.1:" +
                                         std::to_string(port_) + ": " + why);
            }
            redisSetTimeout(client_.get(), to_timeval(opts_.command_timeout));
            if (!opts_.password.empty()) {
                reply_ptr auth = run(client_.get(), {"AUTH", opts_.password});
                if (!auth || auth->type == REDIS_REPLY_ERROR) {
                    client_.reset();
                    throw std::runtime_error("redis_server::command: AUTH failed");
                }
            }
        }
        errno = 0;
        reply_ptr reply = run(client_.get(), args);
        if (reply) return copy_reply(*reply);
        const int err = errno;
        const std::string why = client_->errstr;
        // EOF or reset on a cached connection: the server restarted or killed us; the
        // command did not run, so one retry on a fresh connection is safe. Timeouts are not
        // retried (a paused server would double the wait).
        const bool broken = client_->err == REDIS_ERR_EOF ||
                            (client_->err == REDIS_ERR_IO && (err == ECONNRESET || err == EPIPE));
        client_.reset();
        if (reused && broken && attempt == 0) continue;
        throw std::runtime_error("redis_server::command " +
                                 (args.empty() ? std::string() : args[0]) + " failed: " + why);
    }
}

long long redis_server::numsub(const std::string& channel) {
    const test_reply r = command({"PUBSUB", "NUMSUB", channel});
    if (r.type != test_reply::kind::array || r.elements.size() != 2 ||
        r.elements[1].type != test_reply::kind::integer)
        throw std::runtime_error("redis_server::numsub: unexpected reply");
    return r.elements[1].integer;
}

}  // namespace wsgate::test
