// Two token issuers on one gateway, end to end: a user is (issuer, user id), so `bob` of the
// primary issuer and `bob` of a partner issuer get separate channels, separate deliveries and
// separate per-user limits. The primary issuer's users keep the seed's `ws:{user_id}`.
#include <boost/json.hpp>

#include "../unit/auth_test_keys.hpp"
#include "gateway_fixture.hpp"

namespace wsgate::test {
namespace {

namespace json = boost::json;
using auth::test::jwk_with;
using auth::test::rsa_key;
using auth::test::write_jwks;

const std::string primary_issuer = "https://login.example.com/";
const std::string partner_issuer = "https://partner.example.net";

// The fixture's secret belongs to the primary issuer; the partner signs with RSA key 0.
class TwoIssuers : public gateway_fixture {
protected:
    flag_list gateway_flags() const override {
        // Written once per process into the test keys' private temp directory.
        static const std::string partner_jwks = write_jwks({jwk_with(rsa_key(0), "p1", "RS256")});
        return {{"--jwt-issuer", primary_issuer},
                {"--jwt-issuer-jwks", partner_issuer + "=" + partner_jwks},
                {"--jwt-algorithms", "HS256,RS256"},
                {"--max-connections-per-user", "1"}};
    }

    static std::string primary_token(const std::string& user) {
        return token_with({{"sub", user}, {"iss", primary_issuer}, {"exp", unix_now() + 3600}});
    }
    static std::string partner_token(const std::string& user) {
        json::object claims{{"sub", user}, {"iss", partner_issuer}, {"exp", unix_now() + 3600}};
        return auth::mint_token("RS256", rsa_key(0).private_pem, claims, "p1");
    }

    std::unique_ptr<ws_client> connect_with(const std::string& user, const std::string& token) {
        auto c = std::make_unique<ws_client>();
        if (auto ec = c->connect(port(), target_for(user, token))) {
            ADD_FAILURE() << "connect as " << user << ": " << ec.message() << "\n"
                          << gateway().output();
            return nullptr;
        }
        return c;
    }

    long long publish_partner(const std::string& user, std::string_view payload) {
        publisher pub(redis().url(), 5s);
        return pub.publish_user_notification(user, payload, partner_issuer);
    }

};

TEST_F(TwoIssuers, SameUserIdOfTwoIssuersAreTwoUsers) {
    auto ours = connect_with("bob", primary_token("bob"));
    auto theirs = connect_with("bob", partner_token("bob"));
    ASSERT_TRUE(ours && theirs);

    // Each has its own channel: the seed's for the primary issuer, a namespaced one for the
    // partner, with the issuer percent-encoded.
    EXPECT_EQ(channel_for_user("bob", partner_issuer), "ws@https%3A%2F%2Fpartner.example.net:bob");
    EXPECT_EQ(redis().numsub("ws:bob"), 1);
    EXPECT_EQ(redis().numsub(channel_for_user("bob", partner_issuer)), 1);

    // A message for one bob never reaches the other.
    EXPECT_EQ(publish("bob", "for the primary bob"), 1);
    EXPECT_EQ(ours->read_text(5s), std::optional<std::string>("for the primary bob"));
    EXPECT_EQ(publish_partner("bob", "for the partner bob"), 1);
    EXPECT_EQ(theirs->read_text(5s), std::optional<std::string>("for the partner bob"));
    EXPECT_FALSE(ours->read_text(300ms)) << "the partner's message leaked to the primary bob";
    EXPECT_FALSE(theirs->read_text(300ms)) << "the primary's message leaked to the partner bob";
}

TEST_F(TwoIssuers, PerUserLimitCountsEachIssuersUserApart) {
    // --max-connections-per-user 1: the primary bob's connection does not use up the
    // partner bob's place, and the other way round.
    auto ours = connect_with("bob", primary_token("bob"));
    auto theirs = connect_with("bob", partner_token("bob"));
    ASSERT_TRUE(ours && theirs);
    EXPECT_EQ(publish_partner("bob", "admitted"), 1);
    EXPECT_EQ(theirs->read_text(5s), std::optional<std::string>("admitted"))
        << "end: " << theirs->end_state();

    // A second connection of either bob is over that bob's own limit.
    for (const auto& token : {primary_token("bob"), partner_token("bob")}) {
        ws_client extra;
        ASSERT_FALSE(extra.connect(port(), target_for("bob", token)));
        auto end = extra.read_until_close(5s);
        EXPECT_EQ(end.code, 4029) << end;
    }
}

}  // namespace
}  // namespace wsgate::test
