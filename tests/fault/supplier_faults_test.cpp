// The fault suite, misbehaving suppliers: three `wikeyun` channels, each a supplier simulator
// (tests/supplier_sim) that draws every order's behaviour from a seeded mix — answers that time
// out (the order placed, or lost), HTTP 500 (placed or not), truncated or invalid JSON, slow
// answers, callbacks sent twice, callbacks with a forged signature (also one that claims a
// success the supplier never made) — while a seeded schedule throws storms of one kind of
// fault at one supplier at a time. Under steady load the orders must still end in 2 or 4 with
// exact books: what topupd says was delivered is what the suppliers delivered, exactly once;
// an unknown answer is never failed over before the supplier said the attempt failed or, for
// an attempt it never placed, before the unknown grace allowed its 3001 to count.
#include <gtest/gtest.h>

#include <random>

#include "tests/fault/fault_harness.hpp"

namespace topup::test::fault {
namespace {

using namespace std::chrono_literals;

/// Each supplier's usual behaviour, cheapest (tried first) first: the first has every fault, the
/// second fewer, the third is the dependable fallback. Failures (fail, refuse, and whatever
/// turns out never placed or failed) stay near a fifth, so that the circuit breaker (5 in a row,
/// or under half of the last 20) leaves a channel in routing most of the time.
const std::vector<std::string> k_usual = {
    "succeed:6,slow:3,timeout_placed:3,malformed:3,http500_placed:3,duplicate_callback:3,"
    "forged_callback:3,no_callback:2,fail:1,refuse:1,http500:1,timeout_lost:1,bad_json:1,"
    "forged_success:1",
    "succeed:8,slow:2,duplicate_callback:2,timeout_placed:2,fail:1,http500:1,timeout_lost:1,"
    "bad_json:1,forged_success:1",
    "succeed:8,slow:2,duplicate_callback:1,fail:1",
};

/// Storms: for a while one supplier answers with one kind of fault only.
const std::vector<std::string> k_storms = {
    "timeout_placed:3,timeout_lost:1,slow:2",
    "http500_placed:3,http500:1",
    "malformed:3,bad_json:1",
    "duplicate_callback:2,forged_callback:2,forged_success:1",
};

TEST(Fault, MisbehavingSuppliersUnderLoadKeepExactBooks) {
  const auto seed = scenario_seed(7001);
  std::mt19937_64 schedule(seed);
  fault_world world(seed, k_usual);
  auto& sims = world.sims;
  order_load pushers(
      world.port, [&](int, int) { return world.merchant.url("ok"); }, 2, 15ms);
  // Eight seconds of load; every 0.4-1.2 s one supplier starts a storm or returns to normal.
  const auto load_ends = std::chrono::steady_clock::now() + 8s;
  while (std::chrono::steady_clock::now() < load_ends) {
    std::this_thread::sleep_for(std::chrono::milliseconds(400 + schedule() % 800));
    const std::size_t who = schedule() % sims.size();
    const std::size_t what = schedule() % (k_storms.size() + 1);
    const std::uint64_t draws = schedule() | 1;
    sims[who]->set_mix(what < k_storms.size() ? k_storms[what] : k_usual[who], draws);
  }
  for (std::size_t i = 0; i < sims.size(); ++i) sims[i]->set_mix(k_usual[i]);
  world.expect_every_promise_kept(pushers, {}, 100);
}

}  // namespace
}  // namespace topup::test::fault
