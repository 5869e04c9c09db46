// HTTP handling before the upgrade. Never logs the request target or headers: the target
// carries the token. Every refusal is a status code plus a counter.
#include "server/http_session.hpp"

#include <chrono>

#include "auth/authorize.hpp"
#include "server/demo.hpp"
#include "server/demo_page.hpp"
#include "server/routes.hpp"
#include "server/ws_session.hpp"
#include "util/log.hpp"

namespace wsgate {

http_session::http_session(tcp::socket socket, server_context& ctx, handshake_ticket handshake,
                           listener_role role)
    : stream_(std::move(socket)), ctx_(ctx), handshake_(std::move(handshake)), role_(role) {
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
    // The request line and headers are all there is to read (no body): they must arrive
    // within --header-timeout. A refused socket gets a shorter deadline still: it holds a
    // refusal place only to read its request.
    const auto deadline = std::min(ctx_.cfg.header_timeout, ctx_.cfg.handshake_timeout);
    stream_.expires_after(
        rate_limited_ ? std::min<std::chrono::milliseconds>(deadline, std::chrono::seconds(1))
                      : deadline);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&http_session::on_read, shared_from_this()));
}

void http_session::on_read(error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream || ec == net::error::operation_aborted ||
        ec == net::error::connection_reset || ec == net::error::eof)
        return close_socket();
    if (ec == beast::error::timeout) {
        // A refused socket was counted when accepted: once per socket.
        if (!rate_limited_) ctx_.metrics.count_http_reject(http_reject::timeout);
        return close_socket();
    }
    head_ = false;
    if (ec == http::error::header_limit) {
        ctx_.metrics.count_http_reject(http_reject::header_too_large);
        return respond(http::status::request_header_fields_too_large, "request header too large\n");
    }
    if (ec) {
        ctx_.metrics.count_http_reject(http_reject::bad_request);
        return respond(http::status::bad_request, "bad request\n");
    }
    if (rate_limited_) {
        // Counted when accepted. The request was read so that the answer is not lost to a
        // reset of a socket closed with unread data.
        respond(http::status::too_many_requests, "too many connections from this address\n");
        res_->set(http::field::retry_after, "1");
        return;
    }
    handle(parser_->release());
}

void http_session::handle(http::request<http::empty_body>&& req) {
    auto r = parse_route(req.target());
    bool get = req.method() == http::verb::get || req.method() == http::verb::head;
    head_ = req.method() == http::verb::head;

    // RFC 9112 3.2: exactly one Host, which HTTP/1.0 may omit. With two, whichever a check
    // reads (the demo's) need not be the one the client or a proxy in front acted on.
    if (const auto hosts = req.count(http::field::host);
        hosts > 1 || (hosts == 0 && req.version() >= 11)) {
        ctx_.metrics.count_http_reject(http_reject::bad_request);
        return respond(http::status::bad_request, "bad request: exactly one Host header\n");
    }

    const bool demo_route = r.kind == route_kind::demo_page || r.kind == route_kind::demo_script ||
                            r.kind == route_kind::demo_style || r.kind == route_kind::demo_token ||
                            r.kind == route_kind::demo_publish;
    if (demo_route && !ctx_.demo) r.kind = route_kind::not_found;  // as if never there
    // With --metrics-listen, /metrics is served there only, and that listener serves the
    // operator endpoints only.
    const bool operator_route = r.kind == route_kind::healthz || r.kind == route_kind::readyz ||
                                r.kind == route_kind::metrics;
    if (role_ == listener_role::metrics ? !operator_route && r.kind != route_kind::bad_target
                                        : r.kind == route_kind::metrics && ctx_.cfg.metrics_listen)
        r.kind = route_kind::not_found;

    switch (r.kind) {
        case route_kind::bad_target:
            ctx_.metrics.count_http_reject(http_reject::bad_request);
            return respond(http::status::bad_request, "bad request target\n");
        case route_kind::not_found:
            ctx_.metrics.count_http_reject(http_reject::not_found);
            return respond(http::status::not_found, "not found\n");
        case route_kind::healthz:
        case route_kind::readyz:
        case route_kind::metrics:
            if (!get) {
                ctx_.metrics.count_http_reject(http_reject::method_not_allowed);
                return respond(http::status::method_not_allowed, "method not allowed\n");
            }
            if (r.kind == route_kind::healthz) return respond(http::status::ok, "ok\n");
            if (r.kind == route_kind::readyz) {
                return ctx_.ready() ? respond(http::status::ok, "ready\n")
                                    : respond(http::status::service_unavailable, "not ready\n");
            }
            return respond(http::status::ok, ctx_.registry.render(),
                           "text/plain; version=0.0.4; charset=utf-8");
        case route_kind::demo_page:
        case route_kind::demo_script:
        case route_kind::demo_style:
        case route_kind::demo_token:
        case route_kind::demo_publish:
            return handle_demo(r, req);
        case route_kind::status:
            break;
    }

    if (!websocket::is_upgrade(req)) {
        ctx_.metrics.count_http_reject(http_reject::upgrade_required);
        respond(http::status::upgrade_required, "websocket upgrade required\n");
        res_->set(http::field::upgrade, "websocket");
        res_->set(http::field::connection, "Upgrade, close");
        return;
    }
    if (buffer_.size() != 0) {
        // RFC 6455 4.1: the client sends nothing before the 101. Bytes already read past the
        // request would be lost when the socket passes to the WebSocket; refuse them instead.
        ctx_.metrics.count_http_reject(http_reject::bad_request);
        return respond(http::status::bad_request,
                       "bad request: data sent before the WebSocket handshake completed\n");
    }
    if (ctx_.shutting_down) {
        return respond(http::status::service_unavailable, "shutting down\n");
    }
    if (!ctx_.origins.empty()) {
        // Cross-site WebSocket hijacking: a browser names the page's origin; other clients
        // send none and are not at risk.
        auto origin = req.find(http::field::origin);
        if (origin != req.end() && !ctx_.origins.allows(origin->value())) {
            ctx_.metrics.count_http_reject(http_reject::origin);
            return respond(http::status::forbidden, "origin not allowed\n");
        }
    }
    // Capacity before any work on the token: a full gateway refuses cheaply.
    auto slot = ctx_.admission.try_connection();
    if (!slot) {
        ctx_.metrics.count_http_reject(http_reject::over_capacity);
        respond(http::status::service_unavailable, "server at capacity\n");
        res_->set(http::field::retry_after, "1");
        return;
    }

    std::string_view token = r.token;
    if (token.empty()) token = bearer_token(req[http::field::authorization]);
    const auto now = std::chrono::system_clock::now();
    auto auth = auth::authorize(r.client_id, token, *ctx_.verifiers.current(), now);
    // --demo: a token the gateway's keys refuse may be one /demo/token minted.
    if (!auth && ctx_.demo)
        auth =
            authorize_demo_token(std::move(auth), r.client_id, token, ctx_.demo->credentials, now);

    // The WebSocket takes over the socket; this object ends when its handlers return.
    stream_.expires_never();
    auto ws = std::make_shared<ws_session>(stream_.release_socket(), ctx_);
    ws->run(std::move(req), std::move(auth), std::move(handshake_), std::move(slot));
}

// --demo only. The "admin-only" rule of the demo endpoints: loopback peers, not relayed by a
// proxy that says so, asking for a loopback Host, from no Origin or their own, and holding
// the access key. The key is what holds behind a forwarder that adds no header (ssh -L,
// nginx's default proxy_pass); the rest stops the easy cases early. The page and its assets
// are under the same rule.
void http_session::handle_demo(const route& r, const http::request<http::empty_body>& req) {
    constexpr std::string_view json = "application/json";
    auto secure = [this] {
        res_->set("X-Content-Type-Options", "nosniff");
        res_->set("Referrer-Policy", "no-referrer");
        res_->set(http::field::x_frame_options, "DENY");
    };
    auto forbid = [&](std::string_view why) {
        ctx_.metrics.count_http_reject(http_reject::demo_forbidden);
        respond(http::status::forbidden, demo_error_json(why), json);
        secure();
    };
    error_code ec;
    const auto peer = stream_.socket().remote_endpoint(ec);
    if (ec || !is_loopback_peer(peer.address()))
        return forbid("demo endpoints answer loopback clients only");
    // A proxy on this host makes every client a loopback peer, and the Host header is the
    // client's to choose: a request that a proxy marked as forwarded is not a local one.
    for (const auto name : demo_forwarded_headers)
        if (req.count(name))
            return forbid(
                "demo endpoints answer direct clients only, not requests through a proxy");
    if (req.count(http::field::origin) > 1 ||
        !demo_request_same_host(req[http::field::host], req[http::field::origin]))
        return forbid("demo endpoints answer requests for a loopback host from the demo page only");
    const auto& credentials = ctx_.demo->credentials;
    // The header (the page's script, curl) on every endpoint; the query (r.key) only on the
    // page and its assets, which a browser loads by URL. Never a cookie: a browser sends a
    // host's cookies to every port on it, so other servers on this host would receive it.
    bool key_ok = credentials.key_matches(r.key);
    for (auto [it, end] = req.equal_range(demo_key_header); it != end; ++it)
        key_ok = key_ok || credentials.key_matches(it->value());
    const bool api = r.kind == route_kind::demo_token || r.kind == route_kind::demo_publish;
    if (!key_ok)
        return forbid(api ? "missing or wrong demo access key: send the key of the page URL the "
                            "gateway logged at start (demo_mode page=...) in an "
                            "X-Wsgate-Demo-Key header"
                          : "missing or wrong demo access key: open the page URL the gateway "
                            "logged at start (demo_mode page=...)");
    const http::verb method = req.method();

    const bool post = r.kind == route_kind::demo_publish;
    const bool allowed =
        post ? method == http::verb::post : method == http::verb::get || method == http::verb::head;
    if (!allowed) {
        ctx_.metrics.count_http_reject(http_reject::method_not_allowed);
        respond(http::status::method_not_allowed, demo_error_json("method not allowed"), json);
        res_->set(http::field::allow, post ? "POST" : "GET, HEAD");
        return secure();
    }
    switch (r.kind) {
        case route_kind::demo_page:
            // The key is in the page's asset URLs and, for its script, in a <meta>.
            respond(http::status::ok, demo_page_html(credentials.access_key()),
                    "text/html; charset=utf-8");
            res_->set("Content-Security-Policy", demo_page_csp);
            return secure();
        case route_kind::demo_script:
            respond(http::status::ok, std::string(demo_page_script()),
                    "text/javascript; charset=utf-8");
            return secure();
        case route_kind::demo_style:
            respond(http::status::ok, std::string(demo_page_style()), "text/css; charset=utf-8");
            return secure();
        default:
            break;
    }
    if (auto problem = demo_request_problem(r); !problem.empty()) {
        ctx_.metrics.count_http_reject(http_reject::bad_request);
        respond(http::status::bad_request, demo_error_json(problem), json);
        return secure();
    }
    if (r.kind == route_kind::demo_token) {
        try {
            respond(http::status::ok, demo_token_json(credentials.mint(r.user)), json);
        } catch (const std::exception&) {  // no handler may throw; minting throws only bad_alloc
            respond(http::status::internal_server_error, demo_error_json("no demo token"), json);
        }
        return secure();
    }
    if (!ctx_.demo->publisher) {
        respond(http::status::not_implemented,
                demo_error_json("demo publishing needs plain redis:// (no cluster, no Sentinel)"),
                json);
        return secure();
    }
    // The publish runs on the demo publisher's own thread; its result comes back here.
    const bool queued = ctx_.demo->publisher->publish(
        r.user, r.payload, stream_.get_executor(),
        [self = shared_from_this(), secure_self = secure](demo_publisher::result res) {
            if (res.receivers)
                self->respond(http::status::ok, demo_receivers_json(*res.receivers),
                              "application/json");
            else
                self->respond(http::status::bad_gateway, demo_error_json(res.error),
                              "application/json");
            secure_self();
        });
    if (!queued) {
        respond(http::status::service_unavailable,
                demo_error_json("too many demo publishes in flight"), json);
        res_->set(http::field::retry_after, "1");
        return secure();
    }
}

// One request per connection, so every response closes: a kept-alive connection would hold
// its --max-handshakes place for as long as it kept asking (health checks and scrapes
// reconnect cheaply).
void http_session::respond(http::status status, std::string body, std::string_view content_type) {
    res_.emplace(status, 11);
    res_->set(http::field::server, "wsgate");
    res_->set(http::field::content_type, content_type);
    res_->set(http::field::cache_control, "no-store");
    res_->body() = std::move(body);
    res_->keep_alive(false);
    res_->prepare_payload();
    if (head_) res_->body().clear();  // HEAD: the headers of a GET, Content-Length included
    // The response is written after this function returns, so callers may add headers.
    net::post(stream_.get_executor(), [self = shared_from_this()] {
        self->stream_.expires_after(self->ctx_.cfg.handshake_timeout);
        http::async_write(self->stream_, *self->res_,
                          beast::bind_front_handler(&http_session::on_write, self));
    });
}

void http_session::on_write(error_code, std::size_t) {
    res_.reset();
    close_socket();
}

}  // namespace wsgate
