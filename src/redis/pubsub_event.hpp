// Classification of the replies a subscribed RESP2 connection receives. Pure: no I/O, no
// state; the subscriber decides what each event means for its state machine.
#pragma once

#include <hiredis/hiredis.h>

#include <iosfwd>
#include <string_view>
#include <variant>

#include "util/error.hpp"

namespace wsgate::redis {

/// ["message", channel, payload]: a PUBLISH to a channel we subscribe to; or
/// ["smessage", ...] (sharded = true): an SPUBLISH in a cluster.
struct message_event {
    std::string_view channel;
    std::string_view payload;  // any bytes, NUL included
    bool sharded = false;
    friend bool operator==(const message_event&, const message_event&) = default;
};

/// ["subscribe", channel, count]: Redis confirms one channel; count is our total now.
/// ["ssubscribe", ...] (sharded = true) for SSUBSCRIBE.
struct subscribe_event {
    std::string_view channel;
    long long count = 0;
    bool sharded = false;
    friend bool operator==(const subscribe_event&, const subscribe_event&) = default;
};

/// ["unsubscribe", channel | nil, count]. The channel is nil (an empty view here) when
/// UNSUBSCRIBE without arguments finds nothing to drop. Our channels are never empty (they
/// carry the channel prefix), so empty means nil.
/// ["sunsubscribe", ...] (sharded = true) answers SUNSUBSCRIBE, and is also pushed unasked
/// when the channel's slot migrates to another node.
struct unsubscribe_event {
    std::string_view channel;
    long long count = 0;
    bool sharded = false;
    friend bool operator==(const unsubscribe_event&, const unsubscribe_event&) = default;
};

/// The answer to PING, in either form (see classify()).
struct pong_event {
    friend bool operator==(const pong_event&, const pong_event&) = default;
};

/// A status reply other than PONG, e.g. +OK for AUTH or SELECT.
struct status_event {
    std::string_view text;
    friend bool operator==(const status_event&, const status_event&) = default;
};

/// An error reply (-ERR ..., -NOAUTH ..., -WRONGPASS ...); text without the '-'.
struct error_event {
    std::string_view text;
    friend bool operator==(const error_event&, const error_event&) = default;
};

using pubsub_event = std::variant<message_event, subscribe_event, unsubscribe_event, pong_event,
                                  status_event, error_event>;

/// Maps one reply to an event after checking its whole shape. The string_views point into
/// `reply` and are valid while it lives. Any other shape (pmessage, psubscribe, integers,
/// wrong element types or counts) fails with errc::redis_unexpected_reply. Any thread.
result<pubsub_event> classify(const redisReply& reply);

// Printers for tests and logs. Payloads and channels are printed escaped and truncated;
// do not log message payloads in production paths.
std::ostream& operator<<(std::ostream& os, const message_event& e);
std::ostream& operator<<(std::ostream& os, const subscribe_event& e);
std::ostream& operator<<(std::ostream& os, const unsubscribe_event& e);
std::ostream& operator<<(std::ostream& os, const pong_event& e);
std::ostream& operator<<(std::ostream& os, const status_event& e);
std::ostream& operator<<(std::ostream& os, const error_event& e);
std::ostream& operator<<(std::ostream& os, const pubsub_event& e);

}  // namespace wsgate::redis
