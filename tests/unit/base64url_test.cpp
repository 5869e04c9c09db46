// Unit tests for the strict base64url codec: RFC 4648 vectors, round trips, and every
// way a non-canonical or padded input must be refused.
#include "auth/base64url.hpp"

#include <gtest/gtest.h>

#include <string>

namespace wsgate::auth {
namespace {

TEST(Base64url, EncodesRfc4648VectorsWithoutPadding) {
    EXPECT_EQ(base64url_encode(""), "");
    EXPECT_EQ(base64url_encode("f"), "Zg");
    EXPECT_EQ(base64url_encode("fo"), "Zm8");
    EXPECT_EQ(base64url_encode("foo"), "Zm9v");
    EXPECT_EQ(base64url_encode("foob"), "Zm9vYg");
    EXPECT_EQ(base64url_encode("fooba"), "Zm9vYmE");
    EXPECT_EQ(base64url_encode("foobar"), "Zm9vYmFy");
}

TEST(Base64url, UsesUrlSafeAlphabet) {
    EXPECT_EQ(base64url_encode("\xfb\xff\xbf"), "-_-_");
    EXPECT_EQ(base64url_decode("-_-_"), std::string("\xfb\xff\xbf"));
}

TEST(Base64url, DecodesRfc4648Vectors) {
    EXPECT_EQ(base64url_decode(""), std::string());
    EXPECT_EQ(base64url_decode("Zg"), std::string("f"));
    EXPECT_EQ(base64url_decode("Zm8"), std::string("fo"));
    EXPECT_EQ(base64url_decode("Zm9vYmFy"), std::string("foobar"));
}

TEST(Base64url, RoundTripsEveryByteAndLength) {
    std::string bytes;
    for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
    for (std::size_t n = 0; n <= bytes.size(); ++n) {
        std::string in = bytes.substr(bytes.size() - n);
        auto out = base64url_decode(base64url_encode(in));
        ASSERT_TRUE(out) << n;
        EXPECT_EQ(*out, in) << n;
    }
}

TEST(Base64url, PaddingIsRejected) {
    EXPECT_FALSE(base64url_decode("Zg=="));
    EXPECT_FALSE(base64url_decode("Zm8="));
    EXPECT_FALSE(base64url_decode("===="));
}

TEST(Base64url, StandardAlphabetCharactersAreRejected) {
    EXPECT_FALSE(base64url_decode("+/+/"));
    EXPECT_FALSE(base64url_decode("ab+c"));
    EXPECT_FALSE(base64url_decode("ab/c"));
}

TEST(Base64url, WhitespaceAndOtherBytesAreRejected) {
    EXPECT_FALSE(base64url_decode("Zm9v Yg"));
    EXPECT_FALSE(base64url_decode("Zm9v\nYg"));
    EXPECT_FALSE(base64url_decode("Zm9v."));
    EXPECT_FALSE(base64url_decode(std::string("Zm\0v", 4)));
    EXPECT_FALSE(base64url_decode("Zm9\xc3\xa9"));
}

TEST(Base64url, ImpossibleLengthIsRejected) {
    EXPECT_FALSE(base64url_decode("Z"));
    EXPECT_FALSE(base64url_decode("Zm9vY"));
}

TEST(Base64url, NonZeroTrailingBitsAreRejected) {
    // "Zg" is canonical for "f"; "Zh".."Zv" decode to the same byte with stray low bits.
    EXPECT_FALSE(base64url_decode("Zh"));
    EXPECT_FALSE(base64url_decode("Zv"));
    // "Zm8" is canonical for "fo"; "Zm9" sets one of the two unused bits.
    EXPECT_FALSE(base64url_decode("Zm9"));
}

}  // namespace
}  // namespace wsgate::auth
