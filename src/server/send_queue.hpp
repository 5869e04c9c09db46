// A session's bounded FIFO of outgoing messages. The bound is checked on push, so a slow
// client costs at most max_bytes of payload references (the payloads themselves are shared
// with the other recipients). Starts empty with no allocation: an idle session pays only
// for the members. Single-threaded, like its session.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "hub/message.hpp"

namespace wsgate {

/// Bounded FIFO of shared messages, by count and by payload bytes.
class send_queue {
public:
    send_queue(std::uint32_t max_messages, std::uint64_t max_bytes) noexcept
        : max_messages_(max_messages), max_bytes_(max_bytes) {}

    /// Appends `m`, or returns false and leaves the queue unchanged when it would exceed
    /// either bound. An empty queue takes any one message: the bound is on backlog, and a
    /// single payload larger than it (already in memory, shared) is no sign of a slow client.
    bool push(message_ptr m) {
        auto size = m->payload.size();
        if (count() + 1 > max_messages_ || (!empty() && bytes_ + size > max_bytes_)) return false;
        items_.push_back(std::move(m));
        bytes_ += size;
        return true;
    }

    bool empty() const noexcept { return head_ == items_.size(); }
    std::size_t count() const noexcept { return items_.size() - head_; }
    std::uint64_t bytes() const noexcept { return bytes_; }

    const message_ptr& front() const noexcept { return items_[head_]; }

    void pop_front() noexcept {
        bytes_ -= items_[head_]->payload.size();
        items_[head_].reset();
        if (++head_ == items_.size()) {
            items_.clear();
            head_ = 0;
            // A burst may have grown the buffer; give the memory back once drained so an
            // idle connection stays small.
            if (items_.capacity() > 64) items_.shrink_to_fit();
        } else if (head_ >= 64 && head_ * 2 >= items_.size()) {
            items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
            head_ = 0;
        }
    }

    /// Drops everything; returns the number of messages dropped.
    std::size_t clear() noexcept {
        auto n = count();
        items_.clear();
        items_.shrink_to_fit();
        head_ = 0;
        bytes_ = 0;
        return n;
    }

private:
    std::vector<message_ptr> items_;
    std::size_t head_ = 0;
    std::uint64_t bytes_ = 0;
    std::uint32_t max_messages_;
    std::uint64_t max_bytes_;
};

}  // namespace wsgate
