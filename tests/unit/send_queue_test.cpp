// The per-connection bound (on the backlog: the batch being sent is not part of it), FIFO
// order through compaction, and the batches of the gathered write.
#include "server/send_queue.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace std::string_literals;

namespace {
wsgate::message_ptr msg(std::size_t size, char fill = 'x') {
    return std::make_shared<const wsgate::message>(wsgate::message{std::string(size, fill), false});
}

/// Sends and completes the front message alone.
void pop_one(wsgate::send_queue& q) {
    q.start_send(1, 0);
    q.finish_send();
}
}  // namespace

TEST(SendQueue, StartsEmpty) {
    wsgate::send_queue q(10, 100);
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.count(), 0u);
    EXPECT_EQ(q.bytes(), 0u);
}

TEST(SendQueue, RefusesPastTheByteBoundWithoutChange) {
    wsgate::send_queue q(100, 10);
    EXPECT_TRUE(q.push(msg(6)));
    EXPECT_FALSE(q.push(msg(5)));
    EXPECT_EQ(q.count(), 1u);
    EXPECT_EQ(q.bytes(), 6u);
    EXPECT_TRUE(q.push(msg(4)));
    EXPECT_EQ(q.bytes(), 10u);
}

TEST(SendQueue, AnEmptyQueueTakesOneOversizedMessage) {
    wsgate::send_queue q(100, 10);
    EXPECT_TRUE(q.push(msg(50)));
    EXPECT_FALSE(q.push(msg(1)));
    pop_one(q);
    EXPECT_TRUE(q.push(msg(1)));
    EXPECT_FALSE(q.push(msg(50)));
}

// The batch being written is not backlog: a client is slow only when messages pile up
// behind it. (A message larger than the bound, then a small one during its write, used to
// close the client as a slow consumer.)
TEST(SendQueue, TheBatchBeingSentIsNotPartOfTheBound) {
    wsgate::send_queue bytes(100, 10);
    ASSERT_TRUE(bytes.push(msg(50)));
    bytes.start_send(32, 1 << 16);
    EXPECT_TRUE(bytes.push(msg(8))) << "an empty backlog takes any one message";
    EXPECT_FALSE(bytes.push(msg(3)));
    EXPECT_EQ(bytes.finish_send(), 50u);
    EXPECT_EQ(bytes.bytes(), 8u);

    wsgate::send_queue one(1, 1000);
    ASSERT_TRUE(one.push(msg(5)));
    one.start_send(32, 1 << 16);
    EXPECT_TRUE(one.push(msg(5))) << "--max-queue-messages 1 leaves room for one behind it";
    EXPECT_FALSE(one.push(msg(5)));
}

TEST(SendQueue, RefusesPastTheCountBound) {
    wsgate::send_queue q(2, 1000);
    EXPECT_TRUE(q.push(msg(0)));
    EXPECT_TRUE(q.push(msg(0)));
    EXPECT_FALSE(q.push(msg(0)));
    pop_one(q);
    EXPECT_TRUE(q.push(msg(0)));
}

TEST(SendQueue, KeepsOrderAcrossCompaction) {
    wsgate::send_queue q(1000, 1 << 20);
    int next_in = 0, next_out = 0;
    for (int round = 0; round < 50; ++round) {
        for (int i = 0; i < 30; ++i)
            ASSERT_TRUE(q.push(msg(static_cast<std::size_t>(next_in++ % 50))));
        for (int i = 0; i < 20; ++i) {
            ASSERT_EQ(q[0]->payload.size(), static_cast<std::size_t>(next_out++ % 50));
            pop_one(q);
        }
    }
    while (!q.empty()) {
        ASSERT_EQ(q[0]->payload.size(), static_cast<std::size_t>(next_out++ % 50));
        pop_one(q);
    }
    EXPECT_EQ(next_in, next_out);
    EXPECT_EQ(q.bytes(), 0u);
}

TEST(SendQueue, ClearReportsDroppedCount) {
    wsgate::send_queue q(10, 100);
    q.push(msg(3));
    q.push(msg(4));
    EXPECT_EQ(q.clear(), 2u);
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.bytes(), 0u);
}

TEST(SendQueue, SharesPayloadsInsteadOfCopying) {
    wsgate::send_queue a(10, 100), b(10, 100);
    auto m = msg(10);
    a.push(m);
    b.push(m);
    EXPECT_EQ(a[0].get(), b[0].get());
    EXPECT_EQ(m.use_count(), 3);
}

// --- the pre-encoded frame header and the gathered-write view ---------------------------

namespace {
std::string header_of(const wsgate::message& m) {
    auto b = m.header_buffer();
    return std::string(static_cast<const char*>(b.data()), b.size());
}
}  // namespace

TEST(MessageFrame, HeaderUsesTheShortestLengthFormOfRfc6455) {
    using wsgate::message;
    EXPECT_EQ(header_of(message{"", false}), std::string("\x81\x00", 2));
    EXPECT_EQ(header_of(message{std::string(125, 'a'), false}), "\x81\x7d");
    EXPECT_EQ(header_of(message{std::string(126, 'a'), false}), "\x81\x7e\x00\x7e"s);
    EXPECT_EQ(header_of(message{std::string(65535, 'a'), false}), "\x81\x7e\xff\xff");
    EXPECT_EQ(header_of(message{std::string(65536, 'a'), false}),
              "\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00"s);
    EXPECT_EQ(header_of(message{std::string(3, 'a'), true}), "\x82\x03") << "binary opcode";
}

TEST(SendQueue, ABatchIsTheFrontFramesWithinTheCountAndByteLimits) {
    wsgate::send_queue q(10, 1000);
    ASSERT_TRUE(q.push(msg(3, 'a')));
    ASSERT_TRUE(q.push(msg(200, 'b')));
    ASSERT_TRUE(q.push(msg(1, 'c')));
    std::string wire;
    for (auto b : q.start_send(2, 1000)) wire.append(static_cast<const char*>(b.data()), b.size());
    EXPECT_EQ(wire,
              "\x81\x03"
              "aaa"
              "\x81\x7e\x00\xc8"s +
                  std::string(200, 'b'));
    EXPECT_EQ(q.sending(), 2u);
    EXPECT_TRUE(q.has_backlog());
    EXPECT_EQ(q.finish_send(), 203u);
    EXPECT_EQ(q.count(), 1u);

    ASSERT_TRUE(q.push(msg(300)));
    ASSERT_TRUE(q.push(msg(1)));
    // Past the first frame, no more than max_bytes of payload: "c" (1) + 300 > 100.
    EXPECT_EQ(boost::asio::buffer_size(q.start_send(32, 100)), 2u + 1);
    q.finish_send();
    // The first frame always goes, whatever its size.
    EXPECT_EQ(boost::asio::buffer_size(q.start_send(32, 100)), 4u + 300);
}

TEST(SendQueue, ABatchStaysValidWhileMessagesArePushedAndTheBacklogCleared) {
    wsgate::send_queue q(1000, 1'000'000);
    ASSERT_TRUE(q.push(msg(5, 'a')));
    const auto view = q.start_send(32, 1 << 16);
    for (int i = 0; i < 500; ++i) ASSERT_TRUE(q.push(msg(1)));  // reallocates the storage
    std::string wire;
    for (auto b : view) wire.append(static_cast<const char*>(b.data()), b.size());
    EXPECT_EQ(wire,
              "\x81\x05"
              "aaaaa");
    EXPECT_EQ(q.clear(), 500u) << "the backlog goes, the batch being sent stays";
    wire.clear();
    for (auto b : view) wire.append(static_cast<const char*>(b.data()), b.size());
    EXPECT_EQ(wire,
              "\x81\x05"
              "aaaaa");
    EXPECT_EQ(q.bytes(), 5u);
    EXPECT_EQ(q.finish_send(), 5u);
    EXPECT_TRUE(q.empty());
}

TEST(SendQueue, ClearAllDropsTheBatchToo) {
    wsgate::send_queue q(10, 1000);
    ASSERT_TRUE(q.push(msg(3)));
    ASSERT_TRUE(q.push(msg(4)));
    q.start_send(1, 0);
    EXPECT_EQ(q.clear(false), 2u);
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.bytes(), 0u);
    EXPECT_EQ(q.sending(), 0u);
}
