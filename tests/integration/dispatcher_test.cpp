// The order dispatcher against a real redis-server, with scripted channel adapters: the
// matrix of change x source x refusal/failure/unknown, checking final status, balance, and that
// no top-up is ever delivered twice.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <deque>
#include <map>

#include "engine/audit/audit.hpp"
#include "engine/callbacks/callback_store.hpp"
#include "engine/routing/channel_catalogue.hpp"
#include "engine/routing/channel_router.hpp"
#include "engine/support/errc.hpp"
#include "engine/dispatch/order_dispatcher.hpp"
#include "engine/service/exception_queue.hpp"
#include "engine/service/order_service.hpp"
#include "engine/store/order_store.hpp"
#include "tests/support/fence.hpp"
#include "engine/redis/connection.hpp"
#include "tests/support/io_run.hpp"
#include "tests/support/scripted_supplier.hpp"
#include "tests/support/recording_links.hpp"
#include "tests/support/redis_server.hpp"

namespace {

using namespace topup::engine;
using namespace topup::test::scripted;
namespace asio = boost::asio;
using namespace std::chrono_literals;

class Dispatcher : public ::testing::Test {
 protected:
  static inline std::unique_ptr<topup::test::redis_server> redis;
  static void SetUpTestSuite() { redis = std::make_unique<topup::test::redis_server>(); }
  static void TearDownTestSuite() { redis.reset(); }

  void SetUp() override {
    redis->flushall();
    cfg.server.instance_id = 0;
    merchant_config m;
    m.id = 1001;
    m.app_key = "k1";
    m.app_secret = "s";
    m.store_ids = {"s1"};
    m.price_rate_ppm = 1'000'000;
    m.slow_deadline_s = 1;
    cfg.merchants = {m};
    cfg.channels = {make_channel("A", 980000), make_channel("B", 990000)};
  }

  /// Builds the shard's objects (after a test adjusted cfg).
  void build() {
    conn = topup::test::connect_to(io, *redis, 5s);
    ASSERT_TRUE(conn->connected());
    topup::test::grant_fence(*redis, "t", {1001});
    store = std::make_unique<order_store>(*conn, "t", *fence);
    build_routing();
    service = std::make_unique<order_service>(cfg, *store, *catalogue, dispatcher.get(), kicker,
                                              nullptr, 0);
    ASSERT_TRUE(run(store->credit(1001, "seed", 100000, 1)));
  }

  /// The catalogue, router (scripted suppliers) and dispatcher of cfg.channels, on `store`.
  void build_routing() {
    catalogue = std::make_unique<channel_catalogue>(cfg.channels);
    router = std::make_unique<channel_router>(
        cfg.channels, *catalogue,
        [this](const channel_config& c, asio::io_context&) {
          return std::make_unique<scripted_adapter>(c, world);
        },
        io, 1);
    dispatcher = std::make_unique<order_dispatcher>(io, cfg, *store, *router, 0);
  }

  void TearDown() override {
    if (dispatcher) dispatcher->begin_shutdown();
    if (conn) conn->stop();
    io.run_for(200ms);
  }

  /// Runs a coroutine to completion on the test's io_context (bounded).
  template <class T>
  T run(asio::awaitable<T> op) {
    auto out = topup::test::run(io, std::move(op), 10s);
    if (!out) throw std::runtime_error("operation did not complete");
    return std::move(*out);
  }

  /// A 100-yuan fast order of merchant 1001 for 13800138000.
  push_request request(std::string order_no, bool change) {
    push_request r;
    r.merchant = &cfg.merchants[0];
    r.store_id = "s1";
    r.mobile = "13800138000";
    r.order_no = std::move(order_no);
    r.money_yuan = 100;
    r.change = change;
    return r;
  }

  std::string push(bool change, std::string source = {}, int recharge_type = 1) {
    push_request r = request("o" + std::to_string(++seq), change);
    r.recharge_type = recharge_type;
    r.source = std::move(source);
    auto res = run(service->push(std::move(r)));
    EXPECT_TRUE(res) << res.error().message();
    return res ? res->order_number : "";
  }

  /// Lets the dispatcher work until the order is final (or the deadline).
  order_record settle(const std::string& number, std::chrono::milliseconds limit = 5s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    order_record last;
    while (std::chrono::steady_clock::now() < deadline) {
      io.run_for(10ms);
      auto o = run(store->get(1001, number));
      if (o) {
        last = *o;
        if (is_terminal(o->status) && dispatcher->active() == 0) return last;
      }
    }
    return last;
  }

  fen_t balance() { return run(store->account(1001))->balance; }

  /// Builds the shard and pushes an order (change=1) whose attempt 1 runs at A, which only a
  /// callback can settle in time (A is asked once a minute; B would deliver at once).
  void running_at_a(std::string& number) {
    cfg.channels[0].query_interval_ms = 60000;
    build();
    world.script["A"] = {act::accept_silent};
    world.script["B"] = {act::succeed};
    number = push(true);
    auto o = settle(number, 300ms);
    ASSERT_EQ(o.status, order_status::recharging);
    ASSERT_EQ(o.named_field("channel").value_or(""), "A");
    ASSERT_EQ(o.named_field("attempt_id").value_or(""), number + "-1");
  }

  asio::io_context io;
  config cfg;
  supplier_world world;
  std::unique_ptr<redis::connection> conn;
  std::unique_ptr<fence_token> fence = topup::test::fence_token_for();
  std::unique_ptr<order_store> store;
  std::unique_ptr<channel_catalogue> catalogue;
  std::unique_ptr<channel_router> router;
  std::unique_ptr<order_dispatcher> dispatcher;
  topup::test::recording_kicker kicker;
  std::unique_ptr<order_service> service;
  int seq = 0;
};

constexpr fen_t k_start = 100000;
constexpr fen_t k_cost = 10000;  // 100 yuan at rate 1.0

TEST_F(Dispatcher, SucceedsOnCheapestChannel) {
  build();
  world.script["A"] = {act::succeed};
  auto o = settle(push(true));
  EXPECT_EQ(o.status, order_status::success);
  EXPECT_EQ(world.submits["A"], 1);
  EXPECT_EQ(world.submits["B"], 0);
  EXPECT_EQ(world.deliveries, 1);
  EXPECT_EQ(balance(), k_start - k_cost);
}

TEST_F(Dispatcher, RefusalFailsOverWhenChangeAllows) {
  build();
  world.script["A"] = {act::refuse};
  world.script["B"] = {act::accept_succeed};
  auto o = settle(push(true));
  EXPECT_EQ(o.status, order_status::success);
  EXPECT_EQ(world.submits["A"], 1);
  EXPECT_EQ(world.submits["B"], 1);
  EXPECT_EQ(world.deliveries, 1);
  EXPECT_EQ(balance(), k_start - k_cost);
}

TEST_F(Dispatcher, RefusalWithoutChangeRefunds) {
  build();
  world.script["A"] = {act::refuse};
  world.script["B"] = {act::succeed};
  auto o = settle(push(false));
  EXPECT_EQ(o.status, order_status::refunded);
  EXPECT_EQ(world.submits["B"], 0);
  EXPECT_EQ(world.deliveries, 0);
  EXPECT_EQ(balance(), k_start);
}

TEST_F(Dispatcher, FailureFailsOverWhenChangeAllows) {
  build();
  world.script["A"] = {act::accept_fail};
  world.script["B"] = {act::succeed};
  auto o = settle(push(true));
  EXPECT_EQ(o.status, order_status::success);
  EXPECT_EQ(world.submits["B"], 1);
  EXPECT_EQ(world.deliveries, 1);
  EXPECT_EQ(balance(), k_start - k_cost);
}

TEST_F(Dispatcher, FailureWithoutChangeRefunds) {
  build();
  world.script["A"] = {act::fail};
  auto o = settle(push(false));
  EXPECT_EQ(o.status, order_status::refunded);
  EXPECT_EQ(world.submits["B"], 0);
  EXPECT_EQ(balance(), k_start);
}

TEST_F(Dispatcher, SourcePinsTheChannelAndNeverFailsOver) {
  build();
  world.script["B"] = {act::accept_fail};
  world.script["A"] = {act::succeed};
  auto o = settle(push(true, "B"));
  EXPECT_EQ(o.status, order_status::refunded);
  EXPECT_EQ(world.submits["A"], 0);
  EXPECT_EQ(world.submits["B"], 1);
  EXPECT_EQ(balance(), k_start);
}

TEST_F(Dispatcher, SourceRefusalRefundsWithoutFailover) {
  build();
  world.script["B"] = {act::refuse};
  auto o = settle(push(true, "B"));
  EXPECT_EQ(o.status, order_status::refunded);
  EXPECT_EQ(world.submits["A"], 0);
}

TEST_F(Dispatcher, UnknownOutcomeIsAskedNeverSentElsewhere) {
  build();
  world.script["A"] = {act::unknown_placed};
  world.script["B"] = {act::succeed};
  auto o = settle(push(true));
  EXPECT_EQ(o.status, order_status::success);
  EXPECT_GE(world.queries["A"], 1);
  EXPECT_EQ(world.submits["B"], 0);
  EXPECT_EQ(world.deliveries, 1);
  EXPECT_EQ(balance(), k_start - k_cost);
}

TEST_F(Dispatcher, UnknownWithSourceIsAskedToo) {
  build();
  world.script["B"] = {act::unknown_placed};
  auto o = settle(push(false, "B"));
  EXPECT_EQ(o.status, order_status::success);
  EXPECT_EQ(world.deliveries, 1);
}

TEST_F(Dispatcher, NeverPlacedAfterGraceFailsOver) {
  build();
  world.script["A"] = {act::unknown_lost};
  world.script["B"] = {act::succeed};
  auto o = settle(push(true));
  EXPECT_EQ(o.status, order_status::success);
  EXPECT_EQ(world.submits["B"], 1);
  EXPECT_EQ(world.deliveries, 1);
}

TEST_F(Dispatcher, NeverPlacedGraceRunsFromTheEndOfTheSubmit) {
  cfg.channels[0].unknown_grace_ms = 250;
  build();
  // The push takes 300 ms to time out: longer than the grace. Counted from matching, the grace
  // would be over at the first query; it must run from when the submit ended.
  world.script["A"] = {act::slow_unknown_lost};
  world.script["B"] = {act::succeed};
  auto o = settle(push(true));
  EXPECT_EQ(o.status, order_status::success);
  ASSERT_EQ(world.submits["B"], 1);
  EXPECT_GE(world.first_submit_at["B"] - world.submit_ended, 240ms);
  EXPECT_EQ(world.deliveries, 1);
}

TEST_F(Dispatcher, NeverPlacedWithoutChangeRefunds) {
  build();
  world.script["A"] = {act::unknown_lost};
  auto o = settle(push(false));
  EXPECT_EQ(o.status, order_status::refunded);
  EXPECT_EQ(world.deliveries, 0);
  EXPECT_EQ(balance(), k_start);
}

TEST_F(Dispatcher, NotFoundWithinGraceKeepsAsking) {
  cfg.channels[0].unknown_grace_ms = 600000;
  build();
  world.script["A"] = {act::unknown_lost};
  world.script["B"] = {act::succeed};
  auto number = push(true);
  auto o = settle(number, 500ms);
  EXPECT_EQ(o.status, order_status::recharging);
  EXPECT_GE(world.queries["A"], 2);
  EXPECT_EQ(world.submits["B"], 0);  // never elsewhere while the first attempt is unresolved
}

TEST_F(Dispatcher, EveryChannelFailingRefundsOnce) {
  build();
  world.script["A"] = {act::fail};
  world.script["B"] = {act::accept_fail};
  auto o = settle(push(true));
  EXPECT_EQ(o.status, order_status::refunded);
  EXPECT_EQ(world.submits["A"], 1);
  EXPECT_EQ(world.submits["B"], 1);
  EXPECT_EQ(balance(), k_start);
  auto totals = run(store->account(1001));
  EXPECT_EQ(totals->refunds, k_cost);
  EXPECT_EQ(totals->balance, totals->credits - totals->debits + totals->refunds);
}

TEST_F(Dispatcher, CallbackDecidesAnAcceptedAttempt) {
  std::string number;
  ASSERT_NO_FATAL_FAILURE(running_at_a(number));
  dispatcher->deliver(number, supplier_callback{number + "-1", {attempt_outcome::succeeded, ""}, "A"});
  auto o = settle(number);
  EXPECT_EQ(o.status, order_status::success);
  EXPECT_EQ(world.queries["A"], 0);
}

TEST_F(Dispatcher, CallbackForAnOlderAttemptIsIgnored) {
  std::string number;
  ASSERT_NO_FATAL_FAILURE(running_at_a(number));
  dispatcher->deliver(number, supplier_callback{number + "-9", {attempt_outcome::failed, ""}, "A"});
  auto o = settle(number, 300ms);
  EXPECT_EQ(o.status, order_status::recharging);
}

TEST_F(Dispatcher, IntermediateCallbackStatusesKeepTheAttemptRunning) {
  std::string number;
  ASSERT_NO_FATAL_FAILURE(running_at_a(number));
  order_record o;
  // "Charging", and statuses outside 2/3/4, as the adapter reads them: still running at A.
  // Taken as a failure, the order would go to B while A is still delivering (two top-ups).
  for (auto outcome : {attempt_outcome::pending, attempt_outcome::accepted,
                       attempt_outcome::unknown, attempt_outcome::not_found}) {
    dispatcher->deliver(number, supplier_callback{number + "-1", {outcome, "status 1"}, "A"});
    o = settle(number, 100ms);
    ASSERT_EQ(o.status, order_status::recharging) << outcome_name(outcome);
  }
  EXPECT_EQ(world.submits["B"], 0);
  dispatcher->deliver(number, supplier_callback{number + "-1", {attempt_outcome::succeeded, ""}, "A"});
  o = settle(number);
  EXPECT_EQ(o.status, order_status::success);
  EXPECT_EQ(world.submits["B"], 0);
  EXPECT_EQ(balance(), k_start - k_cost);
}

TEST_F(Dispatcher, CallbackFromAChannelNotHoldingTheAttemptIsIgnored) {
  std::string number;
  ASSERT_NO_FATAL_FAILURE(running_at_a(number));
  // B's "failed" about the attempt A holds: were it applied, the order would move to B while A
  // still delivers; B's "succeeded" would charge for a top-up A may never make.
  dispatcher->deliver(number, supplier_callback{number + "-1", {attempt_outcome::failed, ""}, "B"});
  dispatcher->deliver(number, supplier_callback{number + "-1", {attempt_outcome::succeeded, ""}, "B"});
  dispatcher->deliver(number, supplier_callback{number + "-1", {attempt_outcome::failed, ""}, ""});
  auto o = settle(number, 300ms);
  EXPECT_EQ(o.status, order_status::recharging);
  EXPECT_EQ(world.submits["B"], 0);
  dispatcher->deliver(number, supplier_callback{number + "-1", {attempt_outcome::failed, ""}, "A"});
  o = settle(number);
  EXPECT_EQ(o.status, order_status::success);  // failed over to B, which delivered
  EXPECT_EQ(world.submits["B"], 1);
  EXPECT_EQ(world.deliveries, 1);
}

TEST_F(Dispatcher, DisablingTheOnlyOtherChannelKeepsAFailedOverOrderWaitingUntilItsDeadline) {
  cfg.merchants[0].fast_deadline_s = 2;
  build();
  world.script["A"] = {act::fail};
  world.script["B"] = {act::succeed};
  ASSERT_TRUE(catalogue->set_enabled("B", false));
  auto number = push(true);
  // A fails; B, the only other channel, is disabled: the order waits in 6 for it, it is not
  // refunded at once (spec §7: waiting orders keep waiting until their deadline).
  auto o = settle(number, 500ms);
  ASSERT_EQ(o.status, order_status::waiting) << o.reason;
  EXPECT_EQ(balance(), k_start - k_cost);
  ASSERT_TRUE(catalogue->set_enabled("B", true));
  o = settle(number, 2s);
  EXPECT_EQ(o.status, order_status::success);
  EXPECT_EQ(world.submits["B"], 1);
  EXPECT_EQ(balance(), k_start - k_cost);
}

TEST_F(Dispatcher, DisabledChannelStillRefundsAWaitingOrderAtItsDeadline) {
  cfg.merchants[0].fast_deadline_s = 1;
  build();
  world.script["A"] = {act::fail};
  ASSERT_TRUE(catalogue->set_enabled("B", false));
  auto number = push(true);
  auto o = settle(number, 300ms);
  ASSERT_EQ(o.status, order_status::waiting) << o.reason;
  o = settle(number, 3s);
  EXPECT_EQ(o.status, order_status::refunded);
  EXPECT_EQ(world.submits["B"], 0);
  EXPECT_EQ(balance(), k_start);
}

TEST_F(Dispatcher, NoFinalAnswerForUnknownMaxIsListedForAnOperatorAndStillAsked) {
  cfg.channels[0].query_interval_ms = 50;
  cfg.channels[0].unknown_max_s = 1;
  build();
  world.script["A"] = {act::accept_silent};  // every query: still working
  world.script["B"] = {act::succeed};
  auto number = push(true);
  auto o = settle(number, 600ms);
  ASSERT_EQ(o.status, order_status::recharging);
  auto listed = run(store->unresolved(1001, 10));
  ASSERT_TRUE(listed);
  EXPECT_TRUE(listed->empty()) << "listed before unknown_max_s";
  const int queries_then = world.queries["A"];
  o = settle(number, 800ms);
  ASSERT_EQ(o.status, order_status::recharging);  // never guessed, never sent elsewhere
  EXPECT_EQ(world.submits["B"], 0);
  EXPECT_GT(world.queries["A"], queries_then);  // still asked
  listed = run(store->unresolved(1001, 10));
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].first, number);
  EXPECT_GT((*listed)[0].second, 0);
  // The supplier finally answers: settled, and off the list.
  dispatcher->deliver(number, supplier_callback{number + "-1", {attempt_outcome::succeeded, ""}, "A"});
  o = settle(number);
  EXPECT_EQ(o.status, order_status::success);
  listed = run(store->unresolved(1001, 10));
  ASSERT_TRUE(listed);
  EXPECT_TRUE(listed->empty());
}

TEST_F(Dispatcher, LateCallbackAboutAnEarlierAttemptNeverDecidesTheNextOne) {
  cfg.channels[1].query_interval_ms = 60000;  // B is settled by its callback only
  build();
  world.script["A"] = {act::accept_fail};  // A's query says failed: failover to B
  world.script["B"] = {act::accept_silent};
  // A's own "failed" callback races in while the dispatcher is asking A about attempt 1.
  world.during_query = [this](const std::string& attempt_id) {
    if (attempt_id.ends_with("-1"))
      dispatcher->deliver(attempt_id.substr(0, attempt_id.size() - 2),
                          supplier_callback{attempt_id, {attempt_outcome::failed, "late"}, "A"});
  };
  auto number = push(true);
  auto o = settle(number, 500ms);
  // Attempt 2 at B is still running: the stale callback must not have failed it.
  ASSERT_EQ(o.status, order_status::recharging) << o.reason;
  ASSERT_EQ(o.named_field("attempt_id").value_or(""), number + "-2");
  dispatcher->deliver(number, supplier_callback{number + "-2", {attempt_outcome::succeeded, ""}, "B"});
  o = settle(number);
  EXPECT_EQ(o.status, order_status::success);
  EXPECT_EQ(balance(), k_start - k_cost);
}

TEST_F(Dispatcher, RecoveredMatchedOrderIsQueriedNotResent) {
  build();
  // An order left in 7 by a crash: the submit may have reached the supplier.
  push_request r = request("crash", true);
  // Accepted but not dispatched (a service without a dispatcher): as if we crashed.
  order_service crashed(cfg, *store, *catalogue, nullptr, kicker, nullptr, 0);
  auto accepted = run(crashed.push(r));
  ASSERT_TRUE(accepted);
  const auto number = accepted->order_number;
  field_pairs extra;
  extra.emplace_back("channel", "A");
  extra.emplace_back("attempts", "1");
  extra.emplace_back("attempt_id", number + "-1");
  extra.emplace_back("tried", "A");
  extra.emplace_back("matched_at", "1");
  auto matched = run(store->transition(1001, number, order_status::waiting, order_status::matched,
                                       "", extra, 2));
  ASSERT_TRUE(matched);
  world.placed[number + "-1"] = act::unknown_placed;  // it did reach the supplier
  world.deliver(number + "-1");
  dispatcher->adopt(*matched);
  auto o = settle(number);
  EXPECT_EQ(o.status, order_status::success);
  EXPECT_EQ(world.submits["A"], 0);  // asked, never re-sent
  EXPECT_GE(world.queries["A"], 1);
  EXPECT_EQ(world.deliveries, 1);
}

TEST_F(Dispatcher, NoEnabledChannelRefusesAtIntake) {
  build();
  ASSERT_TRUE(catalogue->set_enabled("A", false));
  ASSERT_TRUE(catalogue->set_enabled("B", false));
  // No enabled channel at all: the order cannot even be accepted (2005).
  auto res = run(service->push(request("nochan", false)));
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error(), errc::unsupported_amount);
}

TEST_F(Dispatcher, SlowOrderWaitsForCapacityThenRefundsAtDeadline) {
  cfg.channels[0].max_inflight = 1;
  cfg.channels[0].query_interval_ms = 60000;
  cfg.channels.pop_back();  // only A
  build();
  world.script["A"] = {act::accept_silent, act::succeed};
  auto first = push(true, "", 1);
  settle(first, 200ms);  // occupies A's only slot
  auto slow = push(true, "", 0);
  auto o = settle(slow, 400ms);
  EXPECT_EQ(o.status, order_status::waiting);  // waits in 6 while A is full
  o = settle(slow, 3s);                        // slow_deadline_s = 1
  EXPECT_EQ(o.status, order_status::refunded);
  EXPECT_EQ(o.reason, "no channel available before the deadline");
  EXPECT_EQ(world.submits["A"], 1);
}

TEST_F(Dispatcher, ParkedOrdersHoldNoCoroutineAndTakeFreedSlotsInOrder) {
  cfg.channels[0].max_inflight = 1;
  cfg.channels[0].query_interval_ms = 20;
  cfg.channels.pop_back();  // only A, one order at a time
  build();
  constexpr int k_orders = 6;
  for (int i = 0; i < k_orders; ++i) world.script["A"].push_back(act::accept_succeed);
  std::vector<std::string> numbers;
  for (int i = 0; i < k_orders; ++i) numbers.push_back(push(true));
  io.run_for(5ms);
  // One order holds A's slot; the rest wait parked, without a coroutine each.
  EXPECT_GE(dispatcher->parked(), static_cast<std::size_t>(k_orders - 2));
  EXPECT_LE(dispatcher->active(), 2u);
  std::vector<std::int64_t> matched_at;
  for (const auto& n : numbers) {
    auto o = settle(n, 5s);
    ASSERT_EQ(o.status, order_status::success) << n;
    auto at = o.named_field("matched_at");
    ASSERT_TRUE(at);
    matched_at.push_back(std::stoll(std::string(*at)));
  }
  // First come, first served, each delivered exactly once.
  EXPECT_TRUE(std::is_sorted(matched_at.begin(), matched_at.end()));
  EXPECT_EQ(world.submits["A"], k_orders);
  for (const auto& n : numbers) EXPECT_EQ(world.delivered_by_order[n], 1) << n;
  EXPECT_EQ(dispatcher->parked(), 0u);
  EXPECT_EQ(balance(), k_start - k_orders * k_cost);
}

TEST_F(Dispatcher, FullWaitLinesRefuseANewWaitingOrderBeforeAnyDebit) {
  cfg.channels[0].max_inflight = 1;
  cfg.channels[0].query_interval_ms = 60000;
  cfg.channels.pop_back();  // only A
  cfg.server.max_waiting_orders = 2;
  build();
  world.script["A"] = {act::accept_silent};
  settle(push(true), 100ms);  // holds A's only slot
  push(true, "", 0);
  push(true, "", 0);
  io.run_for(20ms);
  ASSERT_EQ(dispatcher->parked(), 2u);
  const fen_t before = balance();
  push_request third = request("o-over-the-bound", true);
  third.recharge_type = 0;
  auto refused = run(service->push(third));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), errc::overloaded);
  EXPECT_EQ(balance(), before) << "refused orders are never debited";
  EXPECT_EQ(run(store->order_no_entry_of(1001, "o-over-the-bound")).error(),
            errc::order_not_found);
  EXPECT_EQ(dispatcher->parked(), 2u);
}

TEST_F(Dispatcher, CancelledParkedOrderIsNeverSubmitted) {
  cfg.channels[0].max_inflight = 1;
  cfg.channels[0].query_interval_ms = 60000;
  cfg.channels.pop_back();
  build();
  world.script["A"] = {act::accept_silent, act::succeed};
  auto first = push(true);
  settle(first, 100ms);  // holds A's only slot until a callback decides it
  auto waiting = push(true, "", 0);
  io.run_for(20ms);
  ASSERT_EQ(dispatcher->parked(), 1u);
  auto cancelled = run(service->cancel(1001, waiting, ""));
  ASSERT_TRUE(cancelled) << cancelled.error().message();
  EXPECT_EQ(cancelled->status, order_status::refunded);
  // The slot frees; the wait line finds the cancelled order refunded and submits nothing.
  dispatcher->deliver(first, supplier_callback{first + "-1", {attempt_outcome::succeeded, ""}, "A"});
  EXPECT_EQ(settle(first).status, order_status::success);
  io.run_for(300ms);
  EXPECT_EQ(dispatcher->parked(), 0u);
  EXPECT_EQ(dispatcher->active(), 0u);
  EXPECT_EQ(world.submits["A"], 1);
  EXPECT_EQ(balance(), k_start - k_cost);
}

TEST_F(Dispatcher, FreeChannelIsChosenInTheAcceptItself) {
  build();
  world.script["A"] = {act::succeed};
  auto number = push(true);
  auto o = settle(number);
  EXPECT_EQ(o.status, order_status::success);
  EXPECT_EQ(o.named_field("channel"), "A");
  EXPECT_EQ(o.named_field("attempt_id"), number + "-1");
  // The accept stored 0->6->7 in one step (one event), and the supplier's final answer to the
  // submit 7->1->2 in another: three events, two scripts after the accept.
  auto events = run(store->events(1001, number));
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ((*events)[0].field("type"), "accepted");
  EXPECT_EQ((*events)[0].field("from"), "0");
  EXPECT_EQ((*events)[0].field("to"), "7");
  EXPECT_EQ((*events)[0].field("channel"), "A");
  EXPECT_EQ((*events)[1].field("from"), "7");
  EXPECT_EQ((*events)[1].field("to"), "1");
  EXPECT_EQ((*events)[1].field("submit"), "succeeded");
  EXPECT_EQ((*events)[2].field("from"), "1");
  EXPECT_EQ((*events)[2].field("to"), "2");
  EXPECT_EQ((*events)[2].field("at"), (*events)[1].field("at"));
  EXPECT_EQ(world.submits["A"], 1);
  EXPECT_EQ(balance(), k_start - k_cost);
}

// The supplier answers the submit with a delivery while Redis drops the shard's connection: the
// one-step 7->1->2 fails as storage unavailable and is tried again from memory once Redis is
// back. The top-up is submitted once, the slot given back once, the history is whole.
TEST_F(Dispatcher, FinalSubmitAnswerIsStoredAfterALostConnectionWithoutResubmitting) {
  build();
  // Once, during the next submit: Redis closes every client connection (the shard's included).
  auto drop_connection_during_submit = [this] {
    world.during_submit = [this] {
      world.during_submit = nullptr;
      redis->command({"CLIENT", "KILL", "TYPE", "normal"});
    };
  };
  world.script["A"] = {act::succeed};
  drop_connection_during_submit();
  auto number = push(true);
  auto o = settle(number);
  EXPECT_EQ(o.status, order_status::success);
  EXPECT_EQ(world.submits["A"], 1);
  EXPECT_EQ(world.deliveries, 1);
  EXPECT_EQ(world.submits["B"], 0);
  EXPECT_EQ(router->find("A")->health.inflight(), 0u);
  auto events = run(store->events(1001, number));
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ((*events)[1].field("from"), "7");
  EXPECT_EQ((*events)[1].field("to"), "1");
  EXPECT_EQ((*events)[2].field("to"), "2");
  EXPECT_EQ(balance(), k_start - k_cost);

  // Without failover the same answer, a failure, is not one step: 7->1, then the refund.
  world.script["A"] = {act::fail};
  drop_connection_during_submit();
  auto refunded = push(false);
  auto r = settle(refunded);
  EXPECT_EQ(r.status, order_status::refunded);
  EXPECT_EQ(world.submits["A"], 2);
  EXPECT_EQ(world.submits["B"], 0);
  EXPECT_EQ(router->find("A")->health.inflight(), 0u);
  auto moves = run(store->events(1001, refunded));
  ASSERT_TRUE(moves);
  std::vector<std::string> path;
  for (const auto& e : *moves)
    path.push_back(std::string(e.field("from").value_or("?")) + "->" +
                   std::string(e.field("to").value_or("?")));
  EXPECT_EQ(path, (std::vector<std::string>{"0->7", "7->1", "1->3", "3->4"}));
  EXPECT_EQ(balance(), k_start - k_cost);
}

TEST_F(Dispatcher, AcceptStoresInSixWhenNoChannelIsFreeAndARepeatGivesTheSlotBack) {
  cfg.channels[0].max_inflight = 2;
  cfg.channels[0].query_interval_ms = 60000;
  cfg.channels.pop_back();
  build();
  world.script["A"] = {act::accept_silent, act::accept_silent, act::succeed};
  auto first = push(true);  // holds one of A's two slots
  // A repeat of the same order_no takes the free slot for its accept, is a duplicate, and must
  // give the slot back: otherwise the next order would find A full.
  auto dup = run(service->push(request("o1", true)));
  ASSERT_TRUE(dup);
  EXPECT_TRUE(dup->duplicate);
  auto second = push(true);
  auto o = run(store->get(1001, second));
  ASSERT_TRUE(o);
  EXPECT_NE(o->status, order_status::waiting);  // matched by the accept itself (7, or 1 already)
  // A is full now: the next order is stored waiting and parked.
  auto third = push(true, "", 0);
  o = run(store->get(1001, third));
  ASSERT_TRUE(o);
  EXPECT_EQ(o->status, order_status::waiting);
  io.run_for(20ms);
  EXPECT_EQ(dispatcher->parked(), 1u);
  for (const auto& n : {first, second})
    dispatcher->deliver(n, supplier_callback{n + "-1", {attempt_outcome::succeeded, ""}, "A"});
  for (const auto& n : {first, second, third}) EXPECT_EQ(settle(n).status, order_status::success);
  EXPECT_EQ(world.submits["A"], 3);
  EXPECT_EQ(balance(), k_start - 3 * k_cost);
}

// ---- the exception queue and an operator's settlement (spec §7) ----

/// An order at A (change=0) that A never answers definitively (queried every 50 ms), listed for
/// an operator once unknown_max_s (1 s) passed; the final hook counted.
class Settlement : public Dispatcher {
 protected:
  std::string unresolved_order(bool listed = true) {
    cfg.channels[0].query_interval_ms = 50;
    cfg.channels[0].unknown_max_s = 1;
    if (!dispatcher) {
      build();
      dispatcher->on_final([this](const order_record& o) { finals.push_back(o.order_number); });
    }
    world.script["A"].push_back(act::accept_silent);
    world.script["B"] = {act::succeed};
    auto number = push(false);  // no failover: a supplier's "failed" refunds it
    auto o = settle(number, listed ? 1500ms : 300ms);
    EXPECT_EQ(o.status, order_status::recharging);
    return number;
  }
  exception_page exceptions(exception_filter f = {}) {
    exception_queue q(*store, cfg);
    auto page = run(q.list(std::move(f), 1, 100, wall_ms()));
    EXPECT_TRUE(page) << page.error().message();
    return page ? *page : exception_page{};
  }
  static std::int64_t wall_ms() { return system_clock().wall_ms(); }
  settle_outcome settle_by_hand(const std::string& number, bool success) {
    manual_settlement s;
    s.success = success;
    s.by = "ops1";
    s.evidence = "supplier portal says " + std::string(success ? "delivered" : "failed");
    auto out = run(dispatcher->settle(1001, number, std::move(s)));
    EXPECT_TRUE(out) << out.error().message();
    return out ? *out : settle_outcome{};
  }
  std::optional<std::string> step_field(const std::string& number, int to, std::string_view name) {
    auto events = run(store->events(1001, number));
    if (!events) return std::nullopt;
    for (const auto& e : *events)
      if (e.field("type") == std::optional<std::string_view>("transition") &&
          e.field("to") == std::optional<std::string_view>(std::to_string(to)))
        if (auto v = e.field(name)) return std::string(*v);
    return std::nullopt;
  }
  void expect_clean_books() {
    auto r = run(audit_merchants(*conn, "t", {1001}));
    ASSERT_TRUE(r) << r.error().message();
    for (const auto& f : r->findings) ADD_FAILURE() << f.order_number << ": " << f.problem;
    EXPECT_TRUE(r->clean());
  }
  std::vector<std::string> finals;
};

TEST_F(Settlement, UnresolvedOrderIsListedThenSettledFailedRefundsOnce) {
  auto number = unresolved_order();
  auto page = exceptions();
  ASSERT_EQ(page.total, 1);
  EXPECT_EQ(page.entries[0].order.order_number, number);
  EXPECT_EQ(page.entries[0].entry.kind, exception_kind::unresolved);
  EXPECT_EQ(page.entries[0].order.attempt.channel, "A");
  EXPECT_EQ(balance(), k_start - k_cost);

  auto out = settle_by_hand(number, false);
  EXPECT_EQ(out.refused, settle_refusal::none);
  EXPECT_EQ(out.order.status, order_status::refunded);
  EXPECT_EQ(balance(), k_start);  // refunded, once
  auto o = settle(number);
  EXPECT_EQ(o.status, order_status::refunded);
  EXPECT_EQ(dispatcher->active(), 0u);  // its driver read it again and ended
  EXPECT_EQ(finals, std::vector<std::string>{number});  // the merchant's callback, once
  EXPECT_EQ(step_field(number, 3, "by"), "ops1");
  EXPECT_EQ(step_field(number, 3, "evidence"), "supplier portal says failed");
  EXPECT_EQ(exceptions().total, 0);  // off the queue
  auto listed = run(store->unresolved(1001, 10));
  ASSERT_TRUE(listed);
  EXPECT_TRUE(listed->empty());

  // Never twice: final now.
  EXPECT_EQ(settle_by_hand(number, false).refused, settle_refusal::final_already);
  EXPECT_EQ(settle_by_hand(number, true).refused, settle_refusal::final_already);
  EXPECT_EQ(balance(), k_start);
  EXPECT_EQ(world.submits["B"], 0);
  EXPECT_EQ(world.deliveries, 0);
  expect_clean_books();  // `topupd audit` accepts a settled order's transitions
}

TEST_F(Settlement, SettledSuccessIsFinalWithoutRefund) {
  auto number = unresolved_order();
  auto out = settle_by_hand(number, true);
  EXPECT_EQ(out.refused, settle_refusal::none);
  EXPECT_EQ(out.order.status, order_status::success);
  EXPECT_EQ(settle(number).status, order_status::success);
  EXPECT_EQ(balance(), k_start - k_cost);
  EXPECT_EQ(finals, std::vector<std::string>{number});
  EXPECT_EQ(step_field(number, 2, "by"), "ops1");
  EXPECT_EQ(settle_by_hand(number, false).refused, settle_refusal::final_already);
  EXPECT_EQ(balance(), k_start - k_cost);
  expect_clean_books();
}

TEST_F(Settlement, OrderNotInTheQueueIsRefusedAndUntouched) {
  auto number = unresolved_order(false);  // in 1, unknown_max_s not yet passed
  EXPECT_EQ(exceptions().total, 0);
  auto out = settle_by_hand(number, false);
  EXPECT_EQ(out.refused, settle_refusal::not_listed);
  EXPECT_EQ(out.order.status, order_status::recharging);
  EXPECT_EQ(run(store->get(1001, number))->status, order_status::recharging);
  EXPECT_EQ(balance(), k_start - k_cost);
  EXPECT_TRUE(finals.empty());
}

TEST_F(Settlement, SupplierAnswerAndSettlementTogetherExactlyOneWins) {
  // The supplier's answer handed over in the same turn as the settlement (either first), or
  // just after the settlement was stored; the supplier and the operator disagree each time. The
  // compare-and-set on the version decides: one is stored, the other changes nothing.
  enum class order_of { supplier_first, settle_first, settle_stored_first };
  int operator_wins = 0;
  for (int i = 0; i < 6; ++i) {
    const auto when = static_cast<order_of>(i % 3);
    const bool supplier_says_ok = i < 3;
    auto number = unresolved_order();
    const fen_t before = balance();
    std::optional<boost::system::result<settle_outcome>> settled;
    manual_settlement s;
    s.success = !supplier_says_ok;
    s.by = "ops1";
    s.evidence = "race";
    auto answer = [&] {
      const auto outcome = supplier_says_ok ? attempt_outcome::succeeded : attempt_outcome::failed;
      dispatcher->deliver(number, supplier_callback{number + "-1", {outcome, ""}, "A"});
    };
    if (when == order_of::supplier_first) answer();
    asio::co_spawn(io, dispatcher->settle(1001, number, s),
                   [&](std::exception_ptr, boost::system::result<settle_outcome> r) { settled = r; });
    if (when == order_of::settle_first) answer();
    if (when == order_of::settle_stored_first) {
      topup::test::run_until(io, [&] { return settled.has_value(); }, 5s);
      answer();
    }
    auto o = settle(number);
    ASSERT_TRUE(settled && *settled) << i;
    ASSERT_TRUE(is_terminal(o.status)) << i;
    const bool operator_won = (*settled)->refused == settle_refusal::none;
    operator_wins += operator_won;
    if (!operator_won) {
      EXPECT_EQ((*settled)->refused, settle_refusal::final_already) << i;
    }
    if (when == order_of::settle_stored_first) {
      EXPECT_TRUE(operator_won) << i;
    }
    const bool delivered = operator_won ? s.success : supplier_says_ok;
    EXPECT_EQ(o.status, delivered ? order_status::success : order_status::refunded) << i;
    EXPECT_EQ(balance(), delivered ? before : before + k_cost) << i;  // refunded at most once
    EXPECT_EQ(std::count(finals.begin(), finals.end(), number), 1) << i;
    EXPECT_EQ(step_field(number, delivered ? 2 : 3, "by").has_value(), operator_won) << i;
  }
  EXPECT_GE(operator_wins, 2);
  expect_clean_books();
}

TEST_F(Settlement, OrderOnARemovedChannelIsListedAndSettleable) {
  auto number = unresolved_order(false);
  // The next configuration has no channel A: a new dispatcher (a restart) finds the order on it.
  dispatcher->begin_shutdown();
  io.run_for(100ms);
  dispatcher.reset();
  cfg.channels.erase(cfg.channels.begin());
  build_routing();
  dispatcher->on_final([this](const order_record& o) { finals.push_back(o.order_number); });
  dispatcher->adopt(*run(store->get(1001, number)));
  io.run_for(200ms);
  auto listed = run(store->unresolved(1001, 10));
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);  // the driver told an operator
  exception_filter only;
  only.kind = exception_kind::channel_removed;
  auto page = exceptions(only);
  ASSERT_EQ(page.total, 1);
  EXPECT_EQ(page.entries[0].order.order_number, number);
  only.channel = "B";
  EXPECT_EQ(exceptions(only).total, 0);

  EXPECT_EQ(settle_by_hand(number, false).refused, settle_refusal::none);
  EXPECT_EQ(settle(number).status, order_status::refunded);
  EXPECT_EQ(dispatcher->active(), 0u);
  EXPECT_EQ(balance(), k_start);
  EXPECT_EQ(exceptions().total, 0);
  expect_clean_books();
}

TEST_F(Settlement, CallbackThatUsedUpItsAttemptsIsListedUntilReNotified) {
  build();
  world.script["A"] = {act::succeed};
  push_request r = request("cbf", true);
  r.notify_url = "http://merchant.example/cb";
  auto number = run(service->push(std::move(r)))->order_number;
  ASSERT_EQ(settle(number).status, order_status::success);
  callback_store callbacks(*store);
  callback_attempt a;
  a.attempt = 1;
  a.at_ms = 1'700'000'000'000;
  a.http_status = 500;
  ASSERT_TRUE(run(callbacks.record_attempt(1001, number, a, 0)));  // the last one: failed
  auto failed = run(store->callback_failed(1001, 10));
  ASSERT_TRUE(failed);
  ASSERT_EQ(failed->size(), 1u);
  EXPECT_EQ((*failed)[0].second, a.at_ms);
  auto page = exceptions();
  ASSERT_EQ(page.total, 1);
  EXPECT_EQ(page.entries[0].entry.kind, exception_kind::callback_failed);
  EXPECT_FALSE(settleable(page.entries[0].entry.kind));
  // Final already: settling is refused, the re-notify is what helps.
  EXPECT_EQ(settle_by_hand(number, false).refused, settle_refusal::final_already);
  ASSERT_TRUE(run(callbacks.renotify(1001, number, 1'700'000'001'000, "ops1")));
  failed = run(store->callback_failed(1001, 10));
  ASSERT_TRUE(failed);
  EXPECT_TRUE(failed->empty());
  EXPECT_EQ(exceptions().total, 0);
  expect_clean_books();
}

}  // namespace
