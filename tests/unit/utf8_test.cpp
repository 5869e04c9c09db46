// The UTF-8 gate in front of text frames.
#include "util/utf8.hpp"

#include <gtest/gtest.h>

#include <string>

TEST(Utf8, AcceptsAsciiAndMultibyte) {
    EXPECT_TRUE(wsgate::is_valid_utf8(""));
    EXPECT_TRUE(wsgate::is_valid_utf8("{\"status\":\"ok\"}"));
    EXPECT_TRUE(wsgate::is_valid_utf8("h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80"));
}

TEST(Utf8, RejectsMalformedSequences) {
    EXPECT_FALSE(wsgate::is_valid_utf8("\xFF"));
    EXPECT_FALSE(wsgate::is_valid_utf8("\xC3"));              // truncated
    EXPECT_FALSE(wsgate::is_valid_utf8("\xC0\xAF"));          // overlong '/'
    EXPECT_FALSE(wsgate::is_valid_utf8("\xED\xA0\x80"));      // UTF-16 surrogate
    EXPECT_FALSE(wsgate::is_valid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
    EXPECT_FALSE(wsgate::is_valid_utf8(std::string("ok\x80", 3)));
}

TEST(Utf8, NulIsValid) { EXPECT_TRUE(wsgate::is_valid_utf8(std::string("a\0b", 3))); }
