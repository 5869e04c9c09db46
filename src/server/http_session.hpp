// One accepted TCP connection until it upgrades: reads requests under a deadline and a
// header-size limit, answers the operator endpoints, and hands WebSocket upgrades on the
// status path to a ws_session. Owned by its pending completion handlers.
#pragma once

#include <memory>
#include <optional>

#include "server/routes.hpp"
#include "server/server_context.hpp"
#include "util/net.hpp"

namespace wsgate {

/// An HTTP connection on one shard, before any upgrade.
class http_session final : public closable, public std::enable_shared_from_this<http_session> {
public:
    /// `handshake` is the connection's place under --max-handshakes (and its address's),
    /// held until it upgrades or closes; or, for run_rate_limited(), a refusal place.
    http_session(tcp::socket socket, server_context& ctx, handshake_ticket handshake,
                 listener_role role = listener_role::main);
    void run();
    /// Reads the request only to answer it with 429: the address is over its connect rate
    /// or its share of the handshakes.
    void run_rate_limited();
    void shutdown() override;

private:
    void do_read();
    void on_read(error_code ec, std::size_t);
    void handle(http::request<http::empty_body>&& req);
    void handle_demo(const route& r, const http::request<http::empty_body>& req);
    void respond(http::status status, std::string body,
                 std::string_view content_type = "text/plain; charset=utf-8");
    void on_write(error_code ec, std::size_t);
    void close_socket();

    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    server_context& ctx_;
    std::optional<http::request_parser<http::empty_body>> parser_;
    std::optional<http::response<http::string_body>> res_;
    handshake_ticket handshake_;
    listener_role role_;
    bool head_ = false;          // the request being answered is a HEAD
    bool rate_limited_ = false;  // answer whatever comes with 429
};

}  // namespace wsgate
