// The session's write path on the wire: data frames are pre-encoded once per message and
// gathered into batched writes that take turns with Beast's own frames (pongs, close). A raw
// client that stops reading makes the gateway queue a backlog, so batches form and Beast's
// frames have to wait behind them; the bytes received must still parse as whole frames, in
// order, with nothing after the close frame.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "gateway_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using namespace wsgate::test;

struct frame {
    bool fin = false;
    int opcode = 0;
    std::string payload;
};

/// Parses server frames (unmasked); nullopt if the bytes are not a whole number of frames or
/// a frame is masked or uses reserved bits.
std::optional<std::vector<frame>> parse_frames(std::string_view in) {
    std::vector<frame> out;
    std::size_t i = 0;
    while (i < in.size()) {
        if (in.size() - i < 2) return std::nullopt;
        const auto b0 = static_cast<unsigned char>(in[i]);
        const auto b1 = static_cast<unsigned char>(in[i + 1]);
        if ((b0 & 0x70) != 0 || (b1 & 0x80) != 0) return std::nullopt;  // RSV bits, mask
        std::uint64_t len = b1 & 0x7f;
        i += 2;
        const std::size_t ext = len == 126 ? 2 : len == 127 ? 8 : 0;
        if (in.size() - i < ext) return std::nullopt;
        if (ext) {
            len = 0;
            for (std::size_t k = 0; k < ext; ++k)
                len = (len << 8) | static_cast<unsigned char>(in[i + k]);
            i += ext;
        }
        if (in.size() - i < len) return std::nullopt;
        out.push_back({(b0 & 0x80) != 0, b0 & 0x0f, std::string(in.substr(i, len))});
        i += len;
    }
    return out;
}

/// A masked client frame with a payload of at most 125 bytes.
std::string client_frame(int opcode, std::string_view payload) {
    static constexpr unsigned char mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    std::string f;
    f.push_back(static_cast<char>(0x80 | opcode));
    f.push_back(static_cast<char>(0x80 | payload.size()));
    f.append(reinterpret_cast<const char*>(mask), 4);
    for (std::size_t i = 0; i < payload.size(); ++i)
        f.push_back(static_cast<char>(payload[i] ^ static_cast<char>(mask[i % 4])));
    return f;
}

std::string ping_payload(std::size_t i) {
    auto s = std::to_string(i);
    s.insert(s.begin(), 'p');
    return s;
}

// Every length form of the frame header: 7-bit, 16-bit (126..65535) and 64-bit.
std::vector<std::string> burst_payloads(std::size_t count) {
    static constexpr std::size_t sizes[] = {1, 5, 125, 126, 127, 1000, 65535, 65536, 70001};
    std::vector<std::string> out;
    for (std::size_t i = 0; i < count; ++i) {
        std::string p = std::to_string(i);
        p.insert(p.begin(), 'm');
        p.push_back(':');
        p.resize(std::max(p.size(), sizes[i % std::size(sizes)]), static_cast<char>('a' + i % 26));
        out.push_back(std::move(p));
    }
    return out;
}

class WritePath : public gateway_fixture {
protected:
    flag_list gateway_flags() const override {
        return {{"--max-queue-bytes", "256MiB"}, {"--max-queue-messages", "100000"}};
    }

    /// A raw client of `user` past the 101; the bytes after the response stay in `raw`.
    void open_raw(raw_connection& raw, const std::string& user) {
        ASSERT_TRUE(raw.connect(port())) << raw.error();
        ASSERT_TRUE(raw.send(upgrade_request(port(), target_for(user, token_for(user)))));
        const auto head = raw.read_until("\r\n\r\n", 5s);
        ASSERT_EQ(head.rfind("HTTP/1.1 101", 0), 0u) << head;
        head_size_ = head.find("\r\n\r\n") + 4;
    }

    std::size_t head_size_ = 0;
};

TEST_F(WritePath, PongsTakeTurnsWithBatchedDataFrames) {
    raw_connection raw;
    ASSERT_NO_FATAL_FAILURE(open_raw(raw, "burst"));

    // The client does not read: the kernel buffers fill and the gateway queues, so its
    // writes become batches, and the pongs for these pings wait behind one.
    const auto payloads = burst_payloads(360);  // ~7.5 MB
    for (std::size_t i = 0; i < payloads.size(); ++i) {
        ASSERT_EQ(publish("burst", payloads[i]), 1);
        if (i % 30 == 29) {
            ASSERT_TRUE(raw.send(client_frame(0x9, ping_payload(i / 30))));
        }
    }
    const std::string marker = "end-of-burst-5b1e";
    ASSERT_EQ(publish("burst", marker), 1);

    const auto got = raw.read_until(marker, 30s);
    ASSERT_NE(got.find(marker), std::string::npos) << "only " << got.size() << " bytes arrived";
    const auto frames = parse_frames(std::string_view(got).substr(head_size_));
    ASSERT_TRUE(frames) << "the stream is not a sequence of whole frames";

    std::vector<std::string> texts, pongs;
    for (const auto& f : *frames) {
        EXPECT_TRUE(f.fin);
        if (f.opcode == 0x1)
            texts.push_back(f.payload);
        else if (f.opcode == 0xA)
            pongs.push_back(f.payload);
        else
            ADD_FAILURE() << "unexpected opcode " << f.opcode;
    }
    ASSERT_EQ(texts.size(), payloads.size() + 1);
    for (std::size_t i = 0; i < payloads.size(); ++i)
        ASSERT_EQ(texts[i], payloads[i]) << "message " << i;
    EXPECT_EQ(texts.back(), marker);
    ASSERT_EQ(pongs.size(), 12u);
    for (std::size_t i = 0; i < pongs.size(); ++i) EXPECT_EQ(pongs[i], ping_payload(i));
    EXPECT_EQ(metric("wsgate_messages_delivered_total"), payloads.size() + 1);
}

TEST_F(WritePath, NoDataFrameFollowsTheCloseFrame) {
    raw_connection raw;
    ASSERT_NO_FATAL_FAILURE(open_raw(raw, "closer"));
    const auto payloads = burst_payloads(300);
    for (const auto& p : payloads) ASSERT_EQ(publish("closer", p), 1);

    // Close while a backlog is queued behind a stuck write: Beast answers the close after the
    // batch on the wire, and the rest of the queue is dropped, not written after it.
    std::string close_payload = "\x03\xe8";  // 1000
    ASSERT_TRUE(raw.send(client_frame(0x8, close_payload)));
    ASSERT_TRUE(raw.wait_closed(30s)) << "the gateway never closed the connection";

    const auto frames = parse_frames(std::string_view(raw.received()).substr(head_size_));
    ASSERT_TRUE(frames) << "the stream is not a sequence of whole frames";
    ASSERT_FALSE(frames->empty());
    const auto& last = frames->back();
    EXPECT_EQ(last.opcode, 0x8) << "the last frame must be the close frame";
    EXPECT_EQ(last.payload.substr(0, 2), close_payload);
    for (std::size_t i = 0; i + 1 < frames->size(); ++i) {
        ASSERT_EQ((*frames)[i].opcode, 0x1) << "frame " << i;
        ASSERT_EQ((*frames)[i].payload, payloads[i]) << "frame " << i;
    }
    raw.close();  // the client's FIN ends Beast's teardown
    EXPECT_TRUE(wait_metric("wsgate_connections", 0, 5s));
    EXPECT_TRUE(wait_until([&] { return numsub("closer") == 0; }, 5s));
}

}  // namespace

// --- the send queue's bound is on the backlog, not on the batch being written -----------
namespace {

class WritePathBound : public gateway_fixture {
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

class WritePathByteBound : public WritePathBound {
protected:
    flag_list gateway_flags() const override { return {{"--max-queue-bytes", "1MiB"}}; }
};

// The bound is on the backlog: one message larger than --max-queue-bytes, then a small one
// while the first is still being written, is no sign of a slow client (found in review of
// the gathered writes, which at first counted the batch in flight as backlog).
TEST_F(WritePathByteBound, OneLargeMessageInFlightDoesNotMakeTheClientSlow) {
    raw_connection raw;
    ASSERT_NO_FATAL_FAILURE(open_raw(raw, "large"));
    ASSERT_EQ(publish("large", std::string(8u << 20, 'L')), 1);
    std::this_thread::sleep_for(300ms);  // the 8 MiB write is now stuck on the full socket
    const std::string tail = "small-after-large-7c1";
    ASSERT_EQ(publish("large", tail), 1);
    expect_no_slow_consumer_then_both_arrive(raw, tail);
}

class WritePathCountBound : public WritePathBound {
protected:
    // One message of backlog (1 is a valid setting); bytes out of the way.
    flag_list gateway_flags() const override {
        return {{"--max-queue-messages", "1"}, {"--max-queue-bytes", "64MiB"}};
    }
};

TEST_F(WritePathCountBound, TheMessageBeingWrittenIsNotPartOfTheBacklog) {
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

class WritePathForcedStop : public WritePathBound {
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

TEST_F(WritePathForcedStop, PongWaitingBehindAStuckBatch) {
    raw_connection raw;
    ASSERT_NO_FATAL_FAILURE(open_raw(raw, "stuckping"));
    ASSERT_EQ(publish("stuckping", std::string(16u << 20, 'P')), 1);
    std::this_thread::sleep_for(300ms);
    ASSERT_TRUE(raw.send(client_frame(0x9, "ping-1")));
    force_stop_and_check();
}

TEST_F(WritePathForcedStop, CloseFrameWaitingBehindAStuckBatch) {
    raw_connection raw;
    ASSERT_NO_FATAL_FAILURE(open_raw(raw, "stuckclose"));
    ASSERT_EQ(publish("stuckclose", std::string(16u << 20, 'Q')), 1);
    std::this_thread::sleep_for(300ms);
    ASSERT_TRUE(raw.send(client_frame(0x8, std::string("\x03\xe8", 2))));
    force_stop_and_check();
}

}  // namespace
