// The shard's index of user → sessions, keyed by the user's channel name (which names the
// user with its issuer: see redis/channel.hpp). Single-threaded (one shard, one thread), so
// no locks. Reports a user's first and last session to `subscriptions`, and fans a message
// out to all of a user's sessions. Knows nothing of Beast or Redis I/O.
#pragma once

#include <boost/container/small_vector.hpp>
#include <boost/unordered/unordered_flat_map.hpp>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>

#include "hub/message.hpp"
#include "util/string_hash.hpp"

namespace wsgate {

/// What the hub needs of a session.
class session_sink {
public:
    /// Queues `msg` for sending. Must not call back into the hub (a session that must close
    /// defers it); called during the hub's fan-out walk.
    virtual void deliver(const message_ptr& msg) = 0;
    /// The user's channel is confirmed subscribed: messages published from now on reach
    /// this session. Called for every session of the user, again after a Redis reconnect;
    /// the same no-reentry rule as deliver().
    virtual void subscribed() = 0;

protected:
    ~session_sink() = default;
};

/// What the hub needs of the Redis side: one subscription per user with sessions here.
class subscriptions {
public:
    virtual void want(std::string_view channel) = 0;  // first session of the user joined
    virtual void drop(std::string_view channel) = 0;  // last session of the user left

protected:
    ~subscriptions() = default;
};

/// User (by channel) → sessions on one shard.
class hub {
public:
    explicit hub(subscriptions& subs) : subs_(subs) {}
    hub(const hub&) = delete;
    hub& operator=(const hub&) = delete;

    /// Adds a session. Returns true when the user's channel is already confirmed, in which
    /// case the session will get no subscribed() call for this join.
    bool join(std::string_view channel, session_sink* s);
    /// Removes a session; the user's last leave drops the subscription. Idempotent.
    void leave(std::string_view channel, session_sink* s);

    /// Hands `msg` to each session of the user of `channel`; returns how many.
    std::size_t publish(std::string_view channel, const message_ptr& msg) {
        return publish(channel, [&](std::size_t) { return msg; });
    }

    /// Looks the user up once and, if it has sessions, asks `make(recipients)` for the
    /// message: so a message for a user with no session here costs no allocation. A null
    /// message from `make` delivers nothing. Returns the number of recipients.
    template <class Make>
    requires std::is_invocable_r_v<message_ptr, Make&, std::size_t> std::size_t publish(
        std::string_view channel, Make&& make) {
        auto it = users_.find(channel);
        if (it == users_.end()) return 0;
        const auto& sessions = it->second.sessions;
        message_ptr msg = make(sessions.size());
        if (!msg) return 0;
        for (auto* s : sessions) s->deliver(msg);
        return sessions.size();
    }

    /// Redis confirmed the user's channel: tell each of the user's sessions.
    void on_subscribed(std::string_view channel);
    /// The Redis link dropped: every user needs confirming again before new sessions open.
    void on_unsubscribed_all();
    /// Only this channel lost its subscription (Redis Cluster: its node's link, or its slot
    /// moved): its user needs confirming again; the others are unaffected.
    void on_unsubscribed(std::string_view channel);

    /// Sessions of one user on this shard.
    std::size_t session_count(std::string_view channel) const;

    std::size_t users() const noexcept { return users_.size(); }
    std::size_t sessions() const noexcept { return sessions_; }

private:
    struct user_entry {
        // Most users hold one connection: it lives inline, with no allocation of its own.
        boost::container::small_vector<session_sink*, 1> sessions;
        bool confirmed = false;
    };

    subscriptions& subs_;
    // Open addressing: a message's one lookup touches the slot array, not a chain of nodes
    // (it was the largest user-space item in a fan-out profile). Entries move on rehash,
    // so nothing keeps a reference to one across a join or leave.
    boost::unordered_flat_map<std::string, user_entry, string_hash, std::equal_to<>> users_;
    std::size_t sessions_ = 0;
};

}  // namespace wsgate
