// Every WebSocket close code and reason the gateway sends, in one place: clients act on
// these (docs/protocol.md). Reasons stay under the 123-byte limit of a close frame.
#pragma once

#include <cstdint>
#include <string_view>

namespace wsgate::close_codes {

/// RFC 6455 7.4.1.
inline constexpr std::uint16_t going_away = 1001;        // shutdown: reconnect elsewhere
inline constexpr std::uint16_t unsupported_data = 1003;  // client sent a binary frame
inline constexpr std::uint16_t policy_violation = 1008;  // auth failure, or over its budget
inline constexpr std::uint16_t message_too_big = 1009;   // client frame over the limit
inline constexpr std::uint16_t try_again_later = 1013;   // Redis could not confirm in time
/// Private range (4000–4999): the client read too slowly and its queue overflowed.
/// Reconnect; messages queued for it were dropped.
inline constexpr std::uint16_t slow_consumer = 4008;
/// The user already holds --max-connections-per-user connections here. Close one, or
/// retry later; a new token does not help.
inline constexpr std::uint16_t too_many_connections = 4029;

inline constexpr std::string_view reason_shutdown = "server shutting down";
inline constexpr std::string_view reason_binary = "binary frames not accepted";
inline constexpr std::string_view reason_slow = "slow consumer";
inline constexpr std::string_view reason_unavailable = "subscription unavailable";
inline constexpr std::string_view reason_token_expired = "token expired";
inline constexpr std::string_view reason_user_limit = "too many connections for this user";
/// 1008: the client sent more than --client-budget-bytes or --client-budget-frames within
/// --client-budget-interval. Clients have nothing to say on this protocol: fix the client.
inline constexpr std::string_view reason_client_bytes = "client sent too much data";
inline constexpr std::string_view reason_client_frames = "client sent too many frames";

}  // namespace wsgate::close_codes
