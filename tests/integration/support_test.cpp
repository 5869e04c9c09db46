// Tests of the integration-test support itself (child_process, free_port, wait_until,
// redis_server), so gateway test failures are never the harness's.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>

#include "process.hpp"
#include "redis_server.hpp"

namespace {

using namespace std::chrono_literals;
using wsgate::test::child_process;
using wsgate::test::process_options;
using wsgate::test::redis_server;
using wsgate::test::test_reply;

TEST(ChildProcess, ReportsTheExitStatusAndOutput) {
    child_process sh("sh", {"-c", "echo out; echo err >&2; exit 3"});
    EXPECT_EQ(sh.wait_for_exit(10s), 3);
    EXPECT_FALSE(sh.running());
    EXPECT_EQ(sh.output(), "out\nerr\n");
}

TEST(ChildProcess, ReportsADeathBySignalAsNegative) {
    child_process sleeper("sleep", {"30"});
    EXPECT_TRUE(sleeper.running());
    EXPECT_EQ(sleeper.wait_for_exit(0ms), std::nullopt);
    EXPECT_TRUE(sleeper.signal(SIGTERM));
    EXPECT_EQ(sleeper.wait_for_exit(10s), -SIGTERM);
    EXPECT_FALSE(sleeper.signal(SIGTERM)) << "no signal to a reaped pid";
}

TEST(ChildProcess, TerminateEscalatesToSigkill) {
    child_process stubborn("sh", {"-c", "trap '' TERM; echo ready; while :; do sleep 1; done"});
    ASSERT_TRUE(stubborn.wait_for_output("ready", 10s));
    EXPECT_EQ(stubborn.terminate(200ms), -SIGKILL);
}

TEST(ChildProcess, WaitForOutputSeesLateOutputAndGivesUpOnExit) {
    child_process late("sh", {"-c", "sleep 0.2; echo listening on 1234; sleep 30"});
    EXPECT_TRUE(late.wait_for_output("listening on", 10s));

    child_process quitter("sh", {"-c", "echo bye"});
    const auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(quitter.wait_for_output("never", 10s));
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s)
        << "should stop waiting once the child exited";
}

TEST(ChildProcess, PassesEnvironmentAndStdin) {
    ::setenv("WSGATE_SUPPORT_TEST_UNSET", "inherited", 1);
    process_options options;
    options.env = {{"WSGATE_SUPPORT_TEST", "a b=c"}, {"HOME", "/nowhere"}};
    options.unset_env = {"WSGATE_SUPPORT_TEST_UNSET"};
    options.stdin_data = std::string("in\0put", 6);
    child_process sh("sh",
                     {"-c",
                      "printf '%s|%s|%s|' \"$WSGATE_SUPPORT_TEST\" \"$HOME\" "
                      "\"${WSGATE_SUPPORT_TEST_UNSET-unset}\"; od -An -c"},
                     options);
    ASSERT_EQ(sh.wait_for_exit(10s), 0) << sh.output();
    EXPECT_EQ(sh.output().substr(0, 24), "a b=c|/nowhere|unset|   ") << sh.output();
    EXPECT_NE(sh.output().find("\\0"), std::string::npos) << sh.output();
    ::unsetenv("WSGATE_SUPPORT_TEST_UNSET");
}

TEST(ChildProcess, StdinIsDevNullByDefault) {
    child_process cat("cat", {});
    EXPECT_EQ(cat.wait_for_exit(10s), 0);
}

TEST(ChildProcess, MissingExecutableThrowsAClearError) {
    try {
        child_process missing("/nonexistent/wsgate-nothing", {});
        FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("No such file"), std::string::npos) << e.what();
    }
    EXPECT_THROW(child_process("wsgate-no-such-tool-on-path", {}), std::runtime_error);
}

TEST(ChildProcess, DoesNotLeakTheTestsDescriptors) {
    // A listening socket without CLOEXEC, as hiredis and Asio create them.
    // Moved to a high number so it cannot coincide with the fd ls opens for the listing.
    const int sock = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(sock, 0);
    const int fd = ::dup2(sock, 200);
    ::close(sock);
    ASSERT_EQ(fd, 200);
    child_process sh("sh", {"-c", "ls /proc/self/fd"});
    ASSERT_EQ(sh.wait_for_exit(10s), 0);
    ::close(fd);
    EXPECT_EQ(sh.output().find("200\n"), std::string::npos) << sh.output();
}

TEST(ChildProcess, DestructorKillsAndRemovesTheLog) {
    pid_t pid = 0;
    std::string log;
    {
        child_process sleeper("sleep", {"30"});
        pid = sleeper.pid();
        log = sleeper.output_path();
        EXPECT_EQ(::access(log.c_str(), F_OK), 0);
    }
    EXPECT_NE(::kill(pid, 0), 0) << "reaped, so the pid is gone";
    EXPECT_NE(::access(log.c_str(), F_OK), 0);
}

TEST(ChildProcess, DestructorAlsoKillsGrandchildren) {
    std::string grandchild;
    {
        child_process sh("sh", {"-c", "sleep 30 & echo $!; wait"});
        ASSERT_TRUE(wsgate::test::wait_until(
            [&] { return sh.output().find('\n') != std::string::npos; }, 10s));
        grandchild = sh.output().substr(0, sh.output().find('\n'));
    }
    const pid_t pid = std::stoi(grandchild);
    // The grandchild is reparented to init (or a subreaper), which reaps it shortly.
    EXPECT_TRUE(wsgate::test::wait_until(
        [&] {
            std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
            std::string text((std::istreambuf_iterator<char>(stat)), {});
            return text.empty() || text.find(") Z") != std::string::npos;
        },
        5s))
        << "grandchild " << pid << " survived";
}

TEST(ChildProcess, ChildStartsWithDefaultSignalDispositions) {
    ::signal(SIGPIPE, SIG_IGN);
    child_process sh("sh", {"-c", "grep SigIgn /proc/self/status"});
    ASSERT_EQ(sh.wait_for_exit(10s), 0);
    // Only the classic signals: glibc reserves 32 and 33 for itself, so a process cannot
    // reset them, and an environment that ignores them passes that on to every child.
    const auto out = sh.output();
    const auto at = out.find("SigIgn:");
    ASSERT_NE(at, std::string::npos) << out;
    const auto ignored = std::stoull(out.substr(at + 7), nullptr, 16);
    EXPECT_EQ(ignored & 0x7fffffffull, 0u) << out;
}

TEST(FreePort, CanBeBound) {
    const std::uint16_t port = wsgate::test::free_port();
    EXPECT_GT(port, 0);
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ::close(fd);
}

TEST(WaitUntil, ReturnsTrueAsSoonAsThePredicateHolds) {
    int calls = 0;
    EXPECT_TRUE(wsgate::test::wait_until([&] { return ++calls == 3; }, 5s, 1ms));
    EXPECT_EQ(calls, 3);
}

TEST(WaitUntil, ReturnsFalseAtTheDeadline) {
    const auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(wsgate::test::wait_until([] { return false; }, 100ms, 10ms));
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_GE(took, 100ms);
    EXPECT_LT(took, 2s);
}

TEST(RedisServer, AnswersCommands) {
    redis_server server;
    EXPECT_EQ(server.command({"PING"}), (test_reply{test_reply::kind::status, "PONG", 0, {}}));
    EXPECT_EQ(server.command({"SET", "k", std::string("v\0", 2)}).str, "OK");
    EXPECT_EQ(server.command({"GET", "k"}).str, std::string("v\0", 2));
    EXPECT_EQ(server.command({"GET", "missing"}).type, test_reply::kind::nil);
    EXPECT_TRUE(server.command({"NO-SUCH-COMMAND"}).is_error());
    EXPECT_EQ(server.command({"PUBLISH", "ws:x", "p"}).integer, 0);
    EXPECT_EQ(server.numsub("ws:x"), 0);
    EXPECT_EQ(server.command({"CONFIG", "GET", "save"}).elements.at(1).str, "");
    EXPECT_EQ(server.command({"CONFIG", "GET", "appendonly"}).elements.at(1).str, "no");
}

TEST(RedisServer, StopAndStartKeepThePort) {
    redis_server server;
    const auto port = server.port();
    server.stop();
    EXPECT_FALSE(server.running());
    EXPECT_THROW(server.command({"PING"}), std::runtime_error);
    server.start();
    EXPECT_EQ(server.port(), port);
    EXPECT_EQ(server.command({"PING"}).str, "PONG");
    server.restart();
    EXPECT_EQ(server.command({"PING"}).str, "PONG") << "the cached connection is replaced";
    server.kill();
    server.start();
    EXPECT_EQ(server.command({"PING"}).str, "PONG");
}

TEST(RedisServer, PauseStopsAnswersUntilResume) {
    redis_server::options options;
    options.command_timeout = 300ms;
    redis_server server(options);
    server.pause();
    EXPECT_FALSE(wsgate::test::wait_until(
        [&] {
            try {
                server.command({"PING"});
                return true;
            } catch (const std::runtime_error&) {
                return false;
            }
        },
        0ms));
    server.resume();
    EXPECT_EQ(server.command({"PING"}).str, "PONG");
}

TEST(RedisServer, PasswordProtectedServer) {
    redis_server::options options;
    options.password = "p@ss word";
    redis_server server(options);
    EXPECT_EQ(server.url(), "redis://:p%40ss%20word@127.0.0.1:" + std::to_string(server.port()));
    EXPECT_EQ(server.command({"PING"}).str, "PONG");
    EXPECT_EQ(server.command({"CONFIG", "GET", "requirepass"}).elements.at(1).str, "p@ss word");
}

TEST(RedisServer, TwoServersGetDifferentPorts) {
    redis_server a;
    redis_server b;
    EXPECT_NE(a.port(), b.port());
}

}  // namespace
