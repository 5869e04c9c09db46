// One SENTINEL get-master-addr-by-name exchange on a fresh connection (plain TCP: TLS to
// sentinels is not supported), bounded by a deadline like cluster_map_reader's reads.
#include "redis/sentinel_query.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <vector>

#include "redis/connect.hpp"
#include "redis/resp_reader.hpp"
#include "redis/resp_writer.hpp"

namespace wsgate::redis {

namespace asio = boost::asio;
using boost::system::error_code;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

std::optional<std::uint16_t> parse_port(std::string_view s) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc{} || end != s.data() + s.size() || value == 0 || value > 65535)
        return std::nullopt;
    return static_cast<std::uint16_t>(value);
}

}  // namespace

asio::awaitable<result<master_address>> query_master_address(asio::any_io_executor ex,
                                                             const redis_endpoint& sentinel,
                                                             const std::string& master_name,
                                                             std::chrono::milliseconds timeout,
                                                             asio::steady_timer& deadline_timer) {
    asio::ip::tcp::socket socket(ex);
    result<master_address> out = make_error_code(errc::redis_timeout);

    auto work = [&]() -> asio::awaitable<error_code> {
        if (auto ec = co_await resolve_and_connect(socket, sentinel.host, sentinel.port))
            co_return ec;
        std::string cmd;
        append_command(cmd, {"SENTINEL", "get-master-addr-by-name", master_name});
        auto [wec, wn] = co_await asio::async_write(socket, asio::buffer(cmd), use_tuple);
        if (wec) co_return wec;
        resp_reader reader;
        char buf[1024];
        for (;;) {
            auto r = reader.next();
            if (!r) co_return r.error();
            if (*r) {
                const redisReply& reply = **r;
                if (reply.type == REDIS_REPLY_ARRAY && reply.elements == 2 &&
                    reply.element[0]->type == REDIS_REPLY_STRING &&
                    reply.element[1]->type == REDIS_REPLY_STRING) {
                    auto port = parse_port({reply.element[1]->str, reply.element[1]->len});
                    if (!port || reply.element[0]->len == 0)
                        co_return make_error_code(errc::redis_unexpected_reply);
                    out = master_address{std::string(reply.element[0]->str, reply.element[0]->len),
                                         *port};
                    co_return error_code{};
                }
                // Nil: this sentinel monitors no master of that name.
                if (reply.type == REDIS_REPLY_NIL || reply.type == REDIS_REPLY_ERROR)
                    co_return make_error_code(errc::redis_error_reply);
                co_return make_error_code(errc::redis_unexpected_reply);
            }
            auto [ec, n] = co_await socket.async_read_some(asio::buffer(buf), use_tuple);
            if (ec) co_return ec;
            reader.feed(buf, n);
        }
    };
    // The deadline passed, it was cancelled, or the exchange failed.
    if (auto ec = co_await with_deadline(work(), deadline_timer, timeout)) co_return ec;
    co_return out;
}

std::optional<master_address> parse_switch_master(std::string_view payload,
                                                  std::string_view master_name) {
    std::vector<std::string_view> words;
    while (!payload.empty() && words.size() < 6) {
        const auto space = payload.find(' ');
        words.push_back(payload.substr(0, space));
        if (space == std::string_view::npos) break;
        payload.remove_prefix(space + 1);
    }
    if (words.size() != 5 || words[0] != master_name || words[3].empty()) return std::nullopt;
    auto port = parse_port(words[4]);
    if (!port) return std::nullopt;
    return master_address{std::string(words[3]), *port};
}

}  // namespace wsgate::redis
