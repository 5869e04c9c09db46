// Review of f3dd07f (gathered writes): the send queue's bound is on the *backlog*. A batch
// being written stays in the queue until on_write pops it, so it now counts against
// --max-queue-bytes / --max-queue-messages, and a client is closed as a slow consumer with
// no backlog at all. Both tests pass against a wsgate built before f3dd07f (the in-flight
// message was popped when its write started) and fail after it.
#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "gateway_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using namespace wsgate::test;

class QueueBoundReview : public gateway_fixture {
protected:
    /// A raw client of `user` past the 101. It does not read until told to, so a large
    /// enough write stays in flight (the kernel buffers hold only a few MB).
    void open_raw(raw_connection& raw, const std::string& user) {
        ASSERT_TRUE(raw.connect(port())) << raw.error();
        ASSERT_TRUE(raw.send(upgrade_request(port(), target_for(user, token_for(user)))));
        const auto head = raw.read_until("\r\n\r\n", 5s);
        ASSERT_EQ(head.rfind("HTTP/1.1 101", 0), 0u) << head;
    }

    void expect_no_slow_consumer_then_both_arrive(raw_connection& raw, const std::string& tail) {
        // Give the gateway time to take (or refuse) the second message.
        std::this_thread::sleep_for(500ms);
        EXPECT_EQ(metric("wsgate_messages_dropped_total{reason=\"slow_consumer\"}"), 0)
            << "the second message was refused although the backlog was empty";
        EXPECT_EQ(metric("wsgate_closes_total{cause=\"slow_consumer\"}"), 0);
        const auto got = raw.read_until(tail, 30s);
        EXPECT_NE(got.find(tail), std::string::npos)
            << "the message after the large one never arrived (" << got.size() << " bytes)";
    }
};

class QueueBytesBoundReview : public QueueBoundReview {
protected:
    flag_list gateway_flags() const override { return {{"--max-queue-bytes", "1MiB"}}; }
};

// send_queue::push: "An empty queue takes any one message: the bound is on backlog, and a
// single payload larger than it (already in memory, shared) is no sign of a slow client."
// With the default 1 MiB bound, one 8 MiB message followed by a 20-byte one (while the
// first is still being written) now closes the client with 4008.
TEST_F(QueueBytesBoundReview, OneLargeMessageInFlightDoesNotMakeTheClientSlow) {
    raw_connection raw;
    ASSERT_NO_FATAL_FAILURE(open_raw(raw, "large"));
    ASSERT_EQ(publish("large", std::string(8u << 20, 'L')), 1);
    std::this_thread::sleep_for(300ms);  // the 8 MiB write is now stuck on the full socket
    const std::string tail = "small-after-large-7c1";
    ASSERT_EQ(publish("large", tail), 1);
    expect_no_slow_consumer_then_both_arrive(raw, tail);
}

class QueueCountBoundReview : public QueueBoundReview {
protected:
    // One message of backlog (1 is a valid setting); bytes out of the way.
    flag_list gateway_flags() const override {
        return {{"--max-queue-messages", "1"}, {"--max-queue-bytes", "64MiB"}};
    }
};

TEST_F(QueueCountBoundReview, TheMessageBeingWrittenIsNotPartOfTheBacklog) {
    raw_connection raw;
    ASSERT_NO_FATAL_FAILURE(open_raw(raw, "counted"));
    ASSERT_EQ(publish("counted", std::string(8u << 20, 'C')), 1);
    std::this_thread::sleep_for(300ms);
    const std::string tail = "one-message-of-backlog-3f9";
    ASSERT_EQ(publish("counted", tail), 1);
    expect_no_slow_consumer_then_both_arrive(raw, tail);
}

}  // namespace

// --- forced stop with a write waiting in the gate ------------------------------------------
// A batch stuck on a client that does not read, and one of Beast's frames (a pong, or the
// close frame answering the client's close) waiting behind it in gated_socket::waiting_, an
// any_completion_handler that owns the session. A second SIGTERM stops the loops at once;
// ~shard destroys the pending handlers: the running write's done_handler must drop the
// waiter (else session <-> waiter keep each other alive: LeakSanitizer), and nothing may
// touch a destroyed gate (AddressSanitizer). Meaningful with an ASan wsgate.
namespace {

std::string masked_frame(int opcode, std::string_view payload) {
    static constexpr unsigned char mask[4] = {0x11, 0x22, 0x33, 0x44};
    std::string f;
    f.push_back(static_cast<char>(0x80 | opcode));
    f.push_back(static_cast<char>(0x80 | payload.size()));
    f.append(reinterpret_cast<const char*>(mask), 4);
    for (std::size_t i = 0; i < payload.size(); ++i)
        f.push_back(static_cast<char>(payload[i] ^ static_cast<char>(mask[i % 4])));
    return f;
}

class ForcedStopReview : public QueueBoundReview {
protected:
    flag_list gateway_flags() const override {
        return {{"--max-queue-bytes", "64MiB"}, {"--shutdown-timeout", "20s"}};
    }

    void force_stop_and_check() {
        std::this_thread::sleep_for(300ms);
        ASSERT_TRUE(gateway().process().signal(SIGTERM));
        std::this_thread::sleep_for(300ms);
        ASSERT_TRUE(gateway().process().signal(SIGTERM));  // forced: loops stop now
        const auto status = gateway().process().wait_for_exit(30s);
        ASSERT_TRUE(status.has_value()) << "wsgate did not exit after the forced stop";
        const auto out = gateway().output();
        EXPECT_EQ(out.find("Sanitizer"), std::string::npos) << out;
        EXPECT_EQ(*status, 0) << out;
    }
};

TEST_F(ForcedStopReview, PongWaitingBehindAStuckBatch) {
    raw_connection raw;
    ASSERT_NO_FATAL_FAILURE(open_raw(raw, "stuckping"));
    ASSERT_EQ(publish("stuckping", std::string(16u << 20, 'P')), 1);
    std::this_thread::sleep_for(300ms);
    ASSERT_TRUE(raw.send(masked_frame(0x9, "ping-1")));
    force_stop_and_check();
}

TEST_F(ForcedStopReview, CloseFrameWaitingBehindAStuckBatch) {
    raw_connection raw;
    ASSERT_NO_FATAL_FAILURE(open_raw(raw, "stuckclose"));
    ASSERT_EQ(publish("stuckclose", std::string(16u << 20, 'Q')), 1);
    std::this_thread::sleep_for(300ms);
    ASSERT_TRUE(raw.send(masked_frame(0x8, std::string("\x03\xe8", 2))));
    force_stop_and_check();
}

}  // namespace
