// Rebuilding and publishing the verifier. The identities are taken before the files are read,
// so a file replaced while it is being read shows up as changed at the next poll.
#include "auth/verifier_store.hpp"

#include <sys/stat.h>

#include <stdexcept>

namespace wsgate::auth {

bool operator==(const file_identity& a, const file_identity& b) noexcept {
    auto same = [](const timespec& x, const timespec& y) {
        return x.tv_sec == y.tv_sec && x.tv_nsec == y.tv_nsec;
    };
    if (a.exists != b.exists) return false;
    if (!a.exists) return true;
    return a.device == b.device && a.inode == b.inode && a.size == b.size &&
           same(a.mtime, b.mtime) && same(a.ctime, b.ctime);
}

file_identity identify_file(const std::string& path) noexcept {
    file_identity id;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return id;
    id.exists = true;
    id.device = st.st_dev;
    id.inode = st.st_ino;
    id.size = st.st_size;
    id.mtime = st.st_mtim;
    id.ctime = st.st_ctim;
    return id;
}

std::vector<std::string> key_files(const jwt_options& options) {
    std::vector<std::string> files;
    if (!options.secret_file.empty()) files.push_back(options.secret_file);
    for (const std::string& path : options.public_key_files) files.push_back(path);
    if (!options.jwks_file.empty()) files.push_back(options.jwks_file);
    for (const issuer_jwks_file& f : options.issuer_jwks_files) files.push_back(f.path);
    return files;
}

verifier_store::verifier_store(jwt_options options)
    : options_(std::move(options)), files_(key_files(options_)) {
    seen_ = identify_all();
    current_ = std::make_shared<const jwt_verifier>(options_);
}

std::vector<file_identity> verifier_store::identify_all() const {
    std::vector<file_identity> ids;
    ids.reserve(files_.size());
    for (const std::string& path : files_) ids.push_back(identify_file(path));
    return ids;
}

verifier_store::reload_result verifier_store::reload() {
    seen_ = identify_all();
    reload_result out;
    try {
        auto next = std::make_shared<const jwt_verifier>(options_);
        {
            std::lock_guard lock(mutex_);
            current_.swap(next);
        }
        // `next` now holds the old verifier; it is freed here or by the last check using it.
        out.ok = true;
    } catch (const std::exception& e) {
        // A bad file (std::invalid_argument), OpenSSL failing to key an HMAC, or memory: the
        // old keys still work, so keep them.
        out.error = e.what();
    }
    return out;
}

bool verifier_store::changed() const { return identify_all() != seen_; }

}  // namespace wsgate::auth
