// What a shard's sessions share: immutable config, the verifier, the shard's hub and
// metrics, and the lists used to close every connection at shutdown. One per shard; only
// that shard's thread touches the non-const parts.
#pragma once

#include <array>
#include <atomic>
#include <boost/intrusive/list.hpp>
#include <chrono>

#include "auth/verifier_store.hpp"
#include "config/config.hpp"
#include "hub/hub.hpp"
#include "metrics/metrics.hpp"
#include "server/admission.hpp"
#include "server/origin.hpp"

namespace wsgate {

struct demo_mode;

using closable_hook =
    boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>>;

/// The shard's clock reading for one sweep over its connections.
struct sweep_time {
    std::chrono::steady_clock::time_point now;
    std::chrono::system_clock::time_point wall;  // for token expiry (`exp` is wall time)
    bool new_budget_window = false;  // a --client-budget-interval has passed: reset budgets
};

/// A connection the shard can close at shutdown. It unlinks itself on destruction.
class closable : public closable_hook {
public:
    /// Begins closing (1001 for WebSockets); completes asynchronously. Shard thread only.
    virtual void shutdown() = 0;
    /// Called by the shard's periodic sweep (see shard::sweep_interval): keepalive pings and
    /// token expiry live here instead of in a timer per connection. Must not destroy the
    /// connection or unlink it synchronously.
    virtual void tick(const sweep_time&) {}

protected:
    ~closable() = default;
};

using closable_list = boost::intrusive::list<closable, boost::intrusive::constant_time_size<false>>;

/// Which listener a connection came in on: the main one (--listen) serves everything; the
/// operator one (--metrics-listen) only /metrics, /healthz and /readyz.
enum class listener_role : std::uint8_t { main, metrics };

struct server_context {
    const config& cfg;
    const auth::verifier_store& verifiers;  // the JWT keys in force: current() per upgrade
    const metrics_registry& registry;       // every shard's metrics, for /metrics and /readyz
    const std::atomic<bool>& stopping;      // process-wide: set on SIGTERM
    shard_metrics& metrics;                 // this shard's
    wsgate::hub& hub;                       // this shard's
    wsgate::admission& admission;           // process-wide connection limits
    const origin_policy& origins;           // --allowed-origins
    closable_list connections{};            // this shard's live http and ws sessions
    bool shutting_down = false;
    demo_mode* demo = nullptr;  // --demo's keys and publisher; null without --demo
    /// Where every WebSocket of the shard reads the client data it ignores. One buffer for
    /// all: the shard is one thread, and the bytes are thrown away. Smaller than Beast's
    /// own read buffer (websocket::stream::tcp_frame_size, 1536 bytes), so Beast always
    /// reads the socket into that buffer and copies, masks and validates UTF-8 in one
    /// step; a read straight into this one could be overwritten by another session before
    /// Beast checked it (a speculative read completes later, through the queue).
    std::array<char, 1024> discard_buffer{};

    /// Ready to deliver: not stopping, and every shard's Redis link is up and subscribed.
    bool ready() const noexcept {
        if (stopping.load(std::memory_order_relaxed)) return false;
        for (std::size_t i = 0; i < registry.shard_count(); ++i)
            if (registry.shard(i).redis_up.load(std::memory_order_relaxed) != 1) return false;
        return true;
    }
};

}  // namespace wsgate
