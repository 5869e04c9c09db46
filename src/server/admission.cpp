// Admission counters and the per-address token buckets.
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
    address_key key{};
    if (peer.is_v4()) {
        // v4-mapped form, so both families share one table without colliding.
        auto v4 = peer.to_v4().to_bytes();
        key[10] = key[11] = 0xff;
        std::copy(v4.begin(), v4.end(), key.begin() + 12);
    } else {
        auto v6 = peer.to_v6();
        if (v6.is_v4_mapped())
            return allow_connect(boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6),
                                 now);
        auto bytes = v6.to_bytes();
        std::copy(bytes.begin(), bytes.begin() + 8, key.begin());  // the /64
        key[8] = 0x64;  // marks a prefix key, distinct from any v4-mapped one
    }

    std::lock_guard lock(addresses_mutex_);
    auto it = addresses_.find(key);
    if (it == addresses_.end()) {
        if (addresses_.size() >= limits_.max_tracked_addresses) forget_idle_addresses(now);
        it = addresses_.emplace(key, bucket{burst_, now}).first;
    } else {
        auto elapsed = std::chrono::duration<double>(now - it->second.updated).count();
        it->second.tokens =
            std::min(burst_, it->second.tokens + std::max(0.0, elapsed) * limits_.ip_connect_rate);
        it->second.updated = now;
    }
    if (it->second.tokens < 1.0) return false;
    it->second.tokens -= 1.0;
    return true;
}

void admission::forget_idle_addresses(clock::time_point now) {
    // An address whose bucket has refilled is indistinguishable from a new one: forget it.
    auto refill = std::chrono::duration<double>(burst_ / limits_.ip_connect_rate);
    std::erase_if(addresses_, [&](const auto& kv) {
        return now - kv.second.updated >= std::chrono::duration_cast<clock::duration>(refill);
    });
    // Still full: a flood from more addresses than the table holds. Start afresh rather
    // than refuse every new address (which would let a flood lock out everyone else).
    if (addresses_.size() >= limits_.max_tracked_addresses) addresses_.clear();
}

std::size_t admission::tracked_addresses() const {
    std::lock_guard lock(addresses_mutex_);
    return addresses_.size();
}

}  // namespace wsgate
