// A notification read from Redis: parsed once, then shared read-only by every recipient
// session on the shard. Sessions hold the pointer until the frame is written.
#pragma once

#include <array>
#include <boost/asio/buffer.hpp>
#include <cstdint>
#include <memory>
#include <string>

namespace wsgate {

/// One message and its WebSocket frame header, encoded once for every recipient: a server's
/// frames are not masked, so the header (RFC 6455 §5.2) depends only on the opcode and the
/// payload length, and every session writes the same header bytes followed by the payload.
struct message {
    message(std::string p, bool bin) : payload(std::move(p)), binary(bin) { encode_header(); }

    std::string payload;  // the exact bytes published
    bool binary = false;  // true only for non-UTF-8 payloads under --invalid-utf8=binary
    std::uint8_t header_size = 0;
    std::array<unsigned char, 10> header{};  // FIN, opcode, length; no mask, no extensions

    boost::asio::const_buffer header_buffer() const noexcept {
        return {header.data(), header_size};
    }
    boost::asio::const_buffer payload_buffer() const noexcept {
        return {payload.data(), payload.size()};
    }

private:
    void encode_header() noexcept {
        header[0] = static_cast<unsigned char>(0x80 | (binary ? 0x2 : 0x1));  // FIN | opcode
        const std::uint64_t n = payload.size();
        if (n < 126) {
            header[1] = static_cast<unsigned char>(n);
            header_size = 2;
        } else if (n <= 0xffff) {
            header[1] = 126;
            header[2] = static_cast<unsigned char>(n >> 8);
            header[3] = static_cast<unsigned char>(n);
            header_size = 4;
        } else {
            header[1] = 127;
            for (int i = 0; i < 8; ++i)
                header[2 + i] = static_cast<unsigned char>(n >> (8 * (7 - i)));
            header_size = 10;
        }
    }
};

using message_ptr = std::shared_ptr<const message>;

}  // namespace wsgate
