// Unit tests for the Origin allow-list: exact origins, subdomain patterns, and the
// look-alike origins a cross-site page could send.
#include "server/origin.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace wsgate {
namespace {

TEST(OriginPolicy, EmptyAllowsEverything) {
    origin_policy p;
    EXPECT_TRUE(p.empty());
    EXPECT_TRUE(p.allows("https://evil.example"));
}

TEST(OriginPolicy, StarAllowsEverythingIncludingNull) {
    origin_policy p({"*"});
    EXPECT_FALSE(p.empty());
    EXPECT_TRUE(p.allows("https://evil.example"));
    EXPECT_TRUE(p.allows("null"));
}

TEST(OriginPolicy, ExactOriginMatchesSchemeHostAndPort) {
    origin_policy p({"https://app.example.com", "http://localhost:3000"});
    EXPECT_TRUE(p.allows("https://app.example.com"));
    EXPECT_TRUE(p.allows("HTTPS://App.Example.COM"));
    EXPECT_TRUE(p.allows("http://localhost:3000"));
    EXPECT_FALSE(p.allows("http://app.example.com"));        // other scheme
    EXPECT_FALSE(p.allows("https://app.example.com:8443"));  // other port
    EXPECT_FALSE(p.allows("http://localhost:3001"));
    EXPECT_FALSE(p.allows("http://localhost"));
    EXPECT_FALSE(p.allows("https://app.example.com.evil.net"));
    EXPECT_FALSE(p.allows("https://xapp.example.com"));
    EXPECT_FALSE(p.allows("null"));
    EXPECT_FALSE(p.allows(""));
}

TEST(OriginPolicy, SubdomainPatternMatchesSubdomainsOnly) {
    origin_policy p({"https://*.example.com"});
    EXPECT_TRUE(p.allows("https://a.example.com"));
    EXPECT_TRUE(p.allows("https://a.b.example.com"));
    EXPECT_FALSE(p.allows("https://example.com"));  // the apex is not a subdomain
    EXPECT_FALSE(p.allows("https://evilexample.com"));
    EXPECT_FALSE(p.allows("https://a.example.com.evil.net"));
    EXPECT_FALSE(p.allows("http://a.example.com"));
    EXPECT_FALSE(p.allows("https://a.example.com:444"));
    EXPECT_FALSE(p.allows("https://evil.net@a.example.com"));
    EXPECT_FALSE(p.allows("https://evil.net:1.example.com"));
    EXPECT_FALSE(p.allows("https://.example.com"));
    EXPECT_FALSE(p.allows("https://a..example.com"));
}

TEST(OriginPolicy, SubdomainPatternWithPort) {
    origin_policy p({"https://*.example.com:8443"});
    EXPECT_TRUE(p.allows("https://a.example.com:8443"));
    EXPECT_FALSE(p.allows("https://a.example.com"));
}

TEST(OriginPolicy, OverlongOriginIsRefused) {
    origin_policy p({"https://*.example.com"});
    std::string host(600, 'a');
    EXPECT_FALSE(p.allows("https://" + host + ".example.com"));
}

TEST(OriginPolicy, BadPatternsNameThemselves) {
    for (const char* bad :
         {"example.com", "https://", "https://app.example.com/", "https://app.example.com/path",
          "https://*", "https://*.", "https://a.*.example.com",
          "https://*.example.com:", "*.example.com", "https://us er.example.com"}) {
        try {
            origin_policy p({bad});
            ADD_FAILURE() << "accepted " << bad;
        } catch (const std::invalid_argument& e) {
            EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
        }
    }
}

}  // namespace
}  // namespace wsgate
