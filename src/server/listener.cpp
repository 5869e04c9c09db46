// Accept loop. Errors never stop accepting; running out of file descriptors backs off
// briefly instead of spinning on EMFILE.
#include "server/listener.hpp"

#include <sys/socket.h>

#include <cerrno>

#include "server/http_session.hpp"
#include "util/log.hpp"

namespace wsgate {

tcp::acceptor open_acceptor(net::io_context& ioc, const tcp::endpoint& endpoint, bool reuse_port) {
    tcp::acceptor a(ioc);
    a.open(endpoint.protocol());
    a.set_option(net::socket_base::reuse_address(true));
    if (reuse_port) {
        // Asio has no public option for SO_REUSEPORT; set it on the native socket.
        const int one = 1;
        if (::setsockopt(a.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
            throw boost::system::system_error(errno, boost::system::system_category(),
                                              "setsockopt(SO_REUSEPORT)");
    }
    a.bind(endpoint);
    a.listen(net::socket_base::max_listen_connections);
    return a;
}

listener::listener(tcp::acceptor acceptor, server_context& ctx, listener_role role)
    : acceptor_(std::move(acceptor)), retry_(acceptor_.get_executor()), ctx_(ctx), role_(role) {}

void listener::run() { do_accept(); }

void listener::stop() {
    error_code ignored;
    acceptor_.close(ignored);
    retry_.cancel();
}

void listener::do_accept() {
    acceptor_.async_accept(beast::bind_front_handler(&listener::on_accept, shared_from_this()));
}

void listener::on_accept(error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
        log::warn("accept_failed", {{"error", ec.message()}});
        if (ec == net::error::no_descriptors || ec == net::error::no_buffer_space) {
            retry_.expires_after(std::chrono::milliseconds(100));
            retry_.async_wait([self = shared_from_this()](error_code e) {
                if (!e) self->do_accept();
            });
            return;
        }
        return do_accept();
    }
    error_code ignored;
    if (role_ == listener_role::metrics) {
        // The operator listener is outside every public limit, with a budget of its own.
        auto place = ctx_.admission.try_operator_request();
        if (!place) {
            ctx_.metrics.count_http_reject(http_reject::handshake_limit);
            socket.close(ignored);
            return do_accept();
        }
        std::make_shared<http_session>(std::move(socket), ctx_, handshake_ticket(std::move(place)),
                                       role_)
            ->run();
        return do_accept();
    }
    const auto peer = socket.remote_endpoint(ignored);
    const bool peer_known = !ignored;  // else the socket is already gone
    // Both per-address checks come before a handshake place is taken, so that one address
    // over its rate or its share of the places cannot fill them.
    if (peer_known && ctx_.cfg.ip_connect_rate > 0 &&
        !ctx_.admission.allow_connect(peer.address(), std::chrono::steady_clock::now()))
        return refuse(std::move(socket), http_reject::rate_limited);
    const auto peer_address = peer.address();
    auto handshake = ctx_.admission.try_handshake(peer_known ? &peer_address : nullptr);
    if (handshake.refusal() == handshake_refusal::address_limit)
        return refuse(std::move(socket), http_reject::address_handshake_limit);
    if (!handshake) {
        // Too many sockets mid-handshake (a slowloris or connect flood from many
        // addresses): spend nothing more on this one. Established clients are unaffected.
        ctx_.metrics.count_http_reject(http_reject::handshake_limit);
        socket.close(ignored);
        return do_accept();
    }
    socket.set_option(tcp::no_delay(true), ignored);
    std::make_shared<http_session>(std::move(socket), ctx_, std::move(handshake), role_)->run();
    do_accept();
}

void listener::refuse(tcp::socket socket, http_reject why) {
    // Answered 429 from a small budget of refusals of its own, and closed unanswered
    // beyond it. Counted here, once.
    ctx_.metrics.count_http_reject(why);
    if (auto refusal = ctx_.admission.try_refusal()) {
        std::make_shared<http_session>(std::move(socket), ctx_, std::move(refusal))
            ->run_rate_limited();
    } else {
        error_code ignored;
        socket.close(ignored);
    }
    do_accept();
}

}  // namespace wsgate
