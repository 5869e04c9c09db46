// Unit tests for pubsub_event::classify on canned RESP2 bytes as Redis 7 sends them to a
// subscribed connection, fed through resp_reader (whole, and split at every byte).
#include "redis/pubsub_event.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "redis/resp_reader.hpp"

namespace {

using namespace std::string_view_literals;
using wsgate::errc;
using namespace wsgate::redis;

// The replies stay alive here because the events point into them.
struct parsed {
    std::vector<reply_ptr> replies;
    std::vector<pubsub_event> events;
};

// Feeds `wire` in pieces of `chunk` bytes (0: all at once) and classifies every reply;
// any parse or classification failure fails the test.
parsed parse_all(std::string_view wire, std::size_t chunk = 0) {
    parsed out;
    resp_reader reader;
    if (chunk == 0) chunk = wire.size() + 1;
    for (std::size_t pos = 0; pos < wire.size(); pos += chunk) {
        reader.feed(wire.substr(pos, chunk));
        while (true) {
            auto r = reader.next();
            EXPECT_TRUE(r.has_value()) << r.error().message();
            if (!r || !*r) break;
            auto e = classify(**r);
            EXPECT_TRUE(e.has_value())
                << "reply #" << out.replies.size() << ": " << e.error().message();
            if (e) out.events.push_back(*e);
            out.replies.push_back(std::move(*r));
        }
    }
    return out;
}

// The classification error for a single well-formed reply.
wsgate::result<pubsub_event> classify_one(std::string_view wire) {
    resp_reader reader;
    reader.feed(wire);
    auto r = reader.next();
    if (!r || !*r) {
        ADD_FAILURE() << "no complete reply in the canned bytes";
        return wsgate::make_error_code(errc::redis_protocol);
    }
    // Errors carry no views, so returning after the reply dies is fine for failures; for
    // successes, copy nothing out of here.
    return classify(**r);
}

// A subscribed connection's typical traffic, byte for byte as redis-server 7.0 sends it
// (captured from a raw socket).
constexpr std::string_view session_wire =
    "+OK\r\n"                                                 // AUTH
    "*3\r\n$9\r\nsubscribe\r\n$6\r\nws:u-1\r\n:1\r\n"         // SUBSCRIBE ws:u-1
    "*3\r\n$9\r\nsubscribe\r\n$6\r\nws:u-2\r\n:2\r\n"         // ... ws:u-2
    "*3\r\n$7\r\nmessage\r\n$6\r\nws:u-1\r\n$5\r\nhello\r\n"  // PUBLISH ws:u-1 hello
    "*2\r\n$4\r\npong\r\n$0\r\n\r\n"                          // PING while subscribed
    "*3\r\n$11\r\nunsubscribe\r\n$6\r\nws:u-1\r\n:1\r\n"      // UNSUBSCRIBE ws:u-1
    "*3\r\n$11\r\nunsubscribe\r\n$6\r\nws:u-2\r\n:0\r\n"      // ... ws:u-2
    "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n"               // UNSUBSCRIBE with nothing left
    "+PONG\r\n"                                               // PING, no longer subscribed
    "-ERR unknown command 'FOO'\r\n"sv;

const std::vector<pubsub_event> session_events = {
    status_event{"OK"},
    subscribe_event{"ws:u-1", 1},
    subscribe_event{"ws:u-2", 2},
    message_event{"ws:u-1", "hello"},
    pong_event{},
    unsubscribe_event{"ws:u-1", 1},
    unsubscribe_event{"ws:u-2", 0},
    unsubscribe_event{{}, 0},
    pong_event{},
    error_event{"ERR unknown command 'FOO'"},
};

TEST(PubsubEvent, ClassifiesATypicalSession) {
    const parsed p = parse_all(session_wire);
    EXPECT_EQ(p.events, session_events);
}

TEST(PubsubEvent, SplitFeedsAtEveryByteGiveTheSameEvents) {
    const parsed p = parse_all(session_wire, 1);
    EXPECT_EQ(p.events, session_events);
}

TEST(PubsubEvent, TwoFeedsSplitAtEveryPositionGiveTheSameEvents) {
    for (std::size_t cut = 1; cut < session_wire.size(); ++cut) {
        parsed out;
        resp_reader reader;
        for (std::string_view part : {session_wire.substr(0, cut), session_wire.substr(cut)}) {
            reader.feed(part);
            while (true) {
                auto r = reader.next();
                ASSERT_TRUE(r.has_value()) << "cut at " << cut;
                if (!*r) break;
                auto e = classify(**r);
                ASSERT_TRUE(e.has_value()) << "cut at " << cut;
                out.events.push_back(*e);
                out.replies.push_back(std::move(*r));
            }
        }
        ASSERT_EQ(out.events, session_events) << "cut at " << cut;
    }
}

TEST(PubsubEvent, MessagePayloadIsBinarySafe) {
    const std::string payload("a\0b\r\n\xff\x00z", 8);
    const std::string wire = "*3\r\n$7\r\nmessage\r\n$4\r\nws:x\r\n$" +
                             std::to_string(payload.size()) + "\r\n" + payload + "\r\n";
    const parsed p = parse_all(wire, 1);
    ASSERT_EQ(p.events.size(), 1u);
    const auto& m = std::get<message_event>(p.events[0]);
    EXPECT_EQ(m.payload.size(), 8u);
    EXPECT_EQ(m.payload, payload);
    EXPECT_EQ(m.channel, "ws:x");
}

TEST(PubsubEvent, EmptyPayloadIsAMessage) {
    const parsed p = parse_all("*3\r\n$7\r\nmessage\r\n$4\r\nws:x\r\n$0\r\n\r\n");
    EXPECT_EQ(p.events, (std::vector<pubsub_event>{message_event{"ws:x", ""}}));
}

TEST(PubsubEvent, NilArrayChannelIsAlsoANilUnsubscribe) {
    // Redis sends $-1; a null array is the other RESP2 nil and means the same.
    const parsed p = parse_all("*3\r\n$11\r\nunsubscribe\r\n*-1\r\n:0\r\n");
    EXPECT_EQ(p.events, (std::vector<pubsub_event>{unsubscribe_event{{}, 0}}));
}

TEST(PubsubEvent, PongWithPingArgumentIsStillPong) {
    // PING "hi" on a subscribed connection answers ["pong", "hi"].
    const parsed p = parse_all("*2\r\n$4\r\npong\r\n$2\r\nhi\r\n");
    EXPECT_EQ(p.events, (std::vector<pubsub_event>{pong_event{}}));
}

TEST(PubsubEvent, ErrorTextKeepsTheCode) {
    const parsed p = parse_all("-NOAUTH Authentication required.\r\n");
    EXPECT_EQ(p.events,
              (std::vector<pubsub_event>{error_event{"NOAUTH Authentication required."}}));
}

TEST(PubsubEvent, GarbageIsAProtocolErrorNotAnEvent) {
    resp_reader reader;
    reader.feed(std::string_view("*3\r\n$7\r\nmessage\r\n!junk\r\n"));
    EXPECT_EQ(reader.next().error(), errc::redis_protocol);
}

TEST(PubsubEvent, WrongShapesAreUnexpectedReplies) {
    const std::string_view wrong[] = {
        ":1\r\n",                                                           // integer
        "$5\r\nhello\r\n",                                                  // bulk string
        "$-1\r\n",                                                          // nil
        "*-1\r\n",                                                          // nil array
        "*0\r\n",                                                           // empty array
        "*1\r\n$7\r\nmessage\r\n",                                          // too short
        "*2\r\n$7\r\nmessage\r\n$4\r\nws:x\r\n",                            // no payload
        "*4\r\n$7\r\nmessage\r\n$4\r\nws:x\r\n$1\r\np\r\n$1\r\nq\r\n",      // too long
        "*3\r\n$7\r\nmessage\r\n$4\r\nws:x\r\n:5\r\n",                      // integer payload
        "*3\r\n$7\r\nmessage\r\n$-1\r\n$1\r\np\r\n",                        // nil channel
        "*3\r\n+message\r\n$4\r\nws:x\r\n$1\r\np\r\n",                      // status as kind
        "*3\r\n:7\r\n$4\r\nws:x\r\n$1\r\np\r\n",                            // integer as kind
        "*3\r\n$7\r\nMESSAGE\r\n$4\r\nws:x\r\n$1\r\np\r\n",                 // kinds are lowercase
        "*3\r\n$9\r\nsubscribe\r\n$4\r\nws:x\r\n$1\r\n1\r\n",               // count as string
        "*3\r\n$9\r\nsubscribe\r\n$-1\r\n:1\r\n",                           // nil subscribe channel
        "*3\r\n$11\r\nunsubscribe\r\n:3\r\n:1\r\n",                         // integer channel
        "*4\r\n$8\r\npmessage\r\n$4\r\nws:*\r\n$4\r\nws:x\r\n$1\r\np\r\n",  // pattern message
        "*3\r\n$10\r\npsubscribe\r\n$4\r\nws:*\r\n:1\r\n",                  // pattern subscribe
        "*3\r\n$8\r\nsmessage\r\n$4\r\nws:x\r\n:1\r\n",                     // sharded, integer
        "*3\r\n$11\r\nssubscribed\r\n$4\r\nws:x\r\n:1\r\n",                 // unknown kind
        "*1\r\n$4\r\npong\r\n",                                             // pong without text
        "*2\r\n$4\r\npong\r\n:1\r\n",                                       // pong with integer
        "*3\r\n$4\r\npong\r\n$0\r\n\r\n$0\r\n\r\n",                         // pong too long
        "*2\r\n*1\r\n:1\r\n$1\r\nx\r\n",                                    // nested array as kind
    };
    for (std::string_view wire : wrong) {
        auto e = classify_one(wire);
        EXPECT_EQ(e.error(), errc::redis_unexpected_reply) << wire;
    }
}

TEST(PubsubEvent, ShardedPubSubReplies) {
    // As Redis 7.0 sends them for SSUBSCRIBE, SPUBLISH, SUNSUBSCRIBE and a slot migration.
    const parsed p = parse_all(
        "*3\r\n$10\r\nssubscribe\r\n$4\r\nws:x\r\n:1\r\n"
        "*3\r\n$8\r\nsmessage\r\n$4\r\nws:x\r\n$2\r\nhi\r\n"
        "*3\r\n$12\r\nsunsubscribe\r\n$4\r\nws:x\r\n:0\r\n",
        1);
    EXPECT_EQ(p.events, (std::vector<pubsub_event>{subscribe_event{"ws:x", 1, true},
                                                   message_event{"ws:x", "hi", true},
                                                   unsubscribe_event{"ws:x", 0, true}}));
    std::ostringstream os;
    os << p.events[1];
    EXPECT_EQ(os.str(), "smessage{channel=\"ws:x\", payload=\"hi\"}");
}

TEST(PubsubEvent, StatusOtherThanPongIsAStatus) {
    const parsed p = parse_all("+QUEUED\r\n+pong\r\n");
    // "+pong" in lowercase is not PING's answer; only "+PONG" is.
    EXPECT_EQ(p.events, (std::vector<pubsub_event>{status_event{"QUEUED"}, status_event{"pong"}}));
}

TEST(PubsubEvent, PrinterEscapesAndTruncates) {
    std::ostringstream os;
    os << pubsub_event{message_event{"ws:x", std::string_view("a\0\"\xff", 4)}};
    EXPECT_EQ(os.str(), R"(message{channel="ws:x", payload="a\x00\"\xff"})");

    std::ostringstream nil;
    nil << pubsub_event{unsubscribe_event{{}, 0}};
    EXPECT_EQ(nil.str(), "unsubscribe{channel=nil, count=0}");

    std::ostringstream long_payload;
    long_payload << message_event{"c", std::string(100, 'x')};
    EXPECT_NE(long_payload.str().find("...(100 bytes)"), std::string::npos);
}

}  // namespace
