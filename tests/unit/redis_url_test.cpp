// Unit tests for parse_redis_url and redacted_url: the accepted forms, every documented
// rejection, and that the redacted form never carries credentials.
#include "redis/redis_url.hpp"

#include <gtest/gtest.h>

#include <ostream>

namespace wsgate::redis {

// Printer so failed comparisons show the fields, not bytes.
void PrintTo(const redis_endpoint& e, std::ostream* os) {
    *os << "{host=" << e.host << " port=" << e.port << " user=" << e.username
        << " password=" << e.password << " db=" << e.db << " tls=" << e.tls << "}";
}

}  // namespace wsgate::redis

namespace {

using wsgate::errc;
using wsgate::redis::parse_redis_url;
using wsgate::redis::redacted_url;
using wsgate::redis::redis_endpoint;

redis_endpoint parse_ok(std::string_view url) {
    auto r = parse_redis_url(url);
    EXPECT_TRUE(r.has_value()) << url << ": " << (r ? "" : r.error().message());
    return r ? *r : redis_endpoint{};
}

TEST(RedisUrl, HostOnlyGetsDefaults) {
    EXPECT_EQ(parse_ok("redis://localhost"), (redis_endpoint{"localhost", 6379, "", "", 0, false}));
}

TEST(RedisUrl, AllPartsAreParsed) {
    EXPECT_EQ(parse_ok("redis://alice:s3cret@redis.internal:6380/4"),
              (redis_endpoint{"redis.internal", 6380, "alice", "s3cret", 4, false}));
}

TEST(RedisUrl, PasswordWithoutUser) {
    EXPECT_EQ(parse_ok("redis://:pw@10.0.0.1:7000"),
              (redis_endpoint{"10.0.0.1", 7000, "", "pw", 0, false}));
}

TEST(RedisUrl, UserWithEmptyPassword) {
    EXPECT_EQ(parse_ok("redis://bob:@h"), (redis_endpoint{"h", 6379, "bob", "", 0, false}));
}

TEST(RedisUrl, RedissMeansTls) {
    EXPECT_EQ(parse_ok("rediss://h:6390"), (redis_endpoint{"h", 6390, "", "", 0, true}));
}

TEST(RedisUrl, SchemeIsCaseInsensitive) {
    EXPECT_FALSE(parse_ok("REDIS://h").tls);
    EXPECT_TRUE(parse_ok("Rediss://h").tls);
}

TEST(RedisUrl, Ipv6HostLosesItsBrackets) {
    EXPECT_EQ(parse_ok("redis://[::1]:6380/2"), (redis_endpoint{"::1", 6380, "", "", 2, false}));
    EXPECT_EQ(parse_ok("redis://[2001:db8::7]").host, "2001:db8::7");
}

TEST(RedisUrl, CredentialsArePercentDecoded) {
    // ':' '@' '/' '%' and a space in a password must be encoded in the URL.
    const auto e = parse_ok("redis://us%65r:p%3Aw%40d%2F%25%20x@h");
    EXPECT_EQ(e.username, "user");
    EXPECT_EQ(e.password, "p:w@d/% x");
}

TEST(RedisUrl, PasswordMayContainRawColon) {
    EXPECT_EQ(parse_ok("redis://u:a:b@h").password, "a:b");
}

TEST(RedisUrl, EmptyPortAndTrailingSlashMeanDefaults) {
    EXPECT_EQ(parse_ok("redis://h:/"), (redis_endpoint{"h", 6379, "", "", 0, false}));
}

TEST(RedisUrl, PortBounds) {
    EXPECT_EQ(parse_ok("redis://h:1").port, 1);
    EXPECT_EQ(parse_ok("redis://h:65535").port, 65535);
    EXPECT_EQ(parse_redis_url("redis://h:0").error(), errc::invalid_url);
    EXPECT_EQ(parse_redis_url("redis://h:65536").error(), errc::invalid_url);
    EXPECT_EQ(parse_redis_url("redis://h:99999999999999999999").error(), errc::invalid_url);
    EXPECT_EQ(parse_redis_url("redis://h:-1").error(), errc::invalid_url);
    EXPECT_EQ(parse_redis_url("redis://h:6379x").error(), errc::invalid_url);
}

TEST(RedisUrl, DbMustBeANonNegativeInt) {
    EXPECT_EQ(parse_ok("redis://h/0").db, 0);
    EXPECT_EQ(parse_ok("redis://h/15").db, 15);
    EXPECT_EQ(parse_ok("redis://h/2147483647").db, 2147483647);
    for (const char* bad : {"redis://h/2147483648", "redis://h/-1", "redis://h/+1", "redis://h/x",
                            "redis://h/1/2", "redis://h/1.0", "redis://h/%31", "redis://h//1"}) {
        EXPECT_EQ(parse_redis_url(bad).error(), errc::invalid_url) << bad;
    }
}

TEST(RedisUrl, RejectsOtherSchemes) {
    for (const char* bad :
         {"http://h", "unix:///tmp/redis.sock", "redis+sentinel://h", "tcp://h:6379"}) {
        EXPECT_EQ(parse_redis_url(bad).error(), errc::invalid_url) << bad;
    }
}

TEST(RedisUrl, RejectsMissingOrEmptyHost) {
    for (const char* bad :
         {"redis://", "redis://:6379", "redis://:pw@", "redis://u:p@:1/0", "redis:h", "redis:/h",
          "redis:", "", "localhost:6379", "redis://h%00x", "redis://a%20b"}) {
        EXPECT_EQ(parse_redis_url(bad).error(), errc::invalid_url) << bad;
    }
}

TEST(RedisUrl, RejectsQueryAndFragment) {
    for (const char* bad :
         {"redis://h?db=1", "redis://h/1?timeout=5", "redis://h#x", "redis://h/?"}) {
        EXPECT_EQ(parse_redis_url(bad).error(), errc::invalid_url) << bad;
    }
}

TEST(RedisUrl, RejectsUserinfoWithoutColon) {
    // redis-py reads "redis://x@h" as a user, other clients as a password; we refuse.
    EXPECT_EQ(parse_redis_url("redis://secret@h").error(), errc::invalid_url);
}

TEST(RedisUrl, RejectsMalformedSyntax) {
    for (const char* bad : {"redis://h h", "redis://[::1", "redis://[v1.x]", "redis://h:12:34",
                            " redis://h", "redis://h\n"}) {
        EXPECT_EQ(parse_redis_url(bad).error(), errc::invalid_url) << bad;
    }
}

TEST(RedisUrl, RejectsABadByteRightAfterTheScheme) {
    // Found by fuzz_redis_url: Boost.URL 1.81 asserts on these in a debug build of the
    // library (it counts a segment in the empty path); the release library fails the parse.
    for (const char* bad : {"redis:\xba", "rediss:\x01", "t:\xba"}) {
        EXPECT_EQ(parse_redis_url(bad).error(), errc::invalid_url) << bad;
    }
}

TEST(RedisUrl, RedactedUrlDropsCredentials) {
    const auto e = parse_ok("redis://alice:topsecret@cache:6380/3");
    const std::string text = redacted_url(e);
    EXPECT_EQ(text, "redis://cache:6380/3");
    EXPECT_EQ(text.find("topsecret"), std::string::npos);
    EXPECT_EQ(text.find("alice"), std::string::npos);
}

TEST(RedisUrl, RedactedUrlKeepsSchemeAndBracketsIpv6) {
    EXPECT_EQ(redacted_url(parse_ok("rediss://:pw@[::1]")), "rediss://[::1]:6379/0");
}

TEST(RedisUrl, RedactedUrlParsesBackToTheSameServer) {
    auto e = parse_ok("redis://u:p@[fe80::1]:7000/9");
    auto back = parse_ok(redacted_url(e));
    e.username.clear();
    e.password.clear();
    EXPECT_EQ(back, e);
}

}  // namespace

namespace {

using wsgate::redis::parse_redis_url_list;

TEST(RedisUrlList, OneOrManySeeds) {
    auto one = parse_redis_url_list("redis://h1:7000");
    ASSERT_TRUE(one);
    ASSERT_EQ(one->size(), 1u);
    EXPECT_EQ(one->front(), (redis_endpoint{"h1", 7000, "", "", 0, false}));

    auto many = parse_redis_url_list("redis://h1:7000,redis://h2:7001,redis://[::1]:7002");
    ASSERT_TRUE(many);
    ASSERT_EQ(many->size(), 3u);
    EXPECT_EQ((*many)[1], (redis_endpoint{"h2", 7001, "", "", 0, false}));
    EXPECT_EQ((*many)[2].host, "::1");
}

TEST(RedisUrlList, CredentialsApplyToEverySeed) {
    auto l = parse_redis_url_list("rediss://u:p@h1:7000,rediss://h2:7001");
    ASSERT_TRUE(l);
    EXPECT_EQ((*l)[1], (redis_endpoint{"h2", 7001, "u", "p", 0, true}));
}

TEST(RedisUrlList, Rejections) {
    for (std::string_view bad : {
             "",
             "redis://h1:7000,",                         // empty entry
             ",redis://h1:7000",                         //
             "redis://h1:7000,rediss://h2:7001",         // mixed scheme
             "redis://u:p@h1:7000,redis://u:q@h2:7001",  // two passwords
             "redis://h1:7000/1,redis://h2:7001/2",      // two dbs
             "redis://h1:7000 redis://h2:7001",          // not comma-separated
             "redis://h1:7000,http://h2:7001",           // bad entry
         }) {
        auto r = parse_redis_url_list(bad);
        EXPECT_FALSE(r) << bad;
        if (!r) {
            EXPECT_EQ(r.error(), make_error_code(errc::invalid_url)) << bad;
        }
    }
}

}  // namespace
