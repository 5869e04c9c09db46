// Runtime key generation for the auth tests with OpenSSL 3 (EVP_PKEY_Q_keygen), and the
// temp directory the PEM and JWKS files live in. Single-threaded use from test bodies.
#include "auth_test_keys.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>

#include "auth/base64url.hpp"

namespace wsgate::auth::test {
namespace {

struct pkey_free {
    void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;

std::string to_pem(EVP_PKEY* pkey, bool private_part) {
    std::unique_ptr<BIO, decltype(&BIO_free_all)> bio(BIO_new(BIO_s_mem()), &BIO_free_all);
    int ok = private_part
                 ? PEM_write_bio_PrivateKey(bio.get(), pkey, nullptr, nullptr, 0, nullptr, nullptr)
                 : PEM_write_bio_PUBKEY(bio.get(), pkey);
    if (ok != 1) throw std::runtime_error("PEM write failed");
    char* data = nullptr;
    long length = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(length));
}

std::string bn_param(EVP_PKEY* pkey, const char* name, int pad_to = 0) {
    BIGNUM* bn = nullptr;
    if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1) throw std::runtime_error(name);
    std::string out(static_cast<std::size_t>(pad_to ? pad_to : BN_num_bytes(bn)), '\0');
    BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size()));
    BN_free(bn);
    return base64url_encode(out);
}

test_key describe(pkey_ptr pkey, boost::json::object jwk) {
    return test_key{to_pem(pkey.get(), true), to_pem(pkey.get(), false), std::move(jwk)};
}

test_key make_ec(const char* group, const char* crv, int bytes) {
    pkey_ptr pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", group));
    if (!pkey) throw std::runtime_error("EC keygen failed");
    boost::json::object jwk{{"kty", "EC"},
                            {"crv", crv},
                            {"x", bn_param(pkey.get(), OSSL_PKEY_PARAM_EC_PUB_X, bytes)},
                            {"y", bn_param(pkey.get(), OSSL_PKEY_PARAM_EC_PUB_Y, bytes)}};
    return describe(std::move(pkey), std::move(jwk));
}

struct temp_dir {
    std::filesystem::path path;
    temp_dir() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "wsgate-auth-test-XXXXXX").string();
        if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
        path = pattern;
    }
    ~temp_dir() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
};

}  // namespace

test_key generate_rsa(unsigned bits) {
    pkey_ptr pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits)));
    if (!pkey) throw std::runtime_error("RSA keygen failed");
    boost::json::object jwk{{"kty", "RSA"},
                            {"n", bn_param(pkey.get(), OSSL_PKEY_PARAM_RSA_N)},
                            {"e", bn_param(pkey.get(), OSSL_PKEY_PARAM_RSA_E)}};
    return describe(std::move(pkey), std::move(jwk));
}

const test_key& rsa_key(int which) {
    static const test_key keys[2] = {generate_rsa(2048), generate_rsa(2048)};
    return keys[which];
}

const test_key& ec_p256_key() {
    static const test_key key = make_ec("P-256", "P-256", 32);
    return key;
}

const test_key& ec_p384_key() {
    static const test_key key = make_ec("P-384", "P-384", 48);
    return key;
}

const test_key& ec_p521_key() {
    static const test_key key = make_ec("P-521", "P-521", 66);
    return key;
}

const test_key& ed25519_key() {
    static const test_key key = [] {
        pkey_ptr pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
        if (!pkey) throw std::runtime_error("Ed25519 keygen failed");
        unsigned char raw[32];
        std::size_t length = sizeof raw;
        EVP_PKEY_get_raw_public_key(pkey.get(), raw, &length);
        boost::json::object jwk{
            {"kty", "OKP"},
            {"crv", "Ed25519"},
            {"x", base64url_encode({reinterpret_cast<const char*>(raw), length})}};
        return describe(std::move(pkey), std::move(jwk));
    }();
    return key;
}

std::string write_temp_file(std::string_view name, std::string_view contents) {
    static temp_dir dir;
    static std::atomic<int> counter{0};
    auto path = dir.path / (std::to_string(counter++) + "-" + std::string(name));
    std::ofstream(path, std::ios::binary) << contents;
    return path.string();
}

boost::json::object jwk_with(const test_key& key, std::string_view kid, std::string_view alg,
                             std::string_view use) {
    boost::json::object jwk = key.jwk;
    if (!kid.empty()) jwk["kid"] = kid;
    if (!alg.empty()) jwk["alg"] = alg;
    if (!use.empty()) jwk["use"] = use;
    return jwk;
}

std::string write_jwks(std::initializer_list<boost::json::object> keys) {
    boost::json::array list;
    for (const auto& k : keys) list.emplace_back(k);
    return write_temp_file("jwks.json",
                           boost::json::serialize(boost::json::object{{"keys", list}}));
}

}  // namespace wsgate::auth::test
