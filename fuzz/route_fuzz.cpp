// Fuzzes the request-target parser (parse_route) and the Authorization header parser
// (bearer_token) with the raw input, then checks a round trip: any client_id and token,
// percent-encoded into a status target, parse back to exactly those bytes.
//
// Input: a request target, e.g. "/ws/v1/status/alice?token=abc"; the same bytes are also an
// Authorization header value and, split in half, the client_id and token of the round trip.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.hpp"
#include "server/routes.hpp"

namespace {

using namespace wsgate;

std::string percent_encode_all(std::string_view bytes) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : bytes) {
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

void check_route(std::string_view target) {
    const route r = parse_route(target);
    if (r.kind == route_kind::status) {
        FUZZ_CHECK(!r.client_id.empty());
        FUZZ_CHECK(r.client_id.size() <= max_client_id_bytes);
        // A token can only come from a query.
        if (target.find('?') == target.npos) FUZZ_CHECK(r.token.empty());
    } else {
        FUZZ_CHECK(r.client_id.empty());
        FUZZ_CHECK(r.token.empty());
    }
    // Origin form starts with '/'; anything else is refused before routing.
    if (target.empty() || target.front() != '/') FUZZ_CHECK(r.kind == route_kind::bad_target);
    // Pure: the same target gives the same route.
    FUZZ_CHECK(parse_route(target) == r);
}

void check_bearer(std::string_view header) {
    const std::string_view token = bearer_token(header);
    if (token.empty()) return;
    FUZZ_CHECK(fuzz::is_inside(token, header));
    FUZZ_CHECK(header.size() > 7);
    for (std::size_t i = 0; i < 7; ++i) {
        const char c = header[i];
        FUZZ_CHECK(c == "bearer "[i] || c == "BEARER "[i]);
    }
    FUZZ_CHECK(token.front() != ' ');
    FUZZ_CHECK(token.back() != ' ' && token.back() != '\t');
}

void check_round_trip(std::string_view input) {
    const std::string_view client_id = input.substr(0, input.size() / 2);
    const std::string_view token = input.substr(input.size() / 2);
    if (client_id.empty() || client_id.size() > max_client_id_bytes) return;
    const std::string target = "/ws/v1/status/" + percent_encode_all(client_id) +
                               "?v=1&token=" + percent_encode_all(token) + "&token=second";
    const route r = parse_route(target);
    FUZZ_CHECK(r.kind == route_kind::status);
    FUZZ_CHECK(r.client_id == client_id);
    FUZZ_CHECK(r.token == token);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input = fuzz::as_text(data, size);
    check_route(input);
    check_bearer(input);
    check_round_trip(input);
    return 0;
}
