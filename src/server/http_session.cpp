// HTTP handling before the upgrade. Never logs the request target or headers: the target
// carries the token. Every refusal is a status code plus a counter.
#include "server/http_session.hpp"

#include <chrono>

#include "auth/authorize.hpp"
#include "server/routes.hpp"
#include "server/ws_session.hpp"
#include "util/log.hpp"

namespace wsgate {

http_session::http_session(tcp::socket socket, server_context& ctx, admission_ticket handshake)
    : stream_(std::move(socket)), ctx_(ctx), handshake_(std::move(handshake)) {
    ctx_.connections.push_back(*this);
}

void http_session::run() { do_read(); }

void http_session::run_rate_limited() {
    rate_limited_ = true;
    do_read();
}

void http_session::shutdown() { close_socket(); }

void http_session::close_socket() {
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
}

void http_session::do_read() {
    parser_.emplace();
    parser_->header_limit(ctx_.cfg.max_header_bytes);
    parser_->body_limit(0);
    stream_.expires_after(ctx_.cfg.handshake_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&http_session::on_read, shared_from_this()));
}

void http_session::on_read(error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream || ec == net::error::operation_aborted ||
        ec == net::error::connection_reset || ec == net::error::eof)
        return close_socket();
    if (ec == beast::error::timeout) {
        ctx_.metrics.count_http_reject(http_reject::timeout);
        return close_socket();
    }
    head_ = false;
    if (ec == http::error::header_limit) {
        ctx_.metrics.count_http_reject(http_reject::header_too_large);
        return respond(http::status::request_header_fields_too_large, "request header too large\n",
                       false);
    }
    if (ec) {
        ctx_.metrics.count_http_reject(http_reject::bad_request);
        return respond(http::status::bad_request, "bad request\n", false);
    }
    if (rate_limited_) {
        // Counted when accepted. The request was read so that the answer is not lost to a
        // reset of a socket closed with unread data.
        respond(http::status::too_many_requests, "too many connections from this address\n", false);
        res_->set(http::field::retry_after, "1");
        return;
    }
    handle(parser_->release());
}

void http_session::handle(http::request<http::empty_body>&& req) {
    auto r = parse_route(req.target());
    bool keep = req.keep_alive() && !ctx_.shutting_down;
    bool get = req.method() == http::verb::get || req.method() == http::verb::head;
    head_ = req.method() == http::verb::head;

    switch (r.kind) {
        case route_kind::bad_target:
            ctx_.metrics.count_http_reject(http_reject::bad_request);
            return respond(http::status::bad_request, "bad request target\n", false);
        case route_kind::not_found:
            ctx_.metrics.count_http_reject(http_reject::not_found);
            return respond(http::status::not_found, "not found\n", keep);
        case route_kind::healthz:
        case route_kind::readyz:
        case route_kind::metrics:
            if (!get) {
                ctx_.metrics.count_http_reject(http_reject::method_not_allowed);
                return respond(http::status::method_not_allowed, "method not allowed\n", keep);
            }
            if (r.kind == route_kind::healthz) return respond(http::status::ok, "ok\n", keep);
            if (r.kind == route_kind::readyz) {
                return ctx_.ready()
                           ? respond(http::status::ok, "ready\n", keep)
                           : respond(http::status::service_unavailable, "not ready\n", keep);
            }
            return respond(http::status::ok, ctx_.registry.render(), keep,
                           "text/plain; version=0.0.4; charset=utf-8");
        case route_kind::status:
            break;
    }

    if (!websocket::is_upgrade(req)) {
        ctx_.metrics.count_http_reject(http_reject::upgrade_required);
        respond(http::status::upgrade_required, "websocket upgrade required\n", keep);
        res_->set(http::field::upgrade, "websocket");
        res_->set(http::field::connection, keep ? "Upgrade, keep-alive" : "Upgrade, close");
        return;
    }
    if (ctx_.shutting_down) {
        return respond(http::status::service_unavailable, "shutting down\n", false);
    }
    if (!ctx_.origins.empty()) {
        // Cross-site WebSocket hijacking: a browser names the page's origin; other clients
        // send none and are not at risk.
        auto origin = req.find(http::field::origin);
        if (origin != req.end() && !ctx_.origins.allows(origin->value())) {
            ctx_.metrics.count_http_reject(http_reject::origin);
            return respond(http::status::forbidden, "origin not allowed\n", false);
        }
    }
    // Capacity before any work on the token: a full gateway refuses cheaply.
    auto slot = ctx_.admission.try_connection();
    if (!slot) {
        ctx_.metrics.count_http_reject(http_reject::over_capacity);
        respond(http::status::service_unavailable, "server at capacity\n", false);
        res_->set(http::field::retry_after, "1");
        return;
    }

    std::string_view token = r.token;
    if (token.empty()) token = bearer_token(req[http::field::authorization]);
    auto auth = auth::authorize(r.client_id, token, *ctx_.verifiers.current(),
                                std::chrono::system_clock::now());

    // The WebSocket takes over the socket; this object ends when its handlers return.
    stream_.expires_never();
    auto ws = std::make_shared<ws_session>(stream_.release_socket(), ctx_);
    ws->run(std::move(req), std::move(auth), std::move(handshake_), std::move(slot));
}

void http_session::respond(http::status status, std::string body, bool keep_alive,
                           std::string_view content_type) {
    res_.emplace(status, 11);
    res_->set(http::field::server, "wsgate");
    res_->set(http::field::content_type, content_type);
    res_->set(http::field::cache_control, "no-store");
    res_->body() = std::move(body);
    res_->keep_alive(keep_alive);
    res_->prepare_payload();
    if (head_) res_->body().clear();  // HEAD: the headers of a GET, Content-Length included
    // The response is written after this function returns, so callers may add headers.
    net::post(stream_.get_executor(), [self = shared_from_this(), keep_alive] {
        self->stream_.expires_after(self->ctx_.cfg.handshake_timeout);
        http::async_write(self->stream_, *self->res_,
                          beast::bind_front_handler(&http_session::on_write, self, keep_alive));
    });
}

void http_session::on_write(bool keep_alive, error_code ec, std::size_t) {
    res_.reset();
    if (ec || !keep_alive || ctx_.shutting_down) return close_socket();
    do_read();
}

}  // namespace wsgate
