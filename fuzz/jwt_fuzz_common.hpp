// Shared by the JWT fuzz targets: the fixed secret and clock, test keys generated at start
// (tests/unit/auth_test_keys), and the checks every verify() and authorize() result must pass.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "auth/authorize.hpp"
#include "auth/jwt_verifier.hpp"
#include "fuzz_check.hpp"

namespace wsgate::fuzz {

/// The HS secret of every fuzz verifier; the seed tokens in fuzz/corpus are signed with it.
inline constexpr std::string_view jwt_secret = "wsgate-fuzz-secret-0123456789abcdef";

/// The verifiers' clock: 2027-01-15T08:00:00Z. Seed tokens expire in 2030.
inline std::chrono::system_clock::time_point fuzz_now() {
    return std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
}

/// authorize() returns the user id or the verified token, depending on the version.
inline const std::string& user_of(const std::string& user_id) { return user_id; }
inline const std::string& user_of(const auth::verified_token& token) { return token.user_id; }

/// What holds for any verify() result: a user id that fits a channel name, or a token_*
/// error that has a close reason and a metric label of its own.
inline void check_verify_result(const result<auth::verified_token>& r) {
    if (r) {
        FUZZ_CHECK(!r->user_id.empty());
        FUZZ_CHECK(r->user_id.size() <= auth::max_user_id_bytes);
        return;
    }
    FUZZ_CHECK(r.error().category() == wsgate_category());
    FUZZ_CHECK(r.error() != errc::token_missing);  // only authorize() says "missing"
    FUZZ_CHECK(r.error() != errc::client_id_mismatch);
    FUZZ_CHECK(auth::close_reason(r.error()) != "unauthorized");
    FUZZ_CHECK(auth::metric_reason(r.error()) != "other");
}

/// authorize(client_id, token) must agree with verify(token): the same error, or success
/// exactly when the user id equals client_id byte for byte.
inline void check_authorize(const auth::jwt_verifier& verifier, std::string_view client_id,
                            std::string_view token, const result<auth::verified_token>& verified) {
    auto a = auth::authorize(client_id, token, verifier, fuzz_now());
    if (token.empty()) {
        FUZZ_CHECK(!a && a.error() == errc::token_missing);
    } else if (!verified) {
        FUZZ_CHECK(!a && a.error() == verified.error());
    } else if (verified->user_id == client_id) {
        FUZZ_CHECK(a && user_of(*a) == client_id);
    } else {
        FUZZ_CHECK(!a && a.error() == errc::client_id_mismatch);
    }
    if (!a) {
        FUZZ_CHECK(auth::close_reason(a.error()) != "unauthorized");
        FUZZ_CHECK(auth::metric_reason(a.error()) != "other");
    }
}

}  // namespace wsgate::fuzz
