#include "redis_cluster.hpp"

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string_view>

#include "process.hpp"
#include "redis/channel.hpp"
#include "redis/key_slot.hpp"

namespace wsgate::test {

redis_cluster::redis_cluster() : redis_cluster(options{}) {}

redis_cluster::redis_cluster(options opts) : opts_(opts) {
    std::string templ = (std::filesystem::temp_directory_path() / "wsgate-cluster-XXXXXX").string();
    if (!mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
    dir_ = templ;

    const bool tls = !opts_.tls_cert_file.empty();
    std::vector<std::string> create = {"--cluster", "create"};
    if (tls) create = {"--tls", "--cacert", opts_.tls_ca_file, "--cluster", "create"};
    for (std::size_t i = 0; i < opts_.masters; ++i) {
        // The bus (and TLS) ports are free when picked but may be taken before redis binds
        // them, by another test starting at the same moment; redis_server retries only its
        // own port, so pick these afresh and try again.
        for (int attempt = 1;; ++attempt) {
            const auto bus = std::to_string(free_port());
            redis_server::options o;
            o.startup_timeout = opts_.startup_timeout;
            o.extra_args = {"--cluster-enabled",
                            "yes",
                            "--cluster-port",
                            bus,
                            "--cluster-config-file",
                            dir_ + "/nodes-" + bus + ".conf",
                            "--cluster-node-timeout",
                            std::to_string(opts_.node_timeout.count()),
                            "--dir",
                            dir_};
            std::uint16_t tls_port = 0;
            if (tls) {
                tls_port = free_port();
                o.extra_args.insert(
                    o.extra_args.end(),
                    {"--tls-port", std::to_string(tls_port), "--tls-cluster", "yes",
                     "--tls-cert-file", opts_.tls_cert_file, "--tls-key-file", opts_.tls_key_file,
                     "--tls-ca-cert-file", opts_.tls_ca_file, "--tls-auth-clients", "optional"});
            }
            try {
                nodes_.push_back(std::make_unique<redis_server>(o));
            } catch (const std::runtime_error& e) {
                const bool port_taken =
                    std::string_view(e.what()).find("in use") != std::string_view::npos;
                if (!port_taken || attempt == 5) throw;
                continue;
            }
            if (tls) tls_ports_.push_back(tls_port);
            break;
        }
        create.push_back("127.0.0.1:" +
                         std::to_string(tls ? tls_ports_.back() : nodes_.back()->port()));
    }
    create.insert(create.end(), {"--cluster-replicas", "0", "--cluster-yes"});
    auto [status, output] = run_to_completion("redis-cli", create, {}, opts_.startup_timeout);
    if (status != 0) throw std::runtime_error("redis-cli --cluster create failed:\n" + output);
    if (!wait_ok(opts_.startup_timeout))
        throw std::runtime_error("cluster never reached cluster_state:ok:\n" + output);
    for (auto& n : nodes_) ids_.push_back(n->command({"CLUSTER", "MYID"}).str);
}

redis_cluster::~redis_cluster() {
    nodes_.clear();  // each redis_server stops its process by PID
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
}

std::string redis_cluster::seed_urls() const {
    std::string out;
    for (const auto& n : nodes_) {
        if (!out.empty()) out += ',';
        out += n->url();
    }
    return out;
}

std::string redis_cluster::tls_seed_urls() const {
    std::string out;
    for (auto port : tls_ports_) {
        if (!out.empty()) out += ',';
        out += "rediss://127.0.0.1:" + std::to_string(port);
    }
    return out;
}

bool redis_cluster::wait_ok(std::chrono::milliseconds timeout) {
    return wait_until(
        [&] {
            for (auto& n : nodes_) {
                if (!n->running()) continue;
                auto info = n->command({"CLUSTER", "INFO"});
                if (info.str.find("cluster_state:ok") == std::string::npos) return false;
            }
            return true;
        },
        timeout, std::chrono::milliseconds(50));
}

std::size_t redis_cluster::owner_of_slot(std::uint16_t slot) {
    for (auto& asked : nodes_) {
        if (!asked->running()) continue;
        auto slots = asked->command({"CLUSTER", "SLOTS"});
        for (const auto& range : slots.elements) {
            if (range.elements.size() < 3) continue;
            if (slot < range.elements[0].integer || slot > range.elements[1].integer) continue;
            const auto port = range.elements[2].elements.at(1).integer;
            for (std::size_t i = 0; i < nodes_.size(); ++i)
                if (nodes_[i]->port() == port) return i;
        }
        break;
    }
    throw std::runtime_error("no node serves slot " + std::to_string(slot));
}

std::size_t redis_cluster::owner_of_user(const std::string& user_id) {
    return owner_of_slot(redis::key_slot(channel_for_user(user_id)));
}

void redis_cluster::migrate_slot(std::uint16_t slot, std::size_t to) {
    const std::size_t from = owner_of_slot(slot);
    if (from == to) return;
    const auto s = std::to_string(slot);
    auto check = [](const test_reply& r, const char* what) {
        if (r.is_error()) throw std::runtime_error(std::string(what) + ": " + r.str);
    };
    check(nodes_[to]->command({"CLUSTER", "SETSLOT", s, "IMPORTING", ids_[from]}), "IMPORTING");
    check(nodes_[from]->command({"CLUSTER", "SETSLOT", s, "MIGRATING", ids_[to]}), "MIGRATING");
    // No keys to MIGRATE: tests use the slot for Pub/Sub only.
    check(nodes_[to]->command({"CLUSTER", "SETSLOT", s, "NODE", ids_[to]}), "NODE (to)");
    check(nodes_[from]->command({"CLUSTER", "SETSLOT", s, "NODE", ids_[to]}), "NODE (from)");
    for (std::size_t i = 0; i < nodes_.size(); ++i)
        if (i != to && i != from && nodes_[i]->running())
            check(nodes_[i]->command({"CLUSTER", "SETSLOT", s, "NODE", ids_[to]}), "NODE");
}

long long redis_cluster::spublish(const std::string& channel, const std::string& payload) {
    auto& owner = *nodes_[owner_of_slot(redis::key_slot(channel))];
    auto r = owner.command({"SPUBLISH", channel, payload});
    if (r.is_error()) throw std::runtime_error("SPUBLISH: " + r.str);
    return r.integer;
}

}  // namespace wsgate::test
