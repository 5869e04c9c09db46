// Hub bookkeeping. Invariant: a user is in users_ exactly while it has at least one
// session, and subs_.want/drop are called on the transitions 0→1 and 1→0.
#include "hub/hub.hpp"

#include <algorithm>

namespace wsgate {

bool hub::join(std::string_view channel, session_sink* s) {
    auto it = users_.find(channel);
    if (it == users_.end()) {
        it = users_.emplace(std::string(channel), user_entry{}).first;
        it->second.sessions.push_back(s);
        ++sessions_;
        subs_.want(channel);
        return false;
    }
    it->second.sessions.push_back(s);
    ++sessions_;
    return it->second.confirmed;
}

void hub::leave(std::string_view channel, session_sink* s) {
    auto it = users_.find(channel);
    if (it == users_.end()) return;
    auto& v = it->second.sessions;
    auto pos = std::find(v.begin(), v.end(), s);
    if (pos == v.end()) return;
    // Order among a user's sessions does not matter: swap-and-pop.
    *pos = v.back();
    v.pop_back();
    --sessions_;
    if (v.empty()) {
        subs_.drop(channel);
        users_.erase(it);
    }
}

std::size_t hub::session_count(std::string_view channel) const {
    auto it = users_.find(channel);
    return it == users_.end() ? 0 : it->second.sessions.size();
}

void hub::on_subscribed(std::string_view channel) {
    auto it = users_.find(channel);
    if (it == users_.end()) return;
    it->second.confirmed = true;
    for (auto* s : it->second.sessions) s->subscribed();
}

void hub::on_unsubscribed(std::string_view channel) {
    auto it = users_.find(channel);
    if (it != users_.end()) it->second.confirmed = false;
}

void hub::on_unsubscribed_all() {
    for (auto& [user, entry] : users_) entry.confirmed = false;
}

}  // namespace wsgate
