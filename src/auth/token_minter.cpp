// JWS signing: HMAC here, asymmetric algorithms through jws_signature. Shares the verifier's
// algorithm table so the two cannot drift.
#include "auth/token_minter.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <boost/json.hpp>
#include <stdexcept>

#include "auth/base64url.hpp"
#include "auth/jws_signature.hpp"
#include "auth/jwt_keys.hpp"

namespace wsgate::auth {
namespace {

[[noreturn]] void fail(const std::string& message) {
    ERR_clear_error();
    throw std::invalid_argument(message);
}

// The HMAC implementation, fetched once per process: EVP_MAC_fetch dominates the cost of
// a short MAC, and a load generator mints thousands of tokens.
EVP_MAC* hmac_method() {
    static const evp_mac_ptr mac(EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr));
    if (!mac) fail("OpenSSL: HMAC is unavailable");
    return mac.get();
}

std::string hmac_sign(const jws_algorithm& alg, std::string_view secret, std::string_view input) {
    if (secret.empty()) fail(std::string(alg.name) + ": the secret is empty");
    evp_mac_ctx_ptr ctx(EVP_MAC_CTX_new(hmac_method()));
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(alg.digest), 0),
        OSSL_PARAM_construct_end()};
    unsigned char mac[EVP_MAX_MD_SIZE];
    std::size_t length = 0;
    if (!ctx ||
        EVP_MAC_init(ctx.get(), reinterpret_cast<const unsigned char*>(secret.data()),
                     secret.size(), params) != 1 ||
        EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(input.data()),
                       input.size()) != 1 ||
        EVP_MAC_final(ctx.get(), mac, &length, sizeof mac) != 1)
        fail(std::string(alg.name) + ": HMAC failed");
    return std::string(reinterpret_cast<const char*>(mac), length);
}

// No passphrase prompt, ever: an encrypted key fails instead of blocking on the terminal.
int no_passphrase(char*, int, int, void*) { return -1; }

evp_pkey_ptr read_private_key(const jws_algorithm& alg, std::string_view pem) {
    bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    evp_pkey_ptr pkey(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr)
                          : nullptr);
    if (!pkey) fail(std::string(alg.name) + ": key is not an unencrypted PEM private key");
    if (classify_key(pkey.get()) != alg.key)
        fail(std::string(alg.name) + ": needs an " + std::string(key_type_name(alg.key)) +
             " private key");
    return pkey;
}

std::string asymmetric_sign(const jws_algorithm& alg, std::string_view pem,
                            std::string_view input) {
    evp_pkey_ptr pkey = read_private_key(alg, pem);
    auto signature = sign_asymmetric(alg, pkey.get(), input);
    if (!signature) fail(std::string(alg.name) + ": signing failed");
    return std::move(*signature);
}

}  // namespace

std::string jws_sign(std::string_view alg_name, std::string_view key,
                     std::string_view signing_input) {
    const jws_algorithm* alg = find_jws_algorithm(alg_name);
    if (!alg) fail("unknown algorithm '" + std::string(alg_name) + "'");
    return alg->family == alg_family::hmac ? hmac_sign(*alg, key, signing_input)
                                           : asymmetric_sign(*alg, key, signing_input);
}

std::string mint_token(std::string_view alg_name, std::string_view key,
                       const boost::json::object& claims, std::string_view kid) {
    const jws_algorithm* alg = find_jws_algorithm(alg_name);
    if (!alg) fail("unknown algorithm '" + std::string(alg_name) + "'");
    boost::json::object header;
    header["alg"] = alg->name;
    header["typ"] = "JWT";
    if (!kid.empty()) header["kid"] = kid;
    std::string token = base64url_encode(boost::json::serialize(header));
    token += '.';
    token += base64url_encode(boost::json::serialize(claims));
    std::string signature = jws_sign(alg->name, key, token);
    token += '.';
    token += base64url_encode(signature);
    return token;
}

std::string mint_hs256(std::string_view secret, std::string_view user_id, std::chrono::seconds ttl,
                       std::chrono::system_clock::time_point now) {
    const auto iat = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch());
    boost::json::object claims;
    claims["sub"] = user_id;
    claims["iat"] = iat.count();
    claims["exp"] = (iat + ttl).count();
    return mint_token("HS256", secret, claims);
}

}  // namespace wsgate::auth
