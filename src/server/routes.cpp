// Uses Boost.URL for origin-form parsing and percent-decoding.
#include "server/routes.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include "auth/jwt_verifier.hpp"

namespace wsgate {

route parse_route(std::string_view target) {
    route r;
    auto parsed = boost::urls::parse_origin_form(target);
    if (!parsed) {
        r.kind = route_kind::bad_target;
        return r;
    }
    const auto& url = *parsed;
    auto segs = url.segments();  // percent-decoded

    std::string parts[5];
    std::size_t n = 0;
    for (auto seg : segs) {
        if (n == 5) break;
        parts[n++] = std::string(seg);
    }
    // The page and its assets take the access key in the query (the page URL the gateway
    // prints, the asset URLs the page names); the demo API takes it in a header only.
    auto demo_key = [&] {
        auto params = url.params();  // percent-decoded, '+' as space
        auto key = params.find("key");
        if (key != params.end() && (*key).has_value) r.key = std::string((*key).value);
    };
    if (n == 0) {
        r.kind = route_kind::demo_page;
        demo_key();
        return r;
    }
    if (n == 2 && parts[0] == "demo") {
        if (parts[1] == "app.js")
            r.kind = route_kind::demo_script;
        else if (parts[1] == "app.css")
            r.kind = route_kind::demo_style;
        else if (parts[1] == "token")
            r.kind = route_kind::demo_token;
        else if (parts[1] == "publish")
            r.kind = route_kind::demo_publish;
        if (r.kind == route_kind::demo_token || r.kind == route_kind::demo_publish) {
            auto params = url.params();  // percent-decoded, '+' as space
            auto user = params.find("user");
            if (user != params.end() && (*user).has_value) r.user = std::string((*user).value);
            auto payload = params.find("payload");
            if (r.kind == route_kind::demo_publish && payload != params.end() &&
                (*payload).has_value)
                r.payload = std::string((*payload).value);
        }
        if (r.kind == route_kind::demo_script || r.kind == route_kind::demo_style) demo_key();
        return r;
    }
    if (n == 1) {
        // Operator endpoints ignore any query (cache busters and the like).
        if (parts[0] == "healthz")
            r.kind = route_kind::healthz;
        else if (parts[0] == "readyz")
            r.kind = route_kind::readyz;
        else if (parts[0] == "metrics")
            r.kind = route_kind::metrics;
        return r;
    }
    if (n == 4 && parts[0] == "ws" && parts[1] == "v1" && parts[2] == "status" &&
        !parts[3].empty()) {
        if (parts[3].size() > max_client_id_bytes) {
            r.kind = route_kind::bad_target;
            return r;
        }
        r.kind = route_kind::status;
        r.client_id = std::move(parts[3]);
        auto params = url.params();  // percent-decoded, '+' as space
        auto it = params.find("token");
        if (it != params.end() && (*it).has_value) r.token = std::string((*it).value);
        return r;
    }
    return r;
}

std::string_view demo_request_problem(const route& r) noexcept {
    if (r.kind != route_kind::demo_token && r.kind != route_kind::demo_publish) return {};
    if (r.user.empty()) return "missing user";
    if (r.user.size() > auth::max_user_id_bytes) return "user id too long";
    if (r.kind == route_kind::demo_publish) {
        if (r.payload.empty()) return "missing payload";
        if (r.payload.size() > max_demo_payload_bytes) return "payload too long (4 KiB at most)";
    }
    return {};
}

std::string_view bearer_token(std::string_view authorization) noexcept {
    constexpr std::string_view scheme = "bearer ";
    if (authorization.size() <= scheme.size()) return {};
    for (std::size_t i = 0; i < scheme.size(); ++i) {
        char c = authorization[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != scheme[i]) return {};
    }
    auto token = authorization.substr(scheme.size());
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
    return token;
}

}  // namespace wsgate
