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

/// Bounded FIFO of shared messages, by count and by payload bytes. The front messages may
/// be marked as being sent (one batch at a time): they stay queued, so the write can read
/// them in place, but they are no longer backlog.
class send_queue {
public:
    send_queue(std::uint32_t max_messages, std::uint64_t max_bytes) noexcept
        : max_messages_(max_messages), max_bytes_(max_bytes) {}

    /// Appends `m`, or returns false and leaves the queue unchanged when the backlog would
    /// exceed either bound. An empty backlog takes any one message: a single payload larger
    /// than the bound (already in memory, shared) is no sign of a slow client, and neither
    /// is the batch being written.
    bool push(message_ptr m) {
        auto size = m->payload.size();
        const auto backlog = count() - sending_;
        if (backlog + 1 > max_messages_ ||
            (backlog != 0 && bytes_ - sending_bytes_ + size > max_bytes_))
            return false;
        items_.push_back(std::move(m));
        bytes_ += size;
        return true;
    }

    bool empty() const noexcept { return head_ == items_.size(); }
    /// Messages queued, the batch being sent included.
    std::size_t count() const noexcept { return items_.size() - head_; }
    /// Payload bytes queued, the batch being sent included.
    std::uint64_t bytes() const noexcept { return bytes_; }
    /// Messages waiting behind the batch being sent.
    bool has_backlog() const noexcept { return count() > sending_; }
    /// Messages in the batch being sent; 0 when no send is in progress.
    std::size_t sending() const noexcept { return sending_; }

    /// The i-th queued message, 0 being the front.
    const message_ptr& operator[](std::size_t i) const noexcept { return items_[head_ + i]; }

    class frames_view;
    /// Marks the next batch as being sent: the front messages, at least one, up to
    /// `max_messages` and, after the first, up to `max_bytes` of payload. Returns the wire
    /// bytes of the batch (each frame header, then its payload) as one buffer sequence. It
    /// reads the queue by position, so it stays valid while messages are pushed and the
    /// backlog is cleared, until finish_send(). Precondition: has_backlog(), no batch.
    frames_view start_send(std::size_t max_messages, std::uint64_t max_bytes) noexcept;

    /// Removes the batch that was being sent; returns its payload bytes.
    std::uint64_t finish_send() noexcept {
        const auto n = sending_;
        const auto b = sending_bytes_;
        sending_ = 0;
        sending_bytes_ = 0;
        for (std::size_t i = 0; i < n; ++i) pop_front();
        return b;
    }

    /// Drops the backlog, or with `keep_sending` false everything; returns the number of
    /// messages dropped. The storage shrinks to the batch still being sent.
    std::size_t clear(bool keep_sending = true) noexcept {
        const auto keep = keep_sending ? sending_ : 0;
        const auto n = count() - keep;
        items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
        head_ = 0;
        items_.resize(keep);
        items_.shrink_to_fit();
        bytes_ = keep_sending ? sending_bytes_ : 0;
        if (!keep_sending) sending_ = 0, sending_bytes_ = 0;
        return n;
    }

private:
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

    std::vector<message_ptr> items_;
    std::size_t head_ = 0;
    std::uint64_t bytes_ = 0;
    std::uint64_t sending_bytes_ = 0;
    std::uint32_t sending_ = 0;
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

inline send_queue::frames_view send_queue::start_send(std::size_t max_messages,
                                                      std::uint64_t max_bytes) noexcept {
    std::size_t n = 0;
    std::uint64_t b = 0;
    const auto available = count();
    while (n < available && n < max_messages) {
        const auto size = (*this)[n]->payload.size();
        if (n != 0 && b + size > max_bytes) break;
        b += size;
        ++n;
    }
    sending_ = static_cast<std::uint32_t>(n);
    sending_bytes_ = b;
    return {this, n};
}

}  // namespace wsgate
