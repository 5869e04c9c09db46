// The per-connection bound: by count, by bytes, and FIFO order through compaction.
#include "server/send_queue.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace std::string_literals;

namespace {
wsgate::message_ptr msg(std::size_t size, char fill = 'x') {
    return std::make_shared<const wsgate::message>(wsgate::message{std::string(size, fill), false});
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
    q.pop_front();
    EXPECT_TRUE(q.push(msg(1)));
    EXPECT_FALSE(q.push(msg(50)));
}

TEST(SendQueue, RefusesPastTheCountBound) {
    wsgate::send_queue q(2, 1000);
    EXPECT_TRUE(q.push(msg(0)));
    EXPECT_TRUE(q.push(msg(0)));
    EXPECT_FALSE(q.push(msg(0)));
    q.pop_front();
    EXPECT_TRUE(q.push(msg(0)));
}

TEST(SendQueue, KeepsOrderAcrossCompaction) {
    wsgate::send_queue q(1000, 1 << 20);
    int next_in = 0, next_out = 0;
    for (int round = 0; round < 50; ++round) {
        for (int i = 0; i < 30; ++i)
            ASSERT_TRUE(q.push(msg(static_cast<std::size_t>(next_in++ % 50))));
        for (int i = 0; i < 20; ++i) {
            ASSERT_EQ(q.front()->payload.size(), static_cast<std::size_t>(next_out++ % 50));
            q.pop_front();
        }
    }
    while (!q.empty()) {
        ASSERT_EQ(q.front()->payload.size(), static_cast<std::size_t>(next_out++ % 50));
        q.pop_front();
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
    EXPECT_EQ(a.front().get(), b.front().get());
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

TEST(SendQueue, FramesViewYieldsHeaderThenPayloadForEachOfTheFirstN) {
    wsgate::send_queue q(10, 1000);
    ASSERT_TRUE(q.push(msg(3, 'a')));
    ASSERT_TRUE(q.push(msg(200, 'b')));
    ASSERT_TRUE(q.push(msg(1, 'c')));
    std::string wire;
    for (auto b : q.frames(2)) wire.append(static_cast<const char*>(b.data()), b.size());
    EXPECT_EQ(wire,
              "\x81\x03"
              "aaa"
              "\x81\x7e\x00\xc8"s +
                  std::string(200, 'b'));
    EXPECT_EQ(boost::asio::buffer_size(q.frames(3)), 2 + 3 + 4 + 200 + 2 + 1);
}

TEST(SendQueue, FramesViewStaysValidWhileMessagesArePushed) {
    wsgate::send_queue q(1000, 1'000'000);
    ASSERT_TRUE(q.push(msg(5, 'a')));
    const auto view = q.frames(1);
    for (int i = 0; i < 500; ++i) ASSERT_TRUE(q.push(msg(1)));  // reallocates the storage
    std::string wire;
    for (auto b : view) wire.append(static_cast<const char*>(b.data()), b.size());
    EXPECT_EQ(wire,
              "\x81\x05"
              "aaaaa");
}

TEST(SendQueue, ClearKeepsTheBatchBeingWritten) {
    wsgate::send_queue q(10, 1000);
    ASSERT_TRUE(q.push(msg(3, 'a')));
    ASSERT_TRUE(q.push(msg(4, 'b')));
    ASSERT_TRUE(q.push(msg(5, 'c')));
    EXPECT_EQ(q.clear(2), 1u);
    EXPECT_EQ(q.count(), 2u);
    EXPECT_EQ(q.bytes(), 7u);
    EXPECT_EQ(q[1]->payload, "bbbb");
    EXPECT_EQ(q.clear(), 2u);
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.bytes(), 0u);
}
