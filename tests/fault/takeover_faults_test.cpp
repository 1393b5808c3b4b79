// Scale-out: a dead instance's orders taken over by a live one (DESIGN.md "Scaling past one
// machine", issue 17), with real processes on one redis-server. Instance 0 takes the load and is
// killed (-9) with orders in flight; instance 2, idle until then, notices its lease lapse, claims
// its orders, fences it out and drives them to the end: every acknowledged order final, nothing
// delivered twice over the suppliers' books, every callback delivered, the books exact. Then
// instance 0 restarts: it runs again, leaves the orders taken over to instance 2, and takes new
// work.
#include <gtest/gtest.h>

#include <signal.h>

#include <fstream>
#include <sstream>

#include "tests/fault/fault_harness.hpp"
#include "tests/support/admin_order_view.hpp"
#include "tests/support/merchant_client.hpp"

namespace topup::test::fault {
namespace {

using namespace std::chrono_literals;

const std::vector<std::string> k_slow_suppliers = {
    "succeed:6,fail:2,timeout_placed:1,no_callback:1",
    "succeed:9,fail:1",
};

std::string file_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// The fault world's topupd as instance 0 with 2-s leases, and instance 2 beside it, idle.
struct two_instances {
  explicit two_instances(std::uint64_t seed)
      : world(seed, k_slow_suppliers, {}, [](topupd_config& cfg) {
          cfg.json["server"].as_object()["lease_ms"] = 2000;
        }) {
    other_port = start_on_free_port(other, [&](int port) {
      return as_instance(world.config(2), 2, port);
    });
  }
  fault_world world;
  topupd_process other;
  int other_port = 0;
};

TEST(Takeover, AKilledInstancesOrdersAreFinishedByAnother) {
  const auto seed = scenario_seed(20261203);
  two_instances pair(seed);
  auto& world = pair.world;
  auto& other = pair.other;
  const int other_port = pair.other_port;

  order_load pushers(world.port, [&](int, int) { return world.merchant.url("ok"); }, 2, 10ms);
  std::this_thread::sleep_for(1500ms);
  world.server.kill();  // instance 0, with orders in flight and callbacks due
  pushers.stop();
  const auto acked = pushers.acknowledged();
  ASSERT_GE(acked.size(), 10u) << pushers.last_refusal();

  // Everything is finished through instance 2 (queries read from any instance).
  const auto status = expect_books_balanced(other_port, acked);
  callback_rules rules;
  rules.repeats_after_ack = true;  // a kill between a delivery and its record repeats it
  expect_called_back(other_port, world.merchant, status, rules);
  expect_supplier_books(world.sims, status);
  expect_audit_clean(other);
  const std::string log = file_text(other.log_path());
  EXPECT_NE(log.find("took over instance=0's orders"), std::string::npos) << other.log_tail();
  EXPECT_TRUE(other.running()) << other.log_tail();

  // Instance 2 lets the claim go once none of instance 0's orders needs work.
  std::string claim = "1";
  for (int i = 0; i < 150 && claim != "0"; ++i) {
    std::this_thread::sleep_for(100ms);
    claim = world.redis.command({"EXISTS", "t:foster:0"});
  }
  EXPECT_EQ(claim, "0") << "the claim on instance 0 was never released\n" << other.log_tail();

  // Instance 0 comes back: it starts (its lease is free), drives new orders, and leaves the
  // ones taken over alone (instance 2 holds them until none needs work, then lets them go).
  world.server.start(as_instance(world.config(2), 0, world.port));
  merchant_client m(world.port, "k1", "s3cret");
  const auto fresh = m.push("after-restart", "13800138000", k_money);
  ASSERT_EQ(fresh.code, "0000") << fresh.raw;
  std::string final_status;
  for (int i = 0; i < 100 && final_status != "2" && final_status != "4"; ++i) {
    std::this_thread::sleep_for(100ms);
    final_status = json_text(m.query(json_text(fresh.data, "order_number")).data, "status");
  }
  EXPECT_TRUE(final_status == "2" || final_status == "4") << final_status;
  expect_audit_clean(world.server);
  EXPECT_TRUE(world.server.running()) << world.server.log_tail();
  EXPECT_TRUE(other.running()) << other.log_tail();
}

// A paused instance (SIGSTOP: a long GC pause, a frozen VM) is not dead to itself: when it
// wakes after another instance took its orders over, its coroutines resume mid-step. The fences
// refuse every write it tries, it stops, and nothing it did is half-applied.
TEST(Takeover, APausedInstanceWakesFencedOut) {
  const auto seed = scenario_seed(20261204);
  two_instances pair(seed);
  auto& world = pair.world;
  auto& other = pair.other;
  const int other_port = pair.other_port;
  order_load pushers(world.port, [&](int, int) { return world.merchant.url("ok"); }, 2, 10ms);
  std::this_thread::sleep_for(1000ms);
  ASSERT_EQ(::kill(world.server.pid(), SIGSTOP), 0);
  pushers.stop();  // its pushes hang until a client timeout; the acknowledged ones count
  const auto acked = pushers.acknowledged();
  ASSERT_GE(acked.size(), 5u) << pushers.last_refusal();
  // Instance 2 claims it once its lease lapses (2 s) and a round or two has passed.
  std::string claim = "0";
  for (int i = 0; i < 100 && claim != "1"; ++i) {
    std::this_thread::sleep_for(100ms);
    claim = world.redis.command({"EXISTS", "t:foster:0"});
  }
  ASSERT_EQ(claim, "1") << other.log_tail();
  ASSERT_EQ(::kill(world.server.pid(), SIGCONT), 0);
  // Awake: its lease is gone and its epoch fenced; it stops on its own, with exit 1.
  const auto exit = world.server.wait_exit(15s);
  ASSERT_TRUE(exit.has_value()) << "the paused instance still runs after waking:\n"
                                << world.server.log_tail();
  EXPECT_EQ(*exit, 1) << world.server.log_tail();

  const auto status = expect_books_balanced(other_port, acked);
  callback_rules rules;
  rules.repeats_after_ack = true;
  expect_called_back(other_port, world.merchant, status, rules);
  expect_supplier_books(world.sims, status);
  expect_audit_clean(other);
}

// A supplier's callback that reaches an instance not driving its order (the supplier was given
// another instance's address; a load balancer in front of the notify URL) is relayed to the
// instance that drives it: orders end at the callback, not at the next query 30 s later.
TEST(Takeover, ASupplierCallbackOnAnotherInstanceReachesTheDriver) {
  const auto seed = scenario_seed(20261205);
  fault_world world(seed, {"succeed:1"}, {}, [](topupd_config& cfg) {
    for (auto& ch : cfg.json["channels"].as_array()) ch.as_object()["query_interval_ms"] = 30000;
  });
  topupd_process other;
  const int other_port = start_on_free_port(other, [&](int port) {
    return as_instance(world.config(2), 2, port);
  });
  // Instance 0 again, telling suppliers to call back at instance 2's address.
  ASSERT_EQ(world.server.stop_gracefully(), 0);
  auto cfg = as_instance(world.config(2), 0, world.port);
  cfg.json["server"].as_object()["public_url"] = "http://127.0.0.1:" + std::to_string(other_port);
  world.server.start(cfg);

  merchant_client m(world.port, "k1", "s3cret");
  std::vector<std::string> numbers;
  for (int i = 0; i < 5; ++i) {
    const auto a = m.push("relay-" + std::to_string(i), "13800138000", k_money);
    ASSERT_EQ(a.code, "0000") << a.raw;
    numbers.push_back(json_text(a.data, "order_number"));
  }
  const auto t0 = std::chrono::steady_clock::now();
  for (const auto& number : numbers) {
    std::string st;
    while (st != "2" && std::chrono::steady_clock::now() - t0 < 15s) {
      st = json_text(m.query(number).data, "status");
      if (st != "2") std::this_thread::sleep_for(50ms);
    }
    EXPECT_EQ(st, "2") << number << " not delivered through the relay\n" << world.server.log_tail();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);  // well before the 30-s query
  expect_audit_clean(world.server);
}

}  // namespace
}  // namespace topup::test::fault
