// A notification read from Redis: parsed once, then shared read-only by every recipient
// session on the shard. Sessions hold the pointer until the frame is written.
#pragma once

#include <memory>
#include <string>

namespace wsgate {

struct message {
    std::string payload;  // the exact bytes published
    bool binary = false;  // true only for non-UTF-8 payloads under --invalid-utf8=binary
};

using message_ptr = std::shared_ptr<const message>;

}  // namespace wsgate
