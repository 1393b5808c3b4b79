// The fault suite, crashes and outages: a real topupd, a real redis-server and two supplier
// simulators (tests/supplier_sim) behind `wikeyun` channels, under steady load, with topupd or
// redis-server killed on a seeded (replayable) schedule. After each scenario the checks of
// fault_harness.hpp: every acknowledged order present and final, the balance equal to credits
// minus the cost of delivered orders, every final order called back, the suppliers' books
// agreeing with topupd's (no top-up delivered twice), and `topupd audit` clean.
#include <gtest/gtest.h>

#include <random>

#include "tests/fault/fault_harness.hpp"

namespace topup::test::fault {
namespace {

using namespace std::chrono_literals;

/// The cheap supplier fails and goes silent often (its answers come late or never); the other
/// mostly delivers.
const std::vector<std::string> k_flaky_and_steady = {
    "succeed:6,fail:2,timeout_placed:1,no_callback:1",
    "succeed:9,fail:1",
};

std::chrono::milliseconds between(std::mt19937& schedule, int low_ms, int high_ms) {
  return std::chrono::milliseconds(std::uniform_int_distribution<int>(low_ms, high_ms)(schedule));
}

TEST(Fault, RepeatedSigkillUnderLoadKeepsEveryPromise) {
  const auto seed = scenario_seed(20261122);
  std::mt19937 schedule(static_cast<std::mt19937::result_type>(seed));  // the kill moments
  fault_world world(seed, k_flaky_and_steady);
  order_load pushers(
      world.port, [&](int, int) { return world.merchant.url("ok"); }, 2);
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(between(schedule, 400, 1200));
    world.server.kill();
    // Restart with another shard count every other round: ownership moves with it.
    world.server.start(world.config(round % 2 ? 2 : 3));
  }
  std::this_thread::sleep_for(500ms);
  callback_rules rules;
  rules.repeats_after_ack = true;  // a kill between a delivery and its record repeats it
  world.expect_every_promise_kept(pushers, rules, 20);
}

TEST(Fault, RedisKilledAndRestartedUnderLoad) {
  const auto seed = scenario_seed(11);
  std::mt19937 schedule(static_cast<std::mt19937::result_type>(seed));  // the outages
  fault_world world(seed, k_flaky_and_steady, redis_server_options{"always", "", {}});
  order_load pushers(
      world.port, [&](int, int) { return world.merchant.url("ok"); }, 2);
  for (int round = 0; round < 2; ++round) {
    std::this_thread::sleep_for(between(schedule, 400, 1000));
    world.redis.stop(/*kill=*/true);
    std::this_thread::sleep_for(between(schedule, 300, 1000));
    world.redis.start();
  }
  std::this_thread::sleep_for(1s);
  callback_rules rules;
  rules.repeats_after_ack = true;  // an outage between a delivery and its record repeats it
  world.expect_every_promise_kept(pushers, rules, 20);
}

}  // namespace
}  // namespace topup::test::fault
