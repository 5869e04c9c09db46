// Uses Beast's validator, the same one that checks incoming text frames, so what we send
// and what we would accept agree. Kept in its own translation unit to keep Beast headers
// out of the Redis and hub code.
#include "util/utf8.hpp"

#include <boost/beast/websocket/detail/utf8_checker.hpp>

namespace wsgate {

bool is_valid_utf8(std::string_view bytes) noexcept {
    return boost::beast::websocket::detail::check_utf8(bytes.data(), bytes.size());
}

}  // namespace wsgate
