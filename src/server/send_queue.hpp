// A session's bounded FIFO of outgoing messages. The bound is checked on push, so a slow
// client costs at most max_bytes of payload references (the payloads themselves are shared
// with the other recipients). Starts empty with no allocation: an idle session pays only
// for the members. Single-threaded, like its session.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
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
    /// The i-th queued message, 0 being the front.
    const message_ptr& operator[](std::size_t i) const noexcept { return items_[head_ + i]; }

    class frames_view;
    /// The wire bytes of the first `n` messages (each frame header, then its payload) as one
    /// buffer sequence for a gathered write. It reads the queue by position, so it stays
    /// valid while messages are pushed, as long as none of the `n` is popped or cleared.
    frames_view frames(std::size_t n) const noexcept;

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

    /// Drops everything but the first `keep` messages (those being written); returns the
    /// number of messages dropped.
    std::size_t clear(std::size_t keep = 0) noexcept {
        auto n = count() - keep;
        if (keep == 0) {
            items_.clear();
            items_.shrink_to_fit();
            head_ = 0;
            bytes_ = 0;
            return n;
        }
        for (auto i = head_ + keep; i < items_.size(); ++i) bytes_ -= items_[i]->payload.size();
        items_.resize(head_ + keep);
        return n;
    }

private:
    std::vector<message_ptr> items_;
    std::size_t head_ = 0;
    std::uint64_t bytes_ = 0;
    std::uint32_t max_messages_;
    std::uint64_t max_bytes_;
};

class send_queue::frames_view {
public:
    using value_type = boost::asio::const_buffer;

    class const_iterator {
    public:
        using iterator_category = std::bidirectional_iterator_tag;
        using value_type = boost::asio::const_buffer;
        using difference_type = std::ptrdiff_t;
        using pointer = const value_type*;
        using reference = value_type;

        const_iterator() = default;
        const_iterator(const send_queue* q, std::size_t pos) noexcept : q_(q), pos_(pos) {}

        // Even positions are headers, odd ones payloads.
        value_type operator*() const noexcept {
            const auto& m = (*q_)[pos_ / 2];
            return pos_ % 2 == 0 ? m->header_buffer() : m->payload_buffer();
        }
        const_iterator& operator++() noexcept { return ++pos_, *this; }
        const_iterator operator++(int) noexcept { return {q_, pos_++}; }
        const_iterator& operator--() noexcept { return --pos_, *this; }
        const_iterator operator--(int) noexcept { return {q_, pos_--}; }
        friend bool operator==(const const_iterator& a, const const_iterator& b) noexcept {
            return a.pos_ == b.pos_;
        }

    private:
        const send_queue* q_ = nullptr;
        std::size_t pos_ = 0;
    };

    frames_view(const send_queue* q, std::size_t n) noexcept : q_(q), n_(n) {}
    const_iterator begin() const noexcept { return {q_, 0}; }
    const_iterator end() const noexcept { return {q_, 2 * n_}; }

private:
    const send_queue* q_;
    std::size_t n_;
};

inline send_queue::frames_view send_queue::frames(std::size_t n) const noexcept {
    return {this, n};
}

}  // namespace wsgate
