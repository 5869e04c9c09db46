// Admission counters, handshakes per address and the per-address token buckets.
#include "server/admission.hpp"

#include <algorithm>
#include <cstring>

namespace wsgate {

user_ticket& user_ticket::operator=(user_ticket&& o) noexcept {
    if (this != &o) {
        release();
        owner_ = o.owner_;
        entry_ = o.entry_;
        o.owner_ = nullptr;
        o.entry_ = nullptr;
    }
    return *this;
}

void user_ticket::release() noexcept {
    if (owner_ && entry_) owner_->release_user(entry_);
    owner_ = nullptr;
    entry_ = nullptr;
}

handshake_ticket& handshake_ticket::operator=(handshake_ticket&& o) noexcept {
    if (this != &o) {
        release();
        place_ = std::move(o.place_);
        owner_ = std::exchange(o.owner_, nullptr);
        address_ = std::exchange(o.address_, nullptr);
        refusal_ = o.refusal_;
    }
    return *this;
}

void handshake_ticket::release() noexcept {
    place_.release();
    if (owner_ && address_) owner_->release_address(address_);
    owner_ = nullptr;
    address_ = nullptr;
}

address_key address_key_for(const boost::asio::ip::address& peer) noexcept {
    namespace ip = boost::asio::ip;
    address_key key{};
    auto v4_key = [&key](const ip::address_v4& v4) {
        // v4-mapped form, so both families share one table without colliding.
        const auto bytes = v4.to_bytes();
        key[10] = key[11] = 0xff;
        std::copy(bytes.begin(), bytes.end(), key.begin() + 12);
    };
    if (peer.is_v4()) {
        v4_key(peer.to_v4());
        return key;
    }
    const auto v6 = peer.to_v6();
    if (v6.is_v4_mapped()) {
        v4_key(ip::make_address_v4(ip::v4_mapped, v6));
        return key;
    }
    const auto bytes = v6.to_bytes();
    std::copy(bytes.begin(), bytes.begin() + 8, key.begin());  // the /64
    key[8] = 0x64;  // marks a prefix key, distinct from any v4-mapped one
    return key;
}

admission::admission(admission_limits limits)
    : limits_(limits),
      burst_(limits.ip_connect_burst ? static_cast<double>(limits.ip_connect_burst)
                                     : std::max(1.0, limits.ip_connect_rate)) {}

admission_ticket admission::try_acquire(std::atomic<std::int64_t>& count, std::uint64_t max) {
    auto before = count.fetch_add(1, std::memory_order_relaxed);
    if (max != 0 && static_cast<std::uint64_t>(before) >= max) {
        count.fetch_sub(1, std::memory_order_relaxed);
        return {};
    }
    return admission_ticket(&count);
}

handshake_ticket admission::try_handshake(const boost::asio::ip::address* peer) {
    handshake_ticket t;
    if (peer && limits_.max_handshakes_per_address != 0) {
        std::lock_guard lock(handshake_addresses_mutex_);
        auto [it, inserted] = handshake_addresses_.try_emplace(address_key_for(*peer), 0);
        if (it->second >= limits_.max_handshakes_per_address) {
            t.refusal_ = handshake_refusal::address_limit;
            return t;
        }
        ++it->second;
        t.owner_ = this;
        t.address_ = &*it;
    }
    t.place_ = try_acquire(handshakes_, limits_.max_handshakes);
    if (!t.place_) {
        t.release();  // gives the address place back
        t.refusal_ = handshake_refusal::handshake_limit;
    }
    return t;
}

void admission::release_address(handshake_ticket::address_entry* e) noexcept {
    std::lock_guard lock(handshake_addresses_mutex_);
    if (--e->second == 0) handshake_addresses_.erase(e->first);
}

std::size_t admission::handshaking_addresses() const {
    std::lock_guard lock(handshake_addresses_mutex_);
    return handshake_addresses_.size();
}

user_ticket admission::try_user(std::string_view user_id) {
    user_ticket t;
    if (limits_.max_connections_per_user == 0) {
        t.owner_ = this;  // admitted; nothing to count
        return t;
    }
    std::lock_guard lock(users_mutex_);
    auto it = users_.find(user_id);
    if (it == users_.end()) it = users_.emplace(std::string(user_id), 0).first;
    if (it->second >= limits_.max_connections_per_user) return t;
    ++it->second;
    t.owner_ = this;
    t.entry_ = &*it;
    return t;
}

void admission::release_user(user_ticket::entry* e) noexcept {
    std::lock_guard lock(users_mutex_);
    if (--e->second == 0) users_.erase(e->first);
}

std::size_t admission::address_hash::operator()(const address_key& k) const noexcept {
    std::uint64_t a, b;
    std::memcpy(&a, k.data(), 8);
    std::memcpy(&b, k.data() + 8, 8);
    return std::hash<std::uint64_t>{}(a ^ (b * 0x9E3779B97F4A7C15ull));
}

bool admission::allow_connect(const boost::asio::ip::address& peer, clock::time_point now) {
    if (limits_.ip_connect_rate <= 0) return true;
    const auto key = address_key_for(peer);

    std::lock_guard lock(addresses_mutex_);
    auto it = addresses_.find(key);
    bucket* b = nullptr;
    if (it == addresses_.end()) {
        if (addresses_.size() >= limits_.max_tracked_addresses && !buckets_.empty()) {
            // Full: forget the least recently seen address and reuse its node. Its bucket
            // has had the longest to refill, so forgetting it gives away the least (at most
            // one burst, to the address seen longest ago). An address that keeps knocking
            // stays at the back with its empty bucket however many new addresses arrive;
            // clearing the table instead handed every address a fresh burst.
            addresses_.erase(buckets_.front().key);
            buckets_.splice(buckets_.end(), buckets_, buckets_.begin());
            buckets_.back() = bucket{key, burst_, now};
        } else {
            buckets_.push_back(bucket{key, burst_, now});
        }
        addresses_.emplace(key, std::prev(buckets_.end()));
        b = &buckets_.back();
    } else {
        // Seen now: to the back of the list, the last to be forgotten.
        buckets_.splice(buckets_.end(), buckets_, it->second);
        b = &*it->second;
        auto elapsed = std::chrono::duration<double>(now - b->updated).count();
        b->tokens = std::min(burst_, b->tokens + std::max(0.0, elapsed) * limits_.ip_connect_rate);
        b->updated = now;
    }
    if (b->tokens < 1.0) return false;
    b->tokens -= 1.0;
    return true;
}

std::size_t admission::tracked_addresses() const {
    std::lock_guard lock(addresses_mutex_);
    return addresses_.size();
}

}  // namespace wsgate
