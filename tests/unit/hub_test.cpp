// Hub bookkeeping with fake sessions and a fake subscriber: first/last transitions,
// fan-out, confirmation.
#include "hub/hub.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

struct fake_subscriptions : wsgate::subscriptions {
    std::vector<std::string> log;
    void want(std::string_view u) override { log.push_back("want " + std::string(u)); }
    void drop(std::string_view u) override { log.push_back("drop " + std::string(u)); }
};

struct fake_session : wsgate::session_sink {
    std::vector<std::string> got;
    int confirmations = 0;
    void deliver(const wsgate::message_ptr& m) override { got.push_back(m->payload); }
    void subscribed() override { ++confirmations; }
};

wsgate::message_ptr msg(std::string s) {
    return std::make_shared<const wsgate::message>(wsgate::message{std::move(s), false});
}

}  // namespace

TEST(Hub, FirstJoinWantsAndLastLeaveDrops) {
    fake_subscriptions subs;
    wsgate::hub h(subs);
    fake_session a, b;
    EXPECT_FALSE(h.join("alice", &a));
    EXPECT_FALSE(h.join("alice", &b));  // not confirmed yet
    h.leave("alice", &a);
    EXPECT_EQ(subs.log, (std::vector<std::string>{"want alice"}));
    h.leave("alice", &b);
    EXPECT_EQ(subs.log, (std::vector<std::string>{"want alice", "drop alice"}));
    EXPECT_EQ(h.users(), 0u);
    EXPECT_EQ(h.sessions(), 0u);
}

TEST(Hub, LeaveIsIdempotent) {
    fake_subscriptions subs;
    wsgate::hub h(subs);
    fake_session a;
    h.join("u", &a);
    h.leave("u", &a);
    h.leave("u", &a);
    h.leave("nobody", &a);
    EXPECT_EQ(subs.log.size(), 2u);
}

TEST(Hub, PublishReachesEverySessionOfTheUserOnly) {
    fake_subscriptions subs;
    wsgate::hub h(subs);
    fake_session a1, a2, b;
    h.join("alice", &a1);
    h.join("alice", &a2);
    h.join("bob", &b);
    EXPECT_EQ(h.publish("alice", msg("x")), 2u);
    EXPECT_EQ(h.publish("carol", msg("y")), 0u);
    EXPECT_EQ(a1.got, std::vector<std::string>{"x"});
    EXPECT_EQ(a2.got, std::vector<std::string>{"x"});
    EXPECT_TRUE(b.got.empty());
    EXPECT_EQ(h.session_count("alice"), 2u);
}

TEST(Hub, ConfirmationReachesWaitingSessionsAndLaterJoinsSeeIt) {
    fake_subscriptions subs;
    wsgate::hub h(subs);
    fake_session a, b, c;
    h.join("alice", &a);
    h.join("alice", &b);
    h.on_subscribed("alice");
    EXPECT_EQ(a.confirmations, 1);
    EXPECT_EQ(b.confirmations, 1);
    EXPECT_TRUE(h.join("alice", &c));  // already confirmed: no wait
    EXPECT_EQ(c.confirmations, 0);
}

TEST(Hub, OneChannelDownRequiresConfirmationForItsUserOnly) {
    fake_subscriptions subs;
    wsgate::hub h(subs);
    fake_session a, b, c, d;
    h.join("ws:alice", &a);
    h.join("ws:bob", &b);
    h.on_subscribed("ws:alice");
    h.on_subscribed("ws:bob");
    h.on_unsubscribed("ws:alice");
    h.on_unsubscribed("ws:nobody");  // not here: nothing happens
    EXPECT_FALSE(h.join("ws:alice", &c)) << "alice's channel must be confirmed again";
    EXPECT_TRUE(h.join("ws:bob", &d)) << "bob's subscription was not touched";
    h.on_subscribed("ws:alice");
    EXPECT_EQ(c.confirmations, 1);
}

TEST(Hub, LinkLossRequiresConfirmationAgain) {
    fake_subscriptions subs;
    wsgate::hub h(subs);
    fake_session a, b;
    h.join("alice", &a);
    h.on_subscribed("alice");
    h.on_unsubscribed_all();
    EXPECT_FALSE(h.join("alice", &b));
    h.on_subscribed("alice");
    EXPECT_EQ(b.confirmations, 1);
}

TEST(Hub, RejoinAfterLastLeaveWantsAgain) {
    fake_subscriptions subs;
    wsgate::hub h(subs);
    fake_session a;
    h.join("u", &a);
    h.on_subscribed("u");
    h.leave("u", &a);
    EXPECT_FALSE(h.join("u", &a));  // confirmation was forgotten with the user
    EXPECT_EQ(subs.log, (std::vector<std::string>{"want u", "drop u", "want u"}));
}

TEST(Hub, MessageIsBuiltOnlyWhenTheUserHasSessionsHere) {
    fake_subscriptions subs;
    wsgate::hub h(subs);
    fake_session a;
    int built = 0;
    auto make = [&](std::size_t recipients) {
        ++built;
        EXPECT_EQ(recipients, 1u);
        return msg("m");
    };
    EXPECT_EQ(h.publish("nobody", make), 0u);
    EXPECT_EQ(built, 0);
    h.join("alice", &a);
    EXPECT_EQ(h.publish("alice", make), 1u);
    EXPECT_EQ(built, 1);
    EXPECT_EQ(h.publish("alice", [](std::size_t) { return wsgate::message_ptr{}; }), 0u);
    EXPECT_EQ(a.got, std::vector<std::string>{"m"});
}
