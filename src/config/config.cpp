// Command-line and environment parsing with CLI11; every failure names its flag.
// Durations and sizes are read as text and parsed here so messages stay ours.
#include "config/config.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio/ip/address.hpp>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "util/units.hpp"

namespace wsgate {
namespace {

struct bad_setting : std::invalid_argument {
    bad_setting(const std::string& flag, const std::string& what)
        : std::invalid_argument(flag + ": " + what) {}
};

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

void split_host_port(const std::string& text, config& cfg) {
    auto colon = text.rfind(':');
    if (colon == std::string::npos || colon + 1 == text.size())
        throw bad_setting("--listen", "'" + text + "' is not HOST:PORT");
    std::string host = text.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    boost::system::error_code ec;
    boost::asio::ip::make_address(host, ec);
    if (ec) throw bad_setting("--listen", "'" + host + "' is not an IP address");
    auto port_text = text.substr(colon + 1);
    unsigned long port = 0;
    std::size_t used = 0;
    try {
        port = std::stoul(port_text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != port_text.size() || port > 65535)
        throw bad_setting("--listen", "'" + port_text + "' is not a port number");
    cfg.listen_host = host;
    cfg.listen_port = static_cast<std::uint16_t>(port);
}

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
    std::string redis_url = "redis://127.0.0.1:6379";
    std::string jwt_secret, jwt_secret_file, jwt_jwks_file, jwt_algorithms, jwt_issuer,
        jwt_audience;
    std::vector<std::string> jwt_public_key_files;
    std::string jwt_leeway = "30s";
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
    std::string shutdown_timeout = format_duration(cfg.shutdown_timeout);
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
    opt("--redis-url", redis_url, "redis://[user:password@]host:port[/db]")->capture_default_str();
    opt("--jwt-secret", jwt_secret, "shared secret for HS256/384/512 tokens");
    opt("--jwt-secret-file", jwt_secret_file,
        "file holding the shared secret (trailing newline dropped)");
    opt("--jwt-public-key-file", jwt_public_key_files,
        "PEM public key (RSA, EC P-256/P-384, Ed25519); repeatable")
        ->delimiter(',');
    opt("--jwt-jwks-file", jwt_jwks_file, "JWKS file with the public keys, selected by kid");
    opt("--jwt-algorithms", jwt_algorithms,
        "comma-separated accepted algorithms (default: HS256,HS384,HS512 with a secret, else "
        "all the keys support)");
    opt("--jwt-issuer", jwt_issuer, "required iss claim");
    opt("--jwt-audience", jwt_audience, "comma-separated accepted aud values");
    opt("--jwt-leeway", jwt_leeway, "clock skew allowed on exp and nbf")->capture_default_str();
    opt("--jwt-user-claim", cfg.jwt.user_claim, "claim holding the user id")->capture_default_str();
    opt("--threads", threads, "shards (event-loop threads); 0 = one per core")
        ->capture_default_str();
    opt("--max-queue-bytes", max_queue_bytes,
        "per-connection send queue limit before 4008 slow consumer")
        ->capture_default_str();
    opt("--max-queue-messages", max_queue_messages, "per-connection send queue limit in messages")
        ->capture_default_str();
    opt("--max-message-bytes", max_message, "largest frame a client may send (1009 beyond)")
        ->capture_default_str();
    opt("--ping-interval", ping_interval, "ping idle clients this often; drop after two (0 = off)")
        ->capture_default_str();
    opt("--handshake-timeout", handshake_timeout, "deadline for the upgrade request")
        ->capture_default_str();
    opt("--max-header-bytes", max_header, "largest request header block (431 beyond)")
        ->capture_default_str();
    opt("--subscribe-timeout", subscribe_timeout,
        "wait for Redis to confirm a subscription (1013 beyond)")
        ->capture_default_str();
    opt("--redis-timeout", redis_timeout, "Redis connect and reply deadline")
        ->capture_default_str();
    opt("--redis-ping-interval", redis_ping, "ping Redis after this much silence")
        ->capture_default_str();
    opt("--redis-backoff-max", redis_backoff, "cap on the jittered reconnect delay")
        ->capture_default_str();
    opt("--shutdown-timeout", shutdown_timeout, "time given to close handshakes on SIGTERM")
        ->capture_default_str();
    opt("--invalid-utf8", invalid_utf8, "payloads that are not UTF-8: drop (counted) or binary")
        ->capture_default_str();
    opt("--log-format", log_format, "text or json")->capture_default_str();
    opt("--log-level", log_level, "debug, info, warn or error")->capture_default_str();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        out.exit_code = app.exit(e);
        return out;
    }

    try {
        split_host_port(listen, cfg);

        auto endpoint = redis::parse_redis_url(redis_url);
        if (!endpoint)
            throw bad_setting("--redis-url", "not redis://[user:password@]host:port[/db]");
        if (endpoint->tls) throw bad_setting("--redis-url", "rediss:// (TLS) is not supported yet");
        cfg.redis = *endpoint;

        if (!jwt_secret.empty() && !jwt_secret_file.empty())
            throw bad_setting("--jwt-secret-file", "give either --jwt-secret or --jwt-secret-file");
        cfg.jwt.secret = jwt_secret_file.empty() ? jwt_secret : read_secret_file(jwt_secret_file);
        cfg.jwt.public_key_files = jwt_public_key_files;
        cfg.jwt.jwks_file = jwt_jwks_file;
        cfg.jwt.algorithms = split_list(jwt_algorithms);
        if (!jwt_issuer.empty()) cfg.jwt.issuer = jwt_issuer;
        cfg.jwt.audience = split_list(jwt_audience);
        auto leeway = duration_flag("--jwt-leeway", jwt_leeway, true);
        if (leeway > std::chrono::hours(24))
            throw bad_setting("--jwt-leeway", "must be at most 24h");
        cfg.jwt.leeway = std::chrono::duration_cast<std::chrono::seconds>(leeway);
        if (cfg.jwt.user_claim.empty()) throw bad_setting("--jwt-user-claim", "must not be empty");

        std::size_t used = 0;
        unsigned long n = 0;
        try {
            n = std::stoul(threads, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != threads.size() || n > 1024)
            throw bad_setting("--threads", "'" + threads + "' is not a number between 0 and 1024");
        cfg.threads =
            n ? static_cast<unsigned>(n) : std::max(1u, std::thread::hardware_concurrency());

        cfg.max_queue_bytes = bytes_flag("--max-queue-bytes", max_queue_bytes, 1024, 1ull << 32);
        if (max_queue_messages < 1 || max_queue_messages > 1'000'000)
            throw bad_setting("--max-queue-messages", "must be between 1 and 1000000");
        cfg.max_queue_messages = max_queue_messages;
        cfg.max_client_message_bytes = bytes_flag("--max-message-bytes", max_message, 125, 1 << 20);
        cfg.ping_interval = duration_flag("--ping-interval", ping_interval, true);
        cfg.handshake_timeout = duration_flag("--handshake-timeout", handshake_timeout, false);
        cfg.max_header_bytes =
            static_cast<std::uint32_t>(bytes_flag("--max-header-bytes", max_header, 1024, 1 << 20));
        cfg.subscribe_timeout = duration_flag("--subscribe-timeout", subscribe_timeout, false);
        cfg.redis_timeout = duration_flag("--redis-timeout", redis_timeout, false);
        cfg.redis_ping_interval = duration_flag("--redis-ping-interval", redis_ping, false);
        cfg.redis_backoff_max = duration_flag("--redis-backoff-max", redis_backoff, false);
        cfg.shutdown_timeout = duration_flag("--shutdown-timeout", shutdown_timeout, false);

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
        out.exit_code = 2;
    }
    return out;
}

}  // namespace wsgate
