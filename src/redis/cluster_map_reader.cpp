// One slot map read: a fresh connection (TLS when rediss://), AUTH, CLUSTER SHARDS or
// CLUSTER SLOTS, parsed by cluster_topology. Used by the cluster subscriber's refresh loop.
#include "redis/cluster_map_reader.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <optional>

#include "redis/connect.hpp"
#include "redis/resp_reader.hpp"
#include "redis/resp_writer.hpp"
#include "redis/tls_context.hpp"
#include "util/log.hpp"

namespace wsgate::redis {

namespace asio = boost::asio;
using boost::system::error_code;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

// One request/response exchange on a fresh connection: AUTH when configured, then
// CLUSTER SHARDS, falling back to CLUSTER SLOTS where SHARDS is unknown (Redis < 7).
template <class Stream>
asio::awaitable<result<cluster_topology>> query_topology(Stream& stream, const redis_endpoint& ep) {
    resp_reader reader;
    std::vector<char> buf(64 * 1024);
    auto next_reply = [&]() -> asio::awaitable<result<reply_ptr>> {
        for (;;) {
            auto r = reader.next();
            if (!r) co_return r.error();
            if (*r) co_return std::move(*r);
            auto [ec, n] = co_await stream.async_read_some(asio::buffer(buf), use_tuple);
            if (ec) co_return ec;
            reader.feed(buf.data(), n);
        }
    };
    auto send = [&](const std::string& out) -> asio::awaitable<error_code> {
        auto [ec, n] = co_await asio::async_write(stream, asio::buffer(out), use_tuple);
        co_return ec;
    };

    std::string out;
    if (!ep.password.empty()) {
        if (ep.username.empty())
            append_command(out, {"AUTH", ep.password});
        else
            append_command(out, {"AUTH", ep.username, ep.password});
    }
    append_command(out, {"CLUSTER", "SHARDS"});
    if (auto ec = co_await send(out)) co_return ec;
    if (!ep.password.empty()) {
        auto auth = co_await next_reply();
        if (!auth) co_return auth.error();
        if ((*auth)->type == REDIS_REPLY_ERROR) {
            log::error(
                "redis_handshake_failed",
                {{"error", std::string((*auth)->str, (*auth)->len)}, {"url", redacted_url(ep)}});
            co_return make_error_code(errc::redis_error_reply);
        }
    }
    auto shards = co_await next_reply();
    if (!shards) co_return shards.error();
    if ((*shards)->type != REDIS_REPLY_ERROR)
        co_return parse_cluster_shards(**shards, ep.host, ep.tls);

    std::string slots_cmd;
    append_command(slots_cmd, {"CLUSTER", "SLOTS"});
    if (auto ec = co_await send(slots_cmd)) co_return ec;
    auto slots = co_await next_reply();
    if (!slots) co_return slots.error();
    if ((*slots)->type == REDIS_REPLY_ERROR) {
        // "ERR This instance has cluster support disabled": --redis-mode cluster against
        // a single Redis.
        log::warn("redis_cluster_map_refused",
                  {{"error", std::string((*slots)->str, std::min<std::size_t>((*slots)->len, 120))},
                   {"url", redacted_url(ep)}});
        co_return make_error_code(errc::redis_error_reply);
    }
    co_return parse_cluster_slots(**slots, ep.host);
}

}  // namespace

asio::awaitable<result<cluster_topology>> read_cluster_map(asio::any_io_executor ex,
                                                           const redis_endpoint& ep,
                                                           const tls_options& tls_opts,
                                                           std::chrono::milliseconds timeout,
                                                           asio::steady_timer& deadline_timer) {
    asio::ip::tcp::socket socket(ex);
    std::optional<asio::ssl::context> tls_ctx;
    std::optional<asio::ssl::stream<asio::ip::tcp::socket&>> tls;
    result<cluster_topology> out = make_error_code(errc::redis_timeout);

    auto work = [&]() -> asio::awaitable<error_code> {
        if (auto ec = co_await resolve_and_connect(socket, ep.host, ep.port)) co_return ec;
        error_code ignored;
        socket.set_option(asio::ip::tcp::no_delay(true), ignored);
        if (ep.tls) {
            tls_ctx.emplace(make_tls_context(tls_opts));
            auto& s = tls.emplace(socket, *tls_ctx);
            const std::string& name = tls_opts.server_name.empty() ? ep.host : tls_opts.server_name;
            if (!prepare_tls_stream(s, name)) co_return make_error_code(errc::redis_protocol);
            auto [hec] = co_await s.async_handshake(asio::ssl::stream_base::client, use_tuple);
            if (hec) co_return hec;
            out = co_await query_topology(s, ep);
        } else {
            out = co_await query_topology(socket, ep);
        }
        co_return out ? error_code{} : out.error();
    };
    // The deadline passed, stop() cancelled it, or connect, TLS or the exchange failed.
    if (auto ec = co_await with_deadline(work(), deadline_timer, timeout)) co_return ec;
    co_return out;
}

}  // namespace wsgate::redis
