// Command-line and environment parsing with CLI11; every failure names its flag.
// Durations and sizes are read as text and parsed here so messages stay ours.
#include "config/config.hpp"

#include <openssl/ssl.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "auth/jwt_verifier.hpp"
#include "server/origin.hpp"
#include "util/units.hpp"

namespace wsgate {
namespace {

struct bad_setting : std::invalid_argument {
    bad_setting(const std::string& flag, const std::string& what)
        : std::invalid_argument(flag + ": " + what) {}
};

// A boolean flag's value: a bare --flag (the empty value) means true, like every other CLI.
bool bool_flag(const std::string& flag, const std::string& text) {
    if (text.empty() || text == "true" || text == "1" || text == "yes" || text == "on") return true;
    if (text == "false" || text == "0" || text == "no" || text == "off") return false;
    const std::string accepted = "true, false, 1, 0, yes, no, on, off; a bare " + flag;
    throw bad_setting(flag, "'" + text + "' is not a boolean (" + accepted + " means true)");
}

std::chrono::milliseconds duration_flag(const std::string& flag, const std::string& text,
                                        bool allow_zero) {
    auto d = parse_duration(text);
    if (!d) throw bad_setting(flag, "'" + text + "' is not a duration (e.g. 500ms, 25s, 1h)");
    if (!allow_zero && d->count() == 0) throw bad_setting(flag, "must be greater than 0");
    return *d;
}

std::uint64_t bytes_flag(const std::string& flag, const std::string& text, std::uint64_t min,
                         std::uint64_t max) {
    auto b = parse_bytes(text);
    if (!b) throw bad_setting(flag, "'" + text + "' is not a size (e.g. 4096, 64KiB, 1MiB)");
    if (*b < min || *b > max)
        throw bad_setting(flag,
                          "must be between " + format_bytes(min) + " and " + format_bytes(max));
    return *b;
}

std::vector<std::string> split_list(const std::string& text) {
    std::vector<std::string> out;
    std::stringstream in(text);
    for (std::string item; std::getline(in, item, ',');) {
        auto b = item.find_first_not_of(" \t");
        auto e = item.find_last_not_of(" \t");
        if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
    }
    return out;
}

std::string read_secret_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw bad_setting("--jwt-secret-file", path + ": cannot be read");
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // Drop one line ending, as wsgate-token does, so both read the same secret.
    if (s.ends_with("\r\n"))
        s.resize(s.size() - 2);
    else if (s.ends_with('\n'))
        s.pop_back();
    if (s.empty()) throw bad_setting("--jwt-secret-file", path + ": is empty");
    return s;
}

// "auto": the open-files limit less a reserve for Redis links, handshakes and logs.
std::uint64_t connections_flag(const std::string& text) {
    if (text == "auto") {
        rlimit rl{};
        if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 0;
        return rl.rlim_cur > 256 ? rl.rlim_cur - 128 : std::max<rlim_t>(1, rl.rlim_cur / 2);
    }
    std::size_t used = 0;
    unsigned long long n = 0;
    try {
        n = std::stoull(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != text.size() || text.empty() || text.front() == '-')
        throw bad_setting("--max-connections", "'" + text + "' is not a number or auto");
    return n;
}

std::uint32_t count_flag(const std::string& flag, const std::string& text,
                         std::uint32_t max = 1'000'000) {
    std::size_t used = 0;
    unsigned long n = 0;
    try {
        n = std::stoul(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != text.size() || text.empty() || text.front() == '-' || n > max)
        throw bad_setting(flag,
                          "'" + text + "' is not a number between 0 and " + std::to_string(max));
    return static_cast<std::uint32_t>(n);
}

double rate_flag(const std::string& flag, const std::string& text) {
    std::size_t used = 0;
    double r = -1;
    try {
        r = std::stod(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != text.size() || !(r >= 0) || r > 1e6)
        throw bad_setting(flag, "'" + text + "' is not a rate between 0 and 1000000 per second");
    return r;
}

listen_address parse_listen(const std::string& flag, const std::string& text) {
    auto colon = text.rfind(':');
    if (colon == std::string::npos || colon + 1 == text.size())
        throw bad_setting(flag, "'" + text + "' is not HOST:PORT");
    std::string host = text.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    boost::system::error_code ec;
    boost::asio::ip::make_address(host, ec);
    if (ec) throw bad_setting(flag, "'" + host + "' is not an IP address");
    auto port_text = text.substr(colon + 1);
    unsigned long port = 0;
    std::size_t used = 0;
    try {
        port = std::stoul(port_text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != port_text.size() || port > 65535)
        throw bad_setting(flag, "'" + port_text + "' is not a port number");
    return {host, static_cast<std::uint16_t>(port)};
}

// --- Redis TLS (--redis-tls-*) ---------------------------------------------------------
struct redis_tls_flags {
    std::string ca_file, cert_file, key_file, server_name;
};

void check_readable(const std::string& flag, const std::string& path) {
    if (!std::ifstream(path, std::ios::binary)) throw bad_setting(flag, path + ": cannot be read");
}

// Loads the files once with OpenSSL, as the subscriber will, so a bad file stops the start
// with the flag's name instead of failing every connection later.
redis::tls_options check_redis_tls(const redis_tls_flags& f, bool rediss) {
    const std::pair<const char*, const std::string*> given[] = {
        {"--redis-tls-ca-file", &f.ca_file},
        {"--redis-tls-cert-file", &f.cert_file},
        {"--redis-tls-key-file", &f.key_file},
        {"--redis-tls-server-name", &f.server_name}};
    for (const auto& [flag, value] : given)
        if (!value->empty() && !rediss) throw bad_setting(flag, "needs a rediss:// --redis-url");
    if (!rediss) return {};
    if (!f.cert_file.empty() && f.key_file.empty())
        throw bad_setting("--redis-tls-cert-file", "needs --redis-tls-key-file");
    if (f.cert_file.empty() && !f.key_file.empty())
        throw bad_setting("--redis-tls-key-file", "needs --redis-tls-cert-file");
    if (std::ranges::any_of(f.server_name, [](unsigned char c) { return c <= ' ' || c == 0x7f; }))
        throw bad_setting("--redis-tls-server-name", "'" + f.server_name + "' is not a host name");

    std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                          &SSL_CTX_free);
    if (!ctx) throw std::runtime_error("OpenSSL: cannot create an SSL context");
    if (!f.ca_file.empty()) {
        check_readable("--redis-tls-ca-file", f.ca_file);
        if (SSL_CTX_load_verify_locations(ctx.get(), f.ca_file.c_str(), nullptr) != 1)
            throw bad_setting("--redis-tls-ca-file", f.ca_file + ": no PEM certificate in it");
    }
    if (!f.cert_file.empty()) {
        check_readable("--redis-tls-cert-file", f.cert_file);
        check_readable("--redis-tls-key-file", f.key_file);
        if (SSL_CTX_use_certificate_chain_file(ctx.get(), f.cert_file.c_str()) != 1)
            throw bad_setting("--redis-tls-cert-file", f.cert_file + ": not a PEM certificate");
        if (SSL_CTX_use_PrivateKey_file(ctx.get(), f.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
            throw bad_setting("--redis-tls-key-file",
                              f.key_file + ": not a PEM private key, or not the certificate's");
        if (SSL_CTX_check_private_key(ctx.get()) != 1)
            throw bad_setting("--redis-tls-key-file", "does not match --redis-tls-cert-file");
    }
    return redis::tls_options{.ca_file = f.ca_file,
                              .cert_file = f.cert_file,
                              .key_file = f.key_file,
                              .server_name = f.server_name};
}
// --- end of Redis TLS ------------------------------------------------------------------

}  // namespace

parse_outcome parse_command_line(int argc, const char* const* argv) {
    parse_outcome out;
    config& cfg = out.cfg;

    CLI::App app{
        "wsgate: forwards Redis Pub/Sub messages on ws:{user_id} to the user's WebSockets at\n"
        "/ws/v1/status/{user_id}?token=JWT. Every flag may also be set through the\n"
        "environment variable shown beside it; a flag on the command line wins.",
        "wsgate"};
    app.set_version_flag("--version", std::string(WSGATE_VERSION));
    app.get_formatter()->column_width(38);

    std::string listen = "0.0.0.0:8080";
    std::string metrics_listen;
    std::string redis_url = "redis://127.0.0.1:6379";
    std::string jwt_secret, jwt_secret_file, jwt_jwks_file, jwt_algorithms, jwt_issuer,
        jwt_audience;
    std::vector<std::string> jwt_public_key_files;
    std::vector<std::string> jwt_issuer_jwks;
    std::string jwt_leeway = "30s";
    std::string jwt_reload_interval = format_duration(cfg.jwt_reload_interval);
    std::string threads = "0";
    std::string max_queue_bytes = format_bytes(cfg.max_queue_bytes);
    std::uint32_t max_queue_messages = cfg.max_queue_messages;
    std::string max_message = format_bytes(cfg.max_client_message_bytes);
    std::string ping_interval = format_duration(cfg.ping_interval);
    std::string handshake_timeout = format_duration(cfg.handshake_timeout);
    std::string max_header = format_bytes(cfg.max_header_bytes);
    std::string subscribe_timeout = format_duration(cfg.subscribe_timeout);
    std::string redis_timeout = format_duration(cfg.redis_timeout);
    std::string redis_ping = format_duration(cfg.redis_ping_interval);
    std::string redis_backoff = format_duration(cfg.redis_backoff_max);
    std::string redis_mode = "single";
    std::string redis_cluster_refresh = format_duration(cfg.redis_cluster_refresh_interval);
    std::string shutdown_timeout = format_duration(cfg.shutdown_timeout);
    std::string drain_delay = format_duration(cfg.drain_delay);
    std::string max_connections = "auto";
    std::string max_connections_per_user = std::to_string(cfg.max_connections_per_user);
    std::string max_handshakes = std::to_string(cfg.max_handshakes);
    std::string max_handshakes_per_address = "auto";
    std::string header_timeout = format_duration(cfg.header_timeout);
    std::string client_budget_interval = format_duration(cfg.client_budget_interval);
    std::string client_budget_bytes = format_bytes(cfg.client_budget_bytes);
    std::string client_budget_frames = std::to_string(cfg.client_budget_frames);
    std::string ip_connect_rate = "0";
    std::string ip_connect_burst = "0";
    std::string allowed_origins;
    std::string close_on_token_expiry = "true";
    std::string demo = "false";
    std::string invalid_utf8 = "drop";
    std::string log_format = "text";
    std::string log_level = "info";

    auto opt = [&](const char* name, auto& var, const char* help) {
        std::string env = std::string("WSGATE_") + (name + 2);
        for (auto& c : env) c = c == '-' ? '_' : static_cast<char>(std::toupper(c));
        return app.add_option(name, var, help)->envname(env);
    };
    opt("--listen", listen, "HOST:PORT to accept WebSocket and HTTP connections on")
        ->capture_default_str();
    opt("--metrics-listen", metrics_listen,
        "HOST:PORT for /metrics, /healthz and /readyz only; /metrics then leaves --listen "
        "(default: /metrics is served on --listen)");
    opt("--redis-url", redis_url,
        "redis[s]://[user:password@]host:port[/db]; cluster mode: seed nodes, comma-separated; "
        "redis+sentinel://host:port[,host:port...]/mastername[/db]: Sentinel mode")
        ->capture_default_str();
    opt("--redis-mode", redis_mode,
        "single (SUBSCRIBE on one Redis) or cluster (SSUBSCRIBE on each slot's master)")
        ->capture_default_str();
    opt("--jwt-secret", jwt_secret, "shared secret for HS256/384/512 tokens");
    opt("--jwt-secret-file", jwt_secret_file,
        "file holding the shared secret (trailing newline dropped)");
    opt("--jwt-public-key-file", jwt_public_key_files,
        "PEM public key (RSA, EC P-256/P-384, Ed25519); repeatable")
        ->delimiter(',');
    opt("--jwt-jwks-file", jwt_jwks_file, "JWKS file with the public keys, selected by kid");
    opt("--jwt-issuer-jwks", jwt_issuer_jwks,
        "ISSUER=PATH: a JWKS file whose keys verify only tokens with that iss; repeatable")
        ->delimiter(',');
    opt("--jwt-algorithms", jwt_algorithms,
        "comma-separated accepted algorithms (default: HS256,HS384,HS512 with a secret, else "
        "all the keys support)");
    opt("--jwt-issuer", jwt_issuer,
        "required iss claim; the issuer the secret, --jwt-public-key-file and --jwt-jwks-file "
        "keys belong to");
    opt("--jwt-audience", jwt_audience, "comma-separated accepted aud values");
    opt("--jwt-leeway", jwt_leeway, "clock skew allowed on exp and nbf")->capture_default_str();
    opt("--jwt-user-claim", cfg.jwt.user_claim, "claim holding the user id")->capture_default_str();
    opt("--jwt-reload-interval", jwt_reload_interval,
        "check key files for changes this often and reload them (0 = only on SIGHUP)")
        ->capture_default_str();
    opt("--threads", threads, "shards (event-loop threads); 0 = one per core")
        ->capture_default_str();
    opt("--max-queue-bytes", max_queue_bytes,
        "per-connection send queue limit before 4008 slow consumer")
        ->capture_default_str();
    opt("--max-queue-messages", max_queue_messages, "per-connection send queue limit in messages")
        ->capture_default_str();
    opt("--max-message-bytes", max_message, "largest frame a client may send (1009 beyond)")
        ->capture_default_str();
    opt("--client-budget-bytes", client_budget_bytes,
        "bytes one connection may send per --client-budget-interval (1008 beyond)")
        ->capture_default_str();
    opt("--client-budget-frames", client_budget_frames,
        "messages and control frames one connection may send per --client-budget-interval "
        "(1008 beyond)")
        ->capture_default_str();
    opt("--client-budget-interval", client_budget_interval,
        "the window of --client-budget-bytes and --client-budget-frames")
        ->capture_default_str();
    opt("--ping-interval", ping_interval, "ping idle clients this often; drop after two (0 = off)")
        ->capture_default_str();
    opt("--handshake-timeout", handshake_timeout,
        "deadline for HTTP answers and WebSocket opening and closing handshakes")
        ->capture_default_str();
    opt("--header-timeout", header_timeout,
        "deadline for a new connection's request line and headers (capped by "
        "--handshake-timeout)")
        ->capture_default_str();
    opt("--max-header-bytes", max_header, "largest request header block (431 beyond)")
        ->capture_default_str();
    opt("--subscribe-timeout", subscribe_timeout,
        "wait for Redis to confirm a subscription (1013 beyond)")
        ->capture_default_str();
    opt("--redis-timeout", redis_timeout, "Redis connect and reply deadline")
        ->capture_default_str();
    opt("--redis-ping-interval", redis_ping, "probe the Redis link with PING this often")
        ->capture_default_str();
    opt("--redis-backoff-max", redis_backoff, "cap on the jittered reconnect delay")
        ->capture_default_str();
    opt("--redis-cluster-refresh-interval", redis_cluster_refresh,
        "cluster mode: re-read the slot map this often")
        ->capture_default_str();
    // --- Redis TLS: rediss:// only; the server certificate is always verified ---
    redis_tls_flags redis_tls;
    opt("--redis-tls-ca-file", redis_tls.ca_file,
        "PEM CA bundle for the Redis server certificate (default: system store)");
    opt("--redis-tls-cert-file", redis_tls.cert_file,
        "PEM client certificate for Redis (with --redis-tls-key-file)");
    opt("--redis-tls-key-file", redis_tls.key_file, "PEM private key of the client certificate");
    opt("--redis-tls-server-name", redis_tls.server_name,
        "name to verify in the Redis certificate and send as SNI (default: the URL host)");
    // --- end of Redis TLS ---
    opt("--shutdown-timeout", shutdown_timeout, "time given to close handshakes on SIGTERM")
        ->capture_default_str();
    opt("--drain-delay", drain_delay,
        "on SIGTERM, answer /readyz 503 and keep serving this long before closing with 1001")
        ->capture_default_str();
    opt("--max-connections", max_connections,
        "WebSockets held by this process, 503 beyond (auto = open-files limit - 128; 0 = no "
        "limit)")
        ->capture_default_str();
    opt("--max-connections-per-user", max_connections_per_user,
        "WebSockets of one user, closed with 4029 beyond (0 = no limit)")
        ->capture_default_str();
    opt("--max-handshakes", max_handshakes,
        "connections accepted but not yet upgraded; closed at once beyond (0 = no limit)")
        ->capture_default_str();
    opt("--max-handshakes-per-address", max_handshakes_per_address,
        "of those, from one client address (IPv6 /64), 429 beyond (auto = an eighth of "
        "--max-handshakes, at least 8; 0 = no limit, e.g. behind a load balancer)")
        ->capture_default_str();
    opt("--ip-connect-rate", ip_connect_rate,
        "new connections per second per client address (IPv6 /64), 429 beyond (0 = off)")
        ->capture_default_str();
    opt("--ip-connect-burst", ip_connect_burst,
        "connections an address may open at once before --ip-connect-rate applies (0 = one "
        "second's worth)")
        ->capture_default_str();
    opt("--allowed-origins", allowed_origins,
        "comma-separated Origin values allowed to connect: https://app.example.com, "
        "https://*.example.com or * (empty = any)");
    // Booleans take an optional value: --flag, --flag=false, --flag true. expected(0) first
    // makes the option flag-like, so that a bare flag reads "true" rather than the default.
    auto bool_opt = [&](const char* name, std::string& var, const char* help) {
        return opt(name, var, help)->expected(0)->expected(0, 1)->capture_default_str();
    };
    bool_opt("--close-on-token-expiry", close_on_token_expiry,
             "close with 1008 when the token's exp + leeway passes: true or false");
    bool_opt("--demo", demo,
             "serve the demo page at / and its token and publish endpoints to loopback clients "
             "holding the access key logged at start: true or false (needs a loopback --listen; "
             "not for production)");
    opt("--invalid-utf8", invalid_utf8, "payloads that are not UTF-8: drop (counted) or binary")
        ->capture_default_str();
    opt("--log-format", log_format, "text or json")->capture_default_str();
    opt("--log-level", log_level, "debug, info, warn or error")->capture_default_str();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // --help and --version exit 0; every parse error is a configuration error (2), not
        // CLI11's own code for its kind (105, 109...).
        out.exit_code = app.exit(e) == 0 ? 0 : exit_bad_config;
        return out;
    }

    try {
        auto main_address = parse_listen("--listen", listen);
        cfg.listen_host = main_address.host;
        cfg.listen_port = main_address.port;
        if (!metrics_listen.empty()) {
            cfg.metrics_listen = parse_listen("--metrics-listen", metrics_listen);
            // The same address twice could never bind; an overlapping one (a wildcard and
            // a specific address on one port) fails at bind, which names the flag too.
            if (cfg.metrics_listen->port != 0 && cfg.metrics_listen->port == cfg.listen_port &&
                cfg.metrics_listen->host == cfg.listen_host)
                throw bad_setting("--metrics-listen", "must differ from --listen");
        }

        if (redis_mode == "single")
            cfg.redis_mode = wsgate::redis_mode::single;
        else if (redis_mode == "cluster")
            cfg.redis_mode = wsgate::redis_mode::cluster;
        else
            throw bad_setting("--redis-mode", "'" + redis_mode + "' is not single or cluster");
        if (redis::is_sentinel_url(redis_url)) {
            // Redis Sentinel: the scheme is the mode; the master is found at run time.
            if (cfg.redis_mode != wsgate::redis_mode::single)
                throw bad_setting("--redis-mode",
                                  "a redis+sentinel:// --redis-url implies Sentinel mode; "
                                  "leave --redis-mode at single");
            auto sentinel = redis::parse_sentinel_url(redis_url);
            if (!sentinel)
                throw bad_setting("--redis-url",
                                  "not redis+sentinel://[user:password@]host:port[,host:port"
                                  "...]/mastername[/db]");
            cfg.redis = sentinel->master;
            cfg.redis_seeds = {cfg.redis};
            cfg.redis_sentinel = std::move(*sentinel);
            cfg.redis_tls = check_redis_tls(redis_tls, false);
        } else if (cfg.redis_mode == wsgate::redis_mode::single &&
                   redis_url.find(',') != std::string::npos) {
            throw bad_setting("--redis-url", "a list of URLs needs --redis-mode cluster");
        }
        if (!cfg.redis_sentinel) {
            auto endpoints = redis::parse_redis_url_list(redis_url);
            if (!endpoints)
                throw bad_setting("--redis-url",
                                  cfg.redis_mode == wsgate::redis_mode::cluster
                                      ? "not a comma-separated list of redis[s]://"
                                        "[user:password@]host:port with one scheme and one set "
                                        "of credentials"
                                      : "not redis://[user:password@]host:port[/db]");
            if (cfg.redis_mode == wsgate::redis_mode::cluster && endpoints->front().db != 0)
                throw bad_setting("--redis-url", "Redis Cluster has only db 0");
            cfg.redis_seeds = *endpoints;
            cfg.redis = endpoints->front();
            cfg.redis_tls = check_redis_tls(redis_tls, cfg.redis.tls);
        }

        if (!jwt_secret.empty() && !jwt_secret_file.empty())
            throw bad_setting("--jwt-secret-file", "give either --jwt-secret or --jwt-secret-file");
        cfg.jwt.secret = jwt_secret_file.empty() ? jwt_secret : read_secret_file(jwt_secret_file);
        cfg.jwt.secret_file = jwt_secret_file;  // re-read on every key reload
        cfg.jwt.public_key_files = jwt_public_key_files;
        cfg.jwt.jwks_file = jwt_jwks_file;
        for (const std::string& item : jwt_issuer_jwks) {
            // Split at the first '=': OpenID issuers are URLs without query strings.
            const auto eq = item.find('=');
            if (eq == std::string::npos || eq == 0 || eq + 1 == item.size())
                throw bad_setting("--jwt-issuer-jwks", "'" + item + "' is not ISSUER=PATH");
            cfg.jwt.issuer_jwks_files.push_back({item.substr(0, eq), item.substr(eq + 1)});
        }
        cfg.jwt.algorithms = split_list(jwt_algorithms);
        if (!jwt_issuer.empty()) cfg.jwt.issuer = jwt_issuer;
        cfg.jwt.audience = split_list(jwt_audience);
        auto leeway = duration_flag("--jwt-leeway", jwt_leeway, true);
        if (leeway > std::chrono::hours(24))
            throw bad_setting("--jwt-leeway", "must be at most 24h");
        cfg.jwt.leeway = std::chrono::duration_cast<std::chrono::seconds>(leeway);
        cfg.jwt_reload_interval = duration_flag("--jwt-reload-interval", jwt_reload_interval, true);
        if (cfg.jwt.user_claim.empty()) throw bad_setting("--jwt-user-claim", "must not be empty");

        auto n = count_flag("--threads", threads, 1024);
        cfg.threads =
            n ? static_cast<unsigned>(n) : std::max(1u, std::thread::hardware_concurrency());

        cfg.max_queue_bytes = bytes_flag("--max-queue-bytes", max_queue_bytes, 1024, 1ull << 32);
        if (max_queue_messages < 1 || max_queue_messages > 1'000'000)
            throw bad_setting("--max-queue-messages", "must be between 1 and 1000000");
        cfg.max_queue_messages = max_queue_messages;
        cfg.max_client_message_bytes = bytes_flag("--max-message-bytes", max_message, 125, 1 << 20);
        cfg.ping_interval = duration_flag("--ping-interval", ping_interval, true);
        cfg.handshake_timeout = duration_flag("--handshake-timeout", handshake_timeout, false);
        cfg.header_timeout = duration_flag("--header-timeout", header_timeout, false);
        cfg.client_budget_interval =
            duration_flag("--client-budget-interval", client_budget_interval, false);
        if (cfg.client_budget_interval < std::chrono::seconds(1) ||
            cfg.client_budget_interval > std::chrono::hours(1))
            throw bad_setting("--client-budget-interval", "must be between 1s and 1h");
        cfg.client_budget_bytes =
            bytes_flag("--client-budget-bytes", client_budget_bytes, 1, std::uint64_t{256} << 20);
        // Room for one largest message with its frame header (at most 14 bytes), or a
        // client could not send what --max-message-bytes allows.
        if (cfg.client_budget_bytes < cfg.max_client_message_bytes + 14)
            throw bad_setting("--client-budget-bytes",
                              "must be at least --max-message-bytes + 14 (" +
                                  format_bytes(cfg.max_client_message_bytes + 14) +
                                  "): room for one largest message");
        cfg.client_budget_frames =
            count_flag("--client-budget-frames", client_budget_frames, 1'000'000);
        if (cfg.client_budget_frames == 0)
            throw bad_setting("--client-budget-frames", "must be between 1 and 1000000");
        cfg.max_header_bytes = static_cast<std::uint32_t>(
            bytes_flag("--max-header-bytes", max_header, auth::max_token_bytes + 2048, 1 << 20));
        cfg.subscribe_timeout = duration_flag("--subscribe-timeout", subscribe_timeout, false);
        cfg.redis_timeout = duration_flag("--redis-timeout", redis_timeout, false);
        cfg.redis_ping_interval = duration_flag("--redis-ping-interval", redis_ping, false);
        cfg.redis_backoff_max = duration_flag("--redis-backoff-max", redis_backoff, false);
        cfg.redis_cluster_refresh_interval =
            duration_flag("--redis-cluster-refresh-interval", redis_cluster_refresh, false);
        cfg.shutdown_timeout = duration_flag("--shutdown-timeout", shutdown_timeout, false);
        cfg.drain_delay = duration_flag("--drain-delay", drain_delay, true);
        if (cfg.drain_delay > std::chrono::hours(1))
            throw bad_setting("--drain-delay", "must be at most 1h");

        cfg.max_connections = connections_flag(max_connections);
        cfg.max_connections_per_user =
            count_flag("--max-connections-per-user", max_connections_per_user);
        cfg.max_handshakes = count_flag("--max-handshakes", max_handshakes);
        cfg.max_handshakes_per_address =
            max_handshakes_per_address == "auto"
                ? (cfg.max_handshakes == 0 ? 128u : std::max(8u, cfg.max_handshakes / 8))
                : count_flag("--max-handshakes-per-address", max_handshakes_per_address);
        cfg.ip_connect_rate = rate_flag("--ip-connect-rate", ip_connect_rate);
        cfg.ip_connect_burst = count_flag("--ip-connect-burst", ip_connect_burst);
        cfg.allowed_origins = split_list(allowed_origins);
        try {
            origin_policy check(cfg.allowed_origins);
        } catch (const std::invalid_argument& e) {
            throw bad_setting("--allowed-origins", e.what());
        }
        cfg.close_on_token_expiry = bool_flag("--close-on-token-expiry", close_on_token_expiry);
        cfg.demo = bool_flag("--demo", demo);
        // The demo endpoints mint tokens for any user: they must not be reachable from
        // another host even before their access key is checked.
        if (cfg.demo && !boost::asio::ip::make_address(cfg.listen_host).is_loopback()) {
            const std::string why = "true needs a loopback --listen (127.0.0.1:PORT or [::1]:PORT)";
            throw bad_setting("--demo", why + ", not '" + listen + "'");
        }

        if (invalid_utf8 == "drop")
            cfg.invalid_utf8 = invalid_utf8_policy::drop;
        else if (invalid_utf8 == "binary")
            cfg.invalid_utf8 = invalid_utf8_policy::binary;
        else
            throw bad_setting("--invalid-utf8", "'" + invalid_utf8 + "' is not drop or binary");

        if (log_format == "text")
            cfg.log_format = log::format::text;
        else if (log_format == "json")
            cfg.log_format = log::format::json;
        else
            throw bad_setting("--log-format", "'" + log_format + "' is not text or json");

        if (log_level == "debug")
            cfg.log_level = log::level::debug;
        else if (log_level == "info")
            cfg.log_level = log::level::info;
        else if (log_level == "warn")
            cfg.log_level = log::level::warn;
        else if (log_level == "error")
            cfg.log_level = log::level::error;
        else
            throw bad_setting("--log-level",
                              "'" + log_level + "' is not debug, info, warn or error");
    } catch (const std::invalid_argument& e) {
        std::cerr << "wsgate: " << e.what() << "\n";
        out.exit_code = exit_bad_config;
    }
    return out;
}

}  // namespace wsgate
