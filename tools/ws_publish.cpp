// wsgate-publish: sends one notification to a user's gateway sessions through Redis and
// prints how many gateway connections (shards) received it. For scripts and operators;
// the library behind it is publisher/publisher.hpp.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

#include "publisher/publisher.hpp"
#include "redis/redis_url.hpp"
#include "util/units.hpp"

namespace {

constexpr int exit_redis_failure = 1;
constexpr int exit_usage = 2;

// Reads all of stdin as bytes; NUL and invalid UTF-8 pass through untouched.
bool read_stdin(std::string& out) {
    char buf[64 * 1024];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) out.append(buf, n);
    return std::ferror(stdin) == 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "Publish a notification to every wsgate session of a user (PUBLISH ws:{USER_ID}, or\n"
        "SPUBLISH on the slot's master with --redis-mode cluster; PUBLISH on the master the\n"
        "sentinels name with a redis+sentinel:// URL)."};
    const char* env_url = std::getenv("WSGATE_REDIS_URL");
    std::string redis_url =
        env_url != nullptr && *env_url != '\0' ? env_url : "redis://127.0.0.1:6379";
    const char* env_mode = std::getenv("WSGATE_REDIS_MODE");
    std::string mode_text = env_mode != nullptr && *env_mode != '\0' ? env_mode : "single";
    std::string timeout_text = "5s";
    std::string user_id;
    std::string issuer;
    std::string payload;
    app.add_option("--redis-url", redis_url,
                   "redis://[[user]:password@]host[:port][/db], or "
                   "redis+sentinel://host:port[,host:port...]/mastername[/db] (Sentinel); "
                   "default $WSGATE_REDIS_URL, then redis://127.0.0.1:6379");
    app.add_option("--redis-mode", mode_text,
                   "single (PUBLISH) or cluster (SPUBLISH; --redis-url may list seed nodes "
                   "comma-separated); default $WSGATE_REDIS_MODE, then single");
    app.add_option("--timeout", timeout_text,
                   "connect and reply timeout, e.g. 500ms, 5s (default 5s)");
    app.add_option("--issuer", issuer,
                   "the issuer of USER_ID's tokens when it is not the gateway's --jwt-issuer: "
                   "publishes to ws@{ISSUER, percent-encoded}:{USER_ID} instead of ws:{USER_ID}");
    app.add_option("USER_ID", user_id, "the user whose sessions receive the payload")->required();
    app.add_option("PAYLOAD", payload, "the message text; '-' reads all of stdin (binary-safe)")
        ->required();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // --help and --version exit 0; every real parse error is a usage error.
        const int code = app.exit(e);
        return code == 0 ? 0 : exit_usage;
    }
    if (user_id.empty()) {
        std::cerr << "wsgate-publish: USER_ID must not be empty\n";
        return exit_usage;
    }
    auto timeout = wsgate::parse_duration(timeout_text);
    if (!timeout || timeout->count() == 0) {
        std::cerr << "wsgate-publish: --timeout must be a positive duration such as 500ms or 5s\n";
        return exit_usage;
    }
    const auto mode = wsgate::parse_publish_mode(mode_text);
    if (!mode) {
        std::cerr << "wsgate-publish: --redis-mode must be single or cluster\n";
        return exit_usage;
    }
    const bool sentinel = wsgate::redis::is_sentinel_url(redis_url);
    if (sentinel && *mode == wsgate::publish_mode::cluster) {
        std::cerr << "wsgate-publish: --redis-mode: a redis+sentinel:// --redis-url implies "
                     "Sentinel mode; leave --redis-mode at single\n";
        return exit_usage;
    }
    if (sentinel && !wsgate::redis::parse_sentinel_url(redis_url)) {
        std::cerr
            << "wsgate-publish: invalid --redis-url (expected "
               "redis+sentinel://[[user]:password@]host:port[,host:port...]/mastername[/db])\n";
        return exit_usage;
    }
    if (sentinel) {
        // Checked above; the publisher picks Sentinel mode from the scheme.
    } else if (*mode == wsgate::publish_mode::single && redis_url.find(',') != std::string::npos) {
        std::cerr << "wsgate-publish: --redis-url: a list of URLs needs --redis-mode cluster\n";
        return exit_usage;
    }
    if (!sentinel &&
        (*mode == wsgate::publish_mode::single ? !wsgate::redis::parse_redis_url(redis_url)
                                               : !wsgate::redis::parse_redis_url_list(redis_url))) {
        std::cerr << "wsgate-publish: invalid --redis-url (expected "
                     "redis://[[user]:password@]host[:port][/db]"
                  << (*mode == wsgate::publish_mode::cluster ? ", comma-separated" : "") << ")\n";
        return exit_usage;
    }
    if (payload == "-") {
        payload.clear();
        if (!read_stdin(payload)) {
            std::cerr << "wsgate-publish: cannot read the payload from stdin\n";
            return exit_usage;
        }
    }

    // The publisher's messages name the server by its redacted URL and never echo the URL
    // given, so the password stays off stderr.
    try {
        wsgate::publisher pub(redis_url, *timeout, *mode);
        const long long receivers = pub.publish_user_notification(user_id, payload, issuer);
        std::cout << receivers << '\n';
        std::cout.flush();
        return std::cout ? 0 : 1;
    } catch (const std::exception& e) {
        std::cerr << "wsgate-publish: " << e.what() << '\n';
        return exit_redis_failure;
    }
}
