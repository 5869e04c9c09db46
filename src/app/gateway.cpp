// Process lifecycle. Shutdown order: stop accepting, close sessions with 1001, release
// Redis, let each shard's loop run out of work; a watchdog stops loops that overrun the
// shutdown timeout, so the process always exits.
#include "app/gateway.hpp"

#include <csignal>
#include <thread>

#include "app/shard.hpp"
#include "server/listener.hpp"
#include "util/log.hpp"

namespace wsgate {

gateway::gateway(config cfg) : cfg_(std::move(cfg)), verifier_(cfg_.jwt), registry_(cfg_.threads) {
    std::string algorithms;
    for (const auto& a : verifier_.algorithms()) algorithms += (algorithms.empty() ? "" : ",") + a;
    log::info("jwt_configured", {{"algorithms", algorithms}});
    // RFC 7518 3.2: an HMAC key must be at least as long as the hash output.
    if (!cfg_.jwt.secret.empty() && cfg_.jwt.secret.size() < 32)
        log::warn("jwt_secret_short",
                  {{"bytes", cfg_.jwt.secret.size()}, {"advice", "use at least 32 random bytes"}});
    auto address = net::ip::make_address(cfg_.listen_host);
    for (std::size_t i = 0; i < cfg_.threads; ++i)
        shards_.push_back(std::make_unique<shard>(i, cfg_, verifier_, registry_, stopping_));

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
    for (std::size_t i = 0; i < shards_.size(); ++i) shards_[i]->start(std::move(acceptors[i]));
}

gateway::~gateway() = default;

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
                });
        });
    }

    log::info("listening", {{"address", cfg_.listen_host},
                            {"port", static_cast<long long>(port_)},
                            {"shards", static_cast<long long>(shards_.size())},
                            {"redis", redis::redacted_url(cfg_.redis)}});

    auto force_stop = [&] {
        for (auto& s : shards_) s->context().stop();
    };
    std::function<void(error_code, int)> on_signal = [&](error_code ec, int signo) {
        if (ec) return;
        if (stopping_.exchange(true)) {
            log::warn("forced_stop", {{"signal", signo}});
            return force_stop();
        }
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
        signals.async_wait(on_signal);  // a second signal forces the stop
    };
    signals.async_wait(on_signal);
    control.run();

    for (auto& t : threads) t.join();
    log::info("stopped", {});
    return 0;
}

}  // namespace wsgate
