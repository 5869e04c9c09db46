// Unit tests for the cluster slot function against the spec's CRC16 test vector and slots
// reported by CLUSTER KEYSLOT on a Redis 7.0 cluster.
#include "redis/key_slot.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "redis/channel.hpp"

namespace {

using namespace wsgate::redis;

TEST(KeySlot, Crc16MatchesTheSpecTestVector) {
    // Redis cluster spec, appendix A: the XMODEM check value.
    EXPECT_EQ(crc16("123456789"), 0x31C3);
    EXPECT_EQ(crc16(""), 0);
}

TEST(KeySlot, MatchesClusterKeyslot) {
    // Collected with `redis-cli -p PORT CLUSTER KEYSLOT key` on Redis 7.0.
    const std::vector<std::pair<std::string, std::uint16_t>> known = {
        {"ws:{alice}", 749},
        {"ws:{bob}", 8955},
        {"ws:{carol}", 6206},
        {"ws:alice", 148},
        {"alice", 749},
        {"123456789", 12739},
        {"foo{}{bar}", 8363},
        {"foo{{bar}}zap", 4015},
        {"foo{bar}{zap}", 5061},
        {"ws:{}", 6662},
        {"{user1000}.following", 3443},
    };
    for (const auto& [key, slot] : known) EXPECT_EQ(key_slot(key), slot) << key;
}

TEST(KeySlot, HashTagRule) {
    EXPECT_EQ(hash_tag("ws:{alice}"), "alice");
    EXPECT_EQ(hash_tag("plain"), "plain");
    EXPECT_EQ(hash_tag("foo{}{bar}"), "foo{}{bar}");  // empty first tag: the whole key
    EXPECT_EQ(hash_tag("foo{{bar}}zap"), "{bar");     // up to the first '}' after '{'
    EXPECT_EQ(hash_tag("foo{bar}{zap}"), "bar");      // only the first tag counts
    EXPECT_EQ(hash_tag("open{only"), "open{only");
}

TEST(KeySlot, GatewayChannelIsHashedWhole) {
    // The channel for user alice is the literal "ws:alice" (the braces in the documented
    // form ws:{user_id} are a placeholder), so the whole channel is hashed. A user id that
    // itself contains {tag} groups with other ids of that tag, as Redis would do.
    EXPECT_EQ(wsgate::channel_for_user("alice"), "ws:alice");
    EXPECT_EQ(key_slot(wsgate::channel_for_user("alice")), 148);
    EXPECT_EQ(key_slot(wsgate::channel_for_user("{alice}")), 749);
}

TEST(KeySlot, AlwaysBelow16384) {
    for (int i = 0; i < 5000; ++i) EXPECT_LT(key_slot("k" + std::to_string(i)), 16384);
}

}  // namespace
