// RAII over hiredis's standalone RESP2 reply parser, for a connection whose bytes we read
// ourselves (Asio). One reader per connection, used from that connection's thread only.
// Raw redisReply pointers never leave src/redis: callers get a reply_ptr.
#pragma once

#include <hiredis/hiredis.h>

#include <cstddef>
#include <memory>
#include <string_view>

#include "util/error.hpp"

namespace wsgate::redis {

/// Frees a hiredis reply tree.
struct reply_deleter {
    void operator()(redisReply* r) const noexcept;
};

/// Owns one complete reply (and all its elements).
using reply_ptr = std::unique_ptr<redisReply, reply_deleter>;

/// Incremental RESP2 parser for one connection. After an error it stays failed; make a new
/// one (together with a new connection: the byte stream cannot be resynchronised).
class resp_reader {
public:
    /// Largest array a reply may declare. A pub/sub reply has 2 or 3 elements; the cap stops
    /// a corrupt or hostile "*2000000000" from making hiredis calloc 16 GB up front (hiredis
    /// 0.14 has no `maxelements`, and its allocator aborts on failure).
    static constexpr std::size_t default_max_array_elements = 1024 * 1024;

    /// Idle buffer hiredis keeps between replies. hiredis drops its buffer on the next feed
    /// once it is fully consumed and has more than `maxbuf` bytes spare; its 16 KiB default
    /// makes every feed of a read larger than ~8 KiB free and reallocate the buffer. We keep
    /// up to 1 MiB, which is cheap at one connection per shard, and a one-off multi-megabyte
    /// message still does not pin its memory.
    static constexpr std::size_t idle_buffer_bytes = 1024 * 1024;

    /// Throws std::bad_alloc when hiredis cannot allocate the reader.
    explicit resp_reader(std::size_t max_array_elements = default_max_array_elements);
    ~resp_reader();
    resp_reader(resp_reader&& other) noexcept;
    resp_reader& operator=(resp_reader&& other) noexcept;
    resp_reader(const resp_reader&) = delete;
    resp_reader& operator=(const resp_reader&) = delete;

    /// Appends bytes received from the connection (copied). A parse failure does not show
    /// here; it surfaces in the next call to next().
    void feed(const char* data, std::size_t size);
    void feed(std::string_view bytes) { feed(bytes.data(), bytes.size()); }

    /// The next complete reply, or a null reply_ptr when none is complete yet; call it until
    /// it yields null after every feed. Fails with errc::redis_protocol once the stream is
    /// broken, and keeps failing.
    result<reply_ptr> next();

    /// hiredis's description of the failure ("Protocol error, got ..."), empty while healthy.
    /// Holds no payload bytes, so it is safe to log.
    std::string_view error_message() const noexcept;

    /// True once next() has failed or would fail.
    bool failed() const noexcept;

private:
    redisReader* reader_;  // never null except after a move
};

}  // namespace wsgate::redis
