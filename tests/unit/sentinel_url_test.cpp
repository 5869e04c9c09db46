// Unit tests for the Sentinel URL form (parse_sentinel_url, redacted_url) and the
// +switch-master payload parser: accepted forms, rejections, no credentials in logs.
#include <gtest/gtest.h>

#include "config/config.hpp"
#include "redis/redis_url.hpp"
#include "redis/sentinel_query.hpp"

namespace {

using wsgate::redis::is_sentinel_url;
using wsgate::redis::master_address;
using wsgate::redis::parse_sentinel_url;
using wsgate::redis::parse_switch_master;
using wsgate::redis::redacted_url;

TEST(SentinelUrl, SentinelsNameAndDefaults) {
    auto r = parse_sentinel_url("redis+sentinel://s1:26380,s2,[::1]:26381/mymaster");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->sentinels.size(), 3u);
    EXPECT_EQ(r->sentinels[0].host, "s1");
    EXPECT_EQ(r->sentinels[0].port, 26380);
    EXPECT_EQ(r->sentinels[1].host, "s2");
    EXPECT_EQ(r->sentinels[1].port, 26379);  // Sentinel's default port, not Redis's
    EXPECT_EQ(r->sentinels[2].host, "::1");
    EXPECT_EQ(r->sentinels[2].port, 26381);
    EXPECT_EQ(r->master_name, "mymaster");
    EXPECT_EQ(r->master.db, 0);
    EXPECT_TRUE(r->master.password.empty());
    EXPECT_TRUE(r->sentinels[0].password.empty());
}

TEST(SentinelUrl, CredentialsAndDbAreTheMasters) {
    auto r = parse_sentinel_url("REDIS+SENTINEL://alice:p%40ss@127.0.0.1:5000/m-1.x/3");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->master.username, "alice");
    EXPECT_EQ(r->master.password, "p@ss");
    EXPECT_EQ(r->master.db, 3);
    EXPECT_EQ(r->master_name, "m-1.x");
    ASSERT_EQ(r->sentinels.size(), 1u);
    EXPECT_TRUE(r->sentinels[0].password.empty());  // sentinels are asked without AUTH
    EXPECT_EQ(redacted_url(*r), "redis+sentinel://127.0.0.1:5000/m-1.x/3");
}

TEST(SentinelUrl, RedactedUrlHasNoCredentials) {
    auto r = parse_sentinel_url("redis+sentinel://:secret@h1:1,[::1]:2/name");
    ASSERT_TRUE(r);
    const auto text = redacted_url(*r);
    EXPECT_EQ(text, "redis+sentinel://h1:1,[::1]:2/name/0");
    EXPECT_EQ(text.find("secret"), std::string::npos);
}

TEST(SentinelUrl, Rejections) {
    for (const char* bad : {
             "redis://h:1/name",                  // not the sentinel scheme
             "rediss+sentinel://h:1/name",        // TLS to sentinels: not supported
             "redis+sentinel://h:1",              // no master name
             "redis+sentinel://h:1/",             // empty master name
             "redis+sentinel:///name",            // no sentinel
             "redis+sentinel://h:1,,h2:2/name",   // empty entry
             "redis+sentinel://h:0/name",         // port 0
             "redis+sentinel://h:70000/name",     // port too large
             "redis+sentinel://h:1/na%20me",      // '%' in the name
             "redis+sentinel://h:1/name?x=1",     // a query
             "redis+sentinel://h:1/name/x",       // db not a number
             "redis+sentinel://h:1/name/-1",      // negative db
             "redis+sentinel://secret@h:1/name",  // userinfo without ':'
         }) {
        EXPECT_FALSE(parse_sentinel_url(bad)) << bad;
    }
    EXPECT_TRUE(is_sentinel_url("Redis+Sentinel://h/n"));
    EXPECT_FALSE(is_sentinel_url("redis://h"));
}

TEST(SwitchMaster, ParsesOurMastersNewAddress) {
    EXPECT_EQ(parse_switch_master("mymaster 127.0.0.1 6379 127.0.0.1 6380", "mymaster"),
              (master_address{"127.0.0.1", 6380}));
    EXPECT_FALSE(parse_switch_master("other 127.0.0.1 6379 127.0.0.1 6380", "mymaster"));
    EXPECT_FALSE(parse_switch_master("mymaster 127.0.0.1 6379 127.0.0.1", "mymaster"));
    EXPECT_FALSE(parse_switch_master("mymaster 127.0.0.1 6379 127.0.0.1 0", "mymaster"));
    EXPECT_FALSE(parse_switch_master("mymaster a 1 b 2 extra", "mymaster"));
    EXPECT_FALSE(parse_switch_master("", "mymaster"));
}

struct parsed {
    wsgate::parse_outcome out;
    std::string err;
};

parsed parse(std::vector<const char*> args) {
    args.insert(args.begin(), {"wsgate", "--jwt-secret", "s"});
    testing::internal::CaptureStderr();
    testing::internal::CaptureStdout();
    parsed p{wsgate::parse_command_line(static_cast<int>(args.size()), args.data()), {}};
    testing::internal::GetCapturedStdout();
    p.err = testing::internal::GetCapturedStderr();
    return p;
}

TEST(SentinelConfig, TheSchemeSelectsSentinelMode) {
    auto p = parse({"--redis-url", "redis+sentinel://:pw@127.0.0.1:26379,127.0.0.1:26380/m/2"});
    ASSERT_EQ(p.out.exit_code, -1) << p.err;
    ASSERT_TRUE(p.out.cfg.redis_sentinel);
    EXPECT_EQ(p.out.cfg.redis_sentinel->sentinels.size(), 2u);
    EXPECT_EQ(p.out.cfg.redis_sentinel->master_name, "m");
    EXPECT_EQ(p.out.cfg.redis.password, "pw");
    EXPECT_EQ(p.out.cfg.redis.db, 2);
    EXPECT_EQ(p.out.cfg.redis_mode, wsgate::redis_mode::single);

    auto plain = parse({"--redis-url", "redis://127.0.0.1:6379"});
    ASSERT_EQ(plain.out.exit_code, -1) << plain.err;
    EXPECT_FALSE(plain.out.cfg.redis_sentinel);
}

TEST(SentinelConfig, BadCombinationsNameTheFlag) {
    auto cluster = parse({"--redis-url", "redis+sentinel://h:1/m", "--redis-mode", "cluster"});
    EXPECT_EQ(cluster.out.exit_code, 2);
    EXPECT_NE(cluster.err.find("--redis-mode"), std::string::npos) << cluster.err;

    auto bad = parse({"--redis-url", "redis+sentinel://h:1"});
    EXPECT_EQ(bad.out.exit_code, 2);
    EXPECT_NE(bad.err.find("--redis-url"), std::string::npos) << bad.err;

    auto tls = parse({"--redis-url", "redis+sentinel://h:1/m", "--redis-tls-ca-file", "/x"});
    EXPECT_EQ(tls.out.exit_code, 2);
    EXPECT_NE(tls.err.find("--redis-tls-ca-file"), std::string::npos) << tls.err;
}

}  // namespace
