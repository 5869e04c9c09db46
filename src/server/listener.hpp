// Accepts TCP connections for one shard on a socket bound with SO_REUSEPORT, so the kernel
// spreads connections across shards, and starts an http_session for each.
#pragma once

#include <memory>

#include "server/server_context.hpp"
#include "util/net.hpp"

namespace wsgate {

/// Opens, binds and listens on `endpoint`, with SO_REUSEPORT when `reuse_port` (so every
/// shard, and several gateways, can share the port). Throws on failure (startup).
tcp::acceptor open_acceptor(net::io_context& ioc, const tcp::endpoint& endpoint,
                            bool reuse_port = true);

/// The accept loop of one shard, for the main listener (--listen) or the operator one
/// (--metrics-listen).
class listener : public std::enable_shared_from_this<listener> {
public:
    listener(tcp::acceptor acceptor, server_context& ctx, listener_role role = listener_role::main);
    void run();
    /// Stops accepting; the pending accept completes with operation_aborted.
    void stop();

private:
    void do_accept();
    void on_accept(error_code ec, tcp::socket socket);
    /// Answers `socket` 429 (its address is over a per-address limit), counted as `why`,
    /// and accepts the next.
    void refuse(tcp::socket socket, http_reject why);

    tcp::acceptor acceptor_;
    net::steady_timer retry_;
    server_context& ctx_;
    listener_role role_;
};

}  // namespace wsgate
