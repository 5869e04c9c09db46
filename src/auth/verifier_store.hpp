// The JWT verifier in force, replaceable while the gateway runs. Shard threads read it on
// every upgrade; the control thread rebuilds it from the key files on SIGHUP or when a file
// changes, and swaps the new one in under a short lock. A failed rebuild keeps the old keys.
#pragma once

#include <sys/types.h>

#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "auth/jwt_options.hpp"
#include "auth/jwt_verifier.hpp"

namespace wsgate::auth {

/// What stat(2) says about a key file, enough to notice any replacement: an edit in place
/// (size, mtime, ctime), an atomic rename over it, or a Kubernetes secret update, which
/// swaps a symlink (device and inode of the target, since stat follows links).
struct file_identity {
    bool exists = false;
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = 0;
    timespec mtime{};
    timespec ctime{};

    friend bool operator==(const file_identity& a, const file_identity& b) noexcept;
};

/// The stat of `path` now; `exists` false when it cannot be stat'ed.
file_identity identify_file(const std::string& path) noexcept;

/// Every file a verifier built from `options` reads, in a stable order.
std::vector<std::string> key_files(const jwt_options& options);

/// Owns the current jwt_verifier. current() is safe from any thread; reload() and changed()
/// are for one thread (the gateway's control thread).
class verifier_store {
public:
    /// Builds the first verifier. Throws std::invalid_argument like jwt_verifier's
    /// constructor: a bad key at start stops the gateway.
    explicit verifier_store(jwt_options options);

    /// The verifier in force. Hold the pointer for the duration of one verification: a
    /// reload swaps in a new verifier without disturbing checks already running on the old.
    /// Any thread. The lock covers one pointer copy (tens of nanoseconds, next to a signature
    /// check's microseconds); libstdc++ 12's std::atomic<std::shared_ptr> would do the same
    /// with a spin bit, but in a way ThreadSanitizer reports as a race.
    std::shared_ptr<const jwt_verifier> current() const noexcept {
        std::lock_guard lock(mutex_);
        return current_;
    }

    /// Outcome of reload().
    struct reload_result {
        bool ok = false;
        /// When !ok: what failed, naming the flag and the file (never key material).
        std::string error;
    };

    /// Re-reads every key file with the options given at construction. Publishes the new
    /// verifier only when it builds; otherwise the previous keys stay in force. Either way the
    /// files' identities are remembered, so changed() reports only later modifications.
    /// Control thread only.
    reload_result reload();

    /// Whether any key file differs (identity, see file_identity) from when it was last read.
    /// Cheap: one stat(2) per file. Control thread only.
    bool changed() const;

    /// The files watched by changed().
    const std::vector<std::string>& files() const noexcept { return files_; }

private:
    std::vector<file_identity> identify_all() const;

    jwt_options options_;
    std::vector<std::string> files_;
    std::vector<file_identity> seen_;  // parallel to files_: as of the last (re)load
    mutable std::mutex mutex_;         // guards current_ only; never held while building
    std::shared_ptr<const jwt_verifier> current_;
};

}  // namespace wsgate::auth
