// Asking Redis Sentinel where the master is: one SENTINEL get-master-addr-by-name per
// sentinel, asynchronously, on a short-lived connection of its own (the subscriber's
// Pub/Sub connection cannot run other commands), plus the parsing of +switch-master events.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "redis/redis_url.hpp"

namespace wsgate::redis {

/// Where a sentinel says the master is.
struct master_address {
    std::string host;
    std::uint16_t port = 0;
    friend bool operator==(const master_address&, const master_address&) = default;
};

/// Connects to `sentinel`, sends SENTINEL get-master-addr-by-name `master_name` and parses
/// the answer, all within `timeout` measured on `deadline` (cancel it to abandon the
/// query). Fails with the I/O error, errc::redis_timeout, errc::redis_error_reply (an
/// error reply, or a nil answer: the sentinel does not monitor that name) or
/// errc::redis_unexpected_reply.
boost::asio::awaitable<result<master_address>> query_master_address(
    boost::asio::any_io_executor ex, const redis_endpoint& sentinel, const std::string& master_name,
    std::chrono::milliseconds timeout, boost::asio::steady_timer& deadline);

/// The new master from a +switch-master message ("<name> <old-ip> <old-port> <new-ip>
/// <new-port>") when it concerns `master_name`; nothing for another master or a malformed
/// payload.
std::optional<master_address> parse_switch_master(std::string_view payload,
                                                  std::string_view master_name);

}  // namespace wsgate::redis
