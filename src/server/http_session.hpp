// One accepted TCP connection until it upgrades: reads requests under a deadline and a
// header-size limit, answers the operator endpoints, and hands WebSocket upgrades on the
// status path to a ws_session. Owned by its pending completion handlers.
#pragma once

#include <memory>
#include <optional>

#include "server/server_context.hpp"
#include "util/net.hpp"

namespace wsgate {

/// An HTTP connection on one shard, before any upgrade.
class http_session final : public closable, public std::enable_shared_from_this<http_session> {
public:
    http_session(tcp::socket socket, server_context& ctx);
    void run();
    void shutdown() override;

private:
    void do_read();
    void on_read(error_code ec, std::size_t);
    void handle(http::request<http::empty_body>&& req);
    void respond(http::status status, std::string body, bool keep_alive,
                 std::string_view content_type = "text/plain; charset=utf-8");
    void on_write(bool keep_alive, error_code ec, std::size_t);
    void close_socket();

    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    server_context& ctx_;
    std::optional<http::request_parser<http::empty_body>> parser_;
    std::optional<http::response<http::string_body>> res_;
    bool head_ = false;  // the request being answered is a HEAD
};

}  // namespace wsgate
