// Unit tests for verifier_store: reload swaps keys, a broken file keeps the old ones, and
// change detection sees in-place rewrites, atomic renames and symlink swaps. Files live in
// the auth tests' private temp directory; time is injected into verify().
#include "auth/verifier_store.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "auth/token_minter.hpp"
#include "auth_test_keys.hpp"

namespace wsgate::auth {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using std::chrono::seconds;
using std::chrono::system_clock;
using test::jwk_with;
using test::rsa_key;
using test::write_temp_file;

const system_clock::time_point now{seconds{1'700'000'000}};
const std::int64_t now_s = 1'700'000'000;

json::object claims() { return json::object{{"sub", "alice"}, {"exp", now_s + 3600}}; }

std::string rs256(int which, std::string_view kid = {}) {
    return mint_token("RS256", rsa_key(which).private_pem, claims(), kid);
}

std::string jwks_text(std::initializer_list<json::object> keys) {
    json::array list;
    for (const auto& k : keys) list.emplace_back(k);
    return json::serialize(json::object{{"keys", list}});
}

// Overwrites `path` in place (same inode), as an editor without atomic save does.
void rewrite(const std::string& path, std::string_view contents) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << contents;
}

// Writes a sibling file and renames it over `path` (new inode), as deploy tools do.
void replace_atomically(const std::string& path, std::string_view contents) {
    const std::string tmp = path + ".tmp";
    rewrite(tmp, contents);
    fs::rename(tmp, path);
}

boost::system::error_code error_of(const result<verified_token>& r) {
    return r ? boost::system::error_code{} : r.error();
}

bool accepts(const verifier_store& store, const std::string& token) {
    return static_cast<bool>(store.current()->verify(token, now));
}

// A fresh directory under the auth tests' temp directory.
fs::path fresh_dir() {
    fs::path dir = write_temp_file("dir", "");
    fs::remove(dir);
    fs::create_directory(dir);
    return dir;
}

jwt_options pem_file_options(const std::string& path) {
    jwt_options o;
    o.public_key_files = {path};
    return o;
}

TEST(VerifierStore, ReloadSwapsInTheNewKeys) {
    const std::string path = write_temp_file("key.pem", rsa_key(0).public_pem);
    verifier_store store(pem_file_options(path));
    EXPECT_TRUE(accepts(store, rs256(0)));
    EXPECT_EQ(error_of(store.current()->verify(rs256(1), now)), errc::token_bad_signature);
    auto before = store.current();

    replace_atomically(path, rsa_key(1).public_pem);
    auto r = store.reload();
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_TRUE(r.error.empty());
    EXPECT_TRUE(accepts(store, rs256(1)));
    EXPECT_EQ(error_of(store.current()->verify(rs256(0), now)), errc::token_bad_signature);
    EXPECT_NE(store.current(), before);
    // A verification holding the previous verifier finishes with the keys it started with.
    EXPECT_TRUE(before->verify(rs256(0), now));
}

TEST(VerifierStore, ReloadOfABrokenFileKeepsTheOldKeysAndNamesTheFile) {
    const std::string path = write_temp_file("jwks.json", jwks_text({jwk_with(rsa_key(0), "a")}));
    jwt_options o;
    o.jwks_file = path;
    verifier_store store(o);
    auto before = store.current();

    // A symmetric key in a JWKS is refused; its bytes must not reach the message.
    rewrite(path, R"({"keys":[{"kty":"oct","kid":"a","k":"c3VwZXItc2VjcmV0LWJ5dGVz"}]})");
    auto r = store.reload();
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error.rfind("--jwt-jwks-file: " + path + ": keys[0]: symmetric", 0), 0u) << r.error;
    EXPECT_EQ(r.error.find("c3VwZXI"), std::string::npos) << r.error;
    EXPECT_EQ(store.current(), before);
    EXPECT_TRUE(accepts(store, rs256(0, "a")));

    rewrite(path, "{ not json");
    r = store.reload();
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error.rfind("--jwt-jwks-file: " + path + ": not valid JSON", 0), 0u) << r.error;

    fs::remove(path);
    r = store.reload();
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error.rfind("--jwt-jwks-file: " + path + ": cannot open", 0), 0u) << r.error;
    EXPECT_TRUE(accepts(store, rs256(0, "a")));

    // Fixed: the next reload takes it.
    rewrite(path, jwks_text({jwk_with(rsa_key(1), "b")}));
    r = store.reload();
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_TRUE(accepts(store, rs256(1, "b")));
    EXPECT_EQ(error_of(store.current()->verify(rs256(0, "a"), now)), errc::token_unknown_key);
}

TEST(VerifierStore, ConstructionWithABadFileThrows) {
    jwt_options o;
    o.jwks_file = write_temp_file("bad.json", "[]");
    EXPECT_THROW(verifier_store{o}, std::invalid_argument);
}

TEST(VerifierStore, ChangedSeesAnInPlaceRewrite) {
    const std::string path = write_temp_file("jwks.json", jwks_text({jwk_with(rsa_key(0), "a")}));
    jwt_options o;
    o.jwks_file = path;
    verifier_store store(o);
    EXPECT_FALSE(store.changed());
    const auto inode = identify_file(path).inode;

    rewrite(path, jwks_text({jwk_with(rsa_key(0), "a"), jwk_with(rsa_key(1), "b")}));
    EXPECT_EQ(identify_file(path).inode, inode);  // really in place
    EXPECT_TRUE(store.changed());
    ASSERT_TRUE(store.reload().ok);
    EXPECT_FALSE(store.changed());
    EXPECT_TRUE(accepts(store, rs256(1, "b")));

    // Same size, later modification time (a rewrite one clock tick later).
    const auto mtime = fs::last_write_time(path);
    rewrite(path, jwks_text({jwk_with(rsa_key(1), "a"), jwk_with(rsa_key(0), "b")}));
    fs::last_write_time(path, mtime + seconds(1));
    EXPECT_TRUE(store.changed());
}

TEST(VerifierStore, ChangedSeesAnAtomicRenameEvenWithTheSameSizeAndTime) {
    const std::string path = write_temp_file("key.pem", rsa_key(0).public_pem);
    verifier_store store(pem_file_options(path));
    const auto mtime = fs::last_write_time(path);
    // Only the inode differs: same bytes, same modification time.
    const std::string tmp = path + ".new";
    rewrite(tmp, rsa_key(0).public_pem);
    fs::last_write_time(tmp, mtime);
    fs::rename(tmp, path);
    EXPECT_TRUE(store.changed());
}

TEST(VerifierStore, ChangedSeesAKubernetesStyleSymlinkSwap) {
    // A mounted secret: key.pem -> ..data/key.pem, ..data -> ..v1; an update writes ..v2 and
    // renames a new ..data link over the old one.
    const fs::path dir = fresh_dir();
    fs::create_directory(dir / "..v1");
    fs::create_directory(dir / "..v2");
    rewrite((dir / "..v1" / "key.pem").string(), rsa_key(0).public_pem);
    rewrite((dir / "..v2" / "key.pem").string(), rsa_key(1).public_pem);
    fs::create_directory_symlink("..v1", dir / "..data");
    fs::create_symlink("..data/key.pem", dir / "key.pem");

    verifier_store store(pem_file_options((dir / "key.pem").string()));
    EXPECT_TRUE(accepts(store, rs256(0)));
    EXPECT_FALSE(store.changed());

    fs::create_directory_symlink("..v2", dir / "..data_tmp");
    fs::rename(dir / "..data_tmp", dir / "..data");
    EXPECT_TRUE(store.changed());
    ASSERT_TRUE(store.reload().ok);
    EXPECT_FALSE(store.changed());
    EXPECT_TRUE(accepts(store, rs256(1)));
    EXPECT_FALSE(accepts(store, rs256(0)));
}

TEST(VerifierStore, AFailedReloadIsNotRetriedUntilTheFileChangesAgain) {
    const std::string path = write_temp_file("key.pem", rsa_key(0).public_pem);
    verifier_store store(pem_file_options(path));
    replace_atomically(path, "half a key");
    EXPECT_TRUE(store.changed());
    EXPECT_FALSE(store.reload().ok);
    EXPECT_FALSE(store.changed());
    replace_atomically(path, rsa_key(1).public_pem);
    EXPECT_TRUE(store.changed());
    EXPECT_TRUE(store.reload().ok);
}

TEST(VerifierStore, DeletedFileIsAChange) {
    const std::string path = write_temp_file("key.pem", rsa_key(0).public_pem);
    verifier_store store(pem_file_options(path));
    fs::remove(path);
    EXPECT_TRUE(store.changed());
}

TEST(VerifierStore, WatchesEveryKeyFile) {
    jwt_options o;
    o.secret_file = write_temp_file("secret", "0123456789abcdef0123456789abcdef");
    o.public_key_files = {write_temp_file("a.pem", rsa_key(0).public_pem)};
    o.jwks_file = test::write_jwks({jwk_with(rsa_key(1), "b")});
    o.issuer = "https://a.example";
    o.algorithms = {"HS256", "RS256"};
    o.issuer_jwks_files = {{"https://b.example", test::write_jwks({jwk_with(rsa_key(1), "c")})}};
    verifier_store store(o);
    EXPECT_EQ(store.files(), (std::vector<std::string>{o.secret_file, o.public_key_files[0],
                                                       o.jwks_file, o.issuer_jwks_files[0].path}));
    for (const std::string& file : store.files()) {
        EXPECT_FALSE(store.changed());
        replace_atomically(file, "");  // refused by each kind of file
        EXPECT_TRUE(store.changed()) << file;
        EXPECT_FALSE(store.reload().ok);
    }
}

TEST(VerifierStore, ReloadPicksUpARotatedSecretFile) {
    const std::string old_secret = "old-secret-0123456789abcdef012345";
    const std::string new_secret = "new-secret-0123456789abcdef012345";
    jwt_options o;
    o.secret_file = write_temp_file("secret", old_secret + "\n");
    o.secret = old_secret;
    verifier_store store(o);
    EXPECT_TRUE(accepts(store, mint_token("HS256", old_secret, claims())));
    replace_atomically(o.secret_file, new_secret + "\n");
    auto r = store.reload();
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_TRUE(accepts(store, mint_token("HS256", new_secret, claims())));
    EXPECT_FALSE(accepts(store, mint_token("HS256", old_secret, claims())));
    // An emptied secret file is refused without echoing anything of the secret.
    rewrite(o.secret_file, "");
    r = store.reload();
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, "--jwt-secret-file: " + o.secret_file + ": is empty");
    EXPECT_TRUE(accepts(store, mint_token("HS256", new_secret, claims())));
}

TEST(VerifierStore, ReadersOnOtherThreadsSeeAWholeVerifierDuringReloads) {
    // current() races reload() by design; run under TSan in CI.
    const std::string path = write_temp_file("jwks.json", jwks_text({jwk_with(rsa_key(0), "a")}));
    jwt_options o;
    o.jwks_file = path;
    verifier_store store(o);
    const std::string token = rs256(0, "a");
    std::atomic<bool> done{false};
    std::atomic<int> failures{0}, checks{0};
    std::vector<std::thread> readers;
    for (int t = 0; t < 3; ++t)
        readers.emplace_back([&] {
            while (!done.load()) {
                if (!store.current()->verify(token, now)) ++failures;
                ++checks;
            }
        });
    for (int i = 0; i < 40; ++i) {
        // Both versions hold key "a", so every check must pass whichever it sees.
        replace_atomically(
            path, i % 2 ? jwks_text({jwk_with(rsa_key(0), "a")})
                        : jwks_text({jwk_with(rsa_key(1), "b"), jwk_with(rsa_key(0), "a")}));
        EXPECT_TRUE(store.reload().ok);
    }
    done = true;
    for (auto& t : readers) t.join();
    EXPECT_EQ(failures, 0);
    EXPECT_GT(checks, 0);
}

}  // namespace
}  // namespace wsgate::auth
