// Channel names for users of non-primary issuers (see channel.hpp for the contract).
#include "redis/channel.hpp"

#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

namespace wsgate {

std::string channel_for_user(std::string_view user_id, std::string_view issuer) {
    if (issuer.empty()) return channel_for_user(user_id);
    const auto unreserved = boost::urls::unreserved_chars;
    std::string channel;
    channel.reserve(issuer_channel_prefix.size() + boost::urls::encoded_size(issuer, unreserved) +
                    1 + user_id.size());
    channel.append(issuer_channel_prefix);
    channel.append(boost::urls::encode(issuer, unreserved));
    channel.push_back(':');
    channel.append(user_id);
    return channel;
}

}  // namespace wsgate
