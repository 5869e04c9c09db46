// Duration and size parsing used by every timing and limit flag.
#include "util/units.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;

TEST(ParseDuration, AcceptsEachUnit) {
    EXPECT_EQ(*wsgate::parse_duration("500ms"), 500ms);
    EXPECT_EQ(*wsgate::parse_duration("25s"), 25s);
    EXPECT_EQ(*wsgate::parse_duration("2m"), 2min);
    EXPECT_EQ(*wsgate::parse_duration("1h"), 1h);
}

TEST(ParseDuration, BareNumberIsSeconds) { EXPECT_EQ(*wsgate::parse_duration("30"), 30s); }

TEST(ParseDuration, RejectsGarbageNegativeAndOverflow) {
    for (auto bad :
         {"", "s", "-1s", "1.5s", "10 s", "1d", "99999999999999999999h", "5000000000000000h"})
        EXPECT_FALSE(wsgate::parse_duration(bad)) << bad;
}

TEST(ParseBytes, AcceptsBinaryAndDecimalSuffixes) {
    EXPECT_EQ(*wsgate::parse_bytes("4096"), 4096u);
    EXPECT_EQ(*wsgate::parse_bytes("4KiB"), 4096u);
    EXPECT_EQ(*wsgate::parse_bytes("1MiB"), 1u << 20);
    EXPECT_EQ(*wsgate::parse_bytes("2GiB"), 2ull << 30);
    EXPECT_EQ(*wsgate::parse_bytes("3KB"), 3000u);
    EXPECT_EQ(*wsgate::parse_bytes("7B"), 7u);
}

TEST(ParseBytes, RejectsUnknownSuffixAndOverflow) {
    for (auto bad : {"", "KiB", "1kib", "1 MiB", "-5", "18446744073709551615GiB"})
        EXPECT_FALSE(wsgate::parse_bytes(bad)) << bad;
}

TEST(FormatUnits, RoundTripsThroughTheParsers) {
    for (std::chrono::milliseconds d : {0ms, 1500ms, 25000ms, 120000ms, 10800000ms})
        EXPECT_EQ(*wsgate::parse_duration(wsgate::format_duration(d)), d);
    for (std::uint64_t b : {0ull, 100ull, 4096ull, 1ull << 20, 3ull << 30})
        EXPECT_EQ(*wsgate::parse_bytes(wsgate::format_bytes(b)), b);
    EXPECT_EQ(wsgate::format_bytes(1 << 20), "1MiB");
    EXPECT_EQ(wsgate::format_duration(25s), "25s");
}
