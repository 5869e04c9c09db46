// Fuzzes the subscriber's read path: bytes through redis::resp_reader (hiredis's parser with
// our array cap), every complete reply through the pub/sub classifier.
//
// Input: byte 0 picks a chunk size (1..32, or 0 for all at once); the rest is the byte
// stream from Redis, e.g. "*3\r\n$7\r\nmessage\r\n$4\r\nws:a\r\n$2\r\nhi\r\n".
//
// Invariants: the events (and a failure, at the same point) do not depend on how the
// stream is split into reads; a failed reader stays failed; each event's views point into
// its reply with the lengths hiredis recorded; a reader with a small array cap never yields
// an array larger than the cap, and agrees with the uncapped one until it fails.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "redis/pubsub_event.hpp"
#include "redis/resp_reader.hpp"

namespace {

using namespace wsgate;
using redis::reply_ptr;
using redis::resp_reader;

constexpr std::size_t small_cap = 3;

bool within(std::string_view part, const redisReply& r) {
    return r.str != nullptr && fuzz::is_inside(part, std::string_view(r.str, r.len));
}

std::size_t largest_array(const redisReply& r) {
    if (r.type != REDIS_REPLY_ARRAY) return 0;
    std::size_t largest = r.elements;
    for (std::size_t i = 0; i < r.elements; ++i)
        largest = std::max(largest, largest_array(*r.element[i]));
    return largest;
}

// Checks the event against its reply and renders it for comparison.
std::string describe(const redisReply& reply) {
    auto event = redis::classify(reply);
    if (!event) {
        FUZZ_CHECK(event.error() == errc::redis_unexpected_reply);
        return "unexpected(type " + std::to_string(reply.type) + ")";
    }
    if (const auto* m = std::get_if<redis::message_event>(&*event)) {
        FUZZ_CHECK(reply.type == REDIS_REPLY_ARRAY && reply.elements == 3);
        FUZZ_CHECK(within(m->channel, *reply.element[1]) &&
                   m->channel.size() == reply.element[1]->len);
        FUZZ_CHECK(within(m->payload, *reply.element[2]) &&
                   m->payload.size() == reply.element[2]->len);
    } else if (const auto* s = std::get_if<redis::subscribe_event>(&*event)) {
        FUZZ_CHECK(reply.type == REDIS_REPLY_ARRAY && reply.elements == 3);
        FUZZ_CHECK(within(s->channel, *reply.element[1]));
        FUZZ_CHECK(s->count == reply.element[2]->integer);
    } else if (const auto* u = std::get_if<redis::unsubscribe_event>(&*event)) {
        FUZZ_CHECK(reply.type == REDIS_REPLY_ARRAY && reply.elements == 3);
        FUZZ_CHECK(u->channel.empty() || within(u->channel, *reply.element[1]));
    } else if (const auto* st = std::get_if<redis::status_event>(&*event)) {
        FUZZ_CHECK(reply.type == REDIS_REPLY_STATUS && within(st->text, reply));
    } else if (const auto* e = std::get_if<redis::error_event>(&*event)) {
        FUZZ_CHECK(reply.type == REDIS_REPLY_ERROR && within(e->text, reply));
    }
    std::ostringstream out;
    out << *event;
    return out.str();
}

// Feeds `stream` in chunks of `chunk` bytes (0: all at once), draining after each feed.
std::vector<std::string> run(std::string_view stream, std::size_t chunk, std::size_t cap) {
    resp_reader reader(cap);
    std::vector<std::string> events;
    const std::size_t step = chunk == 0 ? std::max<std::size_t>(stream.size(), 1) : chunk;
    for (std::size_t at = 0; at < stream.size() || at == 0; at += step) {
        reader.feed(stream.substr(at, step));
        while (true) {
            auto next = reader.next();
            if (!next) {
                FUZZ_CHECK(next.error() == errc::redis_protocol);
                FUZZ_CHECK(reader.failed());
                FUZZ_CHECK(!reader.error_message().empty());
                // Sticky: nothing more comes out, whatever is fed.
                reader.feed("+OK\r\n");
                FUZZ_CHECK(!reader.next());
                events.emplace_back("failed");
                return events;
            }
            const reply_ptr& reply = *next;
            if (!reply) break;
            FUZZ_CHECK(largest_array(*reply) <= cap);
            events.push_back(describe(*reply));
        }
        if (stream.empty()) break;
    }
    FUZZ_CHECK(!reader.failed());
    return events;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::size_t chunk = data[0] % 33;
    const std::string_view stream = fuzz::as_text(data + 1, size - 1);

    const auto whole = run(stream, 0, resp_reader::default_max_array_elements);
    FUZZ_CHECK(run(stream, chunk == 0 ? 1 : chunk, resp_reader::default_max_array_elements) ==
               whole);

    // A small cap fails the stream at the first larger array and changes nothing before it.
    // (It may fail on an array the uncapped reader is still waiting to complete.)
    auto capped = run(stream, chunk, small_cap);
    if (capped.empty() || capped.back() != "failed") {
        FUZZ_CHECK(capped == whole);
    } else {
        capped.pop_back();
        FUZZ_CHECK(capped.size() <= whole.size());
        FUZZ_CHECK(std::equal(capped.begin(), capped.end(), whole.begin()));
    }
    return 0;
}
