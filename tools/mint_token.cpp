// wsgate-token: mints a signed JWT for development, tests and load generation, and prints it
// on stdout. Errors go to stderr naming the flag, with exit status 2; it never logs the token.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "auth/jws_algorithm.hpp"
#include "auth/token_minter.hpp"
#include "util/units.hpp"

namespace {

using namespace std::chrono;

// A usage error: what() starts with the flag it concerns.
struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::string read_file(const std::string& flag, const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (!in && !in.eof()) throw usage_error(flag + ": cannot read " + path);
    return text;
}

milliseconds duration_flag(const std::string& flag, const std::string& text) {
    auto d = wsgate::parse_duration(text);
    if (!d) throw usage_error(flag + ": invalid duration '" + text + "' (e.g. 25s, 500ms, 1h)");
    return *d;
}

// `name=value` is a string claim; `name:=json` is raw JSON (httpie's convention), so
// `--claim admin:=true` and `--claim id=007` both mean what they say.
void add_claim(boost::json::object& claims, const std::string& spec) {
    const std::size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0 || (eq == 1 && spec[0] == ':'))
        throw usage_error("--claim: expected name=value or name:=json, got '" + spec + "'");
    const bool raw = spec[eq - 1] == ':';
    const std::string name = spec.substr(0, raw ? eq - 1 : eq);
    const std::string value = spec.substr(eq + 1);
    for (const char* reserved : {"sub", "iat", "exp", "nbf", "iss", "aud"})
        if (name == reserved)
            throw usage_error("--claim: '" + name +
                              "' is set by its own flag (--sub, --ttl, --nbf-in, --iss, --aud)");
    if (!raw) {
        claims[name] = value;
        return;
    }
    boost::system::error_code ec;
    boost::json::value parsed = boost::json::parse(value, ec);
    if (ec) throw usage_error("--claim: " + name + ":= is not valid JSON");
    claims[name] = std::move(parsed);
}

// Drops one trailing line ending, which editors and `echo` add to a secret file.
std::string strip_newline(std::string s) {
    if (!s.empty() && s.back() == '\n') s.pop_back();
    if (!s.empty() && s.back() == '\r') s.pop_back();
    return s;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Mint a signed JWT for wsgate and print it on stdout."};
    std::string secret, secret_file, private_key_file, sub, alg = "HS256", ttl = "1h", nbf_in, iss,
                                                            kid;
    std::vector<std::string> audiences, claim_specs;
    auto* secret_opt = app.add_option("--secret", secret, "HMAC secret (HS256/384/512)");
    auto* secret_file_opt =
        app.add_option("--secret-file", secret_file,
                       "file holding the HMAC secret (one trailing newline is ignored)")
            ->check(CLI::ExistingFile);
    auto* key_opt =
        app.add_option("--private-key-file", private_key_file, "PEM private key for RS/PS/ES/EdDSA")
            ->check(CLI::ExistingFile);
    secret_opt->excludes(secret_file_opt)->excludes(key_opt);
    secret_file_opt->excludes(key_opt);
    app.add_option("--sub", sub, "user id (the `sub` claim)")->required();
    app.add_option("--alg", alg, "signing algorithm")->capture_default_str();
    app.add_option("--ttl", ttl, "lifetime: exp = now + ttl (e.g. 25s, 1h)")->capture_default_str();
    app.add_option("--nbf-in", nbf_in, "set nbf = now + this duration");
    app.add_option("--iss", iss, "issuer (the `iss` claim)");
    app.add_option("--aud", audiences, "audience; repeat for an array");
    app.add_option("--kid", kid, "key id put in the header");
    app.add_option("--claim", claim_specs, "extra claim name=string or name:=json; repeatable");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);  // --help
        std::cerr << "wsgate-token: " << e.what() << "\n";
        return 2;
    }

    try {
        const wsgate::auth::jws_algorithm* algorithm = wsgate::auth::find_jws_algorithm(alg);
        if (!algorithm) throw usage_error("--alg: unknown algorithm '" + alg + "'");
        const bool hmac = algorithm->family == wsgate::auth::alg_family::hmac;
        if (sub.empty()) throw usage_error("--sub: must not be empty");

        std::string key;
        if (hmac) {
            if (!private_key_file.empty())
                throw usage_error("--private-key-file: not used by --alg " + alg +
                                  "; give --secret or --secret-file");
            key = secret_file.empty() ? secret
                                      : strip_newline(read_file("--secret-file", secret_file));
            if (key.empty())
                throw usage_error(secret_file.empty()
                                      ? "--secret: required (non-empty) for --alg " + alg
                                      : "--secret-file: " + secret_file + " is empty");
        } else {
            if (!secret.empty() || !secret_file.empty())
                throw usage_error("--alg: " + alg + " signs with --private-key-file, not a secret");
            if (private_key_file.empty())
                throw usage_error("--private-key-file: required for --alg " + alg);
            key = read_file("--private-key-file", private_key_file);
        }

        const auto now = system_clock::now();
        const auto now_s = duration_cast<seconds>(now.time_since_epoch());
        boost::json::object claims;
        claims["sub"] = sub;
        claims["iat"] = now_s.count();
        claims["exp"] =
            duration_cast<seconds>(now.time_since_epoch() + duration_flag("--ttl", ttl)).count();
        if (!nbf_in.empty())
            claims["nbf"] =
                duration_cast<seconds>(now.time_since_epoch() + duration_flag("--nbf-in", nbf_in))
                    .count();
        if (!iss.empty()) claims["iss"] = iss;
        if (audiences.size() == 1) {
            claims["aud"] = audiences.front();
        } else if (audiences.size() > 1) {
            boost::json::array list;
            for (const std::string& a : audiences) list.emplace_back(a);
            claims["aud"] = std::move(list);
        }
        for (const std::string& spec : claim_specs) add_claim(claims, spec);

        std::string token;
        try {
            token = wsgate::auth::mint_token(alg, key, claims, kid);
        } catch (const std::invalid_argument& e) {
            throw usage_error((hmac ? "--secret: " : "--private-key-file: ") +
                              std::string(e.what()));
        }
        std::cout << token << '\n';
        return std::cout.flush() ? 0 : 1;
    } catch (const usage_error& e) {
        std::cerr << "wsgate-token: " << e.what() << "\n";
        return 2;
    }
}
