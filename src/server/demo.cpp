// Demo mode's access rules, its keys and tokens, and the worker-thread publisher. The worker
// is the only thread that touches the publisher; results go back through the caller's
// executor.
#include "server/demo.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <exception>
#include <stdexcept>
#include <utility>

#include "auth/authorize.hpp"
#include "auth/base64url.hpp"
#include "auth/token_minter.hpp"

namespace wsgate {
namespace {

// RFC 3986 percent-encoding of everything but the unreserved characters.
std::string percent_encode(std::string_view text) {
    return boost::urls::encode(text, boost::urls::unreserved_chars);
}

// `bytes` random bytes from OpenSSL's CSPRNG, base64url: 43 characters for 32 bytes, safe in
// a URL, an HTML attribute and a header without escaping.
std::string random_key(std::size_t bytes) {
    std::string raw(bytes, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(raw.size())) != 1)
        throw std::runtime_error("--demo: the random number generator failed");
    std::string key = auth::base64url_encode(raw);
    OPENSSL_cleanse(raw.data(), raw.size());
    return key;
}

bool is_base64url(std::string_view text) noexcept {
    return text.find_first_not_of(
               "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
           std::string_view::npos;
}

auth::jwt_options demo_token_options(const std::string& secret) {
    auth::jwt_options o;
    o.secret = secret;
    o.algorithms = {"HS256"};
    o.issuer = std::string(demo_token_issuer);
    return o;
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

demo_credentials::demo_credentials() : demo_credentials(random_key(32), random_key(32)) {}

demo_credentials::demo_credentials(std::string access_key, std::string token_secret)
    : access_key_(std::move(access_key)),
      token_secret_(std::move(token_secret)),
      verifier_(demo_token_options(token_secret_)) {
    if (token_secret_.empty()) throw std::invalid_argument("demo token secret is empty");
    if (!is_base64url(access_key_)) throw std::invalid_argument("demo access key is not base64url");
}

bool demo_credentials::key_matches(std::string_view candidate) const noexcept {
    // The length is no secret (always 43); the bytes are compared in constant time.
    return !access_key_.empty() && candidate.size() == access_key_.size() &&
           CRYPTO_memcmp(candidate.data(), access_key_.data(), access_key_.size()) == 0;
}

std::string demo_credentials::mint(std::string_view user_id,
                                   std::chrono::system_clock::time_point now) const {
    const auto iat = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch());
    boost::json::object claims;
    claims["sub"] = user_id;
    claims["iss"] = demo_token_issuer;
    claims["iat"] = iat.count();
    claims["exp"] = (iat + demo_token_ttl).count();
    return auth::mint_token("HS256", token_secret_, claims);
}

result<auth::verified_token> authorize_demo_token(result<auth::verified_token> refused,
                                                  std::string_view client_id,
                                                  std::string_view token,
                                                  const demo_credentials& demo,
                                                  std::chrono::system_clock::time_point now) {
    if (refused || token.empty()) return refused;
    auto verdict = auth::authorize(client_id, token, demo.verifier(), now);
    if (verdict) return verdict;
    // Past the signature check: the token is ours, and its own problem is the useful answer.
    const auto ec = verdict.error();
    if (ec == errc::token_expired || ec == errc::token_not_yet_valid ||
        ec == errc::client_id_mismatch)
        return verdict;
    return refused;
}

std::string demo_page_url(std::string_view listen_host, std::uint16_t port, std::string_view key) {
    std::string out = "http://";
    if (listen_host.find(':') != std::string_view::npos) {
        out += '[';
        out += listen_host;
        out += ']';
    } else {
        out += listen_host;
    }
    out += ':';
    out += std::to_string(port);
    out += "/?key=";
    out += key;
    return out;
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
