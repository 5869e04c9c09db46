// Redis Cluster's key → slot function (cluster spec, "Keys distribution model"): CRC16
// (XMODEM) of the key, or of its hash tag, modulo 16384. Sharded Pub/Sub routes channels
// the same way. Pure, any thread.
#pragma once

#include <cstdint>
#include <string_view>

namespace wsgate::redis {

inline constexpr std::uint16_t cluster_slots = 16384;

/// CRC16-CCITT as Redis uses it (XMODEM: polynomial 0x1021, initial value 0, no
/// reflection); crc16("123456789") == 0x31C3.
std::uint16_t crc16(std::string_view data) noexcept;

/// The part of `key` that is hashed: the text between the first '{' and the next '}' when
/// that is non-empty, else the whole key. The gateway's channel for user alice is
/// `ws:alice` and is hashed whole; a user id containing `{tag}` hashes by its tag, exactly
/// as Redis hashes it.
std::string_view hash_tag(std::string_view key) noexcept;

/// The slot (0..16383) that owns `key`, as CLUSTER KEYSLOT reports it.
std::uint16_t key_slot(std::string_view key) noexcept;

}  // namespace wsgate::redis
