// redis::connection in cluster mode (engine/redis/cluster_router) against a real local Redis
// Cluster of three masters (tests/support/redis_cluster): commands and scripts reach the master
// of their slot, a resharded slot is followed (MOVED) and a slot being migrated too (ASK),
// CLUSTERDOWN is waited out within the command's window, a script whose keys span slots is never
// sent; and the engine's own scripts (layout, lease, fences, accept, step, refund, credit, the
// statement chain's, trim, the audit's reads) run on it with the books adding up.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine/audit/audit.hpp"
#include "engine/retention/business_day.hpp"
#include "engine/retention/statement_chain.hpp"
#include "engine/order/order_record.hpp"
#include "engine/order/order_status.hpp"
#include "engine/redis/cluster_router.hpp"
#include "engine/redis/cluster_slots.hpp"
#include "engine/redis/command.hpp"
#include "engine/redis/connection.hpp"
#include "engine/redis/script.hpp"
#include "engine/store/ledger_scripts.hpp"
#include "engine/store/lease.hpp"
#include "engine/store/log_checkpoint.hpp"
#include "engine/store/order_store.hpp"
#include "engine/support/errc.hpp"
#include "tests/support/fence.hpp"
#include "tests/support/io_run.hpp"
#include "tests/support/redis_cluster.hpp"
#include "tests/support/sample_order.hpp"

namespace topup::engine {
namespace {

using namespace std::chrono_literals;
using redis::args;
using redis::key_slot;
using redis::reply;

constexpr const char* k_prefix = "cl";
constexpr std::int64_t k_t0_ms = 1'700'000'000'000;

// The master serving `slot` in the layout test::redis_cluster starts with: master m serves from
// m * 16384 / 3 (0, 5461, 10922) to the next one's start.
std::size_t default_master_of(int slot) {
  std::size_t m = 2;
  while (slot < static_cast<int>(m * redis::k_cluster_slots / 3)) --m;
  return m;
}

// Merchant ids whose hash tags land on three different masters of that layout.
std::vector<std::int64_t> merchants_on_every_master() {
  std::vector<std::int64_t> out(3, 0);
  for (std::int64_t m = 1001; std::count(out.begin(), out.end(), 0) > 0; ++m) {
    const auto master = default_master_of(key_slot("m" + std::to_string(m)));
    if (out[master] == 0) out[master] = m;
  }
  return out;
}

// A key whose hash tag lands it on master `node` of the default layout.
std::string key_on_master(std::size_t node, const std::string& name) {
  for (int i = 0;; ++i) {
    const std::string tag = "t" + std::to_string(i);
    if (default_master_of(key_slot(tag)) == node)
      return "{" + tag + "}" + name;
  }
}

/// One cluster per suite (flushed per test), one cluster connection per test.
class RedisCluster : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cluster_ = std::make_unique<test::redis_cluster>(); }
  static void TearDownTestSuite() { cluster_.reset(); }

  void SetUp() override {
    cluster_->flushall();
    conn_ = connect(5000ms);
    ASSERT_TRUE(conn_->connected());
  }

  void TearDown() override {
    if (conn_) conn_->stop();
    io_.poll();
    conn_.reset();
  }

  std::unique_ptr<redis::connection> connect(std::chrono::milliseconds command_timeout) {
    redis::connection_options options;
    options.cluster_nodes = cluster_->seeds();
    options.command_timeout = command_timeout;
    auto conn = std::make_unique<redis::connection>(io_, options);
    conn->start();
    test::run_until(io_, [&] { return conn->connected(); }, 10s);
    return conn;
  }

  boost::system::result<reply> send(std::vector<std::string> words) {
    auto r = test::run(io_, conn_->command(std::move(words)));
    return r ? std::move(*r) : boost::system::result<reply>(make_error_code(errc::internal));
  }

  // The value of `key` as the node serving it holds it (asked directly, not through the router).
  std::string on_owner(const std::string& key) {
    return cluster_->node(cluster_->owner_of(key_slot(key))).command({"GET", key});
  }

  // Keys each master holds.
  std::vector<std::int64_t> dbsizes() {
    std::vector<std::int64_t> out;
    for (std::size_t i = 0; i < cluster_->size(); ++i)
      out.push_back(std::stoll(cluster_->node(i).command({"DBSIZE"})));
    return out;
  }

  static std::unique_ptr<test::redis_cluster> cluster_;
  boost::asio::io_context io_;
  std::unique_ptr<redis::connection> conn_;
};

std::unique_ptr<test::redis_cluster> RedisCluster::cluster_;

TEST_F(RedisCluster, CommandsGoToTheMasterOfTheirSlot) {
  for (std::size_t node = 0; node < 3; ++node) {
    const std::string key = key_on_master(node, "k");
    auto set = send(args("SET", key, "v" + std::to_string(node)));
    ASSERT_TRUE(set) << set.error().message();
    EXPECT_EQ(set->str, "OK");
    EXPECT_EQ(cluster_->node(node).command({"GET", key}), "v" + std::to_string(node));
    auto get = send(args("GET", key));
    ASSERT_TRUE(get);
    EXPECT_EQ(get->str, "v" + std::to_string(node));
  }
  EXPECT_EQ(dbsizes(), (std::vector<std::int64_t>{1, 1, 1}));
  // Keyless commands go to some master.
  auto ping = send(args("PING"));
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->str, "PONG");
  auto time = send(args("TIME"));
  ASSERT_TRUE(time);
  EXPECT_EQ(time->elements.size(), 2u);
}

TEST_F(RedisCluster, ScriptsAreLoadedOnTheNodeThatRunsThem) {
  const redis::script s("redis.call('SET', KEYS[1], ARGV[1]) return redis.call('GET', KEYS[1])");
  for (std::size_t node = 0; node < 3; ++node) {
    // NOSCRIPT from each master in turn: SCRIPT LOAD reaches it (every master), then EVALSHA.
    for (std::size_t i = 0; i < cluster_->size(); ++i)
      cluster_->node(i).command({"SCRIPT", "FLUSH"});
    const std::string key = key_on_master(node, "s");
    auto r = test::run(io_, s.run(*conn_, args(key), args("x" + std::to_string(node))));
    ASSERT_TRUE(r && *r) << (r && !*r ? r->error().message() : "no answer");
    EXPECT_EQ((*r)->str, "x" + std::to_string(node)) << (*r)->str;
    EXPECT_EQ(cluster_->node(node).command({"GET", key}), "x" + std::to_string(node));
  }
}

TEST_F(RedisCluster, AScriptWhoseKeysSpanSlotsIsRefusedWithoutBeingSent) {
  const redis::script s("return redis.call('GET', KEYS[1])");
  for (std::size_t i = 0; i < cluster_->size(); ++i)
    cluster_->node(i).command({"CONFIG", "RESETSTAT"});
  auto r = test::run(io_, s.run(*conn_, args(key_on_master(0, "a"), key_on_master(1, "b")), {}));
  ASSERT_TRUE(r);
  ASSERT_FALSE(*r);
  EXPECT_EQ(r->error(), errc::internal);
  // Nothing reached any node: no EVALSHA, no SCRIPT LOAD counted anywhere.
  for (std::size_t i = 0; i < 3; ++i) {
    const auto stats = cluster_->node(i).command({"INFO", "commandstats"});
    EXPECT_EQ(stats.find("cmdstat_evalsha"), std::string::npos) << stats;
    EXPECT_EQ(stats.find("cmdstat_script"), std::string::npos) << stats;
  }
  // The lease and epoch keys of an instance are two slots: a script over both is refused too.
  auto lease_and_epoch = send(args("EVAL", "return 1", "2", "cl:lease:1", "cl:epoch:1"));
  ASSERT_FALSE(lease_and_epoch);
  EXPECT_EQ(lease_and_epoch.error(), errc::internal);
  // And a transaction has no meaning across a cluster's connections.
  auto multi = send(args("MULTI"));
  ASSERT_FALSE(multi);
  EXPECT_EQ(multi.error(), errc::internal);
}

TEST_F(RedisCluster, AReshardedSlotIsFollowedWithoutTheCallerSeeingIt) {
  const std::string key = key_on_master(0, "moving");
  const int slot = key_slot(key);
  ASSERT_TRUE(send(args("SET", key, "before")));
  cluster_->move_slot(slot, 0, 2);
  ASSERT_EQ(cluster_->owner_of(slot, 2), 2u);
  // The router still thinks node 0: MOVED, re-sent to node 2 at once.
  auto get = send(args("GET", key));
  ASSERT_TRUE(get) << get.error().message();
  EXPECT_EQ(get->str, "before");
  auto set = send(args("SET", key, "after"));
  ASSERT_TRUE(set) << set.error().message();
  EXPECT_EQ(set->str, "OK");
  EXPECT_EQ(cluster_->node(2).command({"GET", key}), "after");
  cluster_->move_slot(slot, 2, 0);  // back, for the other tests
  cluster_->wait_ok();
  auto back = send(args("GET", key));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->str, "after");
}

TEST_F(RedisCluster, ASlotBeingMigratedIsFollowedWithAsk) {
  const std::string staying = key_on_master(1, "staying");
  const int slot = key_slot(staying);
  const std::string moved = staying + ":moved";  // same tag, same slot
  const std::string fresh = staying + ":fresh";
  ASSERT_TRUE(send(args("SET", staying, "s")));
  ASSERT_TRUE(send(args("SET", moved, "m")));
  cluster_->begin_migration(slot, 1, 0);
  // Move one key by hand: the source answers ASK for it now.
  cluster_->migrate_key(moved, 1, 0);
  auto still_here = send(args("GET", staying));
  ASSERT_TRUE(still_here) << still_here.error().message();
  EXPECT_EQ(still_here->str, "s");
  auto gone_there = send(args("GET", moved));
  ASSERT_TRUE(gone_there) << gone_there.error().message();
  EXPECT_EQ(gone_there->str, "m");
  // A new key of the slot is created on the target.
  auto created = send(args("SET", fresh, "f"));
  ASSERT_TRUE(created) << created.error().message();
  EXPECT_EQ(created->str, "OK");
  EXPECT_EQ(cluster_->node(0).command({"CLUSTER", "COUNTKEYSINSLOT", std::to_string(slot)}), "2");
  // The migration ends: the router's map still says node 1, which now answers MOVED.
  cluster_->migrate_keys(slot, 1, 0);
  cluster_->finish_migration(slot, 0);
  auto after = send(args("GET", fresh));
  ASSERT_TRUE(after) << after.error().message();
  EXPECT_EQ(after->str, "f");
  cluster_->move_slot(slot, 0, 1);
  cluster_->wait_ok();
}

TEST_F(RedisCluster, ARedirectionLoopEndsAfterFiveRedirections) {
  const std::string key = key_on_master(1, "loop");
  const std::string s = std::to_string(key_slot(key));
  // Node 1 gives the slot to node 0, node 0 still says node 1: MOVED back and forth.
  ASSERT_EQ(cluster_->node(1).command({"CLUSTER", "SETSLOT", s, "NODE", cluster_->node_id(0)}),
            "OK");
  const auto moved_before = [&] {
    std::int64_t n = 0;
    for (std::size_t i = 0; i < 2; ++i) {
      const auto stats = cluster_->node(i).command({"INFO", "errorstats"});
      const auto at = stats.find("errorstat_MOVED:count=");
      if (at != std::string::npos) n += std::stoll(stats.substr(at + 22));
    }
    return n;
  };
  const auto before = moved_before();
  auto r = send(args("GET", key));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::storage_unavailable);
  // The first answer and five redirections, each answered MOVED.
  EXPECT_EQ(moved_before() - before, 1 + redis::cluster_router::k_max_redirects);
  ASSERT_EQ(cluster_->node(1).command({"CLUSTER", "SETSLOT", s, "NODE", cluster_->node_id(1)}),
            "OK");
  cluster_->wait_ok();
  auto healed = send(args("GET", key));
  ASSERT_TRUE(healed) << healed.error().message();
  EXPECT_TRUE(healed->is_nil());
}

TEST_F(RedisCluster, ClusterDownIsRetriedWithinTheWindowThenAnsweredAsRedisGaveIt) {
  auto conn = connect(300ms);
  ASSERT_TRUE(conn->connected());
  const std::string key = key_on_master(2, "down");
  const int slot = key_slot(key);
  const std::string s = std::to_string(slot);
  cluster_->node(2).command({"CLUSTER", "DELSLOTS", s});
  const auto start = std::chrono::steady_clock::now();
  auto r = test::run(io_, conn->command(args("GET", key)));
  const auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(r);
  // Node 2's CLUSTERDOWN as Redis gave it (callers map it to storage_unavailable), or, had a map
  // read in between left the slot without a master, storage_unavailable itself.
  if (*r) {
    EXPECT_TRUE((*r)->is_error());
    EXPECT_TRUE((*r)->str.starts_with("CLUSTERDOWN")) << (*r)->str;
    EXPECT_TRUE(redis::is_transient_refusal((*r)->str));
  } else {
    EXPECT_EQ(r->error(), errc::storage_unavailable);
  }
  EXPECT_GE(waited, 100ms);  // retried, not answered at once
  EXPECT_LT(waited, 2s);     // and not past its window by much

  // Served again while a command waits: it gets through.
  std::thread heal([&] {
    std::this_thread::sleep_for(100ms);
    cluster_->node(2).command({"CLUSTER", "ADDSLOTS", s});
  });
  auto healed = test::run(io_, conn->command(args("SET", key, "up")));
  heal.join();
  ASSERT_TRUE(healed && *healed);
  EXPECT_EQ((*healed)->str, "OK");
  conn->stop();
  io_.poll();
  cluster_->wait_ok();
}

TEST_F(RedisCluster, TryAgainDuringAMigrationIsRetriedUntilItEnds) {
  const std::string a = key_on_master(0, "a");
  const std::string b = a + ":b";
  const int slot = key_slot(a);
  ASSERT_TRUE(send(args("SET", a, "1")));
  ASSERT_TRUE(send(args("SET", b, "2")));
  cluster_->begin_migration(slot, 0, 1);
  cluster_->migrate_key(b, 0, 1);
  // One key here, one there: TRYAGAIN until the migration ends, then MOVED to node 1.
  std::thread finish([&] {
    std::this_thread::sleep_for(150ms);
    cluster_->migrate_keys(slot, 0, 1);
    cluster_->finish_migration(slot, 1);
  });
  auto both = send(args("MGET", a, b));
  finish.join();
  ASSERT_TRUE(both) << both.error().message();
  ASSERT_EQ(both->elements.size(), 2u) << both->str;
  EXPECT_EQ(both->elements[0].str, "1");
  EXPECT_EQ(both->elements[1].str, "2");
  cluster_->move_slot(slot, 1, 0);
  cluster_->wait_ok();
}

// The engine's scripts on a cluster: layout, lease, epoch, fences, then the money scripts of
// merchants on three masters, and the audit's reads; the books add up on each.
TEST_F(RedisCluster, TheEnginesScriptsRunOnACluster) {
  auto layout = test::run(io_, claim_layout(*conn_, k_prefix));
  ASSERT_TRUE(layout);
  EXPECT_FALSE(layout->error) << layout->error.message();
  const lease_spec spec{k_prefix, 7, 10s};
  const lease_holder self = lease_holder::this_process();
  auto lease = test::run(io_, acquire_lease(*conn_, spec, self, [] { return false; }));
  ASSERT_TRUE(lease && *lease) << (lease && !*lease ? lease->error().message() : "");
  ASSERT_TRUE((*lease)->acquired);
  const fence_token fence("7", (*lease)->epoch);
  const auto merchants = merchants_on_every_master();
  auto fenced = test::run(io_, write_fences(*conn_, k_prefix, fence, merchants));
  ASSERT_TRUE(fenced && *fenced);

  order_store store(*conn_, k_prefix, fence);
  std::uint32_t seq = 0;
  for (const auto m : merchants) {
    SCOPED_TRACE("merchant " + std::to_string(m));
    auto funded = test::run(io_, store.credit(m, "fund", 100000, k_t0_ms));
    ASSERT_TRUE(funded && *funded) << (funded && !*funded ? funded->error().message() : "");
    std::vector<order_record> orders;
    for (int i = 0; i < 2; ++i) {
      ++seq;
      const order_record r = test::sample_order(m, seq, k_t0_ms + seq);
      auto accepted = test::run(io_, store.accept(r, k_t0_ms + seq));
      ASSERT_TRUE(accepted && *accepted)
          << (accepted && !*accepted ? accepted->error().message() : "");
      auto stored = test::run(io_, store.get(m, r.order_number));
      ASSERT_TRUE(stored && *stored);
      orders.push_back(**stored);
    }
    // One succeeds (6 -> 7 -> 1 -> 2), one fails and is refunded (6 -> 3 -> 4).
    order_record& ok = orders[0];
    for (auto to : {order_status::matched, order_status::recharging, order_status::success}) {
      auto stepped = test::run(io_, store.advance(ok, to, "test", {}, k_t0_ms + 100));
      ASSERT_TRUE(stepped && *stepped) << (stepped && !*stepped ? stepped->error().message() : "");
    }
    auto refunded = test::run(io_, store.fail_refund(orders[1], "test", k_t0_ms + 100));
    ASSERT_TRUE(refunded && *refunded)
        << (refunded && !*refunded ? refunded->error().message() : "");
    auto account = test::run(io_, store.account(m));
    ASSERT_TRUE(account && *account);
    EXPECT_EQ((*account)->balance, 100000 - 9950);

    // The statement chain's scripts: begun today, and today cannot be claimed before it ends.
    statement_chain_store chains(*conn_, k_prefix, fence);
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    const auto today = business_day::day_of(now_ms - 60'000, 0);
    auto begun = test::run(io_, chains.begin(m, today, 0));
    ASSERT_TRUE(begun && *begun) << (begun && !*begun ? begun->error().message() : "");
    EXPECT_EQ(**begun, chain_claim::ok);
    auto chain = test::run(io_, chains.read(m));
    ASSERT_TRUE(chain && *chain);
    auto claimed = test::run(io_, chains.claim(m, **chain, today, today.end_ms(0)));
    ASSERT_TRUE(claimed && *claimed) << (claimed && !*claimed ? claimed->error().message() : "");
    EXPECT_EQ(**claimed, chain_claim::early);

    // The trim script (compare-and-set on the log's head): a chunk that is not the head is
    // `moved`, nothing trimmed; it ran on the merchant's master with its three keys.
    log_checkpoint next;
    next.id = "2-0";
    auto trim = ledger_scripts::trim_call(merchant_keys(k_prefix, m), fence, "0-0", "1-0", "1-0",
                                          next);
    auto trimmed = test::run(
        io_, ledger_scripts::trim().run(*conn_, std::move(trim.keys), std::move(trim.args)));
    ASSERT_TRUE(trimmed && *trimmed) << (trimmed && !*trimmed ? trimmed->error().message() : "");
    ASSERT_EQ((*trimmed)->elements.size(), 1u) << (*trimmed)->str;
    EXPECT_EQ((*trimmed)->elements[0].str, "moved");
  }
  auto report = test::run(io_, audit_merchants(*conn_, k_prefix, merchants));
  ASSERT_TRUE(report && *report) << (report && !*report ? report->error().message() : "");
  EXPECT_EQ((*report)->merchants, 3);
  EXPECT_EQ((*report)->orders, 6);
  EXPECT_TRUE((*report)->findings.empty()) << (*report)->findings.front().problem;
  // Each merchant's keys live on its own master.
  for (std::size_t i = 0; i < 3; ++i)
    EXPECT_EQ(cluster_->owner_of(key_slot("m" + std::to_string(merchants[i]))), i);
  auto released = test::run(io_, release_lease(*conn_, spec.lease_key(), self.token()));
  ASSERT_TRUE(released && *released);
  EXPECT_TRUE(**released);
}

}  // namespace
}  // namespace topup::engine

namespace topup::engine {
namespace {

// With a replica per master: a master killed is replaced by its replica (node timeout 2 s), and
// the connection finds the new master on its own.
TEST(RedisClusterFailover, AKilledMastersReplicaTakesOverAndCommandsFollowIt) {
  test::redis_cluster cluster({.masters = 3, .replicas_per_master = 1});
  boost::asio::io_context io;
  redis::connection_options options;
  options.cluster_nodes = cluster.seeds();
  options.command_timeout = 10s;  // the window of a command: longer than the failover
  redis::connection conn(io, options);
  conn.start();
  ASSERT_TRUE(test::run_until(io, [&] { return conn.connected(); }, 10s));
  const std::string key = key_on_master(0, "failover");
  auto set = test::run(io, conn.command(args("SET", key, "v")));
  ASSERT_TRUE(set && *set);
  // Replicated before the kill: node 3 is master 0's replica.
  for (int i = 0; i < 200 && cluster.node(3).command({"DBSIZE"}) != "1"; ++i)
    std::this_thread::sleep_for(10ms);
  ASSERT_EQ(cluster.node(3).command({"DBSIZE"}), "1");

  cluster.node(0).stop(/*kill=*/true);
  // Once the drop is seen, a command finds no connection to its master (nothing sent: sent
  // again) until the replica has taken over and the map says so.
  ASSERT_TRUE(test::run_until(io, [&] { return !conn.connected(); }, 5s));
  auto get = test::run(io, conn.command(args("GET", key)), 15s);
  ASSERT_TRUE(get);
  ASSERT_TRUE(*get) << get->error().message();
  EXPECT_EQ((*get)->str, "v");
  EXPECT_TRUE(test::run_until(io, [&] { return conn.connected(); }, 5s))
      << "the new map has every master up";
  conn.stop();
  io.poll();
}

}  // namespace
}  // namespace topup::engine
