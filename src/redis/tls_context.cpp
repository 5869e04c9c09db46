#include "redis/tls_context.hpp"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>

namespace wsgate::redis {

namespace asio = boost::asio;

asio::ssl::context make_tls_context(const tls_options& t) {
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    ctx.set_verify_mode(asio::ssl::verify_peer);
    if (t.ca_file.empty())
        ctx.set_default_verify_paths();
    else
        ctx.load_verify_file(t.ca_file);
    if (!t.cert_file.empty()) {
        ctx.use_certificate_chain_file(t.cert_file);
        ctx.use_private_key_file(t.key_file, asio::ssl::context::pem);
    }
    return ctx;
}

bool prepare_tls_stream(asio::ssl::stream<asio::ip::tcp::socket&>& stream,
                        const std::string& name) {
    boost::system::error_code ip_ec;
    asio::ip::make_address(name, ip_ec);
    // SNI carries DNS names only; an IP literal is still verified below.
    if (ip_ec && !SSL_set_tlsext_host_name(stream.native_handle(), name.c_str())) return false;
    stream.set_verify_callback([check = asio::ssl::host_name_verification(name)](
                                   bool preverified, asio::ssl::verify_context& ctx) {
        if (check(preverified, ctx)) return true;
        // Name the reason for the log: a chain problem already carries its own.
        if (preverified)
            X509_STORE_CTX_set_error(ctx.native_handle(), X509_V_ERR_HOSTNAME_MISMATCH);
        return false;
    });
    return true;
}

}  // namespace wsgate::redis
