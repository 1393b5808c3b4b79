#include "tests/support/redis_cluster.hpp"

#include <algorithm>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace topup::test {
namespace {

constexpr int k_slots = 16384;

std::vector<std::string> words_of(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

// Who serves each slot in one node's CLUSTER NODES: the master's port, 0 for nobody. Slot
// fields are "<n>" or "<a>-<b>"; "[<n>-<id>]" (migrations) are skipped.
std::vector<int> owners_in(const std::string& cluster_nodes) {
  std::vector<int> owner(k_slots, 0);
  std::istringstream in(cluster_nodes);
  for (std::string line; std::getline(in, line);) {
    const auto w = words_of(line);
    if (w.size() < 8 || w[2].find("master") == std::string::npos) continue;
    const int port = std::stoi(w[1].substr(w[1].rfind(':') + 1, w[1].find('@')));
    for (std::size_t i = 8; i < w.size(); ++i) {
      if (w[i].front() == '[') continue;
      const auto dash = w[i].find('-');
      const int a = std::stoi(w[i].substr(0, dash));
      const int b = dash == std::string::npos ? a : std::stoi(w[i].substr(dash + 1));
      for (int s = a; s <= b; ++s) owner[static_cast<std::size_t>(s)] = port;
    }
  }
  return owner;
}

}  // namespace

redis_cluster::redis_cluster(redis_cluster_options options)
    : masters_(static_cast<std::size_t>(options.masters)) {
  const int total = options.masters * (1 + options.replicas_per_master);
  for (int i = 0; i < total; ++i) {
    redis_server_options o;
    o.extra_args = {"--cluster-enabled",     "yes", "--cluster-config-file", "nodes.conf",
                    "--cluster-node-timeout", "2000", "--cluster-require-full-coverage", "no"};
    nodes_.push_back(std::make_unique<redis_server>(o));
    ids_.push_back(nodes_.back()->command({"CLUSTER", "MYID"}));
  }
  for (std::size_t m = 0; m < masters_; ++m) {
    const int first = static_cast<int>(m * k_slots / masters_);
    const int last = static_cast<int>((m + 1) * k_slots / masters_) - 1;
    nodes_[m]->command({"CLUSTER", "SET-CONFIG-EPOCH", std::to_string(m + 1)});
    nodes_[m]->command(
        {"CLUSTER", "ADDSLOTSRANGE", std::to_string(first), std::to_string(last)});
  }
  for (std::size_t i = 1; i < nodes_.size(); ++i)
    nodes_[0]->command({"CLUSTER", "MEET", "127.0.0.1", std::to_string(nodes_[i]->port())});
  // A replica can follow its master once it knows it.
  for (std::size_t r = masters_; r < nodes_.size(); ++r) {
    const std::size_t master = (r - masters_) % masters_;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (;;) {
      const auto answer = nodes_[r]->command({"CLUSTER", "REPLICATE", ids_[master]});
      if (answer == "OK") break;
      if (std::chrono::steady_clock::now() > deadline)
        throw std::runtime_error("cluster replica did not follow its master: " + answer);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  wait_ok();
  // And every replica's link to its master is up, its first sync done (a failover needs it).
  for (std::size_t r = masters_; r < nodes_.size(); ++r) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (nodes_[r]->command({"INFO", "replication"}).find("master_link_status:up") ==
           std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline)
        throw std::runtime_error("a cluster replica did not sync with its master");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

redis_cluster::~redis_cluster() = default;

std::vector<std::string> redis_cluster::seeds() const {
  std::vector<std::string> out;
  for (std::size_t m = 0; m < masters_; ++m)
    out.push_back("127.0.0.1:" + std::to_string(nodes_[m]->port()));
  return out;
}

std::size_t redis_cluster::owner_of(int slot, std::size_t asking) const {
  const int port = owners_in(nodes_[asking]->command({"CLUSTER", "NODES"}))
                       [static_cast<std::size_t>(slot)];
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i]->port() == port) return i;
  throw std::runtime_error("nobody serves slot " + std::to_string(slot));
}

void redis_cluster::flushall() const {
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i]->command({"ROLE"}).starts_with("master")) nodes_[i]->command({"FLUSHALL"});
}

void redis_cluster::begin_migration(int slot, std::size_t from, std::size_t to) const {
  const std::string s = std::to_string(slot);
  nodes_[to]->command({"CLUSTER", "SETSLOT", s, "IMPORTING", ids_[from]});
  nodes_[from]->command({"CLUSTER", "SETSLOT", s, "MIGRATING", ids_[to]});
}

void redis_cluster::migrate_keys(int slot, std::size_t from, std::size_t to) const {
  for (;;) {
    const auto keys =
        words_of(nodes_[from]->command({"CLUSTER", "GETKEYSINSLOT", std::to_string(slot), "100"}));
    if (keys.empty()) return;
    for (const auto& key : keys) migrate_key(key, from, to);
  }
}

void redis_cluster::migrate_key(const std::string& key, std::size_t from, std::size_t to) const {
  const auto answer = nodes_[from]->command(
      {"MIGRATE", "127.0.0.1", std::to_string(nodes_[to]->port()), "", "0", "5000", "KEYS", key});
  if (answer != "OK") throw std::runtime_error("MIGRATE " + key + ": " + answer);
}

void redis_cluster::finish_migration(int slot, std::size_t to) const {
  const std::string s = std::to_string(slot);
  // The new owner first (it bumps its epoch), then the others, as redis-cli does.
  nodes_[to]->command({"CLUSTER", "SETSLOT", s, "NODE", ids_[to]});
  for (std::size_t m = 0; m < masters_; ++m)
    if (m != to) nodes_[m]->command({"CLUSTER", "SETSLOT", s, "NODE", ids_[to]});
}

void redis_cluster::move_slot(int slot, std::size_t from, std::size_t to) const {
  begin_migration(slot, from, to);
  migrate_keys(slot, from, to);
  finish_migration(slot, to);
}

void redis_cluster::wait_ok(std::chrono::milliseconds wait) const {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  std::string last;
  while (std::chrono::steady_clock::now() < deadline) {
    bool ok = true;
    std::vector<int> first;
    for (std::size_t i = 0; i < nodes_.size() && ok; ++i) {
      last = nodes_[i]->command({"CLUSTER", "INFO"});
      ok = last.find("cluster_state:ok") != std::string::npos &&
           last.find("cluster_known_nodes:" + std::to_string(nodes_.size()) + "\r") !=
               std::string::npos;
      const auto owners = owners_in(nodes_[i]->command({"CLUSTER", "NODES"}));
      if (i == 0) first = owners;
      ok = ok && owners == first &&
           std::find(owners.begin(), owners.end(), 0) == owners.end();
    }
    if (ok) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("redis cluster not ok: " + last);
}

}  // namespace topup::test
