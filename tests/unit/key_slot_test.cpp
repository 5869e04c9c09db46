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

TEST(KeySlot, OtherIssuersChannelsAreNamespacedAndKeepTheUsersHashTag) {
    using wsgate::channel_for_user;
    // The issuer is percent-encoded (RFC 3986 unreserved bytes stay), so it holds no ':'
    // and no brace; the primary issuer (empty) keeps the seed's channel.
    EXPECT_EQ(channel_for_user("bob", ""), "ws:bob");
    EXPECT_EQ(channel_for_user("bob", "https://b.example/"), "ws@https%3A%2F%2Fb.example%2F:bob");
    EXPECT_EQ(channel_for_user("u", "A-z0.9_~ {x}:%"), "ws@A-z0.9_~%20%7Bx%7D%3A%25:u");
    EXPECT_EQ(channel_for_user("u", "\xc3\xa9"), "ws@%C3%A9:u");
    // No primary user can own another issuer's channel: the third byte differs.
    const std::string crafted = "@https%3A%2F%2Fb.example%2F:bob";  // a primary user id
    EXPECT_EQ(channel_for_user(crafted), "ws:" + crafted);
    EXPECT_NE(channel_for_user(crafted), channel_for_user("bob", "https://b.example/"));
    // Two issuers that differ only where one has a ':' stay apart.
    EXPECT_NE(channel_for_user("c", "a:b"), channel_for_user("b:c", "a"));
    // Cluster slots: braces in an issuer never form a hash tag; the user's own tag rules,
    // for every issuer alike.
    EXPECT_EQ(hash_tag(channel_for_user("bob", "{iss}")), channel_for_user("bob", "{iss}"));
    EXPECT_EQ(key_slot(channel_for_user("{alice}", "https://b.example/")),
              key_slot(channel_for_user("{alice}")));
}

}  // namespace
