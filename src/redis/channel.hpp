// The Redis channel naming contract, shared by the gateway and the publishing side.
// Backends publish to `ws:{user_id}`; changing this breaks every deployed publisher.
//
// A user is identified by (issuer, subject), never by the subject alone: with several token
// issuers, `bob` of one issuer and `bob` of another are different people. The primary issuer
// (--jwt-issuer, or the only key set) keeps the seed's `ws:{user_id}`; every other issuer's
// users live under `ws@{issuer, percent-encoded}:{user_id}`. The two forms cannot collide:
// a primary channel has ':' as its third byte, another issuer's has '@'; and an encoded
// issuer holds no ':', so the first ':' after `ws@` ends it. The encoding also leaves no
// brace in the issuer part, so only a {tag} in the user id can form a Redis Cluster hash tag:
// a user id with a tag hashes like the primary issuer's same id; without one the whole
// channel is hashed.
#pragma once

#include <string>
#include <string_view>

namespace wsgate {

inline constexpr std::string_view channel_prefix = "ws:";
/// Starts every channel of a user of a non-primary issuer.
inline constexpr std::string_view issuer_channel_prefix = "ws@";

/// The channel that carries notifications for `user_id` of the primary issuer.
inline std::string channel_for_user(std::string_view user_id) {
    std::string channel;
    channel.reserve(channel_prefix.size() + user_id.size());
    channel.append(channel_prefix).append(user_id);
    return channel;
}

/// The channel for `user_id` as issued by `issuer`: `ws:{user_id}` when `issuer` is empty
/// (the primary issuer), else `ws@{issuer}:{user_id}` with the issuer percent-encoded: every
/// byte but the RFC 3986 unreserved ones (A-Z a-z 0-9 - . _ ~) as %XX in upper-case hex,
/// which is what Python's urllib.parse.quote(issuer, safe="") gives. The user comes first,
/// as in every publisher's signature (user, payload, issuer) and in Python's
/// channel_for_user(user_id, issuer).
std::string channel_for_user(std::string_view user_id, std::string_view issuer);

}  // namespace wsgate
