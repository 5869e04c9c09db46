// The two steps every Redis connection of the gateway starts with, written once: resolve a
// host and connect to the first address that answers, and bound any such step (or a whole
// exchange) by a deadline on a timer that the caller may cancel to abandon it. Used by the
// subscriber, its Sentinel watcher, the Sentinel query and the cluster map reader. A name
// lookup (getaddrinfo) cannot be cancelled: the deadline ends the wait, not the lookup.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstdint>
#include <string_view>

namespace wsgate::redis {

/// Resolves `host` (a name or an address literal) and connects `socket` to the first of its
/// addresses that accepts. Returns the resolver's or the last connect's error.
boost::asio::awaitable<boost::system::error_code> resolve_and_connect(
    boost::asio::ip::tcp::socket& socket, std::string_view host, std::uint16_t port);

/// Runs `op` until it finishes or `timeout` passes on `timer`, whichever comes first; the
/// other is cancelled. Returns op's result, errc::redis_timeout when the deadline passed, or
/// the timer's error when the timer was cancelled (operation_aborted: the caller is
/// stopping). The timer is re-armed on every call, so one timer serves a sequence of steps.
boost::asio::awaitable<boost::system::error_code> with_deadline(
    boost::asio::awaitable<boost::system::error_code> op, boost::asio::steady_timer& timer,
    std::chrono::milliseconds timeout);

}  // namespace wsgate::redis
