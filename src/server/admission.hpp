// Process-wide admission limits, shared by every shard: WebSocket connections held,
// connections still handshaking (in all and per client address), connections per user and
// the rate of new connections per client address. Each check runs before the work it
// protects (header parsing, JWT verification, a Redis subscription). Thread-safe: atomics
// for the counts, a short mutex section for the per-user and per-address tables. Knows
// nothing of Beast.
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "util/string_hash.hpp"

namespace wsgate {

/// The limits; 0 means unlimited for each.
struct admission_limits {
    std::uint64_t max_connections = 0;             // WebSockets held (and upgrades in progress)
    std::uint32_t max_connections_per_user = 0;    // WebSockets of one user id
    std::uint32_t max_handshakes = 0;              // accepted sockets not yet upgraded
    std::uint32_t max_handshakes_per_address = 0;  // of those, from one address (IPv6: /64)
    double ip_connect_rate = 0;                    // new connections per second per address
    std::uint32_t ip_connect_burst = 0;            // bucket size; 0 = one second's worth
    /// Addresses tracked by the rate limiter; beyond it the least recently seen is forgotten.
    std::size_t max_tracked_addresses = 65536;
};

/// The key under which an address is limited: an IPv4 address in its v4-mapped form (so a
/// v4-mapped IPv6 peer is the same client), an IPv6 address by its /64, the block one
/// subscriber usually holds.
using address_key = std::array<std::uint8_t, 16>;
address_key address_key_for(const boost::asio::ip::address& peer) noexcept;

class admission;

/// A counted place (a handshake or a connection): released when destroyed. Move-only; an
/// empty ticket means the limit was reached.
class admission_ticket {
public:
    admission_ticket() = default;
    explicit admission_ticket(std::atomic<std::int64_t>* count) noexcept : count_(count) {}
    admission_ticket(admission_ticket&& o) noexcept : count_(o.count_) { o.count_ = nullptr; }
    admission_ticket& operator=(admission_ticket&& o) noexcept {
        if (this != &o) {
            release();
            count_ = o.count_;
            o.count_ = nullptr;
        }
        return *this;
    }
    admission_ticket(const admission_ticket&) = delete;
    admission_ticket& operator=(const admission_ticket&) = delete;
    ~admission_ticket() { release(); }

    explicit operator bool() const noexcept { return count_ != nullptr; }
    void release() noexcept {
        if (count_) count_->fetch_sub(1, std::memory_order_relaxed);
        count_ = nullptr;
    }

private:
    std::atomic<std::int64_t>* count_ = nullptr;
};

/// Why try_handshake() gave no place.
enum class handshake_refusal : std::uint8_t {
    none,
    address_limit,    // the peer's address holds --max-handshakes-per-address already
    handshake_limit,  // the process holds --max-handshakes
};

/// A socket's place among the handshakes in progress: one under --max-handshakes and, when
/// its address is known and limited, one of its address's places. Released when destroyed.
/// Move-only; an empty ticket says why in refusal().
class handshake_ticket {
public:
    handshake_ticket() = default;
    /// A place counted elsewhere (a refusal being answered), with no address place.
    handshake_ticket(admission_ticket place) noexcept : place_(std::move(place)) {}
    handshake_ticket(handshake_ticket&& o) noexcept
        : place_(std::move(o.place_)),
          owner_(std::exchange(o.owner_, nullptr)),
          address_(std::exchange(o.address_, nullptr)),
          refusal_(o.refusal_) {}
    handshake_ticket& operator=(handshake_ticket&& o) noexcept;
    handshake_ticket(const handshake_ticket&) = delete;
    handshake_ticket& operator=(const handshake_ticket&) = delete;
    ~handshake_ticket() { release(); }

    explicit operator bool() const noexcept { return static_cast<bool>(place_); }
    handshake_refusal refusal() const noexcept { return refusal_; }
    void release() noexcept;

private:
    friend class admission;
    using address_entry = std::pair<const address_key, std::uint32_t>;
    admission_ticket place_;
    admission* owner_ = nullptr;        // set with address_
    address_entry* address_ = nullptr;  // node of admission::handshake_addresses_ (stable)
    handshake_refusal refusal_ = handshake_refusal::none;
};

/// One connection of a user, counted against the per-user limit until destroyed.
class user_ticket {
public:
    user_ticket() = default;
    user_ticket(user_ticket&& o) noexcept : owner_(o.owner_), entry_(o.entry_) {
        o.owner_ = nullptr;
        o.entry_ = nullptr;
    }
    user_ticket& operator=(user_ticket&& o) noexcept;
    user_ticket(const user_ticket&) = delete;
    user_ticket& operator=(const user_ticket&) = delete;
    ~user_ticket() { release(); }

    /// True when the connection was admitted (also when no per-user limit is set).
    bool admitted() const noexcept { return owner_ != nullptr; }
    void release() noexcept;

private:
    friend class admission;
    using entry = std::pair<const std::string, std::uint32_t>;
    admission* owner_ = nullptr;  // set when admitted
    entry* entry_ = nullptr;      // node of admission::users_ (stable); null when not counted
};

class admission {
public:
    using clock = std::chrono::steady_clock;

    explicit admission(admission_limits limits);
    admission(const admission&) = delete;
    admission& operator=(const admission&) = delete;

    const admission_limits& limits() const noexcept { return limits_; }

    /// A place for an accepted socket until its upgrade completes: empty when its address
    /// (null: unknown, so not limited per address) or the process is at its cap. The
    /// address is checked first, so that one address over its own cap takes no place
    /// from the others.
    handshake_ticket try_handshake(const boost::asio::ip::address* peer = nullptr);
    /// A place for a socket that is only being told 429: it does not take a handshake
    /// place (so a flood from one address cannot fill those), but these are capped too.
    admission_ticket try_refusal() { return try_acquire(refusals_, max_refusals); }
    /// A place for a request on the operator listener (--metrics-listen): a budget of its
    /// own, apart from every public limit, so that a flood on the public port cannot make
    /// probes and scrapes fail (and an orchestrator restart a gateway under attack).
    admission_ticket try_operator_request() {
        return try_acquire(operator_requests_, max_operator_requests);
    }
    /// A place for a WebSocket, taken before its token is verified; empty at the cap.
    admission_ticket try_connection() { return try_acquire(connections_, limits_.max_connections); }
    /// Counts a connection of `user_id`; not admitted() when the user is at the limit.
    user_ticket try_user(std::string_view user_id);
    /// Takes one new connection from `peer`'s bucket; false when the address exceeds its
    /// rate. Keyed by address_key_for(peer).
    bool allow_connect(const boost::asio::ip::address& peer, clock::time_point now);

    std::int64_t handshakes() const noexcept { return handshakes_.load(std::memory_order_relaxed); }
    std::int64_t connections() const noexcept {
        return connections_.load(std::memory_order_relaxed);
    }
    std::size_t tracked_addresses() const;
    /// Addresses with a handshake in progress (those limited per address).
    std::size_t handshaking_addresses() const;

private:
    friend class user_ticket;
    friend class handshake_ticket;
    struct address_hash {
        std::size_t operator()(const address_key& k) const noexcept;
    };
    struct bucket {
        address_key key;
        double tokens;
        clock::time_point updated;
    };
    // Least recently seen first: the one to forget when the table is full.
    using bucket_list = std::list<bucket>;

    static admission_ticket try_acquire(std::atomic<std::int64_t>& count, std::uint64_t max);
    void release_user(user_ticket::entry* e) noexcept;
    void release_address(handshake_ticket::address_entry* e) noexcept;

    const admission_limits limits_;
    const double burst_;
    std::atomic<std::int64_t> handshakes_{0};
    std::atomic<std::int64_t> connections_{0};
    std::atomic<std::int64_t> refusals_{0};
    static constexpr std::uint64_t max_refusals = 256;
    std::atomic<std::int64_t> operator_requests_{0};
    static constexpr std::uint64_t max_operator_requests = 64;

    std::mutex users_mutex_;
    std::unordered_map<std::string, std::uint32_t, string_hash, std::equal_to<>> users_;

    // The rate limiter's buckets, in a list ordered by last use and indexed by key, so that
    // a lookup, a use and forgetting the least recently seen address are all O(1).
    mutable std::mutex addresses_mutex_;
    bucket_list buckets_;
    std::unordered_map<address_key, bucket_list::iterator, address_hash> addresses_;

    // Handshakes in progress per address; an entry lives while its count is above zero.
    mutable std::mutex handshake_addresses_mutex_;
    std::unordered_map<address_key, std::uint32_t, address_hash> handshake_addresses_;
};

}  // namespace wsgate
