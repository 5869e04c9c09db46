// hiredis reader wrapper: owns the redisReader, bounds array sizes and sets the idle buffer.
// Relies on hiredis 0.14.1 (RESP2 only; nesting deeper than 7 levels is a protocol error,
// far beyond the depth 1 of any pub/sub reply).
#include "redis/resp_reader.hpp"

#include <new>
#include <utility>

namespace wsgate::redis {
namespace {

// hiredis builds reply objects through a table of function pointers whose default
// instance is private to the library. We copy it from a fresh reader and replace only
// createArray with a bounded version; the defaults travel in the reader's privdata, which
// hiredis copies into every task it passes to the callbacks.
struct bounded_functions {
    redisReplyObjectFunctions defaults;
    redisReplyObjectFunctions table;
    std::size_t max_elements;
};

void* create_bounded_array(const redisReadTask* task, int elements) {
    const auto* fns = static_cast<const bounded_functions*>(task->privdata);
    // Returning null makes hiredis fail the reader (as "Out of memory"); next() reports
    // that as redis_protocol like any other broken stream.
    if (elements < 0 || static_cast<std::size_t>(elements) > fns->max_elements) return nullptr;
    return fns->defaults.createArray(task, elements);
}

}  // namespace

void reply_deleter::operator()(redisReply* r) const noexcept { freeReplyObject(r); }

resp_reader::resp_reader(std::size_t max_array_elements) : reader_(redisReaderCreate()) {
    if (reader_ == nullptr) throw std::bad_alloc();
    // One table per reader keeps the limit per instance; it is freed with the reader.
    auto* fns =
        new (std::nothrow) bounded_functions{*reader_->fn, *reader_->fn, max_array_elements};
    if (fns == nullptr) {
        redisReaderFree(reader_);
        throw std::bad_alloc();
    }
    fns->table.createArray = &create_bounded_array;
    reader_->fn = &fns->table;
    reader_->privdata = fns;
    reader_->maxbuf = idle_buffer_bytes;
}

resp_reader::~resp_reader() {
    if (reader_ == nullptr) return;
    auto* fns = static_cast<bounded_functions*>(reader_->privdata);
    redisReaderFree(reader_);  // may still call fns->table.freeObject on a partial reply
    delete fns;
}

resp_reader::resp_reader(resp_reader&& other) noexcept
    : reader_(std::exchange(other.reader_, nullptr)) {}

resp_reader& resp_reader::operator=(resp_reader&& other) noexcept {
    if (this != &other) {
        resp_reader dying(std::move(*this));
        reader_ = std::exchange(other.reader_, nullptr);
    }
    return *this;
}

void resp_reader::feed(const char* data, std::size_t size) {
    // REDIS_ERR here means the reader had already failed (or ran out of memory, which sets
    // the same sticky error); next() reports it, so the return value carries nothing new.
    (void)redisReaderFeed(reader_, data, size);
}

result<reply_ptr> resp_reader::next() {
    void* reply = nullptr;
    if (redisReaderGetReply(reader_, &reply) != REDIS_OK)
        return make_error_code(errc::redis_protocol);
    return reply_ptr(static_cast<redisReply*>(reply));
}

std::string_view resp_reader::error_message() const noexcept {
    return reader_->err != 0 ? std::string_view(reader_->errstr) : std::string_view();
}

bool resp_reader::failed() const noexcept { return reader_->err != 0; }

}  // namespace wsgate::redis
