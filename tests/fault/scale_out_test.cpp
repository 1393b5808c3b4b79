// Scale-out as deployed (issue 17): a Redis Cluster of 3 masters and 6 replicas, three topupd
// instances with `redis.min_replicas_acked: 1`, haproxy in front of them, orders pushed through
// haproxy. Under load one instance is killed (-9) and then one Redis master: the instance's
// orders are taken over by another, the master's replica is promoted, and afterwards every
// acknowledged order is final, nothing was delivered twice (the suppliers' books), every callback
// was delivered and the books are exact (`topupd audit` in cluster mode).
#include <gtest/gtest.h>

#include <fstream>
#include <functional>

#include "tests/fault/fault_harness.hpp"
#include "tests/support/process.hpp"
#include "engine/redis/cluster_slots.hpp"
#include "tests/support/redis_cluster.hpp"

namespace topup::test::fault {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

const std::vector<std::string> k_suppliers = {
    "succeed:6,fail:2,timeout_placed:1,no_callback:1",
    "succeed:9,fail:1",
};

/// The fault world's configuration on `cluster` (prefix t), `acked` replicas confirming each batch.
std::function<void(topupd_config&)> on_cluster(const redis_cluster& cluster, int acked) {
  return [&cluster, acked](topupd_config& cfg) {
    json::object redis{{"cluster", true}, {"prefix", "t"}, {"min_replicas_acked", acked},
                       {"replica_wait_ms", 1000}};
    json::array nodes;
    for (const auto& seed_node : cluster.seeds()) nodes.emplace_back(seed_node);
    redis["nodes"] = std::move(nodes);
    cfg.json["redis"] = std::move(redis);
    // Longer than a failover (node timeout 2 s, then the election): an instance whose lease
    // lives on a killed master must not lose it meanwhile.
    cfg.json["server"].as_object()["lease_ms"] = 8000;
  };
}

/// haproxy in the foreground (-db) on a free port, round robin over `ports`, /readyz checks.
child_process start_haproxy(const std::vector<int>& ports, int& port) {
  const std::string dir = make_temp_dir("haproxy");
  port = free_loopback_port();
  std::ofstream cfg(dir + "/haproxy.cfg");
  cfg << "global\n  maxconn 2000\ndefaults\n  mode http\n  timeout connect 2s\n"
         "  timeout client 30s\n  timeout server 30s\n  retries 2\n  option redispatch\n"
         "frontend topupd\n  bind 127.0.0.1:" << port << "\n  default_backend instances\n"
         "backend instances\n  balance roundrobin\n  option httpchk GET /readyz\n"
         "  http-check expect status 200\n";
  for (std::size_t i = 0; i < ports.size(); ++i)
    cfg << "  server t" << i << " 127.0.0.1:" << ports[i] << " check inter 300 fall 2 rise 2\n";
  cfg.close();
  child_process haproxy({"haproxy", "-db", "-f", dir + "/haproxy.cfg"}, dir + "/haproxy.log");
  if (!wait_for_port(port, 10s)) throw std::runtime_error("haproxy did not listen");
  return haproxy;
}

TEST(ScaleOut, ThreeInstancesOnAClusterBehindHaproxySurviveAnInstanceAndAMaster) {
  if (std::system("command -v haproxy >/dev/null") != 0)
    GTEST_SKIP() << "haproxy is missing: deploy/install-deps.sh installs it";
  const auto seed = scenario_seed(20261206);
  // Two replicas a master: once one is promoted, the other still confirms every batch.
  redis_cluster cluster({3, 2});
  fault_world world(seed, k_suppliers, {}, on_cluster(cluster, 1));  // its own redis unused
  topupd_process second, third;
  const int second_port =
      start_on_free_port(second, [&](int port) { return as_instance(world.config(2), 1, port); });
  const int third_port =
      start_on_free_port(third, [&](int port) { return as_instance(world.config(2), 2, port); });
  int lb_port = 0;
  auto haproxy = start_haproxy({world.port, second_port, third_port}, lb_port);

  order_load pushers(lb_port, [&](int, int) { return world.merchant.url("ok"); }, 2, 10ms);
  std::this_thread::sleep_for(2s);
  world.server.kill();  // instance 0: its orders are taken over
  std::this_thread::sleep_for(2s);
  cluster.node(0).stop(true);  // a master: a replica is promoted after the node timeout
  std::this_thread::sleep_for(8s);
  pushers.stop();
  const auto acked = pushers.acknowledged();
  ASSERT_GE(acked.size(), 20u) << pushers.last_refusal() << "\n" << second.log_tail();

  const auto status = expect_books_balanced(lb_port, acked);
  callback_rules rules;
  rules.repeats_after_ack = true;  // kills between a delivery and its record repeat it
  expect_called_back(lb_port, world.merchant, status, rules);
  expect_supplier_books(world.sims, status);
  expect_audit_clean(second);
  EXPECT_TRUE(second.running()) << second.log_tail();
  EXPECT_TRUE(third.running()) << third.log_tail();
}

// A resharding under load: merchant 1001's slot moved to another master (MIGRATING/IMPORTING,
// its keys MIGRATEd one by one, the slot handed over) while orders flow. The scripts that meet a
// half-moved slot get ASK or TRYAGAIN and are retried within the command deadline; nothing is
// lost and the merchant sees no error it would not see anyway.
TEST(ScaleOut, AMerchantsSlotMovedUnderLoadLosesNothing) {
  const auto seed = scenario_seed(20261207);
  redis_cluster cluster({3, 0});
  fault_world world(seed, k_suppliers, {}, on_cluster(cluster, 0));
  order_load pushers(world.port, [&](int, int) { return world.merchant.url("ok"); }, 2, 10ms);
  std::this_thread::sleep_for(1500ms);
  const int slot = engine::redis::key_slot("m1001");
  const std::size_t from = cluster.owner_of(slot), to = (from + 1) % 3;
  cluster.move_slot(slot, from, to);
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(cluster.owner_of(slot), to);
  EXPECT_EQ(cluster.node(to).command({"EXISTS", "t:{m1001}:acct"}), "1");
  callback_rules rules;
  world.expect_every_promise_kept(pushers, rules, 20);
}

}  // namespace
}  // namespace topup::test::fault
