// Process lifecycle. Shutdown order: stop accepting, close sessions with 1001, release
// Redis, let each shard's loop run out of work; a watchdog stops loops that overrun the
// shutdown timeout, so the process always exits.
#include "app/gateway.hpp"

#include <csignal>
#include <thread>

#include "app/shard.hpp"
#include "server/demo.hpp"
#include "server/listener.hpp"
#include "util/log.hpp"

namespace wsgate {

namespace {
admission_limits limits_for(const config& cfg) {
    admission_limits l;
    l.max_connections = cfg.max_connections;
    l.max_connections_per_user = cfg.max_connections_per_user;
    l.max_handshakes = cfg.max_handshakes;
    l.max_handshakes_per_address = cfg.max_handshakes_per_address;
    l.ip_connect_rate = cfg.ip_connect_rate;
    l.ip_connect_burst = cfg.ip_connect_burst;
    return l;
}
}  // namespace

gateway::gateway(config cfg)
    : cfg_(std::move(cfg)),
      verifiers_(cfg_.jwt),
      registry_(cfg_.threads),
      admission_(limits_for(cfg_)),
      origins_(cfg_.allowed_origins) {
    report_keys("jwt_configured", "start");
    // RFC 7518 3.2: an HMAC key must be at least as long as the hash output.
    if (!cfg_.jwt.secret.empty() && cfg_.jwt.secret.size() < 32)
        log::warn("jwt_secret_short",
                  {{"bytes", cfg_.jwt.secret.size()}, {"advice", "use at least 32 random bytes"}});
    if (cfg_.demo) {
        demo_ = std::make_unique<demo_mode>();
        // The publisher speaks plain redis:// only; /demo/publish answers 501 otherwise.
        // It sends PUBLISH, which no sharded subscriber hears: 501 in cluster mode too.
        // With Sentinel cfg_.redis has no host (each shard resolves the master): 501.
        if (!cfg_.redis.tls && cfg_.redis_mode == redis_mode::single && !cfg_.redis_sentinel)
            demo_->publisher = std::make_unique<demo_publisher>(cfg_.redis, cfg_.redis_timeout);
    }
    auto address = net::ip::make_address(cfg_.listen_host);
    for (std::size_t i = 0; i < cfg_.threads; ++i)
        shards_.push_back(std::make_unique<shard>(i, cfg_, verifiers_, registry_, stopping_,
                                                  admission_, origins_, demo_.get()));

    // The first shard binds (possibly to port 0); the others join the same port.
    std::vector<tcp::acceptor> acceptors;
    tcp::endpoint ep(address, cfg_.listen_port);
    for (auto& s : shards_) {
        try {
            acceptors.push_back(open_acceptor(s->context(), ep));
        } catch (const boost::system::system_error& e) {
            throw std::runtime_error("--listen: cannot listen on " + cfg_.listen_host + ":" +
                                     std::to_string(ep.port()) + ": " + e.code().message());
        }
        ep.port(acceptors.back().local_endpoint().port());
    }
    port_ = ep.port();
    // The operator listener is small: one accept loop, on the first shard.
    std::optional<tcp::acceptor> metrics_acceptor;
    if (cfg_.metrics_listen) {
        const auto& m = *cfg_.metrics_listen;
        try {
            // Without SO_REUSEPORT: a second gateway must not share, and so split, the
            // port a scraper reads.
            metrics_acceptor.emplace(
                open_acceptor(shards_.front()->context(),
                              tcp::endpoint(net::ip::make_address(m.host), m.port), false));
        } catch (const boost::system::system_error& e) {
            throw std::runtime_error("--metrics-listen: cannot listen on " + m.host + ":" +
                                     std::to_string(m.port) + ": " + e.code().message());
        }
        metrics_port_ = metrics_acceptor->local_endpoint().port();
    }
    if (demo_) {
        // The one line that shows the access key, like Jupyter's token URL: whoever reads
        // this process's log may use the demo endpoints.
        log::warn(
            "demo_mode",
            {{"note", "demo endpoints enabled; not for production"},
             {"page", demo_page_url(cfg_.listen_host, port_, demo_->credentials.access_key())}});
    }
    for (std::size_t i = 0; i < shards_.size(); ++i)
        shards_[i]->start(std::move(acceptors[i]),
                          i == 0 ? std::move(metrics_acceptor) : std::nullopt);
}

gateway::~gateway() = default;

// --- JWT key reloads -----------------------------------------------------------------------
// On the control thread, so a reload never delays a shard: the new verifier is built here
// and published atomically; upgrades already being verified finish with the old one.
// Connections already open are not re-checked against the new keys.

void gateway::report_keys(const char* event, const char* trigger) {
    const auto verifier = verifiers_.current();
    auto join = [](const std::vector<std::string>& list) {
        std::string out;
        for (const auto& item : list) out += (out.empty() ? "" : ",") + item;
        return out;
    };
    const std::string algorithms = join(verifier->algorithms());
    const std::string issuers = verifier->issuers().empty() ? "any" : join(verifier->issuers());
    const auto keys = verifier->public_key_count() + (verifier->has_secret() ? 1 : 0);
    registry_.process().jwt_keys_loaded.store(static_cast<std::int64_t>(keys),
                                              std::memory_order_relaxed);
    log::info(event, {{"trigger", trigger},
                      {"algorithms", algorithms},
                      {"issuers", issuers},
                      {"public_keys", verifier->public_key_count()},
                      {"secret", verifier->has_secret() ? "yes" : "no"},
                      {"files", verifiers_.files().size()}});
}

void gateway::reload_keys(const char* trigger) {
    auto result = verifiers_.reload();
    auto& process = registry_.process();
    if (!result.ok) {
        process.jwt_reloads_error_total.fetch_add(1, std::memory_order_relaxed);
        // The message names the flag and the file; it never holds key material.
        log::error("jwt_keys_reload_failed",
                   {{"trigger", trigger}, {"error", result.error}, {"keeping", "previous keys"}});
        return;
    }
    process.jwt_reloads_ok_total.fetch_add(1, std::memory_order_relaxed);
    report_keys("jwt_keys_reloaded", trigger);
}

void gateway::wait_for_reload_signal() {
    reload_signals_.async_wait([this](error_code ec, int) {
        if (ec) return;  // cancelled at the end of run()
        reload_keys("sighup");
        wait_for_reload_signal();
    });
}

void gateway::poll_key_files() {
    if (cfg_.jwt_reload_interval.count() == 0 || verifiers_.files().empty()) return;
    reload_timer_.expires_after(cfg_.jwt_reload_interval);
    reload_timer_.async_wait([this](error_code ec) {
        if (ec) return;  // cancelled at the end of run()
        if (verifiers_.changed()) reload_keys("file_change");
        poll_key_files();
    });
}
// --- end of JWT key reloads ----------------------------------------------------------------

int gateway::run() {
    auto& control = control_;
    auto& signals = signals_;
    net::steady_timer watchdog(control);
    std::atomic<std::size_t> running{shards_.size()};

    std::vector<std::thread> threads;
    for (auto& s : shards_) {
        threads.emplace_back([&, sh = s.get()] {
            sh->run();
            // Tell the control loop; the last shard to finish ends the wait early.
            if (--running == 0)
                net::post(control, [&] {
                    watchdog.cancel();
                    signals.cancel();
                    reload_signals_.cancel();
                    reload_timer_.cancel();
                });
        });
    }

    log::info("listening",
              {{"address", cfg_.listen_host},
               {"port", static_cast<long long>(port_)},
               {"shards", static_cast<long long>(shards_.size())},
               {"redis", cfg_.redis_sentinel ? redis::redacted_url(*cfg_.redis_sentinel)
                                             : redis::redacted_url(cfg_.redis)}});
    if (cfg_.metrics_listen)
        log::info("metrics_listening", {{"address", cfg_.metrics_listen->host},
                                        {"port", static_cast<long long>(metrics_port_)}});

    auto force_stop = [&] {
        for (auto& s : shards_) s->context().stop();
    };
    auto begin_shutdown = [&](int signo) {
        log::info("shutting_down",
                  {{"signal", signo},
                   {"timeout_ms", static_cast<long long>(cfg_.shutdown_timeout.count())}});
        for (auto& s : shards_) net::post(s->context(), [sh = s.get()] { sh->begin_shutdown(); });
        watchdog.expires_after(cfg_.shutdown_timeout);
        watchdog.async_wait([&](error_code wec) {
            if (wec) return;
            log::warn("shutdown_timeout", {});
            force_stop();
        });
    };
    std::function<void(error_code, int)> on_signal = [&](error_code ec, int signo) {
        if (ec) return;
        // `stopping_` turns /readyz to 503 at once, also while draining.
        if (stopping_.exchange(true)) {
            log::warn("forced_stop", {{"signal", signo}});
            return force_stop();
        }
        signals.async_wait(on_signal);  // a second signal forces the stop
        if (cfg_.drain_delay.count() == 0) return begin_shutdown(signo);
        log::info("draining", {{"signal", signo},
                               {"delay_ms", static_cast<long long>(cfg_.drain_delay.count())}});
        watchdog.expires_after(cfg_.drain_delay);
        watchdog.async_wait([&, signo](error_code wec) {
            if (!wec) begin_shutdown(signo);
        });
    };
    signals.async_wait(on_signal);
    wait_for_reload_signal();
    poll_key_files();
    control.run();

    for (auto& t : threads) t.join();
    log::info("stopped", {});
    return 0;
}

}  // namespace wsgate
