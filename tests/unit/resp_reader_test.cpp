// Unit tests for resp_reader: complete and partial replies, the sticky failure, and the
// limits we put on hiredis (array size, nesting, idle buffer).
#include "redis/resp_reader.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using wsgate::errc;
using wsgate::redis::reply_ptr;
using wsgate::redis::resp_reader;

TEST(RespReader, NothingFedMeansNoReply) {
    resp_reader reader;
    auto r = reader.next();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(*r, nullptr);
    EXPECT_FALSE(reader.failed());
    EXPECT_TRUE(reader.error_message().empty());
}

TEST(RespReader, YieldsRepliesInOrderThenNull) {
    resp_reader reader;
    reader.feed(std::string_view("+OK\r\n:42\r\n$3\r\nabc\r\n"));
    auto a = reader.next();
    ASSERT_TRUE(a && *a);
    EXPECT_EQ((*a)->type, REDIS_REPLY_STATUS);
    auto b = reader.next();
    ASSERT_TRUE(b && *b);
    EXPECT_EQ((*b)->integer, 42);
    auto c = reader.next();
    ASSERT_TRUE(c && *c);
    EXPECT_EQ(std::string_view((*c)->str, (*c)->len), "abc");
    auto d = reader.next();
    ASSERT_TRUE(d);
    EXPECT_EQ(*d, nullptr);
}

TEST(RespReader, PartialReplyWaitsForTheRest) {
    resp_reader reader;
    reader.feed(std::string_view("$5\r\nhel"));
    auto r = reader.next();
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, nullptr);
    reader.feed(std::string_view("lo\r\n"));
    r = reader.next();
    ASSERT_TRUE(r && *r);
    EXPECT_EQ(std::string_view((*r)->str, (*r)->len), "hello");
}

TEST(RespReader, GarbageFailsAndStaysFailed) {
    resp_reader reader;
    reader.feed(std::string_view("?what\r\n"));
    EXPECT_EQ(reader.next().error(), errc::redis_protocol);
    EXPECT_TRUE(reader.failed());
    EXPECT_FALSE(reader.error_message().empty());
    // Valid bytes afterwards do not resynchronise the stream.
    reader.feed(std::string_view("+OK\r\n"));
    EXPECT_EQ(reader.next().error(), errc::redis_protocol);
    EXPECT_EQ(reader.next().error(), errc::redis_protocol);
}

TEST(RespReader, Resp3PushIsAProtocolError) {
    // hiredis 0.14 is RESP2 only; a server switched to RESP3 must not be half-understood.
    resp_reader reader;
    reader.feed(std::string_view(">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\np\r\n"));
    EXPECT_EQ(reader.next().error(), errc::redis_protocol);
}

TEST(RespReader, BadLengthsAreProtocolErrors) {
    for (std::string_view bad :
         {"$-2\r\n", "*-2\r\n", ":12x\r\n", "$abc\r\n", "*99999999999\r\n"}) {
        resp_reader reader;
        reader.feed(bad);
        EXPECT_EQ(reader.next().error(), errc::redis_protocol) << bad;
    }
}

TEST(RespReader, ArrayLargerThanTheLimitFailsWithoutAllocating) {
    resp_reader reader;
    reader.feed(std::string_view("*2000000000\r\n"));  // would be a 16 GB calloc in hiredis
    EXPECT_EQ(reader.next().error(), errc::redis_protocol);
}

TEST(RespReader, ArrayLimitIsConfigurable) {
    resp_reader reader(3);
    reader.feed(std::string_view("*3\r\n:1\r\n:2\r\n:3\r\n*4\r\n"));
    auto ok = reader.next();
    ASSERT_TRUE(ok && *ok);
    EXPECT_EQ((*ok)->elements, 3u);
    EXPECT_EQ(reader.next().error(), errc::redis_protocol);
}

TEST(RespReader, LimitAppliesToNestedArrays) {
    resp_reader reader(2);
    reader.feed(std::string_view("*1\r\n*3\r\n:1\r\n:2\r\n:3\r\n"));
    EXPECT_EQ(reader.next().error(), errc::redis_protocol);
}

TEST(RespReader, NilArrayAndNilBulkAreReplies) {
    resp_reader reader;
    reader.feed(std::string_view("*-1\r\n$-1\r\n*0\r\n"));
    for (int type : {REDIS_REPLY_NIL, REDIS_REPLY_NIL, REDIS_REPLY_ARRAY}) {
        auto r = reader.next();
        ASSERT_TRUE(r && *r);
        EXPECT_EQ((*r)->type, type);
    }
}

TEST(RespReader, NestingBeyondHiredisLimitIsAProtocolError) {
    // hiredis 0.14 keeps a fixed stack: 8 nested arrays parse, 9 do not.
    auto nested = [](int depth) {
        std::string s;
        for (int i = 0; i < depth; ++i) s += "*1\r\n";
        return s + ":1\r\n";
    };
    resp_reader ok;
    ok.feed(nested(8));
    auto r = ok.next();
    ASSERT_TRUE(r && *r);
    resp_reader deep;
    deep.feed(nested(9));
    EXPECT_EQ(deep.next().error(), errc::redis_protocol);
}

TEST(RespReader, LargeBulkArrivingInChunks) {
    const std::string payload(3 * 1024 * 1024 + 7, 'x');
    // Built with append(): g++ 12 gives a false -Wrestrict on "$" + std::string (PR 105329).
    std::string wire = "$";
    wire.append(std::to_string(payload.size())).append("\r\n").append(payload).append("\r\n");
    resp_reader reader;
    std::size_t replies = 0;
    for (std::size_t pos = 0; pos < wire.size(); pos += 64 * 1024) {
        reader.feed(wire.data() + pos, std::min<std::size_t>(64 * 1024, wire.size() - pos));
        while (true) {
            auto r = reader.next();
            ASSERT_TRUE(r);
            if (!*r) break;
            EXPECT_EQ(std::string_view((*r)->str, (*r)->len), payload);
            ++replies;
        }
    }
    EXPECT_EQ(replies, 1u);
}

TEST(RespReader, ManyRepliesThroughOneReader) {
    // Exercises hiredis's buffer compaction (after 1 KiB consumed) and idle-buffer reuse.
    resp_reader reader;
    for (int i = 0; i < 20000; ++i) {
        std::string s = ":";
        s.append(std::to_string(i)).append("\r\n");
        reader.feed(s);
        auto r = reader.next();
        ASSERT_TRUE(r && *r);
        ASSERT_EQ((*r)->integer, i);
    }
}

TEST(RespReader, MoveKeepsThePartialReply) {
    resp_reader a;
    a.feed(std::string_view("*2\r\n:1\r\n"));
    resp_reader b(std::move(a));
    b.feed(std::string_view(":2\r\n"));
    auto r = b.next();
    ASSERT_TRUE(r && *r);
    EXPECT_EQ((*r)->elements, 2u);
    resp_reader c;
    c = std::move(b);  // the old reader of c is freed; no leak under ASan
    EXPECT_FALSE(c.failed());
}

TEST(RespReader, DestroyingWithAPartialReplyFreesIt) {
    resp_reader reader;
    reader.feed(std::string_view("*3\r\n$1\r\na\r\n*2\r\n:1\r\n"));
    auto r = reader.next();
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, nullptr);
    // Leak checked by ASan builds.
}

}  // namespace
