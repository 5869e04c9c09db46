// wsgate's own error codes and their category, for pure functions that return
// boost::system::result<T>. Data-plane code reports failures with these, never by throwing.
#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <type_traits>

namespace wsgate {

enum class errc {
    // Token and authorization failures. Each maps to one close reason (auth/authorize.hpp).
    token_missing = 1,
    token_malformed,              // not three base64url parts, bad JSON, wrong claim types
    token_bad_signature,          // signature does not verify with the selected key
    token_algorithm_not_allowed,  // `alg` absent, "none", or not in the configured list
    token_unknown_key,            // `kid` names no configured key, or no key fits `alg`
    token_forbidden_header,       // embedded `jwk`, `jku`, `x5u`, `x5c` or `crit`
    token_expired,                // now > exp + leeway
    token_not_yet_valid,          // now < nbf - leeway
    token_bad_issuer,  // `iss` absent or not a string where required, or no key set has it
    token_bad_audience,
    token_no_user_claim,  // the user claim is absent, empty or not a string
    client_id_mismatch,   // the token's user differs from the URL's client_id

    // Redis link.
    redis_protocol,          // the reply parser failed; the connection is unusable
    redis_unexpected_reply,  // well-formed but not what the state machine expects
    redis_error_reply,       // Redis answered with an error (-ERR ...)
    redis_timeout,           // no answer within the deadline

    // Input parsing.
    invalid_url,
};

const boost::system::error_category& wsgate_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), wsgate_category()};
}

template <class T>
using result = boost::system::result<T>;

}  // namespace wsgate

namespace boost::system {
template <>
struct is_error_code_enum<wsgate::errc> : std::true_type {};
}  // namespace boost::system
