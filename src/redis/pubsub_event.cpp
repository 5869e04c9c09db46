// Shape checks for pub/sub replies, modelled on hiredis's own async.c dispatch
// (__redisGetSubscribeCallback), but strict: every element's type is verified.
#include "redis/pubsub_event.hpp"

#include <cstdio>
#include <ostream>

namespace wsgate::redis {
namespace {

std::string_view text_of(const redisReply& r) {
    return {r.str, r.len};  // len, not strlen: payloads may contain NUL
}

bool is_string(const redisReply& r) { return r.type == REDIS_REPLY_STRING; }

bool is_integer(const redisReply& r) { return r.type == REDIS_REPLY_INTEGER; }

result<pubsub_event> classify_array(const redisReply& reply) {
    const auto unexpected = make_error_code(errc::redis_unexpected_reply);
    if (reply.elements == 0 || !is_string(*reply.element[0])) return unexpected;
    std::string_view kind = text_of(*reply.element[0]);

    if (reply.elements == 3) {
        const redisReply& second = *reply.element[1];
        const redisReply& third = *reply.element[2];
        // Sharded Pub/Sub (Redis 7) uses the same shapes with an "s" in front.
        const bool sharded = kind.starts_with('s') && kind != "subscribe";
        if (sharded) kind.remove_prefix(1);
        if (kind == "message" && is_string(second) && is_string(third))
            return message_event{text_of(second), text_of(third), sharded};
        if (kind == "subscribe" && is_string(second) && is_integer(third))
            return subscribe_event{text_of(second), third.integer, sharded};
        if (kind == "unsubscribe" && is_integer(third)) {
            if (is_string(second))
                return unsubscribe_event{text_of(second), third.integer, sharded};
            if (second.type == REDIS_REPLY_NIL)
                return unsubscribe_event{{}, third.integer, sharded};
        }
        return unexpected;
    }
    // Under RESP2, PING on a subscribed connection answers *2 $4 pong $0 "" (or the PING
    // argument as the second element) instead of +PONG, because only pub/sub-shaped replies
    // are allowed in that mode (redis/redis: src/server.c pingCommand, tests/unit/pubsub.tcl).
    if (reply.elements == 2 && kind == "pong" && is_string(*reply.element[1])) return pong_event{};
    return unexpected;
}

void print_escaped(std::ostream& os, std::string_view s) {
    constexpr std::size_t max_shown = 64;
    os << '"';
    for (std::size_t i = 0; i < s.size() && i < max_shown; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == '"' || c == '\\') {
            os << '\\' << s[i];
        } else if (c >= 0x20 && c < 0x7f) {
            os << s[i];
        } else {
            char hex[5];
            std::snprintf(hex, sizeof hex, "\\x%02x", c);
            os << hex;
        }
    }
    os << '"';
    if (s.size() > max_shown) os << "...(" << s.size() << " bytes)";
}

}  // namespace

result<pubsub_event> classify(const redisReply& reply) {
    switch (reply.type) {
        case REDIS_REPLY_ARRAY:
            return classify_array(reply);
        case REDIS_REPLY_STATUS:
            // +PONG is the answer to a PING sent before any SUBSCRIBE (or under RESP3).
            if (text_of(reply) == "PONG") return pong_event{};
            return status_event{text_of(reply)};
        case REDIS_REPLY_ERROR:
            return error_event{text_of(reply)};
        default:
            return make_error_code(errc::redis_unexpected_reply);
    }
}

std::ostream& operator<<(std::ostream& os, const message_event& e) {
    os << (e.sharded ? "smessage{channel=" : "message{channel=");
    print_escaped(os, e.channel);
    os << ", payload=";
    print_escaped(os, e.payload);
    return os << '}';
}

std::ostream& operator<<(std::ostream& os, const subscribe_event& e) {
    os << (e.sharded ? "ssubscribe{channel=" : "subscribe{channel=");
    print_escaped(os, e.channel);
    return os << ", count=" << e.count << '}';
}

std::ostream& operator<<(std::ostream& os, const unsubscribe_event& e) {
    os << (e.sharded ? "sunsubscribe{channel=" : "unsubscribe{channel=");
    if (e.channel.data() == nullptr) {
        os << "nil";
    } else {
        print_escaped(os, e.channel);
    }
    return os << ", count=" << e.count << '}';
}

std::ostream& operator<<(std::ostream& os, const pong_event&) { return os << "pong{}"; }

std::ostream& operator<<(std::ostream& os, const status_event& e) {
    os << "status{";
    print_escaped(os, e.text);
    return os << '}';
}

std::ostream& operator<<(std::ostream& os, const error_event& e) {
    os << "error{";
    print_escaped(os, e.text);
    return os << '}';
}

std::ostream& operator<<(std::ostream& os, const pubsub_event& e) {
    std::visit([&os](const auto& alternative) { os << alternative; }, e);
    return os;
}

}  // namespace wsgate::redis
