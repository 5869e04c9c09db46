// Keys and files for the auth unit tests: generated with OpenSSL at first use (no key
// material is committed) and written to a private temp directory removed at exit.
#pragma once

#include <boost/json.hpp>
#include <string>
#include <string_view>

namespace wsgate::auth::test {

/// One generated key pair in the forms the tests need.
struct test_key {
    std::string private_pem;  // PKCS#8, unencrypted
    std::string public_pem;   // SubjectPublicKeyInfo
    boost::json::object jwk;  // public JWK: kty and key members only
};

/// Cached per process. `which` picks one of two distinct RSA-2048 keys.
const test_key& rsa_key(int which = 0);
const test_key& ec_p256_key();
const test_key& ec_p384_key();
const test_key& ec_p521_key();
const test_key& ed25519_key();
/// A fresh key from EVP_PKEY_Q_keygen-style parameters, e.g. ("RSA", 1024); uncached.
test_key generate_rsa(unsigned bits);

/// Writes `contents` to a new file in the test temp directory and returns its path.
std::string write_temp_file(std::string_view name, std::string_view contents);

/// `jwk` with kid/alg/use members added when non-empty.
boost::json::object jwk_with(const test_key& key, std::string_view kid = {},
                             std::string_view alg = {}, std::string_view use = {});

/// Writes {"keys":[...]} to a temp file and returns its path.
std::string write_jwks(std::initializer_list<boost::json::object> keys);

}  // namespace wsgate::auth::test
