// A loopback TCP proxy for fault tests: forwards every connection to a target port and can
// wedge (blackhole), slow down, cut or refuse the links on command. It runs its own
// io_context on its own thread; the controls may be called from any thread and return once
// the change is in effect on that thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace wsgate::test {

/// One listening port on 127.0.0.1 that forwards to `target_host:target_port`.
class tcp_proxy {
public:
    /// Listens on a free 127.0.0.1 port at once; connects to the target per accepted client.
    explicit tcp_proxy(std::uint16_t target_port, std::string target_host = "127.0.0.1");
    /// Closes every connection and stops the thread.
    ~tcp_proxy();
    tcp_proxy(const tcp_proxy&) = delete;
    tcp_proxy& operator=(const tcp_proxy&) = delete;

    std::uint16_t port() const noexcept;

    /// Stops forwarding in both directions on every connection, current and new, while
    /// keeping all sockets open: the peers see a silent, half-open link (wedged path). Bytes
    /// sent meanwhile wait in the proxy and the kernel buffers.
    void blackhole();
    /// Undoes blackhole(), delay() and refuse(): held bytes flow again.
    void resume();
    /// Holds every chunk read from the target for `d` before forwarding it to the client
    /// (0 = off): a link that still trickles but lags.
    void delay(std::chrono::milliseconds d);
    /// Resets (RST) every current connection on both sides.
    void cut();
    /// Resets every new connection as soon as it is accepted, until resume().
    void refuse();

    /// Client connections accepted so far (refused ones included).
    std::size_t accepted() const noexcept;
    /// Client connections open now.
    std::size_t open_connections() const noexcept;

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace wsgate::test
