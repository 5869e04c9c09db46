// wsgate::redis::subscriber against a real redis-server, with a recording fake for
// subscriber_events. The io_context runs on the test thread, only inside run_until(), so
// the test can interleave want/drop with the subscriber's turns and every wait has a
// deadline.
#include "redis/subscriber.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gateway_fixture.hpp"
#include "metrics/metrics.hpp"
#include "process.hpp"
#include "redis/redis_url.hpp"
#include "redis_server.hpp"

namespace {

using namespace std::chrono_literals;
using wsgate::shard_metrics;
using wsgate::redis::subscriber;
using wsgate::redis::subscriber_events;
using wsgate::redis::subscriber_options;
using wsgate::test::hard_deadline;
using wsgate::test::redis_server;
using steady = std::chrono::steady_clock;

/// Records every event in order.
class recording_events final : public subscriber_events {
public:
    void on_message(std::string_view channel, std::string_view payload) override {
        messages.emplace_back(channel, payload);
    }
    void on_subscribed(std::string_view channel) override {
        subscribed.emplace_back(channel);
        ++subscribed_count[std::string(channel)];
    }
    void on_link_down() override { ++link_downs; }

    std::vector<std::pair<std::string, std::string>> messages;
    std::vector<std::string> subscribed;
    std::map<std::string, int> subscribed_count;
    int link_downs = 0;
};

class Subscriber : public ::testing::Test {
protected:
    void SetUp() override {
        deadline_ = std::make_unique<hard_deadline>(60s);
        redis_ = std::make_unique<redis_server>();
        make_subscriber();
    }

    void TearDown() override {
        if (sub_) {
            sub_->stop();
            // Let the connect/serve loop observe the stop and finish before destruction.
            ioc_.restart();
            ioc_.run_for(2s);
            EXPECT_TRUE(ioc_.stopped()) << "the subscriber loop did not end after stop()";
        }
        sub_.reset();
        redis_.reset();
        deadline_.reset();
    }

    void make_subscriber() {
        subscriber_options o;
        auto ep = wsgate::redis::parse_redis_url(redis_->url());
        ASSERT_TRUE(ep);
        o.endpoint = *ep;
        o.timeout = 2s;
        o.ping_interval = 1s;
        o.backoff_max = 200ms;
        o.client_name = "wsgate-subscriber-test";
        sub_ = std::make_unique<subscriber>(ioc_.get_executor(), o, events_, metrics_);
    }

    /// Runs the subscriber's io_context until `done()` or the deadline; returns done().
    /// `done` may talk to Redis synchronously (it runs between handlers).
    bool run_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 5s) {
        const auto deadline = steady::now() + timeout;
        while (!done()) {
            if (steady::now() >= deadline) return false;
            ioc_.restart();
            ioc_.run_for(5ms);
        }
        return true;
    }

    /// Processes whatever is ready now (e.g. the posted flush) without waiting.
    void turn() {
        ioc_.restart();
        ioc_.poll();
    }

    long long numsub(const std::string& channel) { return redis_->numsub(channel); }
    long long publish(const std::string& channel, const std::string& payload) {
        return redis_->command({"PUBLISH", channel, payload}).integer;
    }
    /// Calls of `command` on the server since the last CONFIG RESETSTAT.
    long long command_calls(const std::string& command) {
        const auto info = redis_->command({"INFO", "commandstats"}).str;
        const std::string key = "cmdstat_" + command + ":calls=";
        const auto at = info.find(key);
        return at == std::string::npos ? 0 : std::stoll(info.substr(at + key.size()));
    }
    /// Subscribes a fresh channel and waits for its confirmation: since Redis answers in
    /// order, every acknowledgement for earlier commands has been handled by then.
    void barrier() {
        const std::string ch = "ws:barrier-" + std::to_string(++barriers_);
        sub_->want(ch);
        ASSERT_TRUE(run_until([&] { return events_.subscribed_count[ch] == 1; }))
            << "barrier " << ch << " never confirmed";
    }

    boost::asio::io_context ioc_{1};
    std::unique_ptr<hard_deadline> deadline_;
    std::unique_ptr<redis_server> redis_;
    shard_metrics metrics_;
    recording_events events_;
    std::unique_ptr<subscriber> sub_;
    int barriers_ = 0;
};

TEST_F(Subscriber, ConfirmsAWantedChannelAndDeliversItsMessages) {
    sub_->run();
    ASSERT_TRUE(run_until([&] { return sub_->ready(); })) << "never connected";
    sub_->want("ws:alice");
    ASSERT_TRUE(run_until([&] { return !events_.subscribed.empty(); }));
    EXPECT_EQ(events_.subscribed, std::vector<std::string>{"ws:alice"});
    EXPECT_EQ(numsub("ws:alice"), 1);
    EXPECT_EQ(sub_->desired_count(), 1u);
    EXPECT_EQ(metrics_.redis_channels.load(), 1);

    const std::string payload("bytes \0 and \xff", 13);
    EXPECT_EQ(publish("ws:alice", payload), 1);
    EXPECT_EQ(publish("ws:bob", "not ours"), 0);
    ASSERT_TRUE(run_until([&] { return !events_.messages.empty(); }));
    EXPECT_EQ(events_.messages,
              (std::vector<std::pair<std::string, std::string>>{{"ws:alice", payload}}));
    EXPECT_EQ(metrics_.redis_messages_total.load(), 1u);
}

TEST_F(Subscriber, WantDropWantInOneTurnSettlesOnOneSubscription) {
    sub_->run();
    ASSERT_TRUE(run_until([&] { return sub_->ready(); }));
    sub_->want("ws:alice");
    sub_->drop("ws:alice");
    sub_->want("ws:alice");
    barrier();
    EXPECT_EQ(events_.subscribed_count["ws:alice"], 1);
    EXPECT_EQ(numsub("ws:alice"), 1);
    EXPECT_EQ(sub_->desired_count(), 2u);  // alice and the barrier channel
}

TEST_F(Subscriber, WantDropWantAcrossTurnsReportsOnlyTheFinalSubscription) {
    sub_->run();
    ASSERT_TRUE(run_until([&] { return sub_->ready(); }));
    ASSERT_EQ(redis_->command({"CONFIG", "RESETSTAT"}).str, "OK");
    // Each turn flushes a command; with Redis stopped no acknowledgement can come back in
    // between, so SUBSCRIBE, UNSUBSCRIBE and SUBSCRIBE are all in flight at once.
    redis_->pause();
    sub_->want("ws:alice");
    turn();
    sub_->drop("ws:alice");
    turn();
    sub_->want("ws:alice");
    turn();
    redis_->resume();
    barrier();
    EXPECT_EQ(command_calls("subscribe"), 3) << "alice twice, then the barrier";
    EXPECT_EQ(command_calls("unsubscribe"), 1);
    EXPECT_EQ(events_.subscribed_count["ws:alice"], 1)
        << "an intermediate acknowledgement was reported as the final state";
    EXPECT_EQ(numsub("ws:alice"), 1);
    EXPECT_EQ(metrics_.redis_channels.load(), 2);  // alice and the barrier channel
}

TEST_F(Subscriber, DropUnsubscribes) {
    sub_->run();
    ASSERT_TRUE(run_until([&] { return sub_->ready(); }));
    sub_->want("ws:alice");
    ASSERT_TRUE(run_until([&] { return events_.subscribed_count["ws:alice"] == 1; }));
    sub_->drop("ws:alice");
    EXPECT_EQ(sub_->desired_count(), 0u);
    ASSERT_TRUE(run_until([&] { return numsub("ws:alice") == 0; }));
    barrier();
    EXPECT_EQ(metrics_.redis_channels.load(), 1);  // only the barrier channel
    EXPECT_EQ(publish("ws:alice", "gone"), 0);
    EXPECT_TRUE(sub_->ready());
}

TEST_F(Subscriber, ConfirmsThousandsOfChannelsWantedAtOnceInBatches) {
    // Wanted before the first connect: the whole set goes out with the (re)connect, and
    // ready() waits for every acknowledgement.
    constexpr int n = 2500;
    ASSERT_EQ(redis_->command({"CONFIG", "RESETSTAT"}).str, "OK");
    for (int i = 0; i < n; ++i) sub_->want("ws:early-" + std::to_string(i));
    sub_->run();
    ASSERT_TRUE(run_until([&] { return sub_->ready(); }, 10s));
    EXPECT_EQ(events_.subscribed.size(), static_cast<std::size_t>(n));
    EXPECT_EQ(command_calls("subscribe"), 3) << "2500 channels in batches of 1000";

    // Wanted at once while connected: one turn, batched the same way.
    ASSERT_EQ(redis_->command({"CONFIG", "RESETSTAT"}).str, "OK");
    for (int i = 0; i < n; ++i) sub_->want("ws:late-" + std::to_string(i));
    ASSERT_TRUE(run_until(
        [&] { return events_.subscribed.size() == static_cast<std::size_t>(2 * n); }, 10s));
    EXPECT_EQ(command_calls("subscribe"), 3);
    EXPECT_TRUE(sub_->ready());
    EXPECT_EQ(sub_->desired_count(), static_cast<std::size_t>(2 * n));
    EXPECT_EQ(metrics_.redis_channels.load(), 2 * n);
    EXPECT_EQ(redis_->command({"PUBSUB", "CHANNELS", "ws:*"}).elements.size(),
              static_cast<std::size_t>(2 * n));
}

TEST_F(Subscriber, ResubscribesTheWholeSetAfterClientKill) {
    sub_->run();
    ASSERT_TRUE(run_until([&] { return sub_->ready(); }));
    std::vector<std::string> channels;
    for (int i = 0; i < 50; ++i) channels.push_back("ws:user-" + std::to_string(i));
    for (const auto& ch : channels) sub_->want(ch);
    ASSERT_TRUE(run_until([&] { return events_.subscribed.size() == channels.size(); }));
    events_.subscribed.clear();

    EXPECT_EQ(redis_->command({"CLIENT", "KILL", "TYPE", "pubsub"}).integer, 1);
    ASSERT_TRUE(run_until([&] { return events_.link_downs == 1; })) << "the kill went unnoticed";
    ASSERT_TRUE(run_until([&] { return sub_->ready(); }));
    EXPECT_EQ(events_.subscribed.size(), channels.size()) << "every channel confirmed again";
    EXPECT_EQ(metrics_.redis_reconnects_total.load(), 1u);
    EXPECT_EQ(metrics_.redis_resubscribed_total.load(), channels.size());
    EXPECT_EQ(metrics_.redis_channels.load(), static_cast<std::int64_t>(channels.size()));
    for (const auto& ch : channels) EXPECT_EQ(numsub(ch), 1) << ch;
    EXPECT_EQ(publish("ws:user-7", "after kill"), 1);
    ASSERT_TRUE(run_until([&] { return !events_.messages.empty(); }));
    EXPECT_EQ(events_.messages.back(),
              (std::pair<std::string, std::string>{"ws:user-7", "after kill"}));
}

TEST_F(Subscriber, ReportsNotReadyWhileRedisIsDownAndResubscribesWhenBack) {
    sub_->run();
    ASSERT_TRUE(run_until([&] { return sub_->ready(); }));
    sub_->want("ws:alice");
    ASSERT_TRUE(run_until([&] { return events_.subscribed_count["ws:alice"] == 1; }));
    redis_->stop();
    ASSERT_TRUE(run_until([&] { return !sub_->ready(); }));
    EXPECT_EQ(metrics_.redis_up.load(), 0);
    redis_->start();
    ASSERT_TRUE(run_until([&] { return sub_->ready(); }, 10s));
    EXPECT_EQ(events_.subscribed_count["ws:alice"], 2);
    EXPECT_EQ(numsub("ws:alice"), 1);
}

TEST_F(Subscriber, WantAndDropBeforeTheFirstConnectStillBecomesReady) {
    // A session that joined and left while the link was not up yet (e.g. it gave up with
    // 1013) leaves nothing to subscribe; the subscriber must still become ready.
    sub_->want("ws:gone");
    sub_->drop("ws:gone");
    sub_->run();
    EXPECT_TRUE(run_until([&] { return sub_->ready(); }, 3s))
        << "ready() never became true with an empty desired set";
    EXPECT_EQ(sub_->desired_count(), 0u);
    EXPECT_EQ(metrics_.redis_up.load(), sub_->ready() ? 1 : 0);
}

TEST_F(Subscriber, WantAndDropDuringAnOutageStillBecomesReady) {
    sub_->run();
    ASSERT_TRUE(run_until([&] { return sub_->ready(); }));
    redis_->stop();
    ASSERT_TRUE(run_until([&] { return !sub_->ready(); }));
    // Redis comes back while the subscriber is not running (its io_context is idle here),
    // so the next connect attempt succeeds right after this want/drop pair.
    redis_->start();
    sub_->want("ws:gone");
    sub_->drop("ws:gone");
    EXPECT_TRUE(run_until([&] { return sub_->ready(); }, 3s))
        << "ready() never became true after the reconnect";
}

}  // namespace
