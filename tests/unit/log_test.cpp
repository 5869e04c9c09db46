// Log line rendering: one line per event, JSON that parses, text values that cannot break
// the line.
#include "util/log.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

using wsgate::log::format;
using wsgate::log::level;

TEST(Log, JsonLineParsesAndCarriesFields) {
    auto line =
        wsgate::log::render(format::json, level::warn, "redis_link_down",
                            {{"reason", "End of file"}, {"retry_ms", 150}, {"q", "a\"b\nc"}});
    ASSERT_FALSE(line.empty());
    EXPECT_EQ(line.back(), '\n');
    EXPECT_EQ(line.find('\n'), line.size() - 1) << "exactly one line";
    auto v = boost::json::parse(line).as_object();
    EXPECT_EQ(v.at("level").as_string(), "warn");
    EXPECT_EQ(v.at("event").as_string(), "redis_link_down");
    EXPECT_EQ(v.at("reason").as_string(), "End of file");
    EXPECT_EQ(v.at("retry_ms").as_int64(), 150);
    EXPECT_EQ(v.at("q").as_string(), "a\"b\nc");
    EXPECT_TRUE(v.contains("ts"));
}

TEST(Log, TextLineQuotesValuesThatWouldBreakIt) {
    auto line =
        wsgate::log::render(format::text, level::info, "listening",
                            {{"port", 8080}, {"address", "0.0.0.0"}, {"note", "two words\nnext"}});
    EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
    EXPECT_NE(line.find(" info listening port=8080 address=0.0.0.0 "), std::string::npos) << line;
    EXPECT_NE(line.find("note=\"two words\\nnext\""), std::string::npos) << line;
}

TEST(Log, LevelsBelowTheMinimumAreDisabled) {
    wsgate::log::configure(format::text, level::warn);
    EXPECT_FALSE(wsgate::log::enabled(level::debug));
    EXPECT_FALSE(wsgate::log::enabled(level::info));
    EXPECT_TRUE(wsgate::log::enabled(level::warn));
    EXPECT_TRUE(wsgate::log::enabled(level::error));
    wsgate::log::configure(format::text, level::info);
}
