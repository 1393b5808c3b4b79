#pragma once
// A real Redis Cluster for integration and e2e tests, on free loopback ports.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/redis_server.hpp"

namespace topup::test {

struct redis_cluster_options {
  int masters = 3;
  int replicas_per_master = 0;
};

/// Owns the redis-server children of one cluster (each a redis_server: its own directory, AOF
/// on, loopback), `cluster-require-full-coverage no` so a slot taken away in a test leaves the
/// others served. Built as redis-cli --cluster create would, without it: each master gets an
/// even share of the slots (ADDSLOTSRANGE) and a config epoch of its own, the nodes MEET, replicas
/// REPLICATE; the constructor returns once every node says cluster_state:ok and sees every slot,
/// and every replica's link to its master is up. Node i < masters is master i; replica r follows
/// master (r - masters) % masters.
/// Slot moves by hand (the steps of a resharding) for MOVED and ASK tests. Used from the test's
/// thread only.
class redis_cluster {
 public:
  explicit redis_cluster(redis_cluster_options options = {});
  ~redis_cluster();
  redis_cluster(const redis_cluster&) = delete;
  redis_cluster& operator=(const redis_cluster&) = delete;

  /// "127.0.0.1:<port>" of every master (the seeds of redis.nodes).
  std::vector<std::string> seeds() const;
  std::size_t size() const noexcept { return nodes_.size(); }
  redis_server& node(std::size_t i) { return *nodes_[i]; }
  const std::string& node_id(std::size_t i) const { return ids_[i]; }
  /// The node serving `slot` now, as node `asking` sees it (CLUSTER SLOTS).
  std::size_t owner_of(int slot, std::size_t asking = 0) const;
  /// FLUSHALL on every master.
  void flushall() const;

  /// A resharding of one slot in its three steps: `to` IMPORTING and `from` MIGRATING; the
  /// slot's keys MIGRATEd from `from` to `to`; then the slot given to `to` on every master.
  void begin_migration(int slot, std::size_t from, std::size_t to) const;
  void migrate_keys(int slot, std::size_t from, std::size_t to) const;
  /// One key of a slot being migrated, moved by hand (what migrate_keys does to each).
  void migrate_key(const std::string& key, std::size_t from, std::size_t to) const;
  void finish_migration(int slot, std::size_t to) const;
  void move_slot(int slot, std::size_t from, std::size_t to) const;

  /// Waits until every node says cluster_state:ok and agrees on who serves every slot.
  void wait_ok(std::chrono::milliseconds wait = std::chrono::seconds(20)) const;

 private:
  std::vector<std::unique_ptr<redis_server>> nodes_;
  std::vector<std::string> ids_;
  std::size_t masters_ = 0;
};

}  // namespace topup::test
