// TLS settings for the gateway's rediss:// connections: plain data, checked by the config
// (files readable, certificate and key together) and turned into an SSL context by the
// subscriber.
#pragma once

#include <string>

namespace wsgate::redis {

/// How to verify the Redis server and, optionally, present a client certificate.
struct tls_options {
    /// PEM CA bundle the server certificate must chain to; empty: the system's CA store.
    std::string ca_file;
    /// PEM client certificate (chain) and its private key, for `tls-auth-clients yes`;
    /// both or neither.
    std::string cert_file;
    std::string key_file;
    /// Name sent as SNI and checked against the certificate (DNS name or IP address);
    /// empty: the URL's host. Verification is never switched off.
    std::string server_name;

    friend bool operator==(const tls_options&, const tls_options&) = default;
};

}  // namespace wsgate::redis
