// Admission limits and the token lifecycle, end to end against the real binary: each limit
// holds, the excess gets the documented answer, the gateway stays up and clients already
// connected keep receiving.
#include <gtest/gtest.h>

#include <boost/json/object.hpp>
#include <string>
#include <vector>

#include "gateway_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using namespace wsgate::test;

class Limits : public gateway_fixture {
protected:
    /// Publishes to `user` and expects every client in `clients` to receive it.
    void expect_delivery(const std::string& user, const std::vector<ws_client*>& clients,
                         const std::string& payload) {
        publish(user, payload);
        for (auto* c : clients) {
            auto got = c->read_text(5s);
            ASSERT_TRUE(got) << "an admitted client stopped receiving";
            EXPECT_EQ(*got, payload);
        }
    }

    double rejected(const std::string& reason) {
        return metric("wsgate_http_rejected_total{reason=\"" + reason + "\"}");
    }
    double closes(const std::string& cause) {
        return metric("wsgate_closes_total{cause=\"" + cause + "\"}");
    }
};

// --- --max-connections --------------------------------------------------------------------

class MaxConnections : public Limits {
    flag_list gateway_flags() const override { return {{"--max-connections", "3"}}; }
};

TEST_F(MaxConnections, UpgradeOverTheLimitGets503AndHeldOnesKeepReceiving) {
    auto a = connect_user("alice");
    auto b = connect_user("bob");
    auto c = connect_user("carol");
    ASSERT_TRUE(a && b && c);

    ws_client extra;
    const auto ec = extra.connect(port(), target_for("dave"));
    EXPECT_TRUE(ec) << "a fourth connection was upgraded";
    EXPECT_EQ(extra.http_status(), 503);
    EXPECT_EQ(numsub("dave"), 0) << "a refused upgrade must not subscribe";

    // The refusal is cheap and says when to come back.
    raw_connection raw;
    ASSERT_TRUE(raw.connect(port())) << raw.error();
    ASSERT_TRUE(raw.send(upgrade_request(port(), target_for("dave"))));
    const auto answer = raw.read_until("\r\n\r\n", 5s);
    EXPECT_NE(answer.find("HTTP/1.1 503 "), std::string::npos) << answer;
    EXPECT_NE(answer.find("Retry-After: 1"), std::string::npos) << answer;
    EXPECT_TRUE(raw.wait_closed(5s));
    EXPECT_EQ(rejected("over_capacity"), 2);

    expect_delivery("alice", {a.get()}, "still-here");
    expect_delivery("carol", {c.get()}, "still-here-too");

    // A place freed is a place taken.
    b->close();
    ASSERT_TRUE(wait_metric("wsgate_connections", 2, 5s));
    auto d = connect_user("dave");
    ASSERT_TRUE(d);
    expect_delivery("dave", {d.get()}, "welcome");
    EXPECT_EQ(readyz(), 200);
}

TEST_F(MaxConnections, FailedAuthReleasesItsPlace) {
    // Rejected tokens complete the upgrade and close with 1008; they must not leak places.
    for (int i = 0; i < 10; ++i) {
        ws_client bad;
        ASSERT_FALSE(bad.connect(port(), target_for("mallory", "not-a-token")));
        EXPECT_EQ(bad.read_until_close(5s).code, 1008);
    }
    ASSERT_TRUE(wait_until([&] { return metric("wsgate_connections") == 0; }, 5s, 20ms));
    std::vector<std::unique_ptr<ws_client>> held;
    for (const char* u : {"u1", "u2", "u3"}) {
        held.push_back(connect_user(u));
        ASSERT_TRUE(held.back());
    }
}

// --- --max-connections-per-user -----------------------------------------------------------

class PerUser : public Limits {
    flag_list gateway_flags() const override { return {{"--max-connections-per-user", "2"}}; }
};

TEST_F(PerUser, ThirdConnectionOfAUserIsClosedWith4029) {
    auto a1 = connect_user("alice");
    auto a2 = connect_user("alice");
    ASSERT_TRUE(a1 && a2);

    ws_client a3;
    ASSERT_FALSE(a3.connect(port(), target_for("alice")));
    const auto end = a3.read_until_close(5s);
    ASSERT_TRUE(end.got_close_frame) << end;
    EXPECT_EQ(end.code, 4029) << end;
    EXPECT_EQ(end.reason, "too many connections for this user");
    EXPECT_EQ(a3.discarded(), 0u);

    // Other users are not affected; alice's two keep receiving.
    auto b1 = connect_user("bob");
    auto b2 = connect_user("bob");
    ASSERT_TRUE(b1 && b2);
    expect_delivery("alice", {a1.get(), a2.get()}, "for-alice");
    expect_delivery("bob", {b1.get(), b2.get()}, "for-bob");
    EXPECT_EQ(closes("user_limit"), 1);

    // The limit counts the user's live connections, across the gateway's shards.
    a1->close();
    ASSERT_TRUE(wait_metric("wsgate_connections", 3, 5s));
    auto a4 = connect_user("alice");
    ASSERT_TRUE(a4);
    expect_delivery("alice", {a2.get(), a4.get()}, "again");
}

// --- --max-handshakes and --handshake-timeout ----------------------------------------------

class Handshakes : public Limits {
    flag_list gateway_flags() const override {
        return {{"--max-handshakes", "3"}, {"--handshake-timeout", "2s"}};
    }
};

TEST_F(Handshakes, SilentSocketsCannotCrowdOutTheGateway) {
    auto alice = connect_user("alice");
    ASSERT_TRUE(alice);

    // A slowloris: sockets that send half a request and stop.
    std::vector<std::unique_ptr<raw_connection>> slow;
    for (int i = 0; i < 3; ++i) {
        slow.push_back(std::make_unique<raw_connection>());
        ASSERT_TRUE(slow.back()->connect(port())) << slow.back()->error();
        ASSERT_TRUE(slow.back()->send("GET /ws/v1/status/x HTTP/1.1\r\nHost: a\r\n"));
    }
    // Give the gateway time to accept them all before the next one arrives.
    std::this_thread::sleep_for(200ms);

    // Over the cap: closed at once, without an answer and without using a place.
    raw_connection over;
    ASSERT_TRUE(over.connect(port())) << over.error();
    EXPECT_TRUE(over.wait_closed(2s)) << "a socket over --max-handshakes was kept";
    EXPECT_EQ(over.received(), "");

    // The connected client is not a handshake any more and keeps receiving.
    expect_delivery("alice", {alice.get()}, "unaffected");

    // The handshake deadline frees the places; the gateway answers again.
    for (auto& s : slow)
        EXPECT_TRUE(s->wait_closed(5s)) << "slowloris socket outlived the deadline";
    auto bob = connect_user("bob");
    ASSERT_TRUE(bob);
    expect_delivery("bob", {bob.get()}, "after");
    EXPECT_GE(rejected("handshake_limit"), 1);
    EXPECT_GE(rejected("timeout"), 3);
}

// --- --max-handshakes-per-address and --header-timeout -------------------------------------

class HandshakesPerAddress : public Limits {
    // --max-handshakes-per-address auto: an eighth of 40, at least 8.
    flag_list gateway_flags() const override { return {{"--max-handshakes", "40"}}; }
};

TEST_F(HandshakesPerAddress, OneAddressHoldingHalfSentRequestsLocksNobodyOut) {
    // One address opens more half-sent requests than there are handshake places. It used
    // to take them all, and every other client was closed unanswered until the deadline.
    const char* flood = "127.0.0.50";
    constexpr int sockets = 60, per_address = 8;
    std::vector<std::unique_ptr<raw_connection>> slow;
    for (int i = 0; i < sockets; ++i) {
        slow.push_back(std::make_unique<raw_connection>());
        ASSERT_TRUE(slow.back()->connect(port(), flood)) << slow.back()->error();
        ASSERT_TRUE(slow.back()->send("GET /ws/v1/status/x HTTP/1.1\r\nHost: a\r\n"));
    }
    // Every socket accepted: eight hold places, the rest were refused without one.
    EXPECT_TRUE(wait_metric("wsgate_http_rejected_total{reason=\"address_handshake_limit\"}",
                            sockets - per_address, 5s));

    // Clients from other addresses still get in while those are held.
    raw_connection bob;
    ASSERT_TRUE(bob.connect(port(), "127.0.0.51")) << bob.error();
    ASSERT_TRUE(bob.send(upgrade_request(port(), target_for("bob"))));
    EXPECT_NE(bob.read_until("\r\n\r\n", 5s).find(" 101 "), std::string::npos) << bob.received();
    auto alice = connect_user("alice");  // from 127.0.0.1
    ASSERT_TRUE(alice);
    expect_delivery("alice", {alice.get()}, "not-locked-out");

    // The address over its share is told so, and the refusal is counted.
    raw_connection more;
    ASSERT_TRUE(more.connect(port(), flood)) << more.error();
    ASSERT_TRUE(more.send(upgrade_request(port(), target_for("mallory"))));
    const auto answer = more.read_until("\r\n\r\n", 5s);
    EXPECT_NE(answer.find("HTTP/1.1 429 "), std::string::npos) << answer;
    EXPECT_NE(answer.find("Retry-After: 1"), std::string::npos) << answer;
    EXPECT_TRUE(more.wait_closed(5s));
    EXPECT_EQ(rejected("address_handshake_limit"), sockets - per_address + 1);
    EXPECT_EQ(rejected("handshake_limit"), 0);
    EXPECT_EQ(numsub("mallory"), 0);
}

class HeaderDeadline : public Limits {};  // defaults: --header-timeout 5s, --handshake-timeout 10s

TEST_F(HeaderDeadline, HalfSentRequestsAreClosedAtTheHeaderDeadline) {
    // The request line and headers come in one segment right after the connect; a socket
    // still without them after --header-timeout is a slowloris, closed long before the
    // 10 s --handshake-timeout that used to bound it.
    const auto sent = std::chrono::steady_clock::now();
    std::vector<std::unique_ptr<raw_connection>> slow;
    for (int i = 0; i < 4; ++i) {
        slow.push_back(std::make_unique<raw_connection>());
        ASSERT_TRUE(slow.back()->connect(port(), "127.0.0.52")) << slow.back()->error();
        ASSERT_TRUE(slow.back()->send(i % 2 ? "GET /ws/v1/status/x HTTP/1.1\r\nHost: a\r\n" : "G"));
    }
    for (auto& s : slow) {
        EXPECT_TRUE(s->wait_closed(8s) && std::chrono::steady_clock::now() - sent < 8s)
            << "a half-sent request outlived the header deadline";
        EXPECT_EQ(s->received(), "") << "closed without an answer";
    }
    EXPECT_EQ(rejected("timeout"), 4);
}

// --- --ip-connect-rate ---------------------------------------------------------------------

class AddressRate : public Limits {
    flag_list gateway_flags() const override {
        return {{"--ip-connect-rate", "1"}, {"--ip-connect-burst", "3"}};
    }
};

TEST_F(AddressRate, AnAddressOverItsRateGets429AndOthersAreUnaffected) {
    // 127.0.0.1 is the fixture's own address (it polled /readyz); the flood comes from
    // 127.0.0.23.
    const char* flood = "127.0.0.23";
    const std::string request = upgrade_request(port(), target_for("alice"));
    std::vector<std::unique_ptr<raw_connection>> admitted;
    for (int i = 0; i < 3; ++i) {
        admitted.push_back(std::make_unique<raw_connection>());
        auto& c = *admitted.back();
        ASSERT_TRUE(c.connect(port(), flood)) << c.error();
        ASSERT_TRUE(c.send(request));
        EXPECT_NE(c.read_until("\r\n\r\n", 5s).find(" 101 "), std::string::npos) << c.received();
    }
    raw_connection refused;
    ASSERT_TRUE(refused.connect(port(), flood)) << refused.error();
    ASSERT_TRUE(refused.send(request));
    const auto answer = refused.read_until("\n\n", 5s);
    EXPECT_NE(answer.find("HTTP/1.1 429 "), std::string::npos) << answer;
    EXPECT_NE(answer.find("Retry-After: 1"), std::string::npos) << answer;
    EXPECT_TRUE(refused.wait_closed(5s));

    // Another address connects freely; the admitted sockets keep receiving. (Not from
    // 127.0.0.1: the fixture's /readyz polls may have used that address's burst.)
    raw_connection bob;
    ASSERT_TRUE(bob.connect(port(), "127.0.0.24")) << bob.error();
    ASSERT_TRUE(bob.send(upgrade_request(port(), target_for("bob"))));
    EXPECT_NE(bob.read_until("\r\n\r\n", 5s).find(" 101 "), std::string::npos) << bob.received();
    publish("bob", "from-elsewhere");
    EXPECT_NE(bob.read_until("from-elsewhere", 5s).find("from-elsewhere"), std::string::npos);
    publish("alice", "to-the-flooder");
    for (auto& c : admitted)
        EXPECT_NE(c->read_until("to-the-flooder", 5s).find("to-the-flooder"), std::string::npos);

    // The bucket refills at the configured rate.
    std::this_thread::sleep_for(1100ms);
    raw_connection later;
    ASSERT_TRUE(later.connect(port(), flood)) << later.error();
    ASSERT_TRUE(later.send(request));
    EXPECT_NE(later.read_until("\r\n\r\n", 5s).find(" 101 "), std::string::npos)
        << later.received();
    EXPECT_EQ(rejected("rate_limited"), 1);
}

// --- --client-budget-* ---------------------------------------------------------------------

/// A masked client text frame (mask key 0: the payload goes out as is).
std::string client_text_frame(std::size_t size) {
    std::string f;
    f += '\x81';
    if (size < 126) {
        f += static_cast<char>(0x80 | size);
    } else {
        f += static_cast<char>(0x80 | 126);
        f += static_cast<char>(size >> 8);
        f += static_cast<char>(size & 0xff);
    }
    f.append(4, '\0');
    f.append(size, 'x');
    return f;
}

/// Sends `frame` until the gateway cuts the socket (a send fails: the gateway closed it
/// with data unread, so the kernel answers with a reset), for at most 3 s and 8 MB; returns
/// whether it was cut. An end of stream alone is not a cut: a gateway that finished its
/// close handshake shuts down its side and may still read.
bool flood_until_cut(raw_connection& c, const std::string& frame) {
    const auto until = std::chrono::steady_clock::now() + 3s;
    for (std::size_t sent = 0; sent < (8u << 20) && std::chrono::steady_clock::now() < until;
         sent += frame.size())
        if (!c.send(frame, 500ms) && c.error() != "send timed out") return true;
    return false;
}

// --- closing with unread client data --------------------------------------------------------

// A client that keeps sending after a frame over --max-message-bytes: frames of mixed sizes
// back to back, one of 4,200 bytes (over the 4 KiB default), then more. The close frame
// (1009) must reach it: closing the socket with the client's later frames unread makes the
// kernel send a reset, which can overtake the close frame (the client then sees 1006).
TEST_F(Limits, AnOversizedFrameAmongOthersIsClosedWith1009NotAReset) {
    for (int round = 0; round < 5; ++round) {
        auto c = connect_user("mixed-" + std::to_string(round));
        ASSERT_TRUE(c);
        for (int i = 0; i < 30; ++i) ASSERT_FALSE(c->send_text(std::string(i * 3 % 101, 'a')));
        ASSERT_FALSE(c->send_text(std::string(4200, 'b')));
        for (int i = 0; i < 30 && !c->ended(); ++i)
            if (c->send_text(std::string(i * 7 % 101, 'c'))) break;
        const auto end = c->read_until_close(5s);
        ASSERT_TRUE(end.got_close_frame) << "round " << round << ": " << end;
        EXPECT_EQ(end.code, 1009) << end;
    }
}

class ClientBudget : public Limits {};  // defaults: 64 KiB and 100 frames per 10 s

TEST_F(ClientBudget, AClientSendingTooMuchIsClosedWith1008AndCounted) {
    auto flooder = connect_user("mallory");
    auto alice = connect_user("alice");
    ASSERT_TRUE(flooder && alice);
    // Frames the gateway ignores, at most 4 MB of them: it used to read every byte, 32 at
    // a time, and never object. Paced so that the client reads the gateway's close frame
    // before it has sent another budget's worth (see the next test for a full-speed flood).
    const std::string frame(4000, 'x');
    for (int i = 0; i < 1000 && !flooder->ended(); ++i) {
        if (flooder->send_text(frame, 2s)) break;
        pump(2ms);
    }
    const auto end = flooder->read_until_close(5s);
    ASSERT_TRUE(end.got_close_frame) << end;
    EXPECT_EQ(end.code, 1008) << end;
    EXPECT_EQ(end.reason, "client sent too much data");
    EXPECT_EQ(closes("client_bytes"), 1);
    EXPECT_EQ(closes("client_bytes_cut"), 0) << "it stopped once told";
    EXPECT_EQ(numsub("alice"), 1);
    expect_delivery("alice", {alice.get()}, "unaffected");
}

TEST_F(ClientBudget, AFullSpeedFloodIsClosedThenCut) {
    // Faster than the gateway reads: by the time its close frame is out, the kernel holds
    // more than another budget's worth, so the socket is cut.
    raw_connection c;
    ASSERT_TRUE(c.connect(port(), "127.0.0.55")) << c.error();
    ASSERT_TRUE(c.send(upgrade_request(port(), target_for("mallory"))));
    ASSERT_NE(c.read_until("\r\n\r\n", 5s).find(" 101 "), std::string::npos) << c.received();
    EXPECT_TRUE(flood_until_cut(c, client_text_frame(4000)))
        << "still reading a flood past twice the byte budget";
    c.wait_closed(1s);
    EXPECT_NE(c.received().find("client sent too much data"), std::string::npos)
        << "no close frame before the cut";
    EXPECT_EQ(closes("client_bytes"), 1);
    EXPECT_TRUE(wait_metric("wsgate_closes_total{cause=\"client_bytes_cut\"}", 1, 5s));
}

TEST_F(ClientBudget, TooManyFramesAreClosedWith1008AndCounted) {
    auto chatty = connect_user("mallory");
    ASSERT_TRUE(chatty);
    // Control frames count too: 50 pings, then small messages up to the 100-frame budget.
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(chatty->ping(5s)) << "ping " << i;
    for (int i = 0; i < 200 && !chatty->ended(); ++i)
        if (chatty->send_text("hello", 2s)) break;
    const auto end = chatty->read_until_close(5s);
    ASSERT_TRUE(end.got_close_frame) << end;
    EXPECT_EQ(end.code, 1008) << end;
    EXPECT_EQ(end.reason, "client sent too many frames");
    EXPECT_EQ(closes("client_frames"), 1);
    EXPECT_EQ(closes("client_bytes"), 0);
}

TEST_F(ClientBudget, AClientWithinItsBudgetIsNotClosed) {
    auto polite = connect_user("alice");
    ASSERT_TRUE(polite);
    for (int i = 0; i < 40; ++i) {
        ASSERT_FALSE(polite->send_text(R"({"type":"heartbeat"})", 2s));
        ASSERT_TRUE(polite->ping(5s));
    }
    ASSERT_FALSE(polite->send_text(std::string(4096, 'a'), 2s)) << "one largest message";
    expect_delivery("alice", {polite.get()}, "still-open");
    EXPECT_EQ(closes("client_frames") + closes("client_bytes"), 0);
}

class ClientBudgetSlowClose : public Limits {
protected:
    // Long close deadlines, so that only the byte budget can end a flood in time.
    flag_list gateway_flags() const override {
        return {{"--handshake-timeout", "30s"}, {"--shutdown-timeout", "60s"}};
    }

    /// Upgrades `c` from `source` with a bad token and reads the gateway's 1008.
    void connect_rejected(raw_connection& c, const char* source) {
        ASSERT_TRUE(c.connect(port(), source)) << c.error();
        ASSERT_TRUE(c.send(upgrade_request(port(), target_for("mallory", "not-a-token"))));
        ASSERT_NE(c.read_until("invalid token", 5s).find("invalid token"), std::string::npos)
            << c.received();
    }
};

TEST_F(ClientBudgetSlowClose, AFailedAuthClientFloodingTheCloseHandshakeIsCut) {
    // The upgrade completes and the gateway closes with 1008 at once; this client never
    // answers and floods instead. Beast reads and discards frames until the close deadline
    // (30 s here), which used to cost a core for all of it.
    raw_connection c;
    ASSERT_NO_FATAL_FAILURE(connect_rejected(c, "127.0.0.53"));
    EXPECT_TRUE(flood_until_cut(c, client_text_frame(4000)))
        << "still reading a flood after its close frame";
    EXPECT_TRUE(wait_metric("wsgate_closes_total{cause=\"client_bytes_cut\"}", 1, 5s));
    EXPECT_EQ(metric("wsgate_auth_failures_total{reason=\"malformed\"}"), 1);
}

TEST_F(ClientBudgetSlowClose, AClientFloodingAfterTheCloseHandshakeIsCut) {
    // This one answers the close frame, then floods: the gateway drains the socket until
    // EOF before closing it (so that its close frame is not lost to a reset), and those
    // bytes are metered too. (Beast 1.81's own asynchronous drain stops after its first
    // read, as it tests a byte count it never sets; one that reads until EOF must not read
    // a flood for ever.)
    raw_connection c;
    ASSERT_NO_FATAL_FAILURE(connect_rejected(c, "127.0.0.54"));
    const std::string close_frame("\x88\x82\0\0\0\0\x03\xe8", 8);  // 1000, masked
    ASSERT_TRUE(c.send(close_frame));
    EXPECT_TRUE(flood_until_cut(c, std::string(64 * 1024, 'z')))
        << "still draining a flood after the close handshake";
    EXPECT_TRUE(wait_metric("wsgate_closes_total{cause=\"client_bytes_cut\"}", 1, 5s));
}

// --- --allowed-origins ---------------------------------------------------------------------

class Origins : public Limits {
    flag_list gateway_flags() const override {
        return {{"--allowed-origins", "https://app.example.com,https://*.example.org"}};
    }
};

TEST_F(Origins, OtherOriginsAreRefusedWith403AndCounted) {
    ws_client evil;
    EXPECT_TRUE(evil.connect(port(), target_for("alice"), {{"Origin", "https://evil.example"}}));
    EXPECT_EQ(evil.http_status(), 403);
    ws_client lookalike;
    EXPECT_TRUE(lookalike.connect(port(), target_for("alice"),
                                  {{"Origin", "https://app.example.com.evil.example"}}));
    EXPECT_EQ(lookalike.http_status(), 403);
    EXPECT_EQ(numsub("alice"), 0);

    ws_client exact, sub, native;
    ASSERT_FALSE(
        exact.connect(port(), target_for("alice"), {{"Origin", "https://app.example.com"}}));
    ASSERT_FALSE(sub.connect(port(), target_for("alice"), {{"Origin", "https://eu.example.org"}}));
    // Non-browser clients send no Origin and are not at risk of cross-site use.
    ASSERT_FALSE(native.connect(port(), target_for("alice")));
    expect_delivery("alice", {&exact, &sub, &native}, "same-origin");
    EXPECT_EQ(rejected("origin"), 2);
}

// --- token expiry ----------------------------------------------------------------------------

class TokenExpiry : public Limits {
    flag_list gateway_flags() const override { return {{"--jwt-leeway", "1s"}}; }
};

TEST_F(TokenExpiry, ConnectionIsClosedWith1008AtExpPlusLeeway) {
    const auto exp = unix_now() + 2;
    ws_client shortlived;
    ASSERT_FALSE(shortlived.connect(
        port(), target_for("alice", token_with({{"sub", "alice"}, {"exp", exp}}))));
    auto longlived = connect_user("alice");
    ASSERT_TRUE(longlived);
    expect_delivery("alice", {&shortlived, longlived.get()}, "before-expiry");

    const auto end = shortlived.read_until_close(8s);
    const auto closed_at = unix_now();
    ASSERT_TRUE(end.got_close_frame) << end;
    EXPECT_EQ(end.code, 1008) << end;
    EXPECT_EQ(end.reason, "token expired");
    // Not before exp + leeway (whole seconds on both sides), and not much after.
    EXPECT_GE(closed_at, exp + 1);
    EXPECT_LE(closed_at, exp + 3);
    EXPECT_EQ(closes("token_expired"), 1);

    // The other connection of the same user is untouched.
    expect_delivery("alice", {longlived.get()}, "after-expiry");
}

class TokenExpiryOff : public Limits {
    flag_list gateway_flags() const override {
        return {{"--jwt-leeway", "0s"}, {"--close-on-token-expiry", "false"}};
    }
};

TEST_F(TokenExpiryOff, ConnectionOutlivesItsTokenWhenDisabled) {
    const auto exp = unix_now() + 1;
    ws_client c;
    ASSERT_FALSE(
        c.connect(port(), target_for("alice", token_with({{"sub", "alice"}, {"exp", exp}}))));
    pump(2500ms);
    ASSERT_FALSE(c.ended()) << c.end_state();
    expect_delivery("alice", {&c}, "still-open");
}

}  // namespace
