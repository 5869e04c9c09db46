// End-to-end key reload: the real gateway picks up a replaced JWKS file on SIGHUP and,
// without a signal, through its --jwt-reload-interval poll. A token signed with the new key
// then connects and receives messages; one signed with the removed key gets 1008; a broken
// file keeps the old keys. RSA keys are generated at run time (auth_test_keys).
#include <signal.h>

#include <atomic>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>

#include "../unit/auth_test_keys.hpp"
#include "gateway_fixture.hpp"

namespace wsgate::test {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using auth::test::jwk_with;
using auth::test::rsa_key;

const std::string reloads_ok = R"(wsgate_jwt_reloads_total{result="ok"})";
const std::string reloads_error = R"(wsgate_jwt_reloads_total{result="error"})";

std::string jwks_text(const json::object& key) {
    return json::serialize(json::object{{"keys", json::array{key}}});
}

// Writes a sibling and renames it over `path`: readers see the old or the new file, whole.
void replace_atomically(const fs::path& path, std::string_view contents) {
    const fs::path tmp = path.string() + ".tmp";
    std::ofstream(tmp, std::ios::binary | std::ios::trunc) << contents;
    fs::rename(tmp, path);
}

// The gateway trusts one JWKS file, first holding RSA key 0 as kid "old".
class KeyReload : public gateway_fixture {
protected:
    void SetUp() override {
        static std::atomic<int> counter{0};
        dir_ = fs::temp_directory_path() /
               ("wsgate-key-reload-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
        fs::create_directories(dir_);
        jwks_ = dir_ / "jwks.json";
        replace_atomically(jwks_, jwks_text(jwk_with(rsa_key(0), "old", "RS256")));
        gateway_fixture::SetUp();
    }
    void TearDown() override {
        gateway_fixture::TearDown();
        std::error_code ignored;
        fs::remove_all(dir_, ignored);
    }

    virtual std::string reload_interval() const { return "0"; }  // SIGHUP only
    flag_list gateway_flags() const override {
        return {{"--jwt-jwks-file", jwks_.string()},
                {"--jwt-algorithms", "HS256,RS256"},  // the fixture also sets a secret
                {"--jwt-reload-interval", reload_interval()}};
    }

    static std::string rs256(int key, const std::string& kid, const std::string& user) {
        json::object claims{{"sub", user}, {"exp", unix_now() + 3600}};
        return auth::mint_token("RS256", rsa_key(key).private_pem, claims, kid);
    }

    // Connects as `user` with `token` and shows the gateway authorized it: a message
    // published to the user arrives. Returns the open client (null after a test failure).
    std::unique_ptr<ws_client> expect_authorized(const std::string& user,
                                                 const std::string& token) {
        auto c = std::make_unique<ws_client>();
        if (auto ec = c->connect(port(), target_for(user, token))) {
            ADD_FAILURE() << "connect as " << user << ": " << ec.message();
            return nullptr;
        }
        EXPECT_EQ(publish(user, "hello " + user), 1);
        auto got = c->read_text(5s);
        EXPECT_EQ(got, std::optional<std::string>("hello " + user))
            << "end: " << c->end_state() << "\n"
            << gateway().output();
        return c;
    }

    // Connects as `user` with `token` and expects the auth close (1008, `reason`).
    void expect_rejected(const std::string& user, const std::string& token,
                         const std::string& reason) {
        ws_client c;
        ASSERT_FALSE(c.connect(port(), target_for(user, token)));
        auto end = c.read_until_close(5s);
        EXPECT_TRUE(end.got_close_frame) << end;
        EXPECT_EQ(end.code, 1008) << end;
        EXPECT_EQ(end.reason, reason) << end;
    }

    fs::path dir_;
    fs::path jwks_;
};

TEST_F(KeyReload, SighupSwapsInTheNewKeyAndDropsTheRemovedOne) {
    auto before = expect_authorized("alice", rs256(0, "old", "alice"));
    ASSERT_TRUE(before);
    expect_rejected("bob", rs256(1, "new", "bob"), "invalid token");

    replace_atomically(jwks_, jwks_text(jwk_with(rsa_key(1), "new", "RS256")));
    // Polling is off: nothing changes until the signal.
    expect_rejected("bob", rs256(1, "new", "bob"), "invalid token");
    EXPECT_EQ(metric(reloads_ok), 0);

    ASSERT_TRUE(gateway().process().signal(SIGHUP));
    ASSERT_TRUE(wait_metric(reloads_ok, 1, 5s)) << gateway().output();
    EXPECT_TRUE(gateway().running());
    EXPECT_EQ(readyz(), 200);
    EXPECT_NE(gateway().output().find("jwt_keys_reloaded"), std::string::npos);
    EXPECT_NE(gateway().output().find("trigger=sighup"), std::string::npos) << gateway().output();

    auto after = expect_authorized("bob", rs256(1, "new", "bob"));
    EXPECT_TRUE(after);
    expect_rejected("carol", rs256(0, "old", "carol"), "invalid token");
    // The connection authorized with the old key is not re-checked; it still delivers.
    EXPECT_EQ(publish("alice", "still here"), 1);
    EXPECT_EQ(before->read_text(5s), std::optional<std::string>("still here"));
    EXPECT_EQ(metric(reloads_error), 0);
}

TEST_F(KeyReload, BrokenFileOnSighupKeepsTheOldKeysAndLogsTheFile) {
    replace_atomically(jwks_, R"({"keys":[{"kty":"RSA","kid":"new","n":"AQAB"}])");
    ASSERT_TRUE(gateway().process().signal(SIGHUP));
    ASSERT_TRUE(wait_metric(reloads_error, 1, 5s)) << gateway().output();
    const std::string out = gateway().output();
    const auto line_start = out.find("jwt_keys_reload_failed");
    ASSERT_NE(line_start, std::string::npos) << out;
    const std::string line = out.substr(line_start, out.find('\n', line_start) - line_start);
    EXPECT_NE(line.find("--jwt-jwks-file: " + jwks_.string()), std::string::npos) << line;
    EXPECT_EQ(metric(reloads_ok), 0);
    EXPECT_TRUE(gateway().running());

    EXPECT_TRUE(expect_authorized("alice", rs256(0, "old", "alice")));
    expect_rejected("bob", rs256(1, "new", "bob"), "invalid token");
}

// The same gateway, polling its key files every 200 ms.
class KeyReloadPolling : public KeyReload {
protected:
    std::string reload_interval() const override { return "200ms"; }
};

TEST_F(KeyReloadPolling, ChangedFileIsPickedUpWithoutASignal) {
    EXPECT_TRUE(expect_authorized("alice", rs256(0, "old", "alice")));
    // No change, no reload: the poll compares file identities only.
    pump(600ms);
    EXPECT_EQ(metric(reloads_ok), 0);

    replace_atomically(jwks_, jwks_text(jwk_with(rsa_key(1), "new", "RS256")));
    // A few intervals of slack for a loaded machine; no signal is sent.
    ASSERT_TRUE(wait_metric(reloads_ok, 1, 3s)) << gateway().output();
    EXPECT_NE(gateway().output().find("trigger=file_change"), std::string::npos)
        << gateway().output();
    EXPECT_TRUE(expect_authorized("bob", rs256(1, "new", "bob")));
    expect_rejected("carol", rs256(0, "old", "carol"), "invalid token");
    // One change, one reload.
    pump(600ms);
    EXPECT_EQ(metric(reloads_ok), 1);
    EXPECT_EQ(metric(reloads_error), 0);
}

}  // namespace
}  // namespace wsgate::test
