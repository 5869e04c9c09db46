// Unit tests for the CLUSTER SLOTS / CLUSTER SHARDS parsers on replies captured from a
// 3-master Redis 7.0 cluster on loopback, fed through hiredis's reader.
#include "redis/cluster_topology.hpp"

#include <gtest/gtest.h>

#include <string>

#include "redis/resp_reader.hpp"

namespace {

using namespace wsgate::redis;
using wsgate::errc;

reply_ptr reply_of(std::string_view wire) {
    resp_reader reader;
    reader.feed(wire);
    auto r = reader.next();
    EXPECT_TRUE(r && *r) << "incomplete or bad RESP";
    return r && *r ? std::move(*r) : nullptr;
}

// `redis-cli --cluster create 127.0.0.1:17001 127.0.0.1:17002 127.0.0.1:17003`, then
// CLUSTER SLOTS sent to 17001.
constexpr std::string_view slots_wire =
    "*3\r\n*3\r\n:0\r\n:5460\r\n*4\r\n$9\r\n127.0.0.1\r\n:17001\r\n$40\r\n"
    "21eb0f22a25647224e74e0c84b77de73ccfd0958\r\n*0\r\n*3\r\n:5461\r\n:10922\r\n*4\r\n$9\r\n"
    "127.0.0.1\r\n:17002\r\n$40\r\nbb2f8663dbac9f7279634a9533a2724a122b4127\r\n*0\r\n*3\r\n"
    ":10923\r\n:16383\r\n*4\r\n$9\r\n127.0.0.1\r\n:17003\r\n$40\r\n"
    "38558cb3205cb32085340f7ab6c36290edfa41c0\r\n*0\r\n";

// CLUSTER SHARDS on the same cluster.
std::string shard_wire(std::string_view first, std::string_view last, std::string_view port,
                       std::string_view role = "master", std::string_view endpoint = "127.0.0.1") {
    auto bulk = [](std::string_view s) {
        return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
    };
    return "*4\r\n$5\r\nslots\r\n*2\r\n:" + std::string(first) + "\r\n:" + std::string(last) +
           "\r\n$5\r\nnodes\r\n*1\r\n*14\r\n$2\r\nid\r\n$40\r\n"
           "38558cb3205cb32085340f7ab6c36290edfa41c0\r\n$4\r\nport\r\n:" +
           std::string(port) + "\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n" +
           bulk(endpoint) + "$4\r\nrole\r\n" + bulk(role) +
           "$18\r\nreplication-offset\r\n:0\r\n$6\r\nhealth\r\n$6\r\nonline\r\n";
}

cluster_topology expected_three() {
    cluster_topology t;
    t.assign(0, 5460, {"127.0.0.1", 17001});
    t.assign(5461, 10922, {"127.0.0.1", 17002});
    t.assign(10923, 16383, {"127.0.0.1", 17003});
    return t;
}

TEST(ClusterTopology, ParsesClusterSlots) {
    auto reply = reply_of(slots_wire);
    auto t = parse_cluster_slots(*reply, "10.0.0.1");
    ASSERT_TRUE(t) << t.error().message();
    EXPECT_EQ(t->covered(), 16384u);
    ASSERT_EQ(t->masters().size(), 3u);
    EXPECT_EQ(*t->owner(0), (node_address{"127.0.0.1", 17001}));
    EXPECT_EQ(*t->owner(749), (node_address{"127.0.0.1", 17001}));   // ws:{alice}
    EXPECT_EQ(*t->owner(8955), (node_address{"127.0.0.1", 17002}));  // ws:{bob}
    EXPECT_EQ(*t->owner(16383), (node_address{"127.0.0.1", 17003}));
    EXPECT_EQ(*t, expected_three());
}

TEST(ClusterTopology, ParsesClusterShards) {
    // The order Redis 7.0 listed them in: the third shard first.
    auto wire = "*3\r\n" + shard_wire("10923", "16383", "17003") +
                shard_wire("0", "5460", "17001") + shard_wire("5461", "10922", "17002");
    auto reply = reply_of(wire);
    auto t = parse_cluster_shards(*reply, "10.0.0.1", false);
    ASSERT_TRUE(t) << t.error().message();
    EXPECT_EQ(t->covered(), 16384u);
    EXPECT_EQ(*t->owner(749), (node_address{"127.0.0.1", 17001}));
    EXPECT_EQ(*t->owner(8955), (node_address{"127.0.0.1", 17002}));
    EXPECT_EQ(*t->owner(10923), (node_address{"127.0.0.1", 17003}));
    EXPECT_EQ(t->masters().size(), 3u);
}

TEST(ClusterTopology, ShardsSkipReplicasAndUnknownEndpoints) {
    auto wire = "*2\r\n" + shard_wire("0", "99", "7001", "replica") +
                shard_wire("100", "199", "7002", "master", "?");
    auto reply = reply_of(wire);
    auto t = parse_cluster_shards(*reply, "10.0.0.9", false);
    ASSERT_TRUE(t) << t.error().message();
    EXPECT_EQ(t->owner(0), nullptr);  // its only node is a replica
    ASSERT_NE(t->owner(150), nullptr);
    // "?" falls back to ip (here 127.0.0.1), which the node does know.
    EXPECT_EQ(*t->owner(150), (node_address{"127.0.0.1", 7002}));
    EXPECT_EQ(t->covered(), 100u);
}

TEST(ClusterTopology, SlotsUnknownEndpointMeansTheReplier) {
    auto reply = reply_of("*1\r\n*3\r\n:0\r\n:16383\r\n*3\r\n$1\r\n?\r\n:7000\r\n$1\r\nx\r\n");
    auto t = parse_cluster_slots(*reply, "10.0.0.9");
    ASSERT_TRUE(t);
    EXPECT_EQ(*t->owner(42), (node_address{"10.0.0.9", 7000}));
}

TEST(ClusterTopology, RejectsOtherShapes) {
    for (std::string_view wire : {
             std::string_view("+OK\r\n"), std::string_view("*1\r\n:5\r\n"),
             std::string_view("*1\r\n*3\r\n:0\r\n:16384\r\n*2\r\n$1\r\nh\r\n:1\r\n"),  // slot
             std::string_view("*1\r\n*3\r\n:9\r\n:1\r\n*2\r\n$1\r\nh\r\n:1\r\n"),      // reversed
             std::string_view("*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$1\r\nh\r\n:0\r\n"),      // port 0
         }) {
        auto reply = reply_of(wire);
        ASSERT_TRUE(reply);
        auto t = parse_cluster_slots(*reply, "h");
        EXPECT_FALSE(t) << wire;
        if (!t) {
            EXPECT_EQ(t.error(), make_error_code(errc::redis_unexpected_reply));
        }
        EXPECT_FALSE(parse_cluster_shards(*reply, "h", false)) << wire;
    }
}

TEST(ClusterTopology, NodeKeyBracketsIpv6) {
    EXPECT_EQ((node_address{"127.0.0.1", 7000}).key(), "127.0.0.1:7000");
    EXPECT_EQ((node_address{"::1", 7000}).key(), "[::1]:7000");
}

}  // namespace
