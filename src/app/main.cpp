// wsgate's entry point and composition root: configuration → gateway → run.
#include <csignal>
#include <exception>
#include <iostream>
#include <memory>

#include "app/gateway.hpp"
#include "config/config.hpp"
#include "util/log.hpp"

int main(int argc, char** argv) {
    auto parsed = wsgate::parse_command_line(argc, argv);
    if (parsed.exit_code >= 0) return parsed.exit_code;
    auto& cfg = parsed.cfg;
    wsgate::log::configure(cfg.log_format, cfg.log_level);
    std::signal(SIGPIPE, SIG_IGN);

    // Everything the constructor can fail on is a setting the gateway cannot start with (a
    // key or certificate file, an address it cannot listen on): one documented status for
    // all of them, as for bad flags. A failure once running is 1.
    std::unique_ptr<wsgate::gateway> gw;
    try {
        gw = std::make_unique<wsgate::gateway>(std::move(cfg));
    } catch (const std::exception& e) {
        std::cerr << "wsgate: " << e.what() << "\n";
        return wsgate::exit_bad_config;
    }
    try {
        return gw->run();
    } catch (const std::exception& e) {
        std::cerr << "wsgate: " << e.what() << "\n";
        return 1;
    }
}
