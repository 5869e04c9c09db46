// tcp_proxy: one Asio thread, one coroutine per direction per connection. A shared "gate"
// timer parks every pump while the proxy is blackholed; resume() cancels it. All state is
// touched on the proxy thread only; the controls post to it and wait for completion. The
// coroutines hold no reference to the proxy: it joins its thread before it goes away.
#include "tcp_proxy.hpp"

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <future>
#include <list>
#include <stdexcept>
#include <thread>

namespace wsgate::test {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

void reset_socket(tcp::socket& s) {
    error_code ignored;
    if (!s.is_open()) return;
    s.set_option(asio::socket_base::linger(true, 0), ignored);  // close() sends RST
    s.close(ignored);
}

}  // namespace

struct tcp_proxy::impl {
    struct link {
        explicit link(asio::io_context& ioc) : client(ioc), server(ioc) {}
        tcp::socket client;
        tcp::socket server;
        int pumps = 2;
    };

    asio::io_context ioc;
    tcp::acceptor acceptor{ioc};
    tcp::endpoint target;
    asio::steady_timer gate{ioc};  // pumps wait on it while blackholed
    bool blackholed = false;
    bool refusing = false;
    std::chrono::milliseconds delay{0};
    std::list<std::shared_ptr<link>> links;
    std::atomic<std::size_t> accepted{0};
    std::atomic<std::size_t> open{0};
    std::uint16_t port = 0;
    std::thread thread;

    // Runs `f` on the proxy thread and waits for it (bounded: the thread never blocks).
    template <class F>
    void on_thread(F f) {
        std::promise<void> done;
        auto fut = done.get_future();
        asio::post(ioc, [&] {
            f();
            done.set_value();
        });
        if (fut.wait_for(std::chrono::seconds(5)) != std::future_status::ready)
            throw std::runtime_error("tcp_proxy: control did not complete in 5 s");
    }

    asio::awaitable<void> wait_gate() {
        while (blackholed) co_await gate.async_wait(use_tuple);
    }

    asio::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, s] = co_await acceptor.async_accept(use_tuple);
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
            if (ec) continue;
            ++accepted;
            if (refusing) {
                reset_socket(s);
                continue;
            }
            auto l = std::make_shared<link>(ioc);
            l->client = std::move(s);
            asio::co_spawn(ioc, start(l), asio::detached);
        }
    }

    asio::awaitable<void> start(std::shared_ptr<link> l) {
        links.push_back(l);
        ++open;
        auto [ec] = co_await l->server.async_connect(target, use_tuple);
        if (ec) {
            finish(l);
            finish(l);
            co_return;
        }
        error_code ignored;
        l->client.set_option(tcp::no_delay(true), ignored);
        l->server.set_option(tcp::no_delay(true), ignored);
        asio::co_spawn(ioc, pump(l, l->client, l->server, false), asio::detached);
        asio::co_spawn(ioc, pump(l, l->server, l->client, true), asio::detached);
    }

    asio::awaitable<void> pump(std::shared_ptr<link> l, tcp::socket& from, tcp::socket& to,
                               bool from_target) {
        std::array<char, 16 * 1024> buf;
        asio::steady_timer hold(ioc);
        for (;;) {
            co_await wait_gate();
            auto [ec, n] = co_await from.async_read_some(asio::buffer(buf), use_tuple);
            if (ec) break;
            if (from_target && delay.count() > 0) {
                hold.expires_after(delay);
                co_await hold.async_wait(use_tuple);
            }
            co_await wait_gate();
            if (!to.is_open()) break;
            auto [wec, wn] = co_await asio::async_write(to, asio::buffer(buf.data(), n), use_tuple);
            if (wec) break;
        }
        // One side ended: end the other the same way (EOF stays EOF, a reset stays a reset
        // as far as the kernel lets a close show it).
        error_code ignored;
        to.shutdown(tcp::socket::shutdown_send, ignored);
        finish(l);
    }

    void finish(const std::shared_ptr<link>& l) {
        if (--l->pumps > 0) return;
        error_code ignored;
        l->client.close(ignored);
        l->server.close(ignored);
        links.remove(l);
        --open;
    }
};

tcp_proxy::tcp_proxy(std::uint16_t target_port, std::string target_host)
    : impl_(std::make_shared<impl>()) {
    auto& i = *impl_;
    i.target = tcp::endpoint(asio::ip::make_address(target_host), target_port);
    i.acceptor.open(tcp::v4());
    i.acceptor.set_option(tcp::acceptor::reuse_address(true));
    i.acceptor.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    i.acceptor.listen();
    i.port = i.acceptor.local_endpoint().port();
    asio::co_spawn(i.ioc, i.accept_loop(), asio::detached);
    i.thread = std::thread([p = impl_] { p->ioc.run(); });
}

tcp_proxy::~tcp_proxy() {
    auto& i = *impl_;
    try {
        i.on_thread([&] {
            error_code ignored;
            i.acceptor.close(ignored);
            i.blackholed = false;
            i.gate.cancel();
            for (auto& l : i.links) {
                l->client.close(ignored);
                l->server.close(ignored);
            }
        });
    } catch (const std::exception&) {
    }
    i.ioc.stop();
    i.thread.join();
}

std::uint16_t tcp_proxy::port() const noexcept { return impl_->port; }

void tcp_proxy::blackhole() {
    impl_->on_thread([i = impl_.get()] {
        if (i->blackholed) return;
        i->blackholed = true;
        i->gate.expires_at(asio::steady_timer::time_point::max());
    });
}

void tcp_proxy::resume() {
    impl_->on_thread([i = impl_.get()] {
        i->blackholed = false;
        i->refusing = false;
        i->delay = std::chrono::milliseconds(0);
        i->gate.cancel();
    });
}

void tcp_proxy::delay(std::chrono::milliseconds d) {
    impl_->on_thread([i = impl_.get(), d] { i->delay = d; });
}

void tcp_proxy::cut() {
    impl_->on_thread([i = impl_.get()] {
        for (auto& l : i->links) {
            reset_socket(l->client);
            reset_socket(l->server);
        }
    });
}

void tcp_proxy::refuse() {
    impl_->on_thread([i = impl_.get()] { i->refusing = true; });
}

std::size_t tcp_proxy::accepted() const noexcept { return impl_->accepted.load(); }

std::size_t tcp_proxy::open_connections() const noexcept { return impl_->open.load(); }

}  // namespace wsgate::test
