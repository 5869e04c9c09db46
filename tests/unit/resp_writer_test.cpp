// Unit tests for append_command: exact RESP bytes, binary safety, appending to existing
// content, and byte equality with hiredis's own redisFormatCommandArgv.
#include "redis/resp_writer.hpp"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <string>
#include <vector>

#include "redis/resp_reader.hpp"

namespace {

using namespace std::string_literals;
using wsgate::redis::append_command;

// hiredis's encoding of the same arguments, as the reference.
std::string hiredis_format(const std::vector<std::string_view>& args) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (auto a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
    }
    char* cmd = nullptr;
    const int n =
        redisFormatCommandArgv(&cmd, static_cast<int>(args.size()), argv.data(), lens.data());
    std::string out(cmd, static_cast<std::size_t>(n));
    redisFreeCommand(cmd);
    return out;
}

TEST(RespWriter, EncodesASubscribe) {
    std::string out;
    append_command(out, {"SUBSCRIBE", "ws:u-1"});
    EXPECT_EQ(out, "*2\r\n$9\r\nSUBSCRIBE\r\n$6\r\nws:u-1\r\n");
}

TEST(RespWriter, AppendsWithoutTouchingExistingBytes) {
    std::string out = "*1\r\n$4\r\nPING\r\n";
    append_command(out, {"PING"});
    EXPECT_EQ(out, "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n");
}

TEST(RespWriter, EmptyArgumentsAppendNothing) {
    std::string out = "x";
    append_command(out, std::span<const std::string_view>{});
    EXPECT_EQ(out, "x");
}

TEST(RespWriter, EmptyStringArgument) {
    std::string out;
    append_command(out, {"AUTH", ""});
    EXPECT_EQ(out, "*2\r\n$4\r\nAUTH\r\n$0\r\n\r\n");
}

TEST(RespWriter, ArgumentsAreBinarySafe) {
    const std::string_view payload("\0\r\n$*\xff", 6);
    std::string out;
    append_command(out, {"PUBLISH", "ws:x", payload});
    EXPECT_EQ(out, "*3\r\n$7\r\nPUBLISH\r\n$4\r\nws:x\r\n$6\r\n"s + std::string(payload) + "\r\n");
}

TEST(RespWriter, MatchesHiredisByteForByte) {
    const std::string big(100000, 'b');
    const std::vector<std::vector<std::string_view>> cases = {
        {"PING"},
        {"AUTH", "user", "p@ss:w0rd"},
        {"SELECT", "15"},
        {"PUBLISH", "ws:u", std::string_view("nul\0inside", 10)},
        {"PUBLISH", "ws:big", big},
        {"UNSUBSCRIBE"},
    };
    for (const auto& args : cases) {
        std::string out;
        append_command(out, std::span<const std::string_view>(args));
        EXPECT_EQ(out, hiredis_format(args)) << args[0];
    }
}

TEST(RespWriter, ThousandChannelSubscribeRoundTripsThroughTheReader) {
    std::vector<std::string> channels;
    for (int i = 0; i < 1000; ++i) channels.push_back("ws:user-" + std::to_string(i));
    std::vector<std::string_view> args = {"SUBSCRIBE"};
    args.insert(args.end(), channels.begin(), channels.end());

    std::string out;
    append_command(out, std::span<const std::string_view>(args));
    EXPECT_EQ(out, hiredis_format(args));

    // A request is an array of bulk strings, which the reply parser reads back exactly.
    wsgate::redis::resp_reader reader(2000);
    reader.feed(out);
    auto r = reader.next();
    ASSERT_TRUE(r && *r);
    ASSERT_EQ((*r)->elements, 1001u);
    EXPECT_EQ(std::string_view((*r)->element[1000]->str, (*r)->element[1000]->len), "ws:user-999");
}

TEST(RespWriter, ManyAppendsToOneBufferStayCorrect) {
    std::string out;
    std::string expected;
    for (int i = 0; i < 5000; ++i) {
        const std::string ch = "ws:" + std::to_string(i);
        append_command(out, {"UNSUBSCRIBE", ch});
        expected += hiredis_format({"UNSUBSCRIBE", ch});
    }
    EXPECT_EQ(out, expected);
}

}  // namespace
