// hiredis sync client wrapper behind publisher. Blocking calls on the caller's thread; a
// hiredis context is unusable after any I/O error, so it is dropped and rebuilt.
#include "publisher/publisher.hpp"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <sys/time.h>

#include <cassert>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <stdexcept>
#include <unordered_map>
#include <utility>

#include "redis/channel.hpp"
#include "redis/cluster_topology.hpp"
#include "redis/key_slot.hpp"

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

std::optional<publish_mode> parse_publish_mode(std::string_view text) {
    if (text == "single") return publish_mode::single;
    if (text == "cluster") return publish_mode::cluster;
    return std::nullopt;
}

struct publisher::sentinel_state {
    redis::sentinel_url url;
    context_ptr conn;       // to sentinels[index], kept between look-ups
    std::size_t index = 0;  // the sentinel that answered last, asked first
};

struct publisher::cluster_state {
    std::vector<redis::redis_endpoint> seeds;
    std::optional<redis::cluster_topology> topology;
    std::unordered_map<std::string, context_ptr> nodes;  // by node_address::key()
};

void publisher::context_deleter::operator()(redisContext* c) const noexcept { redisFree(c); }

publisher::publisher(std::string_view redis_url, std::chrono::milliseconds timeout,
                     publish_mode mode)
    : timeout_(timeout) {
    if (redis::is_sentinel_url(redis_url) && mode == publish_mode::cluster)
        throw std::runtime_error(
            "a redis+sentinel:// URL selects Sentinel mode; it cannot be used in cluster mode");
    if (mode != publish_mode::cluster) {
        *this = publisher(redis_url, timeout);
        if (mode == publish_mode::sentinel && !sentinel_)
            throw std::runtime_error("Sentinel mode needs a redis+sentinel:// URL");
        return;
    }
    auto seeds = redis::parse_redis_url_list(redis_url);
    if (!seeds)
        throw std::runtime_error(
            "invalid Redis URL list (expected redis://host:port[,redis://host:port...] with one "
            "scheme and one set of credentials)");
    endpoint_ = seeds->front();
    server_ = redis::redacted_url(endpoint_);
    if (endpoint_.tls) throw std::runtime_error("TLS not supported yet (" + server_ + ")");
    if (endpoint_.db != 0) throw std::runtime_error("Redis Cluster has only db 0");
    if (timeout_ <= std::chrono::milliseconds::zero())
        throw std::runtime_error("publisher timeout must be positive");
    cluster_ = std::make_unique<cluster_state>();
    cluster_->seeds = std::move(*seeds);
}

publisher::publisher(std::string_view redis_url, std::chrono::milliseconds timeout)
    : timeout_(timeout) {
    if (redis::is_sentinel_url(redis_url)) {
        auto parsed = redis::parse_sentinel_url(redis_url);
        if (!parsed)
            throw std::runtime_error(
                "invalid Redis Sentinel URL (expected "
                "redis+sentinel://[[user]:password@]host:port[,host:port...]/mastername[/db])");
        sentinel_ = std::make_unique<sentinel_state>();
        sentinel_->url = std::move(*parsed);
        endpoint_ = sentinel_->url.master;  // host and port come from the sentinels
        server_ = redis::redacted_url(sentinel_->url);
        if (timeout_ <= std::chrono::milliseconds::zero())
            throw std::runtime_error("publisher timeout must be positive");
        return;
    }
    if (redis_url.find(',') != std::string_view::npos)
        throw std::runtime_error("a list of Redis URLs needs cluster mode");
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

void publisher::connect() { context_ = open(endpoint_); }

publisher::context_ptr publisher::open(const redis::redis_endpoint& ep) const {
    const std::string server = redis::redacted_url(ep);  // names this node in messages
    const timeval tv = to_timeval(timeout_);
    context_ptr c(redisConnectWithTimeout(ep.host.c_str(), ep.port, tv));
    if (!c) throw std::runtime_error("cannot connect to Redis at " + server + ": out of memory");
    if (c->err) throw std::runtime_error("cannot connect to Redis at " + server + ": " + c->errstr);
    // redisConnectWithTimeout bounds only the connect; replies need their own timeout.
    if (redisSetTimeout(c.get(), tv) != REDIS_OK)
        throw std::runtime_error("cannot set the timeout for Redis at " + server + ": " +
                                 c->errstr);

    auto expect_ok = [&](std::initializer_list<std::string_view> args, std::string_view what) {
        int err = 0;
        reply_ptr r = run_command(c.get(), args, err);
        if (!r)
            throw std::runtime_error(std::string(what) + " failed on " + server + ": " +
                                     io_error_text(*c, err, timeout_));
        if (r->type != REDIS_REPLY_STATUS)
            throw std::runtime_error(std::string(what) + " failed on " + server + ": " +
                                     error_reply_text(*r));
    };
    // A username without a password is valid for a `nopass` ACL user, which accepts any.
    if (!ep.username.empty()) {
        expect_ok({"AUTH", ep.username, ep.password}, "AUTH");
    } else if (!ep.password.empty()) {
        expect_ok({"AUTH", ep.password}, "AUTH");
    }
    // Pub/Sub ignores the database, but a wrong db in the URL is a configuration error the
    // gateway would also hit, so we surface it here rather than publish anyway.
    if (ep.db != 0) expect_ok({"SELECT", std::to_string(ep.db)}, "SELECT");
    return c;
}

long long publisher::publish_user_notification(std::string_view user_id, std::string_view payload,
                                               std::string_view issuer) {
    if (user_id.empty()) throw std::invalid_argument("empty user id");
    const std::string channel = channel_for_user(user_id, issuer);
    if (cluster_) return publish_cluster(channel, payload);
    if (sentinel_) return publish_sentinel(channel, payload);

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

namespace {

// "MOVED 8955 127.0.0.1:7002" / "ASK ...": the node named, or nothing.
std::optional<redis::node_address> redirect_target(std::string_view text) {
    const auto last_space = text.rfind(' ');
    if (last_space == std::string_view::npos) return std::nullopt;
    const auto target = text.substr(last_space + 1);
    const auto colon = target.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    unsigned port = 0;
    for (char ch : target.substr(colon + 1)) {
        if (ch < '0' || ch > '9' || port > 65535) return std::nullopt;
        port = port * 10 + static_cast<unsigned>(ch - '0');
    }
    if (port == 0 || port > 65535) return std::nullopt;
    auto host = target.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    return redis::node_address{std::string(host), static_cast<std::uint16_t>(port)};
}

}  // namespace

long long publisher::publish_cluster(const std::string& channel, std::string_view payload) {
    auto& cs = *cluster_;
    const auto slot = redis::key_slot(channel);

    // Reads the slot map from the first node that answers: known masters, then seeds.
    auto refresh = [&] {
        std::vector<redis::redis_endpoint> candidates;
        auto add = [&](const std::string& host, std::uint16_t port) {
            for (const auto& c : candidates)
                if (c.host == host && c.port == port) return;
            auto ep = cs.seeds.front();
            ep.host = host;
            ep.port = port;
            candidates.push_back(std::move(ep));
        };
        if (cs.topology)
            for (const auto& m : cs.topology->masters()) add(m.host, m.port);
        for (const auto& s : cs.seeds) add(s.host, s.port);
        cs.topology.reset();
        std::string why = "no seed node";
        for (const auto& ep : candidates) {
            try {
                context_ptr c = open(ep);
                int err = 0;
                reply_ptr r = run_command(c.get(), {"CLUSTER", "SHARDS"}, err);
                if (r && r->type == REDIS_REPLY_ERROR) {
                    r = run_command(c.get(), {"CLUSTER", "SLOTS"}, err);
                    if (r && r->type == REDIS_REPLY_ARRAY) {
                        if (auto t = redis::parse_cluster_slots(*r, ep.host)) {
                            cs.topology = std::move(*t);
                            return;
                        }
                    }
                } else if (r && r->type == REDIS_REPLY_ARRAY) {
                    if (auto t = redis::parse_cluster_shards(*r, ep.host, false)) {
                        cs.topology = std::move(*t);
                        return;
                    }
                }
                why = !r                             ? io_error_text(*c, err, timeout_)
                      : r->type == REDIS_REPLY_ERROR ? error_reply_text(*r)
                                                     : "unexpected slot map reply";
            } catch (const std::runtime_error& e) {
                why = e.what();
            }
        }
        throw std::runtime_error("cannot read the cluster slot map (" + server_ + "): " + why);
    };
    auto node_endpoint = [&](const redis::node_address& a) {
        auto ep = cs.seeds.front();
        ep.host = a.host;
        ep.port = a.port;
        return ep;
    };

    constexpr int max_attempts = 5;  // redirects and reconnects together
    std::optional<redis::node_address> ask;
    for (int attempt = 0;; ++attempt) {
        if (!cs.topology) refresh();
        redis::node_address target;
        if (ask) {
            target = *ask;
        } else if (const auto* owner = cs.topology->owner(slot)) {
            target = *owner;
        } else {
            cs.topology.reset();  // try a fresh map once more before giving up
            if (attempt + 1 >= max_attempts)
                throw std::runtime_error("SPUBLISH failed: no master serves slot " +
                                         std::to_string(slot) + " (" + server_ + ")");
            continue;
        }
        const auto key = target.key();
        const std::string where = redis::redacted_url(node_endpoint(target));
        auto& ctx = cs.nodes[key];
        const bool reused = ctx != nullptr;
        if (!ctx) ctx = open(node_endpoint(target));
        int err = 0;
        if (ask) {
            reply_ptr a = run_command(ctx.get(), {"ASKING"}, err);
            if (!a) {
                ctx.reset();
                throw std::runtime_error("ASKING failed on " + where);
            }
        }
        reply_ptr r = run_command(ctx.get(), {"SPUBLISH", channel, payload}, err);
        ask.reset();
        if (!r) {
            const bool retry = reused && is_broken_connection(*ctx, err);
            const std::string why = io_error_text(*ctx, err, timeout_);
            cs.nodes.erase(key);
            // A node that went away may have been replaced: read the map again.
            if (retry && attempt + 1 < max_attempts) {
                cs.topology.reset();
                continue;
            }
            throw std::runtime_error("SPUBLISH failed on " + where + ": " + why);
        }
        if (r->type == REDIS_REPLY_INTEGER) return r->integer;
        const std::string text = error_reply_text(*r);
        if (attempt + 1 < max_attempts) {
            if (text.starts_with("MOVED ")) {
                cs.topology.reset();  // the slot moved for good: read the map again
                continue;
            }
            if (text.starts_with("ASK ")) {
                ask = redirect_target(text);  // a migration in progress: this once there
                if (ask) continue;
            }
        }
        throw std::runtime_error("SPUBLISH failed on " + where + ": " + text);
    }
}

// --- Redis Sentinel ----------------------------------------------------------------------

namespace {

// ROLE's first element is "master" on a master; a replica (a demoted master among them)
// says "slave". Anything else (an I/O error, NOPERM) counts as not a master.
bool is_master(redisContext* c) {
    int err = 0;
    reply_ptr r = run_command(c, {"ROLE"}, err);
    return r && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
           r->element[0]->type == REDIS_REPLY_STRING &&
           std::string_view(r->element[0]->str, r->element[0]->len) == "master";
}

}  // namespace

std::optional<std::pair<std::string, std::uint16_t>> publisher::ask_sentinels(std::string& why) {
    auto& st = *sentinel_;
    const auto& sn = st.url;
    const timeval tv = to_timeval(timeout_);
    why = "no sentinel answered";
    bool fresh = false;  // whether the connection used below was opened by this call
    const std::size_t start = st.index;
    for (std::size_t k = 0; k < sn.sentinels.size(); ++k) {
        const std::size_t i = (start + k) % sn.sentinels.size();
        const auto& s = sn.sentinels[i];
        const std::string where = s.host + ":" + std::to_string(s.port);
        if (!st.conn || i != st.index) {
            fresh = true;
            st.conn.reset(redisConnectWithTimeout(s.host.c_str(), s.port, tv));
            if (!st.conn || st.conn->err) {
                why = "sentinel " + where + ": " + (st.conn ? st.conn->errstr : "out of memory");
                st.conn.reset();
                continue;
            }
            redisSetTimeout(st.conn.get(), tv);
            st.index = i;
        }
        const bool kept = k == 0 && !fresh;
        fresh = true;
        int err = 0;
        reply_ptr r = run_command(st.conn.get(),
                                  {"SENTINEL", "get-master-addr-by-name", sn.master_name}, err);
        if (!r) {
            why = "sentinel " + where + ": " + io_error_text(*st.conn, err, timeout_);
            const bool broken = is_broken_connection(*st.conn, err);
            st.conn.reset();
            // A kept connection the sentinel closed meanwhile: ask the same one afresh
            // (k wraps to the same index on ++k).
            if (kept && broken) --k;
            continue;
        }
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
            r->element[0]->type == REDIS_REPLY_STRING &&
            r->element[1]->type == REDIS_REPLY_STRING) {
            const std::string port(r->element[1]->str, r->element[1]->len);
            char* end = nullptr;
            const long p = std::strtol(port.c_str(), &end, 10);
            if (end != port.c_str() && *end == '\0' && p > 0 && p <= 65535)
                return std::pair{std::string(r->element[0]->str, r->element[0]->len),
                                 static_cast<std::uint16_t>(p)};
        }
        why = r->type == REDIS_REPLY_NIL
                  ? "no sentinel monitors a master named '" + sn.master_name + "'"
                  : "sentinel " + where + ": " + error_reply_text(*r);
    }
    return std::nullopt;
}

void publisher::connect_sentinel() {
    std::string why;
    auto master = ask_sentinels(why);
    if (!master)
        throw std::runtime_error("cannot find the Redis master through the sentinels (" + server_ +
                                 "): " + why);
    endpoint_.host = master->first;
    endpoint_.port = master->second;
    context_ = open(endpoint_);
    if (!is_master(context_.get())) {
        context_.reset();
        throw std::runtime_error("the node the sentinels name for '" + sentinel_->url.master_name +
                                 "' (" + redis::redacted_url(endpoint_) +
                                 ") is not a master (a failover in progress?)");
    }
}

long long publisher::publish_sentinel(const std::string& channel, std::string_view payload) {
    for (int attempt = 0;; ++attempt) {
        const bool last = attempt > 0;
        if (!context_) {
            try {
                connect_sentinel();
            } catch (const std::runtime_error&) {
                if (last) throw;
                continue;  // the master may have just moved: look it up once more
            }
        }
        const std::string where = redis::redacted_url(endpoint_);
        int err = 0;
        reply_ptr r = run_command(context_.get(), {"PUBLISH", channel, payload}, err);
        if (!r) {
            const bool retry = !last && is_broken_connection(*context_, err);
            const std::string why = io_error_text(*context_, err, timeout_);
            context_.reset();
            if (retry) continue;
            throw std::runtime_error("PUBLISH failed on " + where + ": " + why);
        }
        if (r->type == REDIS_REPLY_INTEGER) {
            // 0 receivers is the usual answer for a user who is offline, but also what an
            // old master answers during and after a failover (it accepts PUBLISH, and no
            // gateway listens there any more): only then ask the sentinels whether the
            // master moved, so a delivered message costs nothing extra.
            if (r->integer == 0 && !last) {
                std::string why;
                auto now = ask_sentinels(why);
                if (now && (now->first != endpoint_.host || now->second != endpoint_.port)) {
                    context_.reset();
                    continue;
                }
            }
            return r->integer;
        }
        const std::string text = error_reply_text(*r);
        const bool moved_on = text.starts_with("READONLY") || text.starts_with("UNBLOCKED") ||
                              text.starts_with("LOADING") || text.starts_with("MASTERDOWN");
        if (moved_on && !last) {
            context_.reset();
            continue;
        }
        throw std::runtime_error("PUBLISH failed on " + where + ": " + text);
    }
}

}  // namespace wsgate
