// Integration tests for the publisher library and the wsgate-publish CLI against a real
// redis-server (tests/support). Subscribers are raw hiredis sync connections, so these
// tests depend on no gateway code.
#include "publisher/publisher.hpp"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <csignal>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "process.hpp"
#include "redis/channel.hpp"
#include "redis_server.hpp"

namespace {

using namespace std::chrono_literals;
using wsgate::publisher;
using wsgate::test::process_options;
using wsgate::test::redis_server;
using wsgate::test::run_to_completion;

const std::string publish_binary = WSGATE_PUBLISH_BINARY;

// A plain SUBSCRIBEd hiredis connection to one channel.
class raw_subscriber {
public:
    raw_subscriber(std::uint16_t port, const std::string& channel, const std::string& password = {})
        : context_(redisConnectWithTimeout("127.0.0.1", port, timeval{5, 0}), redisFree) {
        if (!context_ || context_->err) throw std::runtime_error("raw_subscriber: cannot connect");
        redisSetTimeout(context_.get(), timeval{5, 0});
        if (!password.empty()) expect_reply({"AUTH", password});
        // The ack arrives after Redis registered the subscription, so PUBLISH counts us
        // from here on: no sleep needed.
        expect_reply({"SUBSCRIBE", channel});
    }

    /// The next message's payload, or nothing within `timeout`.
    std::optional<std::string> next_message(std::chrono::milliseconds timeout = 5s) {
        redisSetTimeout(context_.get(),
                        timeval{timeout.count() / 1000, timeout.count() % 1000 * 1000});
        void* raw = nullptr;
        if (redisGetReply(context_.get(), &raw) != REDIS_OK) return std::nullopt;
        std::unique_ptr<redisReply, decltype(&freeReplyObject)> r(static_cast<redisReply*>(raw),
                                                                  freeReplyObject);
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 3)
            throw std::runtime_error("raw_subscriber: not a message");
        return std::string(r->element[2]->str, r->element[2]->len);
    }

private:
    void expect_reply(std::initializer_list<std::string> args) {
        std::vector<const char*> argv;
        std::vector<std::size_t> lens;
        for (const auto& a : args) {
            argv.push_back(a.data());
            lens.push_back(a.size());
        }
        auto* r = static_cast<redisReply*>(redisCommandArgv(
            context_.get(), static_cast<int>(argv.size()), argv.data(), lens.data()));
        const bool ok = r != nullptr && r->type != REDIS_REPLY_ERROR;
        if (r != nullptr) freeReplyObject(r);
        if (!ok) throw std::runtime_error("raw_subscriber: command failed");
    }

    std::unique_ptr<redisContext, decltype(&redisFree)> context_;
};

// The message of the exception `f` throws, or a failure if it throws none.
template <class Exception = std::runtime_error, class F>
std::string thrown_message(F&& f) {
    try {
        f();
    } catch (const Exception& e) {
        return e.what();
    }
    ADD_FAILURE() << "no exception thrown";
    return {};
}

// Option helpers: g++ 12 -Wextra warns about designated initializers that leave members
// to their defaults (-Wmissing-field-initializers), so options are built by assignment.
redis_server::options with_password(std::string password) {
    redis_server::options o;
    o.password = std::move(password);
    return o;
}

redis_server::options with_args(std::vector<std::string> args) {
    redis_server::options o;
    o.extra_args = std::move(args);
    return o;
}

process_options with_stdin(std::string data) {
    process_options o;
    o.stdin_data = std::move(data);
    return o;
}

process_options with_env(std::string key, std::string value) {
    process_options o;
    o.env.emplace_back(std::move(key), std::move(value));
    return o;
}

std::string url_with_password(const redis_server& server, const std::string& user,
                              const std::string& password) {
    return "redis://" + user + ":" + password + "@127.0.0.1:" + std::to_string(server.port());
}

TEST(Publisher, ReturnsZeroWithoutSubscribers) {
    redis_server server;
    publisher pub(server.url());
    EXPECT_EQ(pub.publish_user_notification("nobody", "hi"), 0);
}

TEST(Publisher, CountsEverySubscriberAndEachGetsThePayload) {
    redis_server server;
    raw_subscriber a(server.port(), wsgate::channel_for_user("u-1"));
    raw_subscriber b(server.port(), wsgate::channel_for_user("u-1"));
    raw_subscriber other(server.port(), wsgate::channel_for_user("u-2"));
    ASSERT_EQ(server.numsub(wsgate::channel_for_user("u-1")), 2);

    publisher pub(server.url());
    EXPECT_EQ(pub.publish_user_notification("u-1", R"({"status":"done"})"), 2);
    EXPECT_EQ(a.next_message(), R"({"status":"done"})");
    EXPECT_EQ(b.next_message(), R"({"status":"done"})");
    EXPECT_EQ(other.next_message(200ms), std::nullopt);
}

TEST(Publisher, BinaryPayloadArrivesExact) {
    redis_server server;
    raw_subscriber sub(server.port(), wsgate::channel_for_user("bin"));
    publisher pub(server.url());

    const std::string small("\0a\r\n\xff\0*3\r\n", 10);
    EXPECT_EQ(pub.publish_user_notification("bin", small), 1);
    EXPECT_EQ(sub.next_message(), small);

    std::string big(1024 * 1024, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7);
    EXPECT_EQ(pub.publish_user_notification("bin", big), 1);
    EXPECT_EQ(sub.next_message(), big);

    EXPECT_EQ(pub.publish_user_notification("bin", ""), 1);
    EXPECT_EQ(sub.next_message(), "");
}

TEST(Publisher, AuthenticatesWithPassword) {
    redis_server server(with_password("s3cret pass"));
    raw_subscriber sub(server.port(), wsgate::channel_for_user("u"), "s3cret pass");
    publisher pub(server.url());  // the url carries the percent-encoded password
    EXPECT_EQ(pub.publish_user_notification("u", "x"), 1);
    EXPECT_EQ(sub.next_message(), "x");
}

TEST(Publisher, AuthenticatesWithUsername) {
    redis_server server(with_args(
        {"--user", "pub", "on", ">pub-pw", "resetchannels", "&ws:*", "+publish", "+select"}));
    publisher pub(url_with_password(server, "pub", "pub-pw"));
    EXPECT_EQ(pub.publish_user_notification("u", "x"), 0);
}

TEST(Publisher, WrongPasswordIsAClearError) {
    redis_server server(with_password("right"));
    publisher pub(url_with_password(server, "", "wrong-pw-123"));
    const std::string what = thrown_message([&] { pub.publish_user_notification("u", "x"); });
    EXPECT_NE(what.find("AUTH failed"), std::string::npos) << what;
    EXPECT_NE(what.find("WRONGPASS"), std::string::npos) << what;
    EXPECT_NE(what.find("redis://127.0.0.1:" + std::to_string(server.port())), std::string::npos)
        << what;
    EXPECT_EQ(what.find("wrong-pw-123"), std::string::npos) << what;
}

TEST(Publisher, MissingPasswordIsAClearError) {
    redis_server server(with_password("right"));
    publisher pub("redis://127.0.0.1:" + std::to_string(server.port()));
    const std::string what = thrown_message([&] { pub.publish_user_notification("u", "x"); });
    EXPECT_NE(what.find("NOAUTH"), std::string::npos) << what;
}

TEST(Publisher, AclDeniedChannelIsAnErrorAndTheConnectionStaysUsable) {
    redis_server server(
        with_args({"--user", "pub", "on", ">pw", "resetchannels", "&ws:allowed", "+publish"}));
    publisher pub(url_with_password(server, "pub", "pw"));
    const std::string what = thrown_message([&] { pub.publish_user_notification("denied", "x"); });
    EXPECT_NE(what.find("NOPERM"), std::string::npos) << what;
    EXPECT_EQ(pub.publish_user_notification("allowed", "x"), 0);
    EXPECT_EQ(server.command({"CLIENT", "LIST", "TYPE", "normal"}).str.find("user=pub"),
              server.command({"CLIENT", "LIST", "TYPE", "normal"}).str.rfind("user=pub"))
        << "the publisher kept one connection";
}

TEST(Publisher, SelectsTheDatabaseFromTheUrl) {
    redis_server server;
    publisher pub(server.url() + "/3");
    EXPECT_EQ(pub.publish_user_notification("u", "x"), 0);
    const auto clients = server.command({"CLIENT", "LIST", "TYPE", "normal"});
    EXPECT_NE(clients.str.find("db=3"), std::string::npos) << clients;
}

TEST(Publisher, DatabaseOutOfRangeIsAClearError) {
    redis_server server;
    publisher pub(server.url() + "/999");
    const std::string what = thrown_message([&] { pub.publish_user_notification("u", "x"); });
    EXPECT_NE(what.find("SELECT failed"), std::string::npos) << what;
    EXPECT_NE(what.find("out of range"), std::string::npos) << what;
}

TEST(Publisher, ReconnectsAfterTheServerKillsTheConnection) {
    redis_server server;
    raw_subscriber sub(server.port(), wsgate::channel_for_user("u"));
    publisher pub(server.url());
    ASSERT_EQ(pub.publish_user_notification("u", "one"), 1);
    // SKIPME defaults to yes, so the test's own command connection survives.
    const auto killed = server.command({"CLIENT", "KILL", "TYPE", "normal"});
    ASSERT_EQ(killed.integer, 1) << killed;
    EXPECT_EQ(pub.publish_user_notification("u", "two"), 1);
    EXPECT_EQ(sub.next_message(), "one");
    EXPECT_EQ(sub.next_message(), "two");
}

TEST(Publisher, ReconnectsAfterAServerRestart) {
    redis_server server;
    publisher pub(server.url());
    ASSERT_EQ(pub.publish_user_notification("u", "one"), 0);
    server.restart();
    raw_subscriber sub(server.port(), wsgate::channel_for_user("u"));
    EXPECT_EQ(pub.publish_user_notification("u", "two"), 1);
    EXPECT_EQ(sub.next_message(), "two");
}

TEST(Publisher, ServerDownIsAClearError) {
    redis_server server;
    const std::string url = url_with_password(server, "", "hidden-pw");
    server.stop();
    publisher pub(url);  // lazy: constructing needs no server
    const std::string what = thrown_message([&] { pub.publish_user_notification("u", "x"); });
    EXPECT_NE(what.find("cannot connect to Redis at redis://127.0.0.1:" +
                        std::to_string(server.port()) + "/0"),
              std::string::npos)
        << what;
    EXPECT_NE(what.find("refused"), std::string::npos) << what;
    EXPECT_EQ(what.find("hidden-pw"), std::string::npos) << what;
}

TEST(Publisher, UnansweredPublishTimesOutAndIsNotRetried) {
    redis_server server;
    publisher pub(server.url(), 300ms);
    ASSERT_EQ(pub.publish_user_notification("u", "x"), 0);
    server.pause();
    const auto start = std::chrono::steady_clock::now();
    const std::string what = thrown_message([&] { pub.publish_user_notification("u", "x"); });
    const auto took = std::chrono::steady_clock::now() - start;
    server.resume();
    EXPECT_NE(what.find("no reply within 300ms"), std::string::npos) << what;
    EXPECT_GE(took, 250ms);
    EXPECT_LT(took, 2s) << "a retry would have doubled the wait";
    // The next publish reconnects.
    EXPECT_EQ(pub.publish_user_notification("u", "y"), 0);
}

TEST(Publisher, SurvivesWritingToAKilledServer) {
    redis_server server;
    publisher pub(server.url());
    ASSERT_EQ(pub.publish_user_notification("u", "x"), 0);
    server.kill();
    // With SIGPIPE at its default action, a write on the dead socket would kill this test
    // binary unless the publisher blocks it. (redis_server ignores SIGPIPE; undo that here.)
    auto* previous = std::signal(SIGPIPE, SIG_DFL);
    const std::string big(8 * 1024 * 1024, 'p');
    const std::string what = thrown_message([&] { pub.publish_user_notification("u", big); });
    std::signal(SIGPIPE, previous);
    EXPECT_NE(what.find("cannot connect"), std::string::npos) << what;
}

TEST(Publisher, RejectsBadUrlsWithoutEchoingThem) {
    const std::string what = thrown_message([] { publisher("redis://:pw-in-url@host:0"); });
    EXPECT_NE(what.find("invalid Redis URL"), std::string::npos) << what;
    EXPECT_EQ(what.find("pw-in-url"), std::string::npos) << what;
    EXPECT_NE(thrown_message([] {
                  publisher("rediss://:pw@127.0.0.1:6380");
              }).find("TLS not supported yet"),
              std::string::npos);
}

TEST(Publisher, EmptyUserIdIsRejected) {
    redis_server server;
    publisher pub(server.url());
    EXPECT_THROW(pub.publish_user_notification("", "x"), std::invalid_argument);
}

TEST(Publisher, IsMovable) {
    redis_server server;
    raw_subscriber sub(server.port(), wsgate::channel_for_user("u"));
    publisher a(server.url());
    ASSERT_EQ(a.publish_user_notification("u", "1"), 1);
    publisher b(std::move(a));
    EXPECT_EQ(b.publish_user_notification("u", "2"), 1);
    EXPECT_EQ(b.server(), "redis://127.0.0.1:" + std::to_string(server.port()) + "/0");
}

// --- wsgate-publish --------------------------------------------------------------------

std::pair<int, std::string> run_cli(std::vector<std::string> args, process_options options = {}) {
    options.unset_env.push_back("WSGATE_REDIS_URL");  // never the developer's own server
    return run_to_completion(publish_binary, std::move(args), std::move(options), 30s);
}

TEST(WsPublishCli, PrintsTheReceiverCount) {
    redis_server server;
    raw_subscriber a(server.port(), wsgate::channel_for_user("cli"));
    raw_subscriber b(server.port(), wsgate::channel_for_user("cli"));
    const auto [status, output] = run_cli({"--redis-url", server.url(), "cli", "hello from cli"});
    EXPECT_EQ(status, 0) << output;
    EXPECT_EQ(output, "2\n");
    EXPECT_EQ(a.next_message(), "hello from cli");
    EXPECT_EQ(b.next_message(), "hello from cli");
}

TEST(WsPublishCli, IssuerPublishesToThatIssuersUser) {
    redis_server server;
    raw_subscriber theirs(server.port(), "ws@https%3A%2F%2Fpartner.example.net:cli");
    raw_subscriber ours(server.port(), wsgate::channel_for_user("cli"));
    const auto [status, output] = run_cli({"--redis-url", server.url(), "--issuer",
                                           "https://partner.example.net", "cli", "for theirs"});
    EXPECT_EQ(status, 0) << output;
    EXPECT_EQ(output, "1\n");
    EXPECT_EQ(theirs.next_message(), "for theirs");
    // The primary issuer's user of the same id got nothing.
    const auto [status2, output2] = run_cli({"--redis-url", server.url(), "cli", "for ours"});
    EXPECT_EQ(status2, 0) << output2;
    EXPECT_EQ(output2, "1\n");
    EXPECT_EQ(ours.next_message(), "for ours");
}

TEST(WsPublishCli, DashReadsABinaryPayloadFromStdin) {
    redis_server server;
    raw_subscriber sub(server.port(), wsgate::channel_for_user("cli"));
    std::string payload("line1\nline2\0\xfe\xff", 14);
    payload += std::string(200000, 'z');  // more than one pipe/stdio buffer
    const auto [status, output] =
        run_cli({"--redis-url", server.url(), "cli", "-"}, with_stdin(payload));
    EXPECT_EQ(status, 0) << output;
    EXPECT_EQ(output, "1\n");
    EXPECT_EQ(sub.next_message(), payload);
}

TEST(WsPublishCli, TakesTheUrlFromTheEnvironment) {
    redis_server server(with_password("envpw"));
    raw_subscriber sub(server.port(), wsgate::channel_for_user("cli"), "envpw");
    const auto [status, output] = run_to_completion(publish_binary, {"cli", "via env"},
                                                    with_env("WSGATE_REDIS_URL", server.url()));
    EXPECT_EQ(status, 0) << output;
    EXPECT_EQ(output, "1\n");
    EXPECT_EQ(sub.next_message(), "via env");
}

TEST(WsPublishCli, FlagOverridesTheEnvironment) {
    redis_server server;
    const auto [status, output] =
        run_to_completion(publish_binary, {"--redis-url", server.url(), "cli", "x"},
                          with_env("WSGATE_REDIS_URL", "redis://127.0.0.1:1"));
    EXPECT_EQ(status, 0) << output;
    EXPECT_EQ(output, "0\n");
}

TEST(WsPublishCli, UsageErrorsExitWithTwo) {
    const std::vector<std::vector<std::string>> usage_errors = {
        {},
        {"only-user"},
        {"--no-such-flag", "u", "p"},
        {"u", "p", "extra"},
        {"--redis-url", "http://127.0.0.1:6379", "u", "p"},
        {"--redis-url", "redis://127.0.0.1:6379?db=1", "u", "p"},
        {"--timeout", "soon", "u", "p"},
        {"", "p"},
    };
    for (const auto& args : usage_errors) {
        const auto [status, output] = run_cli(args);
        EXPECT_EQ(status, 2) << testing::PrintToString(args) << "\n" << output;
        EXPECT_FALSE(output.empty()) << testing::PrintToString(args);
    }
}

TEST(WsPublishCli, HelpExitsWithZero) {
    const auto [status, output] = run_cli({"--help"});
    EXPECT_EQ(status, 0);
    EXPECT_NE(output.find("WSGATE_REDIS_URL"), std::string::npos) << output;
}

TEST(WsPublishCli, RedisFailureExitsWithOneAndHidesThePassword) {
    redis_server server;
    const std::string url = url_with_password(server, "someone", "cli-secret-pw");
    server.stop();
    const auto [status, output] = run_cli({"--redis-url", url, "--timeout", "2s", "u", "x"});
    EXPECT_EQ(status, 1) << output;
    EXPECT_NE(output.find("redis://127.0.0.1:" + std::to_string(server.port()) + "/0"),
              std::string::npos)
        << output;
    EXPECT_EQ(output.find("cli-secret-pw"), std::string::npos) << output;
    EXPECT_EQ(output.find("someone"), std::string::npos) << output;
}

TEST(WsPublishCli, WrongPasswordExitsWithOneAndHidesIt) {
    redis_server server(with_password("right"));
    const auto [status, output] =
        run_cli({"--redis-url", url_with_password(server, "", "cli-wrong-pw"), "u", "x"});
    EXPECT_EQ(status, 1) << output;
    EXPECT_NE(output.find("WRONGPASS"), std::string::npos) << output;
    EXPECT_EQ(output.find("cli-wrong-pw"), std::string::npos) << output;
}

}  // namespace
