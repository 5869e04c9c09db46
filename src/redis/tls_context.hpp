// The client side of rediss://, shared by the subscriber and the cluster topology reader.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <string>

#include "redis/tls_options.hpp"

namespace wsgate::redis {

/// TLS 1.2 or later, the server certificate always verified (against ca_file, or the
/// system store), a client certificate when given. Throws boost::system::system_error on
/// unreadable files.
boost::asio::ssl::context make_tls_context(const tls_options& t);

/// Sets SNI (DNS names only, RFC 6066 section 3) and the host name check for `name` on a
/// stream about to handshake. Returns false if OpenSSL refused the SNI name.
bool prepare_tls_stream(boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>& stream,
                        const std::string& name);

}  // namespace wsgate::redis
