// The order's state machine without Redis or wall time: the real dispatcher and order service on
// an in-memory order_log (tests/support/memory_log), scripted suppliers, and a clock the test
// moves (every engine::timer runs on it). Hours of supplier silence pass in milliseconds; each
// test checks what a merchant and a supplier would: the status, the money, and that no top-up was
// delivered twice.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <memory>
#include <optional>

#include "engine/dispatch/attempt_rules.hpp"
#include "engine/dispatch/order_dispatcher.hpp"
#include "engine/order/failure_reason.hpp"
#include "engine/routing/channel_catalogue.hpp"
#include "engine/routing/channel_router.hpp"
#include "engine/service/order_service.hpp"
#include "engine/support/errc.hpp"
#include "tests/support/manual_clock.hpp"
#include "tests/support/memory_log.hpp"
#include "tests/support/recording_links.hpp"
#include "tests/support/scripted_supplier.hpp"

namespace {

using namespace topup::engine;
using namespace topup::test::scripted;
using topup::test::advance_until;
using topup::test::manual_clock;
using topup::test::memory_log;
namespace asio = boost::asio;
using namespace std::chrono_literals;

// ---- the pure rules ----

TEST(AttemptRules, OnlyAFinalStatusDecidesAnAttempt) {
  using attempt_rules::definitive;
  EXPECT_TRUE(definitive(attempt_outcome::succeeded));
  EXPECT_TRUE(definitive(attempt_outcome::failed));
  EXPECT_TRUE(definitive(attempt_outcome::refused));
  EXPECT_FALSE(definitive(attempt_outcome::accepted));
  EXPECT_FALSE(definitive(attempt_outcome::pending));
  EXPECT_FALSE(definitive(attempt_outcome::not_found));
  EXPECT_FALSE(definitive(attempt_outcome::unknown));
}

TEST(AttemptRules, SettleFailsOverOnlyWhenAllowed) {
  using attempt_rules::settle;
  const attempt_result ok{attempt_outcome::succeeded, ""};
  const attempt_result bad{attempt_outcome::failed, "no such number"};
  EXPECT_EQ(settle(ok, false).to, order_status::success);
  EXPECT_TRUE(settle(ok, false).ok);
  EXPECT_EQ(settle(bad, true).to, order_status::waiting);
  EXPECT_EQ(settle(bad, true).reason, "no such number");
  EXPECT_EQ(settle(bad, false).to, order_status::failed);
  EXPECT_TRUE(settle(bad, false).fields.empty());  // the refund step carries no attempt fields
  EXPECT_FALSE(settle(bad, false).ok);
}

TEST(AttemptRules, NotFoundMeansNeverPlacedOnlyAfterTheGrace) {
  using attempt_rules::judge_query;
  using attempt_rules::query_verdict;
  EXPECT_EQ(judge_query(attempt_outcome::not_found, 59'999, 60'000), query_verdict::ask_again);
  EXPECT_EQ(judge_query(attempt_outcome::not_found, 60'000, 60'000), query_verdict::never_placed);
  EXPECT_EQ(judge_query(attempt_outcome::pending, 1'000'000, 60'000), query_verdict::ask_again);
  EXPECT_EQ(judge_query(attempt_outcome::unknown, 1'000'000, 60'000), query_verdict::ask_again);
  EXPECT_EQ(judge_query(attempt_outcome::accepted, 1'000'000, 60'000), query_verdict::ask_again);
  EXPECT_EQ(judge_query(attempt_outcome::failed, 0, 60'000), query_verdict::settle);
  EXPECT_EQ(judge_query(attempt_outcome::succeeded, 0, 60'000), query_verdict::settle);
}

TEST(AttemptRules, TheNextAttemptGoesToItsChannelWithTheNextNumber) {
  order_record o;
  o.order_number = "N1";
  o.attempt.number = 1;
  o.attempt.tried = {"A"};
  const auto fields = attempt_rules::next_attempt_fields(o, "B", 42);
  order_record after = o;
  for (const auto& [name, value] : fields) ASSERT_TRUE(apply_field(after, name, value)) << name;
  EXPECT_EQ(after.attempt.channel, "B");
  EXPECT_EQ(after.attempt.number, 2);
  EXPECT_EQ(after.attempt.id, "N1-2");
  EXPECT_EQ(after.attempt.tried, (std::vector<std::string>{"A", "B"}));
  EXPECT_EQ(after.attempt.matched_at_ms, 42);
}

TEST(AttemptRules, ACallbackCountsOnlyForTheOpenAttemptFromItsChannelAndFinal) {
  using attempt_rules::callback_counts;
  const supplier_callback good{"N1-2", {attempt_outcome::succeeded, ""}, "B"};
  EXPECT_TRUE(callback_counts(good, "N1-2", "B"));
  EXPECT_FALSE(callback_counts(good, "N1-1", "B"));  // about another attempt
  EXPECT_FALSE(callback_counts(good, "N1-2", "A"));  // another channel's word
  supplier_callback charging = good;
  charging.result.outcome = attempt_outcome::pending;
  EXPECT_FALSE(callback_counts(charging, "N1-2", "B"));
}

// ---- the dispatcher and the order service, in simulated time ----

constexpr std::int64_t k_merchant = 1001;
constexpr fen_t k_start = 100000;
constexpr fen_t k_cost = 10000;  // 100 yuan at rate 1.0

class OrderMachine : public ::testing::Test {
 protected:
  OrderMachine() {
    merchant_config m;
    m.id = k_merchant;
    m.app_key = "k1";
    m.app_secret = "s";
    m.store_ids = {"s1"};
    m.price_rate_ppm = 1'000'000;
    m.fast_deadline_s = 60;
    cfg.merchants = {m};
    cfg.channels = {make_channel("A", 980000), make_channel("B", 990000)};
    for (auto& c : cfg.channels) {
      c.query_interval_ms = 5000;
      c.unknown_grace_ms = 30000;
    }
  }

  void build() {
    catalogue = std::make_unique<channel_catalogue>(cfg.channels);
    router = std::make_unique<channel_router>(
        cfg.channels, *catalogue,
        [this](const channel_config& c, asio::io_context&) {
          return std::make_unique<scripted_adapter>(c, world);
        },
        io, 1);
    dispatcher = std::make_unique<order_dispatcher>(io, cfg, log, *router, 0, clock);
    dispatcher->on_final([this](const order_record& o) { ++finals[o.order_number]; });
    service = std::make_unique<order_service>(cfg, log, *catalogue, dispatcher.get(), kicker,
                                              nullptr, 0, clock, &refused_numbers,
                                              counted_limits ? &limits : nullptr);
    log.set_balance(k_merchant, k_start);
  }

  ~OrderMachine() override {
    if (dispatcher) dispatcher->begin_shutdown();
    io.restart();
    io.poll();
  }

  template <class T>
  T run(asio::awaitable<T> op) {
    std::optional<T> out;
    asio::co_spawn(io, std::move(op), [&](std::exception_ptr e, T v) {
      if (e) std::rethrow_exception(e);
      out = std::move(v);
    });
    EXPECT_TRUE(advance_until(io, clock, [&] { return out.has_value(); }, 10s));
    return std::move(*out);
  }

  /// A 100-yuan order of the merchant for `mobile` (order_no "o<n>" when none is given).
  push_request request(bool change, std::string order_no = {},
                       std::string mobile = "13800138000") {
    push_request r;
    r.merchant = &cfg.merchants[0];
    r.store_id = "s1";
    r.mobile = std::move(mobile);
    r.order_no = order_no.empty() ? "o" + std::to_string(++seq) : std::move(order_no);
    r.money_yuan = 100;
    r.change = change;
    return r;
  }

  std::string push(bool change, std::string order_no = {}) {
    auto res = run(service->push(request(change, std::move(order_no))));
    EXPECT_TRUE(res) << res.error().message();
    return res ? res->order_number : "";
  }

  order_record now(const std::string& number) { return *log.peek(k_merchant, number); }
  order_status status(const std::string& number) { return now(number).status; }
  fen_t balance() { return run(log.account(k_merchant))->balance; }

  /// Moves simulated time until the order is final and its driver gone, within `limit`.
  bool settle(const std::string& number, std::chrono::milliseconds limit = 1h,
              std::chrono::milliseconds step = 100ms) {
    return advance_until(
        io, clock,
        [&] { return is_terminal(status(number)) && !dispatcher->driving(number); }, limit, step);
  }
  void pass(std::chrono::milliseconds d, std::chrono::milliseconds step = 100ms) {
    advance_until(io, clock, [] { return false; }, d, step);
  }

  /// How many log events of `type` the order has.
  int events(const std::string& number, std::string_view type) {
    int n = 0;
    for (const auto& e : log.log(k_merchant)) n += e.order_number == number && e.type == type;
    return n;
  }

  manual_clock clock;
  topup::test::timers_on timers{clock};
  asio::io_context io;
  memory_log log{clock};
  topup::test::recording_kicker kicker;
  config cfg;
  supplier_world world;
  std::unique_ptr<channel_catalogue> catalogue;
  std::unique_ptr<channel_router> router;
  std::unique_ptr<order_dispatcher> dispatcher;
  std::unique_ptr<order_service> service;
  std::map<std::string, int> finals;
  blacklist refused_numbers;
  /// The counted risk rules as order_service sees them: every claim allowed, claims and
  /// releases recorded (by order number).
  struct recording_limits final : risk_counters {
    std::vector<std::string> claimed, released;
    asio::awaitable<boost::system::result<risk_verdict>> claim(risk_claim c) override {
      claimed.push_back(c.order_number);
      co_return risk_verdict::allowed;
    }
    asio::awaitable<void> release(risk_claim c) override {
      released.push_back(c.order_number);
      co_return;
    }
  } limits;
  bool counted_limits = false;
  int seq = 0;
};

TEST_F(OrderMachine, DeliveredAtSubmitIsSuccessInOneStepAndChargedOnce) {
  build();
  world.script["A"] = {act::succeed};
  const auto number = push(true);
  ASSERT_TRUE(settle(number, 1s));
  EXPECT_EQ(status(number), order_status::success);
  EXPECT_EQ(world.deliveries, 1);
  EXPECT_EQ(balance(), k_start - k_cost);
  EXPECT_EQ(finals[number], 1);
  EXPECT_EQ(now(number).attempt.last_outcome, "succeeded");
  EXPECT_EQ(now(number).callback.status, callback_status::none);  // no notify_url
}

TEST_F(OrderMachine, ASupplierSilentForAnHourIsAskedEveryIntervalAndACallbackSettlesIt) {
  build();
  world.script["A"] = {act::accept_silent};
  const auto number = push(true);
  pass(1h, 1s);
  EXPECT_EQ(status(number), order_status::recharging);
  // Asked once per 5 s interval: about 720 times in the hour, never re-submitted anywhere.
  EXPECT_GE(world.queries["A"], 700);
  EXPECT_LE(world.queries["A"], 721);
  EXPECT_EQ(world.submits["A"], 1);
  EXPECT_EQ(world.submits["B"], 0);
  dispatcher->deliver(number, supplier_callback{number + "-1", {attempt_outcome::succeeded, ""}, "A"});
  ASSERT_TRUE(settle(number, 1s));
  EXPECT_EQ(status(number), order_status::success);
  EXPECT_EQ(balance(), k_start - k_cost);
}

TEST_F(OrderMachine, AnUnknownSubmitIsAskedUntilTheGraceThenFailsOverOnce) {
  build();
  world.script["A"] = {act::unknown_lost};
  world.script["B"] = {act::succeed};
  const auto number = push(true);
  pass(29s);
  // Not found within the grace is no answer: still asking A, nothing sent to B.
  EXPECT_EQ(status(number), order_status::recharging);
  EXPECT_EQ(world.submits["B"], 0);
  EXPECT_GE(world.queries["A"], 5);
  ASSERT_TRUE(settle(number, 1min));
  EXPECT_EQ(status(number), order_status::success);
  EXPECT_EQ(now(number).attempt.tried, (std::vector<std::string>{"A", "B"}));
  EXPECT_EQ(world.submits["B"], 1);
  EXPECT_EQ(world.deliveries, 1);
  EXPECT_EQ(balance(), k_start - k_cost);
}

TEST_F(OrderMachine, AnUnknownSubmitWithoutChangeIsRefundedOnceAfterTheGrace) {
  build();
  world.script["A"] = {act::unknown_lost};
  const auto number = push(false);
  ASSERT_TRUE(settle(number, 5min));
  EXPECT_EQ(status(number), order_status::refunded);
  EXPECT_EQ(world.submits["B"], 0);
  EXPECT_EQ(world.deliveries, 0);
  EXPECT_EQ(balance(), k_start);
  EXPECT_EQ(events(number, "refund"), 1);
  EXPECT_EQ(finals[number], 1);
}

TEST_F(OrderMachine, CallbacksThatAreNotTheOpenAttemptsFinalWordDecideNothing) {
  cfg.channels[0].query_interval_ms = 3'600'000;  // only a callback can settle it in time
  build();
  world.script["A"] = {act::accept_silent};
  const auto number = push(true);
  pass(1s);
  ASSERT_EQ(status(number), order_status::recharging);
  // "charging"; B's word about A's attempt; a word about an attempt never made.
  dispatcher->deliver(number, supplier_callback{number + "-1", {attempt_outcome::pending, ""}, "A"});
  dispatcher->deliver(number, supplier_callback{number + "-1", {attempt_outcome::failed, "x"}, "B"});
  dispatcher->deliver(number, supplier_callback{number + "-2", {attempt_outcome::failed, "x"}, "A"});
  pass(10s);
  EXPECT_EQ(status(number), order_status::recharging);
  EXPECT_EQ(world.submits["B"], 0);
  dispatcher->deliver(number, supplier_callback{number + "-1", {attempt_outcome::failed, "x"}, "A"});
  pass(1s);
  // Failed at A, change allowed: on to B, which the script leaves failing too — then refunded.
  ASSERT_TRUE(settle(number, 1min));
  EXPECT_EQ(world.submits["B"], 1);
  EXPECT_EQ(status(number), order_status::refunded);
  EXPECT_EQ(balance(), k_start);
}

TEST_F(OrderMachine, StorageDownAfterADeliveryKeepsTheResultAndNeverSubmitsAgain) {
  build();
  world.script["A"] = {act::succeed};
  world.script["B"] = {act::succeed};
  const auto number = push(true);  // stored matched (7) to A by the accept itself
  log.fail_writes(errc::storage_unavailable, 4);
  ASSERT_TRUE(settle(number, 1min));
  EXPECT_EQ(status(number), order_status::success);
  EXPECT_EQ(world.submits["A"], 1);
  EXPECT_EQ(world.submits["B"], 0);
  EXPECT_EQ(world.deliveries, 1);
  EXPECT_EQ(balance(), k_start - k_cost);
}

TEST_F(OrderMachine, AStepAppliedWithItsAnswerLostIsFollowedNotRepeated) {
  build();
  world.script["A"] = {act::accept_succeed};
  const auto number = push(true);
  log.fail_writes(errc::outcome_unknown, 1);  // 7->1 is stored, its answer lost
  ASSERT_TRUE(settle(number, 1min));
  EXPECT_EQ(status(number), order_status::success);
  EXPECT_EQ(world.submits["A"], 1);
  int into_1 = 0;
  for (const auto& e : log.log(k_merchant))
    if (e.order_number == number && e.type == "step")
      for (const auto& [k, v] : e.fields) into_1 += k == "t" && v == "1";
  EXPECT_EQ(into_1, 1);
  EXPECT_EQ(finals[number], 1);
}

TEST_F(OrderMachine, AFinalStepAppliedWithItsAnswerLostStillFiresTheHookOnce) {
  build();
  world.script["A"] = {act::accept_succeed};
  const auto number = push(true);
  pass(100ms);
  ASSERT_EQ(status(number), order_status::recharging);
  log.fail_writes(errc::outcome_unknown, 1);  // 1->2 is stored, its answer lost
  ASSERT_TRUE(settle(number, 1min));
  EXPECT_EQ(status(number), order_status::success);
  EXPECT_EQ(finals[number], 1);  // the final status is ours: the callback is kicked, once
}

// An orphan sweep (after an accept Redis answered oddly) can read an order's record just before
// its driver finishes and adopt it after: the second driver, on a stale record, must move nothing
// and fire no second final hook (found by topup-sim, seed 31: the callback kicked and the order
// counted twice).
TEST_F(OrderMachine, AStaleRecordAdoptedAfterItsDriverFinishedMovesNothingAndFiresNoHook) {
  build();
  world.script["A"] = {act::accept_succeed};
  const auto number = push(true);
  pass(100ms);
  const order_record stale = now(number);
  ASSERT_EQ(stale.status, order_status::recharging);
  ASSERT_TRUE(settle(number, 1min));
  ASSERT_EQ(finals[number], 1);
  const auto writes = log.writes();

  dispatcher->adopt(stale);
  ASSERT_TRUE(dispatcher->driving(number));
  ASSERT_TRUE(settle(number, 1min));
  EXPECT_EQ(status(number), order_status::success);
  EXPECT_EQ(finals[number], 1);
  EXPECT_EQ(log.writes(), writes + 1);  // its one compare-and-set, refused as stale
  EXPECT_EQ(world.deliveries, 1);
  EXPECT_EQ(balance(), k_start - k_cost);
}

// Risk control (spec §3.8): a blacklisted number is 2008 before any debit; an order accepted
// before the number was listed is still its own repeat.
TEST_F(OrderMachine, ABlacklistedNumberIsRefusedBeforeAnyDebitButARepeatGetsItsOrder) {
  build();
  world.script["A"] = {act::succeed};
  const auto before = push(true, "listed-later");
  ASSERT_TRUE(settle(before, 1min));
  const auto writes = log.writes();
  refused_numbers.replace(1, {"13800138000"});

  push_request r = request(true, "new-after-listing");
  auto refused = run(service->push(r));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), errc::risk_blacklisted);
  EXPECT_EQ(log.writes(), writes);
  EXPECT_EQ(balance(), k_start - k_cost);  // only the order from before

  r.order_no = "listed-later";  // the earlier order's own repeat
  auto repeat = run(service->push(r));
  ASSERT_TRUE(repeat);
  EXPECT_TRUE(repeat->duplicate);
  EXPECT_EQ(repeat->order_number, before);

  r.order_no = "other-number";
  r.mobile = "13800138001";  // the list is per number
  EXPECT_TRUE(run(service->push(r)));
  refused_numbers.replace(2, {});
  r.order_no = "new-after-listing";
  r.mobile = "13800138000";
  EXPECT_TRUE(run(service->push(r)));  // off the list: accepted
}

// Redis applying an accept and losing its answer (5002), then the merchant's blind retry: the
// claim of the order that may exist stays counted; the retry's own claim (a duplicate) is taken
// back; a refused accept takes its claim back. The limits never count an order twice and never
// drop one that exists.
TEST_F(OrderMachine, ALostAcceptAnswerKeepsItsRiskClaimAndTheRetrysClaimIsTakenBack) {
  counted_limits = true;
  build();
  world.script["A"] = {act::accept_silent};
  log.fail_writes(errc::outcome_unknown, 1);  // the accept is applied, its answer lost
  auto lost = run(service->push(request(true, "lost")));
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error(), errc::outcome_unknown);
  ASSERT_EQ(limits.claimed.size(), 1u);
  EXPECT_TRUE(limits.released.empty());
  const std::string first_claim = limits.claimed[0];

  auto retry = run(service->push(request(true, "lost")));  // the merchant's blind retry
  ASSERT_TRUE(retry);
  EXPECT_TRUE(retry->duplicate);
  EXPECT_EQ(retry->order_number, first_claim);  // the order that existed all along
  ASSERT_EQ(limits.claimed.size(), 2u);
  EXPECT_EQ(limits.released, (std::vector<std::string>{limits.claimed[1]}));
  EXPECT_EQ(balance(), k_start - k_cost);  // debited once

  log.set_balance(k_merchant, k_cost - 1);
  auto poor = run(service->push(request(true, "poor")));
  ASSERT_FALSE(poor);
  EXPECT_EQ(poor.error(), errc::insufficient_balance);
  ASSERT_EQ(limits.claimed.size(), 3u);
  EXPECT_EQ(limits.released.back(), limits.claimed[2]);
}

TEST(Blacklist, IsStaleUntilReadAndWhenTheStoredVersionMoves) {
  blacklist b;
  EXPECT_TRUE(b.stale(0));  // never read, even at version 0
  EXPECT_FALSE(b.contains("13800138000"));
  b.replace(0, {});
  EXPECT_FALSE(b.stale(0));
  EXPECT_TRUE(b.stale(1));
  b.replace(1, {"13800138000", "18600001111"});
  EXPECT_TRUE(b.contains("13800138000"));
  EXPECT_FALSE(b.contains("1380013800"));
  b.replace(2, {"18600001111"});
  EXPECT_FALSE(b.contains("13800138000"));
  EXPECT_EQ(b.size(), 1u);
}

// Sandbox merchants (spec §3.8): channel B is the simulated one, A (cheaper) a real supplier.
TEST_F(OrderMachine, ASandboxOrderGoesOnlyToSimulatedChannelsAndNeverFailsOverToARealOne) {
  cfg.merchants[0].sandbox = true;
  cfg.channels[1].kind = "sim";
  build();
  world.script["B"] = {act::fail};
  const auto number = push(true);
  ASSERT_TRUE(settle(number, 1min));
  EXPECT_EQ(status(number), order_status::refunded);  // B failed; A would have been next
  EXPECT_TRUE(now(number).sandbox);
  EXPECT_EQ(world.submits["A"], 0);
  EXPECT_EQ(world.submits["B"], 1);
  EXPECT_EQ(balance(), k_start);

  world.script["B"] = {act::succeed};
  const auto delivered = push(true);
  ASSERT_TRUE(settle(delivered, 1min));
  EXPECT_EQ(status(delivered), order_status::success);
  EXPECT_EQ(balance(), k_start - k_cost);  // debited like any merchant
  EXPECT_EQ(world.submits["A"], 0);
}

TEST_F(OrderMachine, ASandboxOrderNamingARealChannelIsNoChannelAndCostsNothing) {
  cfg.merchants[0].sandbox = true;
  cfg.channels[1].kind = "sim";
  build();
  push_request r = request(false, "real-source");
  r.source = "A";
  auto refused = run(service->push(r));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), errc::no_channel);  // 2005
  EXPECT_EQ(log.writes(), 0u);
  EXPECT_EQ(balance(), k_start);
  EXPECT_EQ(world.submits["A"], 0);
  // The same order from a merchant that is not a sandbox goes to A.
  cfg.merchants[0].sandbox = false;
  auto taken = run(service->push(r));
  ASSERT_TRUE(taken);
  ASSERT_TRUE(settle(taken->order_number, 1min));
  EXPECT_EQ(world.submits["A"], 1);
}

TEST_F(OrderMachine, NoFinalAnswerPastUnknownMaxIsListedForAnOperatorUntilItSettles) {
  cfg.channels[0].unknown_max_s = 600;
  cfg.channels[0].query_interval_ms = 60000;
  build();
  world.script["A"] = {act::accept_silent};
  const auto number = push(false);
  pass(9min, 1s);
  EXPECT_FALSE(log.unresolved(k_merchant, number));
  pass(3min, 1s);
  EXPECT_TRUE(log.unresolved(k_merchant, number));
  EXPECT_EQ(status(number), order_status::recharging);  // still asked, never guessed
  dispatcher->deliver(number, supplier_callback{number + "-1", {attempt_outcome::succeeded, ""}, "A"});
  ASSERT_TRUE(settle(number, 1s));
  EXPECT_FALSE(log.unresolved(k_merchant, number));
}

TEST_F(OrderMachine, AnOrderNoChannelCanTakeWaitsParkedAndIsRefundedAtItsDeadline) {
  cfg.channels = {cfg.channels[0]};
  cfg.channels[0].max_inflight = 1;
  build();
  world.script["A"] = {act::accept_silent, act::succeed};
  const auto first = push(false);
  const auto second = push(false);
  pass(30s);
  EXPECT_EQ(status(second), order_status::waiting);
  EXPECT_EQ(dispatcher->parked(), 1u);
  ASSERT_TRUE(settle(second, 1min));
  EXPECT_EQ(status(second), order_status::refunded);
  EXPECT_EQ(now(second).reason, std::string(failure_reason::deadline));
  EXPECT_EQ(status(first), order_status::recharging);
  EXPECT_EQ(world.submits["A"], 1);
  EXPECT_EQ(balance(), k_start - k_cost);
}

TEST_F(OrderMachine, ARepeatedPushIsTheSameOrderAndAnotherOrderNoWithItsParametersConflicts) {
  build();
  world.script["A"] = {act::accept_silent};
  const auto number = push(true, "same");
  push_request r = request(true, "same");
  auto again = run(service->push(r));
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->order_number, number);
  r.money_yuan = 50;
  auto other = run(service->push(r));
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error(), errc::order_no_conflict);
  EXPECT_EQ(balance(), k_start - k_cost);
  EXPECT_EQ(world.submits["A"], 1);
}

TEST_F(OrderMachine, APushBeyondTheBalanceDebitsNothing) {
  build();
  log.set_balance(k_merchant, k_cost - 1);
  push_request r = request(false, "poor");
  r.change.reset();  // as the merchant sent it: change left out
  auto res = run(service->push(r));
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error(), errc::insufficient_balance);
  EXPECT_EQ(balance(), k_cost - 1);
  EXPECT_TRUE(log.orders(k_merchant).empty());
}

}  // namespace
