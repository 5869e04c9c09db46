// Flag and environment parsing: defaults, WSGATE_* variables, and errors that name the flag.
#include "config/config.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

namespace {

struct parsed {
    wsgate::parse_outcome out;
    std::string err;
};

parsed parse(std::vector<const char*> args) {
    args.insert(args.begin(), "wsgate");
    testing::internal::CaptureStderr();
    testing::internal::CaptureStdout();
    parsed p{wsgate::parse_command_line(static_cast<int>(args.size()), args.data()), {}};
    testing::internal::GetCapturedStdout();
    p.err = testing::internal::GetCapturedStderr();
    return p;
}

// Sets an environment variable for one test's scope.
struct scoped_env {
    const char* name;
    scoped_env(const char* n, const char* v) : name(n) { setenv(n, v, 1); }
    ~scoped_env() { unsetenv(name); }
};

}  // namespace

TEST(Config, DefaultsMatchTheDocumentation) {
    auto p = parse({"--jwt-secret", "s"});
    ASSERT_EQ(p.out.exit_code, -1) << p.err;
    const auto& c = p.out.cfg;
    EXPECT_EQ(c.listen_host, "0.0.0.0");
    EXPECT_EQ(c.listen_port, 8080);
    EXPECT_EQ(c.redis.host, "127.0.0.1");
    EXPECT_EQ(c.redis.port, 6379);
    EXPECT_EQ(c.jwt.leeway, std::chrono::seconds(30));
    EXPECT_EQ(c.jwt.user_claim, "sub");
    EXPECT_EQ(c.max_queue_bytes, 1u << 20);
    EXPECT_EQ(c.max_client_message_bytes, 4096u);
    EXPECT_EQ(c.ping_interval, std::chrono::seconds(25));
    EXPECT_GE(c.threads, 1u);
    EXPECT_EQ(c.invalid_utf8, wsgate::invalid_utf8_policy::drop);
}

TEST(Config, FlagsAreParsedWithUnits) {
    auto p = parse({"--listen", "127.0.0.1:0", "--redis-url", "redis://u:p@h:7000/2",
                    "--jwt-secret", "s", "--threads", "3", "--max-queue-bytes", "64KiB",
                    "--ping-interval", "500ms", "--jwt-algorithms", "HS256, HS512",
                    "--jwt-audience", "a,b", "--log-format", "json"});
    ASSERT_EQ(p.out.exit_code, -1) << p.err;
    const auto& c = p.out.cfg;
    EXPECT_EQ(c.listen_host, "127.0.0.1");
    EXPECT_EQ(c.listen_port, 0);
    EXPECT_EQ(c.redis.host, "h");
    EXPECT_EQ(c.redis.port, 7000);
    EXPECT_EQ(c.redis.db, 2);
    EXPECT_EQ(c.redis.password, "p");
    EXPECT_EQ(c.threads, 3u);
    EXPECT_EQ(c.max_queue_bytes, 64u * 1024);
    EXPECT_EQ(c.ping_interval, std::chrono::milliseconds(500));
    EXPECT_EQ(c.jwt.algorithms, (std::vector<std::string>{"HS256", "HS512"}));
    EXPECT_EQ(c.jwt.audience, (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(c.log_format, wsgate::log::format::json);
}

TEST(Config, EnvironmentVariablesFillUnsetFlags) {
    scoped_env a("WSGATE_JWT_SECRET", "from-env");
    scoped_env b("WSGATE_PING_INTERVAL", "7s");
    scoped_env c("WSGATE_MAX_QUEUE_BYTES", "2MiB");
    auto p = parse({"--ping-interval", "9s"});
    ASSERT_EQ(p.out.exit_code, -1) << p.err;
    EXPECT_EQ(p.out.cfg.jwt.secret, "from-env");
    EXPECT_EQ(p.out.cfg.ping_interval, std::chrono::seconds(9));  // the flag wins
    EXPECT_EQ(p.out.cfg.max_queue_bytes, 2u << 20);
}

TEST(Config, BadValuesNameTheirFlag) {
    struct bad_case {
        std::vector<const char*> args;
        const char* flag;
    };
    std::vector<bad_case> cases = {
        {{"--listen", "nonsense"}, "--listen"},
        {{"--listen", "127.0.0.1:99999"}, "--listen"},
        {{"--redis-url", "http://x"}, "--redis-url"},
        {{"--ping-interval", "soon"}, "--ping-interval"},
        {{"--max-queue-bytes", "1"}, "--max-queue-bytes"},
        {{"--threads", "-2"}, "--threads"},
        {{"--log-format", "xml"}, "--log-format"},
        {{"--log-level", "loud"}, "--log-level"},
        {{"--invalid-utf8", "maybe"}, "--invalid-utf8"},
        {{"--handshake-timeout", "0s"}, "--handshake-timeout"},
        {{"--jwt-secret-file", "/nonexistent/secret"}, "--jwt-secret-file"},
    };
    for (auto& c : cases) {
        c.args.insert(c.args.begin(), {"--jwt-secret", "s"});
        if (std::string(c.flag) == "--jwt-secret-file")
            c.args.erase(c.args.begin(), c.args.begin() + 2);
        auto p = parse(c.args);
        EXPECT_EQ(p.out.exit_code, 2) << c.flag;
        EXPECT_NE(p.err.find(c.flag), std::string::npos) << p.err;
    }
}

TEST(Config, UnknownFlagIsAUsageError) {
    // Every configuration error has one status, whatever CLI11's own code for its kind.
    EXPECT_EQ(parse({"--no-such-flag"}).out.exit_code, wsgate::exit_bad_config);
    EXPECT_EQ(parse({"--jwt-secret", "s", "stray"}).out.exit_code, wsgate::exit_bad_config);
    EXPECT_EQ(parse({"--ping-interval"}).out.exit_code, wsgate::exit_bad_config);
    EXPECT_EQ(wsgate::exit_bad_config, 2);
}

TEST(Config, BooleanFlagsReadLikeEveryOtherCli) {
    // A bare flag means true, and it does not swallow the next flag.
    auto bare = parse({"--close-on-token-expiry", "--jwt-secret", "s", "--listen",
                       "127.0.0.1:0", "--demo"});
    ASSERT_EQ(bare.out.exit_code, -1) << bare.err;
    EXPECT_TRUE(bare.out.cfg.demo);
    EXPECT_TRUE(bare.out.cfg.close_on_token_expiry);
    EXPECT_EQ(bare.out.cfg.jwt.secret, "s");
    // --flag=false, --flag false and the other spellings.
    for (const char* no : {"--close-on-token-expiry=false", "--close-on-token-expiry=0",
                           "--close-on-token-expiry=no", "--close-on-token-expiry=off"}) {
        auto p = parse({"--jwt-secret", "s", no});
        ASSERT_EQ(p.out.exit_code, -1) << no << ": " << p.err;
        EXPECT_FALSE(p.out.cfg.close_on_token_expiry) << no;
    }
    auto spaced = parse({"--jwt-secret", "s", "--listen", "127.0.0.1:0", "--demo", "true"});
    ASSERT_EQ(spaced.out.exit_code, -1) << spaced.err;
    EXPECT_TRUE(spaced.out.cfg.demo);
    {
        scoped_env off("WSGATE_CLOSE_ON_TOKEN_EXPIRY", "false");
        auto p = parse({"--jwt-secret", "s"});
        ASSERT_EQ(p.out.exit_code, -1) << p.err;
        EXPECT_FALSE(p.out.cfg.close_on_token_expiry);
    }
    // A wrong value names the flag and what it accepts.
    auto bad = parse({"--jwt-secret", "s", "--close-on-token-expiry=maybe"});
    EXPECT_EQ(bad.out.exit_code, wsgate::exit_bad_config);
    EXPECT_NE(bad.err.find("--close-on-token-expiry: 'maybe' is not a boolean (true, false"),
              std::string::npos)
        << bad.err;
}

TEST(Config, HelpListsEveryFlagWithItsEnvironmentVariable) {
    std::vector<const char*> args{"wsgate", "--help"};
    testing::internal::CaptureStdout();
    auto out = wsgate::parse_command_line(2, args.data());
    auto help = testing::internal::GetCapturedStdout();
    EXPECT_EQ(out.exit_code, 0);
    for (auto flag :
         {"--listen", "--redis-url", "--jwt-secret", "--jwt-secret-file", "--jwt-public-key-file",
          "--jwt-jwks-file", "--jwt-algorithms", "--jwt-issuer", "--jwt-audience", "--jwt-leeway",
          "--jwt-user-claim", "--threads", "--max-queue-bytes", "--ping-interval", "--log-format",
          "--log-level"}) {
        EXPECT_NE(help.find(flag), std::string::npos) << flag;
    }
    EXPECT_NE(help.find("WSGATE_REDIS_URL"), std::string::npos);
    EXPECT_NE(help.find("WSGATE_MAX_QUEUE_BYTES"), std::string::npos);
}

// --- JWT key sources and reload ------------------------------------------------------------

TEST(Config, IssuerJwksFlagsBindFilesToIssuers) {
    auto p = parse({"--jwt-issuer-jwks", "https://a.example=/keys/a.json", "--jwt-issuer-jwks",
                    "https://b.example=/keys/b=1.json,https://c.example=/keys/c.json"});
    ASSERT_EQ(p.out.exit_code, -1) << p.err;
    using f = wsgate::auth::issuer_jwks_file;
    EXPECT_EQ(p.out.cfg.jwt.issuer_jwks_files,
              (std::vector<f>{{"https://a.example", "/keys/a.json"},
                              {"https://b.example", "/keys/b=1.json"},
                              {"https://c.example", "/keys/c.json"}}));
    for (const char* bad : {"https://a.example", "=/keys/a.json", "https://a.example="}) {
        auto q = parse({"--jwt-issuer-jwks", bad});
        EXPECT_EQ(q.out.exit_code, 2) << bad;
        EXPECT_NE(q.err.find("--jwt-issuer-jwks: '"), std::string::npos) << q.err;
    }
}

TEST(Config, IssuerJwksAndReloadIntervalComeFromTheEnvironment) {
    scoped_env files("WSGATE_JWT_ISSUER_JWKS", "a=/a.json,b=/b.json");
    scoped_env interval("WSGATE_JWT_RELOAD_INTERVAL", "250ms");
    auto p = parse({});
    ASSERT_EQ(p.out.exit_code, -1) << p.err;
    EXPECT_EQ(p.out.cfg.jwt.issuer_jwks_files.size(), 2u);
    EXPECT_EQ(p.out.cfg.jwt.issuer_jwks_files[1].path, "/b.json");
    EXPECT_EQ(p.out.cfg.jwt_reload_interval, std::chrono::milliseconds(250));
}

TEST(Config, ReloadIntervalDefaultsTo10sAndZeroDisablesIt) {
    EXPECT_EQ(parse({"--jwt-secret", "s"}).out.cfg.jwt_reload_interval, std::chrono::seconds(10));
    auto p = parse({"--jwt-secret", "s", "--jwt-reload-interval", "0"});
    ASSERT_EQ(p.out.exit_code, -1) << p.err;
    EXPECT_EQ(p.out.cfg.jwt_reload_interval.count(), 0);
    auto q = parse({"--jwt-secret", "s", "--jwt-reload-interval", "often"});
    EXPECT_EQ(q.out.exit_code, 2);
    EXPECT_NE(q.err.find("--jwt-reload-interval"), std::string::npos) << q.err;
}

TEST(Config, SecretFileIsKeptForReloads) {
    char path[] = "/tmp/wsgate-config-secret-XXXXXX";
    const int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, "from-a-file\n", 12), 12);
    close(fd);
    auto p = parse({"--jwt-secret-file", path});
    unlink(path);
    ASSERT_EQ(p.out.exit_code, -1) << p.err;
    EXPECT_EQ(p.out.cfg.jwt.secret, "from-a-file");
    EXPECT_EQ(p.out.cfg.jwt.secret_file, path);
}

TEST(Config, AdmissionLimitDefaults) {
    auto p = parse({"--jwt-secret", "s"});
    ASSERT_EQ(p.out.exit_code, -1) << p.err;
    const auto& c = p.out.cfg;
    rlimit rl{};
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > 256) {
        EXPECT_EQ(c.max_connections, rl.rlim_cur - 128);  // auto
    }
    EXPECT_EQ(c.max_connections_per_user, 100u);
    EXPECT_EQ(c.max_handshakes, 1024u);
    EXPECT_EQ(c.max_handshakes_per_address, 128u);  // auto: an eighth of --max-handshakes
    EXPECT_EQ(c.header_timeout, std::chrono::seconds(5));
    EXPECT_EQ(c.ip_connect_rate, 0.0);
    EXPECT_TRUE(c.allowed_origins.empty());
    EXPECT_TRUE(c.close_on_token_expiry);
    EXPECT_EQ(c.client_budget_interval, std::chrono::seconds(10));
    EXPECT_EQ(c.client_budget_bytes, 64u * 1024);
    EXPECT_EQ(c.client_budget_frames, 100u);
}

TEST(Config, HandshakesPerAddressFollowMaxHandshakesUnlessSet) {
    auto per_address = [](const char* flag, const char* value) {
        auto p = parse({"--jwt-secret", "s", flag, value});
        EXPECT_EQ(p.out.exit_code, -1) << p.err;
        return p.out.cfg.max_handshakes_per_address;
    };
    EXPECT_EQ(per_address("--max-handshakes", "4000"), 500u);         // auto: an eighth
    EXPECT_EQ(per_address("--max-handshakes", "20"), 8u);             // at least 8
    EXPECT_EQ(per_address("--max-handshakes", "0"), 128u);            // no process-wide cap
    EXPECT_EQ(per_address("--max-handshakes-per-address", "0"), 0u);  // off
    EXPECT_EQ(per_address("--max-handshakes-per-address", "3"), 3u);
}

TEST(Config, ClientBudgetAndHeaderTimeoutParse) {
    auto p = parse({"--jwt-secret", "s", "--client-budget-bytes", "1MiB", "--client-budget-frames",
                    "7", "--client-budget-interval", "2s", "--header-timeout", "1500ms"});
    ASSERT_EQ(p.out.exit_code, -1) << p.err;
    const auto& c = p.out.cfg;
    EXPECT_EQ(c.client_budget_bytes, 1u << 20);
    EXPECT_EQ(c.client_budget_frames, 7u);
    EXPECT_EQ(c.client_budget_interval, std::chrono::seconds(2));
    EXPECT_EQ(c.header_timeout, std::chrono::milliseconds(1500));
}

TEST(Config, BadClientBudgetsAndHeaderTimeoutNameTheFlag) {
    const std::vector<std::vector<const char*>> bad = {
        {"--client-budget-bytes", "lots"},
        {"--client-budget-bytes", "1GiB"},
        {"--client-budget-bytes", "4KiB"},  // less than one 4 KiB message with its header
        {"--client-budget-frames", "0"},
        {"--client-budget-frames", "x"},
        {"--client-budget-interval", "500ms"},
        {"--client-budget-interval", "2h"},
        {"--header-timeout", "0"},
        {"--header-timeout", "soon"},
        {"--max-handshakes-per-address", "-1"},
        {"--max-handshakes-per-address", "many"},
    };
    for (const auto& args : bad) {
        std::vector<const char*> all = {"--jwt-secret", "s"};
        all.insert(all.end(), args.begin(), args.end());
        auto p = parse(all);
        EXPECT_EQ(p.out.exit_code, 2) << args[0] << " " << args[1];
        EXPECT_NE(p.err.find(args[0]), std::string::npos) << p.err;
    }
    // The byte budget must hold one largest message: raising --max-message-bytes alone
    // says which flag to raise.
    auto p = parse({"--jwt-secret", "s", "--max-message-bytes", "64KiB"});
    EXPECT_EQ(p.out.exit_code, 2);
    EXPECT_NE(p.err.find("--client-budget-bytes"), std::string::npos) << p.err;
    EXPECT_NE(p.err.find("--max-message-bytes"), std::string::npos) << p.err;
}

TEST(Config, AdmissionLimitsParse) {
    auto p = parse({"--jwt-secret", "s", "--max-connections", "5000", "--max-connections-per-user",
                    "3", "--max-handshakes", "0", "--ip-connect-rate", "2.5", "--ip-connect-burst",
                    "10", "--allowed-origins", "https://app.example.com, https://*.example.org",
                    "--close-on-token-expiry", "false"});
    ASSERT_EQ(p.out.exit_code, -1) << p.err;
    const auto& c = p.out.cfg;
    EXPECT_EQ(c.max_connections, 5000u);
    EXPECT_EQ(c.max_connections_per_user, 3u);
    EXPECT_EQ(c.max_handshakes, 0u);
    EXPECT_EQ(c.ip_connect_rate, 2.5);
    EXPECT_EQ(c.ip_connect_burst, 10u);
    EXPECT_EQ(c.allowed_origins,
              (std::vector<std::string>{"https://app.example.com", "https://*.example.org"}));
    EXPECT_FALSE(c.close_on_token_expiry);
}

TEST(Config, BadAdmissionLimitsNameTheFlag) {
    const std::vector<std::pair<const char*, const char*>> bad = {
        {"--max-connections", "lots"},
        {"--max-connections", "-1"},
        {"--max-connections-per-user", "-2"},
        {"--max-connections-per-user", "2000000"},
        {"--max-handshakes", "x"},
        {"--ip-connect-rate", "fast"},
        {"--ip-connect-rate", "-1"},
        {"--ip-connect-rate", "nan"},
        {"--ip-connect-burst", "9999999"},
        {"--allowed-origins", "example.com"},
        {"--allowed-origins", "https://a.b/c"},
        {"--close-on-token-expiry", "maybe"},
    };
    for (const auto& [flag, value] : bad) {
        auto p = parse({"--jwt-secret", "s", flag, value});
        EXPECT_EQ(p.out.exit_code, 2) << flag << " " << value;
        EXPECT_NE(p.err.find(std::string(flag)), std::string::npos) << p.err;
    }
}

TEST(Config, AdmissionLimitsComeFromTheEnvironment) {
    scoped_env a("WSGATE_MAX_CONNECTIONS", "7");
    scoped_env b("WSGATE_ALLOWED_ORIGINS", "*");
    scoped_env c("WSGATE_CLOSE_ON_TOKEN_EXPIRY", "false");
    auto p = parse({"--jwt-secret", "s"});
    ASSERT_EQ(p.out.exit_code, -1) << p.err;
    EXPECT_EQ(p.out.cfg.max_connections, 7u);
    EXPECT_EQ(p.out.cfg.allowed_origins, std::vector<std::string>{"*"});
    EXPECT_FALSE(p.out.cfg.close_on_token_expiry);
}

TEST(Config, DemoModeIsOffByDefaultAndParsesLikeABoolean) {
    auto off = parse({"--jwt-secret", "s"});
    ASSERT_EQ(off.out.exit_code, -1) << off.err;
    EXPECT_FALSE(off.out.cfg.demo);

    auto on = parse({"--jwt-secret", "s", "--listen", "127.0.0.1:8080", "--demo", "true"});
    ASSERT_EQ(on.out.exit_code, -1) << on.err;
    EXPECT_TRUE(on.out.cfg.demo);

    {
        scoped_env env("WSGATE_DEMO", "true");
        scoped_env listen("WSGATE_LISTEN", "[::1]:8080");
        auto from_env = parse({"--jwt-secret", "s"});
        ASSERT_EQ(from_env.out.exit_code, -1) << from_env.err;
        EXPECT_TRUE(from_env.out.cfg.demo);
        auto flag_wins = parse({"--jwt-secret", "s", "--demo", "false"});
        ASSERT_EQ(flag_wins.out.exit_code, -1) << flag_wins.err;
        EXPECT_FALSE(flag_wins.out.cfg.demo);
    }

    auto bad = parse({"--jwt-secret", "s", "--demo", "yes"});
    EXPECT_EQ(bad.out.exit_code, 2);
    EXPECT_NE(bad.err.find("--demo"), std::string::npos) << bad.err;
}

// The demo endpoints mint tokens for any user: a --demo gateway listens on loopback only.
TEST(Config, DemoModeRefusesANonLoopbackListenAddress) {
    for (const char* listen : {"127.0.0.1:8080", "127.1.2.3:0", "[::1]:8080"}) {
        auto ok = parse({"--jwt-secret", "s", "--listen", listen, "--demo", "true"});
        EXPECT_EQ(ok.out.exit_code, -1) << listen << ": " << ok.err;
    }
    // The default --listen is 0.0.0.0:8080, so --demo alone is refused too.
    auto by_default = parse({"--jwt-secret", "s", "--demo", "true"});
    EXPECT_EQ(by_default.out.exit_code, 2);
    EXPECT_NE(by_default.err.find("wsgate: --demo: true needs a loopback --listen"),
              std::string::npos)
        << by_default.err;
    for (const char* listen : {"0.0.0.0:8080", "[::]:8080", "10.0.0.1:8080", "192.168.1.5:80",
                               "[::ffff:127.0.0.1]:8080", "[2001:db8::1]:8080"}) {
        auto refused = parse({"--jwt-secret", "s", "--listen", listen, "--demo", "true"});
        EXPECT_EQ(refused.out.exit_code, 2) << listen;
        EXPECT_NE(refused.err.find("--listen"), std::string::npos) << refused.err;
        EXPECT_NE(refused.err.find(listen), std::string::npos) << refused.err;
    }
    // Without --demo any address is fine.
    EXPECT_EQ(parse({"--jwt-secret", "s", "--listen", "0.0.0.0:8080"}).out.exit_code, -1);
}

TEST(Config, RedisClusterModeTakesSeedNodes) {
    auto p = parse({"--jwt-secret", "s", "--redis-mode", "cluster", "--redis-url",
                    "redis://:pw@10.0.0.1:7000,redis://10.0.0.2:7001",
                    "--redis-cluster-refresh-interval", "5s"});
    ASSERT_EQ(p.out.exit_code, -1) << p.err;
    const auto& c = p.out.cfg;
    EXPECT_EQ(c.redis_mode, wsgate::redis_mode::cluster);
    ASSERT_EQ(c.redis_seeds.size(), 2u);
    EXPECT_EQ(c.redis_seeds[1].host, "10.0.0.2");
    EXPECT_EQ(c.redis_seeds[1].password, "pw");  // one set of credentials for all seeds
    EXPECT_EQ(c.redis, c.redis_seeds[0]);
    EXPECT_EQ(c.redis_cluster_refresh_interval, std::chrono::seconds(5));

    scoped_env mode("WSGATE_REDIS_MODE", "cluster");
    auto e = parse({"--jwt-secret", "s", "--redis-url", "redis://h:7000"});
    ASSERT_EQ(e.out.exit_code, -1) << e.err;
    EXPECT_EQ(e.out.cfg.redis_mode, wsgate::redis_mode::cluster);
}

TEST(Config, RedisModeDefaultsToSingle) {
    auto p = parse({"--jwt-secret", "s"});
    ASSERT_EQ(p.out.exit_code, -1) << p.err;
    EXPECT_EQ(p.out.cfg.redis_mode, wsgate::redis_mode::single);
    EXPECT_EQ(p.out.cfg.redis_seeds.size(), 1u);
    EXPECT_EQ(p.out.cfg.redis_cluster_refresh_interval, std::chrono::seconds(30));
}

TEST(Config, BadRedisClusterSettingsNameTheirFlag) {
    struct bad_case {
        std::vector<const char*> args;
        const char* flag;
        const char* words;
    };
    const std::vector<bad_case> cases = {
        {{"--redis-url", "redis://h1:1,redis://h2:2"}, "--redis-url", "--redis-mode cluster"},
        {{"--redis-mode", "sharded"}, "--redis-mode", "single or cluster"},
        {{"--redis-mode", "cluster", "--redis-url", "redis://h1:1,rediss://h2:2"},
         "--redis-url",
         "one scheme"},
        {{"--redis-mode", "cluster", "--redis-url", "redis://h1:1,"}, "--redis-url", "list"},
        {{"--redis-mode", "cluster", "--redis-url", "redis://h1:1/3"}, "--redis-url", "db 0"},
        {{"--redis-mode", "cluster", "--redis-cluster-refresh-interval", "0s"},
         "--redis-cluster-refresh-interval",
         "greater than 0"},
    };
    for (auto c : cases) {
        c.args.insert(c.args.begin(), {"--jwt-secret", "s"});
        auto p = parse(c.args);
        EXPECT_EQ(p.out.exit_code, 2) << c.flag;
        EXPECT_NE(p.err.find(c.flag), std::string::npos) << p.err;
        EXPECT_NE(p.err.find(c.words), std::string::npos) << p.err;
    }
}
