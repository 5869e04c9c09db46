// authorize() and the error → close reason / metric label tables. The strings are part of
// the client contract and of dashboards: change them only deliberately.
#include "auth/authorize.hpp"

namespace wsgate::auth {

result<verified_token> authorize(std::string_view client_id, std::string_view token,
                                 const jwt_verifier& verifier,
                                 std::chrono::system_clock::time_point now) {
    if (token.empty()) return errc::token_missing;
    auto verified = verifier.verify(token, now);
    if (!verified) return verified.error();
    // Byte comparison: both sides are already decoded, and no case folding or Unicode
    // normalisation may make two different users' ids equal.
    if (verified->user_id != client_id) return errc::client_id_mismatch;
    return verified;
}

std::string_view close_reason(boost::system::error_code ec) {
    if (ec.category() == wsgate_category()) {
        switch (static_cast<errc>(ec.value())) {
            case errc::token_missing:
                return "missing token";
            case errc::token_malformed:
            case errc::token_bad_signature:
            case errc::token_unknown_key:
            case errc::token_forbidden_header:
            case errc::token_algorithm_not_allowed:
            case errc::token_no_user_claim:
                return "invalid token";
            case errc::token_expired:
                return "token expired";
            case errc::token_not_yet_valid:
                return "token not yet valid";
            case errc::token_bad_issuer:
                return "invalid issuer";
            case errc::token_bad_audience:
                return "invalid audience";
            case errc::client_id_mismatch:
                return "client_id mismatch";
            default:
                break;
        }
    }
    return "unauthorized";
}

std::string_view metric_reason(boost::system::error_code ec) {
    if (ec.category() == wsgate_category()) {
        switch (static_cast<errc>(ec.value())) {
            case errc::token_missing:
                return "missing";
            case errc::token_malformed:
                return "malformed";
            case errc::token_bad_signature:
                return "signature";
            case errc::token_algorithm_not_allowed:
                return "algorithm";
            case errc::token_unknown_key:
                return "unknown_key";
            case errc::token_forbidden_header:
                return "forbidden_header";
            case errc::token_expired:
                return "expired";
            case errc::token_not_yet_valid:
                return "not_yet_valid";
            case errc::token_bad_issuer:
                return "issuer";
            case errc::token_bad_audience:
                return "audience";
            case errc::token_no_user_claim:
                return "no_user";
            case errc::client_id_mismatch:
                return "mismatch";
            default:
                break;
        }
    }
    return "other";
}

}  // namespace wsgate::auth
