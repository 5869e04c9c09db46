// The gateway's Redis link over TLS (rediss://) with an ACL user, against a real
// redis-server listening on a plain port (for the test's own commands and publishing) and a
// TLS port (for the gateway). Certificates are made at run time with the openssl CLI: a CA,
// a server certificate for 127.0.0.1/localhost, a client certificate, and a second CA that
// signed nothing the server uses.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gateway_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using namespace wsgate::test;
namespace fs = std::filesystem;

const std::string acl_user = "gateway";
const std::string acl_password = "tls-s3cret";

/// Certificates in a temporary directory (absolute paths: redis-server needs them).
struct test_pki {
    fs::path dir;
    std::string ca, server_cert, server_key, client_cert, client_key, other_ca;

    test_pki() {
        std::string tmpl = (fs::temp_directory_path() / "wsgate-tls-XXXXXX").string();
        if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        dir = tmpl;
        auto path = [&](const char* name) { return (dir / name).string(); };
        ca = path("ca.crt");
        other_ca = path("other-ca.crt");
        server_cert = path("server.crt");
        server_key = path("server.key");
        client_cert = path("client.crt");
        client_key = path("client.key");
        make_ca("ca", "wsgate test CA");
        make_ca("other-ca", "unrelated CA");
        make_leaf("server", "localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
        make_leaf("client", "wsgate", "extendedKeyUsage=clientAuth\n");
    }
    ~test_pki() {
        std::error_code ignored;
        fs::remove_all(dir, ignored);
    }

    static void openssl(std::vector<std::string> args) {
        auto [status, out] = run_to_completion("openssl", std::move(args), {}, 30s);
        if (status != 0) throw std::runtime_error("openssl failed:\n" + out);
    }
    void make_ca(const std::string& name, const std::string& cn) {
        const auto d = dir.string() + "/";
        openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", d + name + ".key", "-out", d + name + ".crt", "-days", "2", "-subj",
                 "/CN=" + cn});
    }
    void make_leaf(const std::string& name, const std::string& cn, const std::string& ext) {
        const auto d = dir.string() + "/";
        std::ofstream(d + name + ".ext") << ext;
        openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                 d + name + ".key", "-out", d + name + ".csr", "-subj", "/CN=" + cn});
        openssl({"x509", "-req", "-in", d + name + ".csr", "-CA", d + "ca.crt", "-CAkey",
                 d + "ca.key", "-CAcreateserial", "-out", d + name + ".crt", "-days", "2",
                 "-extfile", d + name + ".ext"});
    }
};

class RedisTls : public gateway_fixture {
protected:
    static void SetUpTestSuite() { pki_ = new test_pki(); }
    static void TearDownTestSuite() {
        delete pki_;
        pki_ = nullptr;
    }

    /// `tls-auth-clients` of the server: "optional" or "yes".
    virtual std::string auth_clients() const { return "optional"; }

    void SetUp() override {
        deadline_ = std::make_unique<hard_deadline>(test_limit());
        tls_port_ = free_port();
        redis_server::options o;
        o.extra_args = {"--tls-port", std::to_string(tls_port_), "--tls-cert-file",
                        pki_->server_cert, "--tls-key-file", pki_->server_key, "--tls-ca-cert-file",
                        pki_->ca, "--tls-auth-clients", auth_clients(),
                        // Only what the subscriber needs, on the gateway's channels.
                        "--user", acl_user, "on", ">" + acl_password, "resetchannels", "&ws:*",
                        "+subscribe", "+unsubscribe", "+ping", "+client|setname"};
        redis_ = std::make_unique<redis_server>(o);
        publisher_ = std::make_unique<wsgate::publisher>(redis_->url(), 5s);
    }

    std::string tls_url() const {
        return "rediss://" + acl_user + ":" + acl_password +
               "@127.0.0.1:" + std::to_string(tls_port_);
    }
    void start_tls_gateway(flag_list flags, bool wait_ready) {
        flags.emplace_back("--redis-timeout", "1s");
        gateway_ = std::make_unique<gateway_process>(tls_url(), flags, wait_ready);
    }
    /// CLIENT LIST lines of the gateway's subscriber connections.
    std::vector<std::string> gateway_links() {
        std::vector<std::string> out;
        std::istringstream in(redis().command({"CLIENT", "LIST"}).str);
        for (std::string line; std::getline(in, line);)
            if (line.find("name=wsgate-shard-") != std::string::npos) out.push_back(line);
        return out;
    }
    static bool still_open(ws_client& c) {
        pump(20ms);
        return !c.ended();
    }

    static test_pki* pki_;
    std::uint16_t tls_port_ = 0;
};
test_pki* RedisTls::pki_ = nullptr;

TEST_F(RedisTls, DeliversOverTlsAsAnAclUser) {
    start_tls_gateway({{"--redis-tls-ca-file", pki_->ca}, {"--redis-ping-interval", "300ms"}},
                      true);
    const auto links = gateway_links();
    ASSERT_EQ(links.size(), 2u) << "one link per shard";
    for (const auto& l : links) {
        EXPECT_NE(l.find(" user=" + acl_user + " "), std::string::npos) << l;
        EXPECT_NE(l.find(" laddr=127.0.0.1:" + std::to_string(tls_port_) + " "), std::string::npos)
            << "connected to the TLS port: " << l;
    }
    auto alice = connect_user("alice");
    ASSERT_TRUE(alice);
    EXPECT_EQ(publish("alice", "over tls"), 1);
    EXPECT_EQ(alice->read_text(5s), "over tls");
    EXPECT_TRUE(
        wait_until([&] { return metric("wsgate_redis_probe_round_trip_seconds_count") >= 2; }, 5s))
        << "probes run over TLS too";
}

TEST_F(RedisTls, WrongCaIsRefusedWithAClearLogLine) {
    start_tls_gateway({{"--redis-tls-ca-file", pki_->other_ca}}, false);
    ASSERT_TRUE(gateway().process().wait_for_output("redis_tls_handshake_failed", 10s))
        << gateway().output();
    const auto out = gateway().output();
    EXPECT_NE(out.find("certificate verify failed"), std::string::npos) << out;
    // OpenSSL's reason for the chain ("self-signed certificate in certificate chain" when the
    // server sends its CA along, else "unable to get local issuer certificate").
    EXPECT_NE(out.find(" verify=\"self-signed certificate in certificate chain\""),
              std::string::npos)
        << out;
    EXPECT_EQ(out.find(acl_password), std::string::npos) << "the password stays out of logs";
    EXPECT_EQ(readyz(), 503);
    EXPECT_EQ(http_get(port(), "/healthz").status, 200);
    EXPECT_TRUE(gateway().running());
    EXPECT_TRUE(gateway_links().empty());
}

TEST_F(RedisTls, ServerNameMustMatchTheCertificate) {
    start_tls_gateway(
        {{"--redis-tls-ca-file", pki_->ca}, {"--redis-tls-server-name", "redis.example.com"}},
        false);
    ASSERT_TRUE(gateway().process().wait_for_output("redis_tls_handshake_failed", 10s))
        << gateway().output();
    EXPECT_NE(gateway().output().find("hostname mismatch"), std::string::npos)
        << gateway().output();
    EXPECT_EQ(readyz(), 503);
}

TEST_F(RedisTls, ServerNameOverrideAcceptsAnotherNameInTheCertificate) {
    start_tls_gateway({{"--redis-tls-ca-file", pki_->ca}, {"--redis-tls-server-name", "localhost"}},
                      true);
    auto alice = connect_user("alice");
    ASSERT_TRUE(alice);
    EXPECT_EQ(publish("alice", "verified as localhost"), 1);
    EXPECT_EQ(alice->read_text(5s), "verified as localhost");
}

TEST_F(RedisTls, ResubscribesAfterARedisRestart) {
    start_tls_gateway({{"--redis-tls-ca-file", pki_->ca}}, true);
    auto alice = connect_user("alice");
    ASSERT_TRUE(alice);
    const double reconnects = metric("wsgate_redis_reconnects_total");
    redis().restart();
    ASSERT_TRUE(wait_until([&] { return readyz() == 200; }, 10s)) << gateway().output();
    EXPECT_GE(metric("wsgate_redis_reconnects_total"), reconnects + 2);
    EXPECT_EQ(numsub("alice"), 1);
    EXPECT_TRUE(still_open(*alice));
    EXPECT_EQ(publish("alice", "after restart"), 1);
    EXPECT_EQ(alice->read_text(5s), "after restart");
}

class RedisMutualTls : public RedisTls {
protected:
    std::string auth_clients() const override { return "yes"; }
};

TEST_F(RedisMutualTls, NeedsTheClientCertificate) {
    start_tls_gateway({{"--redis-tls-ca-file", pki_->ca}}, false);
    // The server refuses the handshake (or drops the link right after it) without a
    // client certificate.
    EXPECT_FALSE(wait_until([&] { return readyz() == 200; }, 3s));
    EXPECT_TRUE(gateway_links().empty());
    EXPECT_TRUE(gateway().running());
    EXPECT_EQ(gateway().terminate(), 0);
    gateway_.reset();

    start_tls_gateway({{"--redis-tls-ca-file", pki_->ca},
                       {"--redis-tls-cert-file", pki_->client_cert},
                       {"--redis-tls-key-file", pki_->client_key}},
                      true);
    auto alice = connect_user("alice");
    ASSERT_TRUE(alice);
    EXPECT_EQ(publish("alice", "mutual tls"), 1);
    EXPECT_EQ(alice->read_text(5s), "mutual tls");
}

// Bad TLS settings stop the gateway at start with the flag's name (exit 2).
class RedisTlsSettings : public RedisTls {
protected:
    std::pair<int, std::string> run_gateway(std::vector<std::string> args,
                                            process_options opts = {}) {
        args.insert(args.begin(), {"--listen", "127.0.0.1:0", "--jwt-secret", test_jwt_secret});
        return run_to_completion(WSGATE_BINARY, std::move(args), std::move(opts), 10s);
    }
};

TEST_F(RedisTlsSettings, AreCheckedAtStart) {
    struct bad {
        std::vector<std::string> args;
        std::string message;
    };
    const std::vector<bad> cases = {
        {{"--redis-url", tls_url(), "--redis-tls-cert-file", pki_->client_cert},
         "--redis-tls-cert-file: needs --redis-tls-key-file"},
        {{"--redis-url", tls_url(), "--redis-tls-key-file", pki_->client_key},
         "--redis-tls-key-file: needs --redis-tls-cert-file"},
        {{"--redis-url", tls_url(), "--redis-tls-ca-file", "/nonexistent/ca.crt"},
         "--redis-tls-ca-file: /nonexistent/ca.crt: cannot be read"},
        {{"--redis-url", tls_url(), "--redis-tls-ca-file", pki_->server_key},
         "--redis-tls-ca-file: " + pki_->server_key + ": no PEM certificate in it"},
        {{"--redis-url", tls_url(), "--redis-tls-cert-file", pki_->client_cert,
          "--redis-tls-key-file", pki_->server_key},
         "--redis-tls-key-file: "},
        {{"--redis-url", redis().url(), "--redis-tls-ca-file", pki_->ca},
         "--redis-tls-ca-file: needs a rediss:// --redis-url"},
    };
    for (const auto& c : cases) {
        auto [status, out] = run_gateway(c.args);
        EXPECT_EQ(status, 2) << out;
        EXPECT_NE(out.find("wsgate: " + c.message), std::string::npos) << out;
    }
    // The environment works like the flag.
    process_options env;
    env.env = {{"WSGATE_REDIS_TLS_CA_FILE", "/nonexistent/env-ca.crt"}};
    auto [status, out] = run_gateway({"--redis-url", tls_url()}, env);
    EXPECT_EQ(status, 2) << out;
    EXPECT_NE(out.find("--redis-tls-ca-file: /nonexistent/env-ca.crt: cannot be read"),
              std::string::npos)
        << out;
}

}  // namespace
