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
