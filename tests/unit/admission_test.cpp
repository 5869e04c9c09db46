// Unit tests for the admission limits: counted places are returned when released, the
// per-user count is shared by every shard's thread, one address cannot take every
// handshake place, the per-address rate refills, and a full address table forgets the
// least recently seen address rather than everyone.
#include "server/admission.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace wsgate {
namespace {

using namespace std::chrono_literals;
namespace ip = boost::asio::ip;

TEST(Admission, ConnectionCapHoldsAndPlacesReturn) {
    admission_limits l;
    l.max_connections = 2;
    admission a(l);
    auto t1 = a.try_connection();
    auto t2 = a.try_connection();
    EXPECT_TRUE(t1);
    EXPECT_TRUE(t2);
    EXPECT_FALSE(a.try_connection());
    EXPECT_EQ(a.connections(), 2);
    t1.release();
    EXPECT_EQ(a.connections(), 1);
    auto t3 = a.try_connection();
    EXPECT_TRUE(t3);
    {
        auto moved = std::move(t3);
        EXPECT_FALSE(t3);  // NOLINT: moved-from is empty by contract
    }
    EXPECT_EQ(a.connections(), 1);
}

TEST(Admission, ZeroMeansUnlimited) {
    admission a(admission_limits{});
    std::vector<handshake_ticket> held;
    const auto peer = ip::make_address("127.0.0.1");
    for (int i = 0; i < 1000; ++i) held.push_back(a.try_handshake(&peer));
    for (auto& t : held) EXPECT_TRUE(t);
    EXPECT_EQ(a.handshakes(), 1000);
    held.clear();
    EXPECT_EQ(a.handshakes(), 0);
    EXPECT_TRUE(a.try_user("alice").admitted());
    EXPECT_TRUE(a.allow_connect(ip::make_address("127.0.0.1"), admission::clock::now()));
}

TEST(Admission, OneAddressCannotTakeEveryHandshakePlace) {
    admission_limits l;
    l.max_handshakes = 5;
    l.max_handshakes_per_address = 2;
    admission a(l);
    const auto flood = ip::make_address("192.0.2.7");
    auto f1 = a.try_handshake(&flood);
    auto f2 = a.try_handshake(&flood);
    ASSERT_TRUE(f1 && f2);
    auto f3 = a.try_handshake(&flood);
    EXPECT_FALSE(f3);
    EXPECT_EQ(f3.refusal(), handshake_refusal::address_limit);
    EXPECT_EQ(a.handshakes(), 2) << "a refused address must not hold a process-wide place";

    // Everyone else still gets in, up to the process-wide cap.
    const auto other = ip::make_address("192.0.2.8");
    const auto v6 = ip::make_address("2001:db8::1");
    auto o1 = a.try_handshake(&other);
    auto o2 = a.try_handshake(&v6);
    auto o3 = a.try_handshake(&other);
    ASSERT_TRUE(o1 && o2 && o3);
    auto full = a.try_handshake(&v6);
    EXPECT_FALSE(full);
    EXPECT_EQ(full.refusal(), handshake_refusal::handshake_limit);

    // A place freed is the address's again; a refusal at the process cap took none of it.
    f1.release();
    auto f4 = a.try_handshake(&flood);
    EXPECT_TRUE(f4);
    o3.release();
    o2.release();
    auto v6b = a.try_handshake(&v6);
    auto v6c = a.try_handshake(&v6);
    EXPECT_TRUE(v6b && v6c) << "the refusal at the cap leaked an address place";
}

TEST(Admission, HandshakesPerAddressUseTheRateLimitersKeys) {
    admission_limits l;
    l.max_handshakes_per_address = 1;
    admission a(l);
    const auto v6 = ip::make_address("2001:db8:1:2::1");
    const auto same64 = ip::make_address("2001:db8:1:2:ffff::9");
    const auto next64 = ip::make_address("2001:db8:1:3::1");
    const auto v4 = ip::make_address("10.0.0.1");
    const auto mapped = ip::make_address("::ffff:10.0.0.1");
    auto h1 = a.try_handshake(&v6);
    auto h2 = a.try_handshake(&v4);
    ASSERT_TRUE(h1 && h2);
    EXPECT_FALSE(a.try_handshake(&same64));
    EXPECT_FALSE(a.try_handshake(&mapped));
    EXPECT_TRUE(a.try_handshake(&next64));
    // An unknown peer (no address) is held to the process-wide cap only.
    EXPECT_TRUE(a.try_handshake(nullptr));
    EXPECT_EQ(a.handshaking_addresses(), 2u);

    // Tickets move, and the table forgets an address once its last handshake ends.
    handshake_ticket moved = std::move(h1);
    EXPECT_FALSE(h1);  // NOLINT: moved-from is empty by contract
    EXPECT_TRUE(moved);
    EXPECT_FALSE(a.try_handshake(&same64));
    moved.release();
    h2.release();
    EXPECT_EQ(a.handshaking_addresses(), 0u);
    EXPECT_EQ(a.handshakes(), 0);
    EXPECT_TRUE(a.try_handshake(&same64));
}

TEST(Admission, PerUserLimitCountsEachUserSeparately) {
    admission_limits l;
    l.max_connections_per_user = 2;
    admission a(l);
    auto a1 = a.try_user("alice");
    auto a2 = a.try_user("alice");
    EXPECT_TRUE(a1.admitted());
    EXPECT_TRUE(a2.admitted());
    EXPECT_FALSE(a.try_user("alice").admitted());
    EXPECT_TRUE(a.try_user("bob").admitted());
    a1.release();
    auto a3 = a.try_user("alice");
    EXPECT_TRUE(a3.admitted());
    user_ticket moved = std::move(a3);
    EXPECT_TRUE(moved.admitted());
    EXPECT_FALSE(a.try_user("alice").admitted());
}

TEST(Admission, PerUserLimitIsExactUnderConcurrency) {
    admission_limits l;
    l.max_connections_per_user = 50;
    admission a(l);
    std::atomic<int> admitted{0};
    std::vector<std::thread> threads;
    std::vector<std::vector<user_ticket>> held(4);
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 100; ++i) {
                auto u = a.try_user("shared");
                if (u.admitted()) {
                    ++admitted;
                    held[t].push_back(std::move(u));
                }
            }
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(admitted.load(), 50);
    held.clear();
    EXPECT_TRUE(a.try_user("shared").admitted());
}

TEST(Admission, AddressRateAllowsBurstThenRefills) {
    admission_limits l;
    l.ip_connect_rate = 10;
    l.ip_connect_burst = 3;
    admission a(l);
    auto t0 = admission::clock::now();
    auto peer = ip::make_address("127.0.0.5");
    EXPECT_TRUE(a.allow_connect(peer, t0));
    EXPECT_TRUE(a.allow_connect(peer, t0));
    EXPECT_TRUE(a.allow_connect(peer, t0));
    EXPECT_FALSE(a.allow_connect(peer, t0));
    // Another address has its own bucket.
    EXPECT_TRUE(a.allow_connect(ip::make_address("127.0.0.6"), t0));
    // 10/s: one token back after 100 ms, not before.
    EXPECT_FALSE(a.allow_connect(peer, t0 + 50ms));
    EXPECT_TRUE(a.allow_connect(peer, t0 + 160ms));
    EXPECT_FALSE(a.allow_connect(peer, t0 + 160ms));
    // The bucket never holds more than the burst.
    auto later = t0 + 1h;
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(a.allow_connect(peer, later));
    EXPECT_FALSE(a.allow_connect(peer, later));
}

TEST(Admission, Ipv6IsLimitedPerSlash64AndMappedV4AsV4) {
    admission_limits l;
    l.ip_connect_rate = 1;
    l.ip_connect_burst = 1;
    admission a(l);
    auto t0 = admission::clock::now();
    EXPECT_TRUE(a.allow_connect(ip::make_address("2001:db8:1:2::1"), t0));
    EXPECT_FALSE(a.allow_connect(ip::make_address("2001:db8:1:2:ffff::9"), t0));  // same /64
    EXPECT_TRUE(a.allow_connect(ip::make_address("2001:db8:1:3::1"), t0));
    EXPECT_TRUE(a.allow_connect(ip::make_address("10.0.0.1"), t0));
    EXPECT_FALSE(a.allow_connect(ip::make_address("::ffff:10.0.0.1"), t0));
}

TEST(Admission, AddressTableStaysBounded) {
    admission_limits l;
    l.ip_connect_rate = 1;
    l.ip_connect_burst = 1;
    l.max_tracked_addresses = 100;
    admission a(l);
    auto t0 = admission::clock::now();
    for (unsigned i = 0; i < 1000; ++i)
        a.allow_connect(ip::address_v4(0x0a000000u + i), t0 + std::chrono::seconds(i / 50));
    EXPECT_LE(a.tracked_addresses(), 100u);
    // A refilled address is forgotten, not refused.
    EXPECT_TRUE(a.allow_connect(ip::address_v4(0x0a000000u), t0 + 1h));
}

// A full table used to be cleared, handing every address a fresh burst: anyone holding
// enough addresses could reset the limiter at will. Now only the least recently seen
// address is forgotten, so one that keeps knocking stays refused.
TEST(Admission, ExhaustedAddressStaysRefusedWhileOthersFillTheTable) {
    admission_limits l;
    l.ip_connect_rate = 1;
    l.ip_connect_burst = 2;
    l.max_tracked_addresses = 64;
    admission a(l);
    const auto t0 = admission::clock::now();  // no time passes: nothing refills
    const auto flood = ip::make_address("192.0.2.1");
    EXPECT_TRUE(a.allow_connect(flood, t0));
    EXPECT_TRUE(a.allow_connect(flood, t0));
    EXPECT_FALSE(a.allow_connect(flood, t0));
    for (unsigned i = 0; i < 10 * 64; ++i) {
        a.allow_connect(ip::address_v4(0xc6120000u + i), t0);  // 198.18.0.0/15
        if (i % 32 == 0) {
            EXPECT_FALSE(a.allow_connect(flood, t0)) << "after " << i << " others";
        }
        EXPECT_LE(a.tracked_addresses(), 64u);
    }
    EXPECT_FALSE(a.allow_connect(flood, t0));
    EXPECT_EQ(a.tracked_addresses(), 64u);
}

TEST(Admission, FullAddressTableForgetsTheLeastRecentlySeen) {
    admission_limits l;
    l.ip_connect_rate = 1;
    l.ip_connect_burst = 1;
    l.max_tracked_addresses = 3;
    admission a(l);
    const auto t0 = admission::clock::now();
    const auto x = ip::make_address("10.0.0.1");
    const auto y = ip::make_address("10.0.0.2");
    const auto z = ip::make_address("10.0.0.3");
    EXPECT_TRUE(a.allow_connect(x, t0));
    EXPECT_TRUE(a.allow_connect(y, t0));
    EXPECT_TRUE(a.allow_connect(z, t0));
    EXPECT_FALSE(a.allow_connect(x, t0));  // x seen again: y is now the oldest
    EXPECT_TRUE(a.allow_connect(ip::make_address("10.0.0.4"), t0));  // forgets y
    EXPECT_EQ(a.tracked_addresses(), 3u);
    EXPECT_FALSE(a.allow_connect(x, t0));
    EXPECT_FALSE(a.allow_connect(z, t0));
    EXPECT_TRUE(a.allow_connect(y, t0)) << "y was the least recently seen and forgotten";
}

}  // namespace
}  // namespace wsgate
