// hiredis sync client wrapper behind publisher. Blocking calls on the caller's thread; a
// hiredis context is unusable after any I/O error, so it is dropped and rebuilt.
#include "publisher/publisher.hpp"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <sys/time.h>

#include <cassert>
#include <cerrno>
#include <csignal>
#include <ctime>
#include <stdexcept>
#include <utility>

#include "redis/channel.hpp"

namespace wsgate {
namespace {

struct reply_deleter {
    void operator()(redisReply* r) const noexcept { freeReplyObject(r); }
};
using reply_ptr = std::unique_ptr<redisReply, reply_deleter>;

timeval to_timeval(std::chrono::milliseconds ms) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(ms).count();
    return timeval{static_cast<time_t>(us / 1'000'000), static_cast<suseconds_t>(us % 1'000'000)};
}

// hiredis writes with write(2), so a write to a connection the server has reset raises
// SIGPIPE, whose default action kills the whole process (a backend, not just us). A
// library must not change the process-wide disposition, so we block SIGPIPE on this thread
// for the duration of a command and discard one raised meanwhile; the write then fails
// with EPIPE, which we handle (libpq does the same: src/interfaces/libpq/fe-secure.c,
// pq_block_sigpipe).
class sigpipe_guard {
public:
    sigpipe_guard() {
        sigemptyset(&pipe_set_);
        sigaddset(&pipe_set_, SIGPIPE);
        sigset_t pending;
        sigpending(&pending);
        already_pending_ = sigismember(&pending, SIGPIPE) == 1;
        pthread_sigmask(SIG_BLOCK, &pipe_set_, &saved_);
    }
    ~sigpipe_guard() {
        if (!already_pending_) {
            const timespec zero{};
            while (sigtimedwait(&pipe_set_, nullptr, &zero) == SIGPIPE) {
            }
        }
        pthread_sigmask(SIG_SETMASK, &saved_, nullptr);
    }
    sigpipe_guard(const sigpipe_guard&) = delete;
    sigpipe_guard& operator=(const sigpipe_guard&) = delete;

private:
    sigset_t pipe_set_;
    sigset_t saved_;
    bool already_pending_ = false;
};

// One command with binary-safe arguments. Null means an I/O error; `errno_after` then
// holds errno as hiredis left it (it formats errstr from errno and does not reset it).
reply_ptr run_command(redisContext* c, std::initializer_list<std::string_view> args,
                      int& errno_after) {
    constexpr std::size_t max_args = 4;
    const char* argv[max_args];
    std::size_t lens[max_args];
    assert(args.size() <= max_args);
    int argc = 0;
    for (auto a : args) {
        argv[argc] = a.data();
        lens[argc] = a.size();
        ++argc;
    }
    sigpipe_guard guard;
    errno = 0;
    auto* reply = static_cast<redisReply*>(redisCommandArgv(c, argc, argv, lens));
    errno_after = errno;
    return reply_ptr(reply);
}

// True when the server closed or reset the connection: the command most likely never ran,
// so sending it again on a new connection is safe. A timeout (EAGAIN) is not, and neither
// is anything else we cannot explain.
bool is_broken_connection(const redisContext& c, int err) {
    if (c.err == REDIS_ERR_EOF) return true;
    return c.err == REDIS_ERR_IO && (err == ECONNRESET || err == EPIPE || err == ECONNABORTED);
}

std::string io_error_text(const redisContext& c, int err, std::chrono::milliseconds timeout) {
    if (c.err == REDIS_ERR_IO && (err == EAGAIN || err == EWOULDBLOCK))
        return "no reply within " + std::to_string(timeout.count()) + "ms";
    return c.errstr;
}

std::string error_reply_text(const redisReply& r) {
    if (r.type == REDIS_REPLY_ERROR || r.type == REDIS_REPLY_STATUS || r.type == REDIS_REPLY_STRING)
        return std::string(r.str, r.len);
    return "unexpected reply type " + std::to_string(r.type);
}

}  // namespace

void publisher::context_deleter::operator()(redisContext* c) const noexcept { redisFree(c); }

publisher::publisher(std::string_view redis_url, std::chrono::milliseconds timeout)
    : timeout_(timeout) {
    auto parsed = redis::parse_redis_url(redis_url);
    if (!parsed)
        throw std::runtime_error(
            "invalid Redis URL (expected redis://[[user]:password@]host[:port][/db])");
    endpoint_ = std::move(*parsed);
    server_ = redis::redacted_url(endpoint_);
    // TODO(redis): rediss:// once the publisher gets a TLS transport; hiredis 0.14 has none.
    if (endpoint_.tls) throw std::runtime_error("TLS not supported yet (" + server_ + ")");
    if (timeout_ <= std::chrono::milliseconds::zero())
        throw std::runtime_error("publisher timeout must be positive");
}

publisher::~publisher() = default;
publisher::publisher(publisher&&) noexcept = default;
publisher& publisher::operator=(publisher&&) noexcept = default;

void publisher::connect() {
    const timeval tv = to_timeval(timeout_);
    context_ptr c(redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port, tv));
    if (!c) throw std::runtime_error("cannot connect to Redis at " + server_ + ": out of memory");
    if (c->err)
        throw std::runtime_error("cannot connect to Redis at " + server_ + ": " + c->errstr);
    // redisConnectWithTimeout bounds only the connect; replies need their own timeout.
    if (redisSetTimeout(c.get(), tv) != REDIS_OK)
        throw std::runtime_error("cannot set the timeout for Redis at " + server_ + ": " +
                                 c->errstr);

    auto expect_ok = [&](std::initializer_list<std::string_view> args, std::string_view what) {
        int err = 0;
        reply_ptr r = run_command(c.get(), args, err);
        if (!r)
            throw std::runtime_error(std::string(what) + " failed on " + server_ + ": " +
                                     io_error_text(*c, err, timeout_));
        if (r->type != REDIS_REPLY_STATUS)
            throw std::runtime_error(std::string(what) + " failed on " + server_ + ": " +
                                     error_reply_text(*r));
    };
    // A username without a password is valid for a `nopass` ACL user, which accepts any.
    if (!endpoint_.username.empty()) {
        expect_ok({"AUTH", endpoint_.username, endpoint_.password}, "AUTH");
    } else if (!endpoint_.password.empty()) {
        expect_ok({"AUTH", endpoint_.password}, "AUTH");
    }
    // Pub/Sub ignores the database, but a wrong db in the URL is a configuration error the
    // gateway would also hit, so we surface it here rather than publish anyway.
    if (endpoint_.db != 0) expect_ok({"SELECT", std::to_string(endpoint_.db)}, "SELECT");
    context_ = std::move(c);
}

long long publisher::publish_user_notification(std::string_view user_id, std::string_view payload) {
    if (user_id.empty()) throw std::invalid_argument("empty user id");
    const std::string channel = channel_for_user(user_id);

    for (int attempt = 0;; ++attempt) {
        const bool reused = context_ != nullptr;
        if (!context_) connect();
        int err = 0;
        reply_ptr r = run_command(context_.get(), {"PUBLISH", channel, payload}, err);
        if (!r) {
            const bool retry = reused && attempt == 0 && is_broken_connection(*context_, err);
            const std::string why = io_error_text(*context_, err, timeout_);
            context_.reset();
            if (retry) continue;
            throw std::runtime_error("PUBLISH failed on " + server_ + ": " + why);
        }
        // An error reply (NOAUTH, NOPERM, READONLY...) leaves the connection usable.
        if (r->type != REDIS_REPLY_INTEGER)
            throw std::runtime_error("PUBLISH failed on " + server_ + ": " + error_reply_text(*r));
        return r->integer;
    }
}

}  // namespace wsgate
