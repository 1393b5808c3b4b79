// The fault suite, misbehaving merchant endpoints: under steady load, orders go to supplier
// simulators (some fail: callbacks of 2 and of 4) and call back to a merchant whose endpoints
// hang, reset the connection, answer garbage, refuse, or acknowledge — mixed per order (each
// order's notify_url picks an endpoint by the seed) and switched over time by a seeded
// schedule — then recover.
//
// What must happen (spec §5): an order whose endpoint recovers is eventually called back and
// acknowledged, and not called again after that; for the "dead" endpoint, which never
// acknowledges, topupd records exactly callbacks.max_attempts attempts per order and marks the
// callback failed (the endpoint sees at most that many: an attempt that waited in vain for one
// of the bounded connections to the merchant's host, held by hanging deliveries, counts too). The
// callback schedule below spans ~9 s of back-off, longer than the bad phase, so a recovering
// endpoint always sees a delivery after it recovered. The books are checked as in every fault
// scenario.
#include <gtest/gtest.h>

#include <random>

#include "tests/fault/fault_harness.hpp"

namespace topup::test::fault {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t k_max_attempts = 7;
constexpr int k_callback_timeout_ms = 800;
/// Endpoints that misbehave, then recover; "ok" always acknowledges, "dead" never does.
const std::vector<std::string> k_flapping = {"flap0", "flap1", "flap2"};

/// One answer a misbehaving endpoint gives a delivery; `with_success` adds acknowledging.
callback_reply draw_reply(std::mt19937_64& schedule, bool with_success) {
  switch (schedule() % (with_success ? 6 : 5)) {
    case 0:  // longer than topupd's callback timeout
      return callback_reply::hang(std::chrono::milliseconds(2 * k_callback_timeout_ms));
    case 1:
      return callback_reply::reset();
    case 2:
      return callback_reply::garbage();
    case 3:
      return callback_reply::refuse("fail");
    case 4:
      return callback_reply::refuse("success", 502);
    default:
      return callback_reply::success();
  }
}

TEST(Fault, MisbehavingMerchantEndpointsRecoverAndBooksStayExact) {
  const auto seed = scenario_seed(4242);
  std::mt19937_64 schedule(seed);
  fault_world world(seed, {"succeed:7,fail:2,timeout_placed:1", "succeed:9,fail:1"}, {},
                    [](topupd_config& cfg) {
                      cfg.json["callbacks"] = boost::json::object{
                          {"max_attempts", k_max_attempts},
                          {"backoff_ms", boost::json::array{0, 300, 600, 1000, 1500, 2500, 3000}},
                          {"timeout_ms", k_callback_timeout_ms},
                          {"allow_private_targets", true}};
                    });
  auto& merchant = world.merchant;
  // The dead endpoint answers each delivery with a seeded draw of failures, for ever.
  std::vector<callback_reply> dead_replies;
  for (int i = 0; i < 5000; ++i) dead_replies.push_back(draw_reply(schedule, false));
  merchant.script("dead", std::move(dead_replies), callback_reply::refuse("fail"));
  for (const auto& tag : k_flapping) merchant.always(tag, draw_reply(schedule, false));

  // Each order's endpoint follows from the seed and the order alone: 15% "ok", 15% "dead", the
  // rest one of the flapping ones.
  const auto endpoint = [&](int thread, int index) {
    const auto draw = mix64(seed ^ (std::uint64_t(thread) << 32 | std::uint32_t(index)));
    const auto pick = draw % 100;
    const std::string tag = pick < 15   ? "ok"
                            : pick < 30 ? "dead"
                                        : k_flapping[(draw >> 8) % k_flapping.size()];
    return merchant.url(tag);
  };
  order_load pushers(world.port, endpoint, 2, 20ms);
  // The bad phase: 5 s in which every 0.2-0.5 s a flapping endpoint changes its answer (an
  // acknowledgement now and then); the load goes on for one more second after it.
  const auto started = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() < started + 5s) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200 + schedule() % 300));
    merchant.always(k_flapping[schedule() % k_flapping.size()], draw_reply(schedule, true));
  }
  for (const auto& tag : k_flapping) merchant.always(tag, callback_reply::success());
  std::this_thread::sleep_for(1s);

  callback_rules rules;
  rules.end_of = [](const std::string& tag) {
    return tag == "dead" ? callback_end::given_up : callback_end::acknowledged;
  };
  rules.max_attempts = k_max_attempts;
  rules.within = 40s;
  world.expect_every_promise_kept(pushers, rules, 100);
}

}  // namespace
}  // namespace topup::test::fault
