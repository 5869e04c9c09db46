// The Redis channel naming contract, shared by the gateway and the publishing side.
// Backends publish to `ws:{user_id}`; changing this breaks every deployed publisher.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace wsgate {

inline constexpr std::string_view channel_prefix = "ws:";

/// The channel that carries notifications for `user_id`.
inline std::string channel_for_user(std::string_view user_id) {
    std::string channel;
    channel.reserve(channel_prefix.size() + user_id.size());
    channel.append(channel_prefix).append(user_id);
    return channel;
}

/// The user a channel belongs to, or nothing when the channel is not one of ours.
inline std::optional<std::string_view> user_for_channel(std::string_view channel) {
    if (!channel.starts_with(channel_prefix)) return std::nullopt;
    return channel.substr(channel_prefix.size());
}

}  // namespace wsgate
