// Messages for wsgate::errc. They may reach logs and metrics labels, so they never
// include request data.
#include "util/error.hpp"

#include <string>

namespace wsgate {
namespace {

class category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "wsgate"; }

    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::token_missing:
                return "token missing";
            case errc::token_malformed:
                return "token malformed";
            case errc::token_bad_signature:
                return "bad token signature";
            case errc::token_algorithm_not_allowed:
                return "token algorithm not allowed";
            case errc::token_unknown_key:
                return "unknown token key";
            case errc::token_forbidden_header:
                return "forbidden token header";
            case errc::token_expired:
                return "token expired";
            case errc::token_not_yet_valid:
                return "token not yet valid";
            case errc::token_bad_issuer:
                return "invalid token issuer";
            case errc::token_bad_audience:
                return "invalid token audience";
            case errc::token_no_user_claim:
                return "token has no user id";
            case errc::client_id_mismatch:
                return "client_id mismatch";
            case errc::redis_protocol:
                return "redis protocol error";
            case errc::redis_unexpected_reply:
                return "unexpected redis reply";
            case errc::redis_error_reply:
                return "redis error reply";
            case errc::redis_timeout:
                return "redis timeout";
            case errc::invalid_url:
                return "invalid url";
        }
        return "unknown wsgate error";
    }
};

}  // namespace

const boost::system::error_category& wsgate_category() noexcept {
    static const category instance;
    return instance;
}

}  // namespace wsgate
