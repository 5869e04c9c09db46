// RSA, ECDSA and Ed25519 signatures for JWS with OpenSSL 3 EVP (no hand-written crypto).
// Every context is created per call and freed by unique_ptr; keys are only read.
#include "auth/jws_signature.hpp"

#include <openssl/err.h>
#include <openssl/rsa.h>

#include "auth/openssl_handles.hpp"

namespace wsgate::auth {
namespace {

auto bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

// PKCS#1 v1.5 for RS*; for PS* RFC 7518 §3.5 fixes MGF1 with the same hash and a salt as
// long as the hash output (OpenSSL would otherwise sign with the maximum salt).
bool set_rsa_padding(const jws_algorithm& alg, EVP_PKEY_CTX* pctx) {
    if (alg.family == alg_family::rsa_pkcs1)
        return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
    if (alg.family == alg_family::rsa_pss)
        return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
               EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
               EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, alg.digest, nullptr) == 1;
    return true;
}

bool is_rsa(const jws_algorithm& alg) {
    return alg.family == alg_family::rsa_pkcs1 || alg.family == alg_family::rsa_pss;
}

}  // namespace

bool verify_asymmetric(const jws_algorithm& alg, EVP_PKEY* pkey, std::string_view input,
                       std::string_view signature) {
    std::optional<std::string> der;
    if (alg.family == alg_family::ecdsa) {
        der = ecdsa_raw_to_der(signature, alg.ecdsa_int_bytes);
        if (!der) {
            ERR_clear_error();
            return false;
        }
        signature = *der;
    }
    // RFC 7518 §3.3: an RSA signature is exactly as long as the modulus; no leniency.
    if (is_rsa(alg) && signature.size() != static_cast<std::size_t>(EVP_PKEY_get_size(pkey)))
        return false;
    evp_md_ctx_ptr ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
    // A null digest name selects pure EdDSA, which hashes internally.
    bool ok = ctx &&
              EVP_DigestVerifyInit_ex(ctx.get(), &pctx, alg.digest, nullptr, nullptr, pkey,
                                      nullptr) == 1 &&
              set_rsa_padding(alg, pctx) &&
              EVP_DigestVerify(ctx.get(), bytes(signature), signature.size(), bytes(input),
                               input.size()) == 1;
    if (!ok) ERR_clear_error();
    return ok;
}

std::optional<std::string> sign_asymmetric(const jws_algorithm& alg, EVP_PKEY* pkey,
                                           std::string_view input) {
    evp_md_ctx_ptr ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
    std::size_t length = 0;
    bool ok =
        ctx &&
        EVP_DigestSignInit_ex(ctx.get(), &pctx, alg.digest, nullptr, nullptr, pkey, nullptr) == 1 &&
        set_rsa_padding(alg, pctx) &&
        EVP_DigestSign(ctx.get(), nullptr, &length, bytes(input), input.size()) == 1;
    std::string signature(length, '\0');
    ok = ok && EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()),
                              &length, bytes(input), input.size()) == 1;
    if (!ok) {
        ERR_clear_error();
        return std::nullopt;
    }
    signature.resize(length);
    if (alg.family == alg_family::ecdsa) return ecdsa_der_to_raw(signature, alg.ecdsa_int_bytes);
    return signature;
}

std::optional<std::string> ecdsa_raw_to_der(std::string_view raw, std::size_t int_bytes) {
    if (raw.size() != 2 * int_bytes) return std::nullopt;
    const int width = static_cast<int>(int_bytes);
    bignum_ptr r(BN_bin2bn(bytes(raw), width, nullptr));
    bignum_ptr s(BN_bin2bn(bytes(raw) + int_bytes, width, nullptr));
    ecdsa_sig_ptr sig(ECDSA_SIG_new());
    if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return std::nullopt;
    (void)r.release();  // owned by sig from here on
    (void)s.release();
    unsigned char* der = nullptr;
    const int length = i2d_ECDSA_SIG(sig.get(), &der);
    if (length <= 0) return std::nullopt;
    std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(length));
    OPENSSL_free(der);
    return out;
}

std::optional<std::string> ecdsa_der_to_raw(std::string_view der, std::size_t int_bytes) {
    const unsigned char* p = bytes(der);
    ecdsa_sig_ptr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
    if (!sig) return std::nullopt;
    std::string raw(2 * int_bytes, '\0');
    auto out = reinterpret_cast<unsigned char*>(raw.data());
    const int width = static_cast<int>(int_bytes);
    if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), out, width) < 0 ||
        BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), out + int_bytes, width) < 0)
        return std::nullopt;
    return raw;
}

}  // namespace wsgate::auth
