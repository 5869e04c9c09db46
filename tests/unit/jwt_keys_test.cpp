// Unit tests for key loading: PEM public key files and the JWKS rules (skip vs reject),
// with keys generated at run time.
#include "auth/jwt_keys.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <stdexcept>
#include <string>

#include "auth/base64url.hpp"
#include "auth_test_keys.hpp"

namespace wsgate::auth {
namespace {

namespace json = boost::json;
using test::ec_p256_key;
using test::ec_p384_key;
using test::ec_p521_key;
using test::ed25519_key;
using test::jwk_with;
using test::rsa_key;
using test::write_temp_file;

std::string load_error(const std::string& path) {
    try {
        load_pem_public_keys(path);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "no error";
}

std::string jwks_error(std::initializer_list<json::object> keys) {
    json::array list;
    for (const auto& k : keys) list.emplace_back(k);
    try {
        parse_jwks(json::serialize(json::object{{"keys", list}}));
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "no error";
}

std::vector<public_key> jwks(std::initializer_list<json::object> keys) {
    json::array list;
    for (const auto& k : keys) list.emplace_back(k);
    return parse_jwks(json::serialize(json::object{{"keys", list}}));
}

TEST(PemKeys, LoadsEachSupportedType) {
    EXPECT_EQ(load_pem_public_keys(write_temp_file("r.pem", rsa_key().public_pem))[0].type,
              key_type::rsa);
    EXPECT_EQ(load_pem_public_keys(write_temp_file("e.pem", ec_p256_key().public_pem))[0].type,
              key_type::ec_p256);
    EXPECT_EQ(load_pem_public_keys(write_temp_file("e.pem", ec_p384_key().public_pem))[0].type,
              key_type::ec_p384);
    EXPECT_EQ(load_pem_public_keys(write_temp_file("d.pem", ed25519_key().public_pem))[0].type,
              key_type::ed25519);
}

TEST(PemKeys, FileWithSeveralKeysLoadsAll) {
    auto keys = load_pem_public_keys(
        write_temp_file("two.pem", "# rotation\n" + rsa_key(0).public_pem + rsa_key(1).public_pem));
    ASSERT_EQ(keys.size(), 2u);
    EXPECT_NE(EVP_PKEY_eq(keys[0].pkey.get(), keys[1].pkey.get()), 1);
}

TEST(PemKeys, PrivateKeyFileIsRefused) {
    std::string path = write_temp_file("priv.pem", ec_p256_key().private_pem);
    EXPECT_EQ(load_error(path), path +
                                    ": holds a \"PRIVATE KEY\" PEM block; expected only "
                                    "PUBLIC KEY (SubjectPublicKeyInfo)");
}

TEST(PemKeys, NonPemFileIsRefused) {
    std::string path = write_temp_file("junk.pem", "not a key\n");
    EXPECT_EQ(load_error(path),
              path + ": not a PEM public key (no -----BEGIN PUBLIC KEY----- block)");
}

TEST(PemKeys, DamagedPemBlockIsRefused) {
    std::string pem = rsa_key().public_pem;
    pem[pem.size() / 2] = '*';
    EXPECT_NE(load_error(write_temp_file("bad.pem", pem)), "no error");
}

TEST(PemKeys, MissingFileNamesPathAndReason) {
    EXPECT_EQ(load_error("/nonexistent/key.pem"),
              "/nonexistent/key.pem: cannot open: No such file or directory");
}

TEST(PemKeys, SmallRsaKeyIsRefused) {
    std::string path = write_temp_file("small.pem", test::generate_rsa(1024).public_pem);
    EXPECT_EQ(load_error(path), path + ": key 1: RSA key of 1024 bits is too small (minimum 2048)");
}

TEST(PemKeys, UnsupportedCurveIsRefused) {
    std::string path = write_temp_file("p521.pem", ec_p521_key().public_pem);
    EXPECT_NE(load_error(path).find("unsupported key type"), std::string::npos);
}

TEST(Jwks, ParsesRsaEcAndOkpKeysWithKidAndAlg) {
    auto keys = jwks({jwk_with(rsa_key(), "r", "PS256", "sig"), jwk_with(ec_p256_key(), "e"),
                      jwk_with(ec_p384_key()), jwk_with(ed25519_key(), "d", "EdDSA")});
    ASSERT_EQ(keys.size(), 4u);
    EXPECT_EQ(keys[0].type, key_type::rsa);
    EXPECT_EQ(keys[0].kid, "r");
    EXPECT_EQ(keys[0].alg, "PS256");
    EXPECT_EQ(keys[1].type, key_type::ec_p256);
    EXPECT_EQ(keys[2].type, key_type::ec_p384);
    EXPECT_EQ(keys[2].kid, "");
    EXPECT_EQ(keys[3].type, key_type::ed25519);
}

TEST(Jwks, KeysMatchTheirPemForms) {
    auto from_jwks = jwks({rsa_key().jwk, ec_p256_key().jwk, ed25519_key().jwk});
    auto pem = [](const test::test_key& k) {
        return load_pem_public_keys(write_temp_file("k.pem", k.public_pem));
    };
    EXPECT_EQ(EVP_PKEY_eq(from_jwks[0].pkey.get(), pem(rsa_key())[0].pkey.get()), 1);
    EXPECT_EQ(EVP_PKEY_eq(from_jwks[1].pkey.get(), pem(ec_p256_key())[0].pkey.get()), 1);
    EXPECT_EQ(EVP_PKEY_eq(from_jwks[2].pkey.get(), pem(ed25519_key())[0].pkey.get()), 1);
}

TEST(Jwks, NonSignatureKeysAreSkipped) {
    auto keys = jwks({jwk_with(rsa_key(0), "enc", "", "enc"), jwk_with(rsa_key(1), "sig")});
    ASSERT_EQ(keys.size(), 1u);
    EXPECT_EQ(keys[0].kid, "sig");
    json::object ops = jwk_with(ec_p256_key(), "ops");
    ops["key_ops"] = json::array{"encrypt"};
    EXPECT_EQ(jwks({ops, jwk_with(rsa_key(), "x")}).size(), 1u);
    ops["key_ops"] = json::array{"verify"};
    EXPECT_EQ(jwks({ops}).size(), 1u);
}

TEST(Jwks, SymmetricOctKeyIsRejected) {
    json::object oct{{"kty", "oct"}, {"k", "c2VjcmV0"}, {"kid", "hs"}};
    EXPECT_EQ(jwks_error({jwk_with(rsa_key()), oct}),
              "keys[1]: symmetric (\"oct\") keys are not accepted in a JWKS; give the HS secret "
              "with --jwt-secret");
}

TEST(Jwks, OctKeyForEncryptionIsSkippedLikeAnyNonSignatureKey) {
    json::object oct{{"kty", "oct"}, {"k", "c2VjcmV0"}, {"use", "enc"}};
    EXPECT_EQ(jwks({jwk_with(rsa_key()), oct}).size(), 1u);
}

TEST(Jwks, UnknownKeyTypesAndCurvesAreSkipped) {
    json::object unknown{{"kty", "PQC"}, {"x", "AAAA"}};
    json::object ed448{{"kty", "OKP"}, {"crv", "Ed448"}, {"x", "AAAA"}};
    json::object x25519{{"kty", "OKP"}, {"crv", "X25519"}, {"x", "AAAA"}};
    auto keys = jwks({unknown, ec_p521_key().jwk, ed448, x25519, jwk_with(ed25519_key(), "ok")});
    ASSERT_EQ(keys.size(), 1u);
    EXPECT_EQ(keys[0].kid, "ok");
}

TEST(Jwks, NonSignatureAlgIsSkipped) {
    EXPECT_EQ(jwks({jwk_with(rsa_key(0), "a", "RSA-OAEP"), jwk_with(rsa_key(1), "b")}).size(), 1u);
}

TEST(Jwks, AlgThatDoesNotFitTheKeyIsRejected) {
    EXPECT_EQ(jwks_error({jwk_with(rsa_key(), "a", "ES256")}),
              "keys[0]: \"alg\" ES256 does not fit a RSA key");
    EXPECT_EQ(jwks_error({jwk_with(ec_p384_key(), "a", "ES256")}),
              "keys[0]: \"alg\" ES256 does not fit a EC P-384 key");
    EXPECT_EQ(jwks_error({jwk_with(ec_p256_key(), "a", "HS256")}),
              "keys[0]: \"alg\" HS256 does not fit a EC P-256 key");
}

TEST(Jwks, PrivateKeyMaterialIsRejected) {
    json::object k = jwk_with(ec_p256_key(), "a");
    k["d"] = "AAAA";
    EXPECT_NE(jwks_error({k}).find("holds private key material (\"d\")"), std::string::npos);
}

TEST(Jwks, MalformedMembersOfSupportedKeysAreRejected) {
    json::object k = ec_p256_key().jwk;
    k["x"] = k["x"].as_string().subview().substr(4);  // 29 bytes
    EXPECT_EQ(jwks_error({k}), "keys[0]: \"x\" must be 32 bytes, got 29");
    k = ec_p256_key().jwk;
    k["y"] = base64url_encode(std::string(32, '\x01'));  // not on the curve
    EXPECT_EQ(jwks_error({k}), "keys[0]: not a valid EC public key");
    k = rsa_key().jwk;
    k.erase("e");
    EXPECT_EQ(jwks_error({k}), "keys[0]: \"e\" is missing");
    k = rsa_key().jwk;
    k["n"] = "not base64url!";
    EXPECT_EQ(jwks_error({k}), "keys[0]: \"n\" is not non-empty base64url");
    k = ed25519_key().jwk;
    k["x"] = 5;
    EXPECT_EQ(jwks_error({k}), "keys[0]: \"x\" is not a string");
    k = rsa_key().jwk;
    k["kid"] = 5;
    EXPECT_EQ(jwks_error({k}), "keys[0]: \"kid\" is not a string");
}

TEST(Jwks, SmallRsaModulusIsRejected) {
    EXPECT_EQ(jwks_error({test::generate_rsa(1024).jwk}),
              "keys[0]: RSA key of 1024 bits is too small (minimum 2048)");
}

TEST(Jwks, DocumentShapeIsChecked) {
    EXPECT_THROW(parse_jwks("not json"), std::invalid_argument);
    EXPECT_THROW(parse_jwks("[]"), std::invalid_argument);
    EXPECT_THROW(parse_jwks(R"({"keys":{}})"), std::invalid_argument);
    EXPECT_THROW(parse_jwks(R"({"keys":[1]})"), std::invalid_argument);
    EXPECT_THROW(parse_jwks(R"({"keys":[]})"), std::invalid_argument);
}

TEST(Jwks, FileErrorsNameThePath) {
    std::string path = write_temp_file("empty.json", R"({"keys":[]})");
    try {
        load_jwks_file(path);
        FAIL();
    } catch (const std::invalid_argument& e) {
        EXPECT_EQ(std::string(e.what()).rfind(path + ": no usable signature key", 0), 0u);
    }
}

TEST(KeyFits, HonoursTypeAndJwksAlg) {
    auto keys = jwks({jwk_with(rsa_key(), "a"), jwk_with(rsa_key(), "b", "PS512")});
    EXPECT_TRUE(key_fits(keys[0], *find_jws_algorithm("RS256")));
    EXPECT_TRUE(key_fits(keys[0], *find_jws_algorithm("PS384")));
    EXPECT_FALSE(key_fits(keys[0], *find_jws_algorithm("ES256")));
    EXPECT_FALSE(key_fits(keys[0], *find_jws_algorithm("HS256")));
    EXPECT_TRUE(key_fits(keys[1], *find_jws_algorithm("PS512")));
    EXPECT_FALSE(key_fits(keys[1], *find_jws_algorithm("RS512")));
}

}  // namespace
}  // namespace wsgate::auth
