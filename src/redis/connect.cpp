// resolve_and_connect and with_deadline (see connect.hpp).
#include "redis/connect.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <string>
#include <variant>

#include "util/error.hpp"

namespace wsgate::redis {

namespace asio = boost::asio;
using boost::system::error_code;
using namespace asio::experimental::awaitable_operators;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

asio::awaitable<error_code> resolve_and_connect(asio::ip::tcp::socket& socket,
                                                std::string_view host, std::uint16_t port) {
    asio::ip::tcp::resolver resolver(co_await asio::this_coro::executor);
    auto [rec, results] =
        co_await resolver.async_resolve(std::string(host), std::to_string(port), use_tuple);
    if (rec) co_return rec;
    auto [cec, peer] = co_await asio::async_connect(socket, results, use_tuple);
    co_return cec;
}

asio::awaitable<error_code> with_deadline(asio::awaitable<error_code> op, asio::steady_timer& timer,
                                          std::chrono::milliseconds timeout) {
    auto deadline = [&]() -> asio::awaitable<error_code> {
        timer.expires_after(timeout);
        auto [ec] = co_await timer.async_wait(use_tuple);
        // Cancelled: the caller is stopping; its error says so. Expired: the deadline.
        co_return ec ? ec : make_error_code(errc::redis_timeout);
    };
    auto r = co_await (std::move(op) || deadline());
    co_return std::visit([](error_code ec) { return ec; }, r);
}

}  // namespace wsgate::redis
