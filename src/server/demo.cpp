// Demo mode's access rule, token minting and worker-thread publisher. The worker is the
// only thread that touches the publisher; results go back through the caller's executor.
#include "server/demo.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <exception>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <utility>

#include "auth/jwt_verifier.hpp"
#include "auth/token_minter.hpp"

namespace wsgate {
namespace {

// RFC 3986 percent-encoding of everything but the unreserved characters.
std::string percent_encode(std::string_view text) {
    return boost::urls::encode(text, boost::urls::unreserved_chars);
}

// The secret as the verifier reads it: from the file when one is named (one line ending
// dropped, as config does), so a rotated secret mints tokens the new verifier accepts.
std::string current_secret(const auth::jwt_options& options) {
    if (options.secret_file.empty()) return options.secret;
    std::ifstream in(options.secret_file, std::ios::binary);
    if (!in) return options.secret;
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (s.ends_with("\r\n"))
        s.resize(s.size() - 2);
    else if (s.ends_with('\n'))
        s.pop_back();
    return s.empty() ? options.secret : s;
}

}  // namespace

bool is_loopback_peer(const boost::asio::ip::address& peer) noexcept {
    if (peer.is_v4()) return peer.to_v4().is_loopback();
    const auto v6 = peer.to_v6();
    if (v6.is_v4_mapped())
        return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).is_loopback();
    return v6.is_loopback();
}

bool demo_request_same_host(std::string_view host, std::string_view origin) noexcept {
    std::string_view name = host;
    if (name.starts_with('[')) {
        const auto close = name.find(']');
        if (close == std::string_view::npos) return false;
        const auto rest = name.substr(close + 1);
        if (!rest.empty() && !rest.starts_with(':')) return false;
        name = name.substr(1, close - 1);
    } else if (const auto colon = name.find(':'); colon != std::string_view::npos) {
        name = name.substr(0, colon);
    }
    if (name.empty()) return false;
    bool loopback = false;
    if (name.size() == 9) {
        loopback = true;
        for (std::size_t i = 0; i < 9; ++i)
            if ((name[i] | 0x20) != "localhost"[i]) loopback = false;
    }
    if (!loopback) {
        boost::system::error_code ec;
        const auto address = boost::asio::ip::make_address(name, ec);
        loopback = !ec && is_loopback_peer(address);
    }
    if (!loopback) return false;
    if (origin.empty()) return true;
    for (std::string_view scheme : {"http://", "https://"})
        if (origin.starts_with(scheme) && origin.substr(scheme.size()) == host) return true;
    return false;
}

std::optional<std::string> mint_demo_token(const auth::jwt_options& options,
                                           const auth::jwt_verifier& verifier,
                                           std::string_view user_id,
                                           std::chrono::system_clock::time_point now) {
    if (!verifier.has_secret()) return std::nullopt;
    const auto& algs = verifier.algorithms();
    if (std::find(algs.begin(), algs.end(), "HS256") == algs.end()) return std::nullopt;
    const std::string secret = current_secret(options);
    if (secret.empty()) return std::nullopt;

    const auto iat = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch());
    boost::json::object claims;
    claims[options.user_claim] = user_id;
    claims["iat"] = iat.count();
    claims["exp"] = (iat + demo_token_ttl).count();
    if (options.issuer) claims["iss"] = *options.issuer;
    if (!options.audience.empty()) claims["aud"] = options.audience.front();
    try {
        return auth::mint_token("HS256", secret, claims);
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

std::string demo_token_json(std::string_view token) {
    return boost::json::serialize(
        boost::json::object{{"token", token}, {"expires_in", demo_token_ttl.count()}});
}

std::string demo_receivers_json(long long receivers) {
    return boost::json::serialize(boost::json::object{{"receivers", receivers}});
}

std::string demo_error_json(std::string_view message) {
    return boost::json::serialize(boost::json::object{{"error", message}});
}

std::string redis_url_for(const redis::redis_endpoint& endpoint) {
    std::string out = endpoint.tls ? "rediss://" : "redis://";
    if (!endpoint.username.empty() || !endpoint.password.empty()) {
        out += percent_encode(endpoint.username);
        out += ':';
        out += percent_encode(endpoint.password);
        out += '@';
    }
    // Only an IPv6 literal contains ':'; it goes in brackets, unencoded.
    if (endpoint.host.find(':') != std::string::npos) {
        out += '[';
        out += endpoint.host;
        out += ']';
    } else {
        out += percent_encode(endpoint.host);
    }
    out += ':';
    out += std::to_string(endpoint.port);
    out += '/';
    out += std::to_string(endpoint.db);
    return out;
}

demo_publisher::demo_publisher(const redis::redis_endpoint& endpoint,
                               std::chrono::milliseconds timeout)
    : publisher_(redis_url_for(endpoint), timeout) {}

demo_publisher::~demo_publisher() {
    worker_.stop();
    worker_.join();
}

bool demo_publisher::publish(std::string user_id, std::string payload,
                             boost::asio::any_io_executor reply_to, handler done) {
    if (pending_.fetch_add(1, std::memory_order_relaxed) >= max_pending) {
        pending_.fetch_sub(1, std::memory_order_relaxed);
        return false;
    }
    // Tracked work: the caller's loop does not run out of work while the publish is out.
    auto reply = boost::asio::prefer(reply_to, boost::asio::execution::outstanding_work.tracked);
    boost::asio::post(worker_, [this, user = std::move(user_id), body = std::move(payload),
                                reply = std::move(reply), done = std::move(done)]() mutable {
        result r;
        try {
            r.receivers = publisher_.publish_user_notification(user, body);
        } catch (const std::exception& e) {
            // The publisher's messages name the server by its redacted URL only.
            r.error = e.what();
        }
        pending_.fetch_sub(1, std::memory_order_relaxed);
        boost::asio::post(
            reply, [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
    });
    return true;
}

}  // namespace wsgate
