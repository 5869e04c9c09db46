// wsgate's entry point and composition root: configuration → gateway → run.
#include <csignal>
#include <exception>
#include <iostream>

#include "app/gateway.hpp"
#include "config/config.hpp"
#include "util/log.hpp"

int main(int argc, char** argv) {
    auto parsed = wsgate::parse_command_line(argc, argv);
    if (parsed.exit_code >= 0) return parsed.exit_code;
    auto& cfg = parsed.cfg;
    wsgate::log::configure(cfg.log_format, cfg.log_level);
    std::signal(SIGPIPE, SIG_IGN);

    try {
        wsgate::gateway gw(std::move(cfg));
        return gw.run();
    } catch (const std::exception& e) {
        std::cerr << "wsgate: " << e.what() << "\n";
        return 1;
    }
}
