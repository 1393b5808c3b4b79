// The engine services' multi-step actions against a real redis-server: a merchant's cancel
// (refund, then the callback kicked) and the operator's actions (credit, notify again, channel
// switch). The other shards are recording fakes, the clock a manual one: each test sees what
// was stored, what reached "the other shards", and that nothing did after a refusal.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/callbacks/callback_store.hpp"
#include "engine/order/order_number.hpp"
#include "engine/redis/connection.hpp"
#include "engine/routing/channel_catalogue.hpp"
#include "engine/runtime/metrics.hpp"
#include "engine/service/backlog_sampler.hpp"
#include "engine/service/operations_service.hpp"
#include "engine/service/order_service.hpp"
#include "engine/store/order_store.hpp"
#include "engine/support/errc.hpp"
#include "tests/support/fence.hpp"
#include "tests/support/io_run.hpp"
#include "tests/support/manual_clock.hpp"
#include "tests/support/recording_links.hpp"
#include "tests/support/redis_server.hpp"

namespace topup::engine {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr std::int64_t k_t0_ms = 1'700'000'000'000;
constexpr const char* k_prefix = "svc";
constexpr std::int64_t k_merchant = 1001;
constexpr fen_t k_start_fen = 100'000;
constexpr fen_t k_cost_fen = 10'000;  // 100 yuan at rate 1.0
constexpr const char* k_notify = "https://merchant.example/cb";

using kicks = std::vector<std::pair<std::string, std::int64_t>>;
using switches = std::vector<std::pair<std::string, bool>>;

/// A redis-server per suite; per test one shard's store, catalogue (channel "A"), an order
/// service without a dispatcher (accepted orders stay in 6) and the operations service, both on
/// the manual clock, and merchant 1001 funded with k_start_fen.
class services_fixture : public ::testing::Test {
 protected:
  static inline std::unique_ptr<topup::test::redis_server> redis;
  static void SetUpTestSuite() { redis = std::make_unique<topup::test::redis_server>(); }
  static void TearDownTestSuite() { redis.reset(); }

  void SetUp() override {
    redis->flushall();
    merchant_config m;
    m.id = k_merchant;
    m.app_key = "k1";
    m.app_secret = "s";
    m.store_ids = {"s1"};
    m.price_rate_ppm = 1'000'000;
    cfg.merchants = {m};
    channel_config a;
    a.id = "A";
    a.kind = "scripted";
    a.carriers = {carrier::cmcc, carrier::cucc, carrier::ctcc, carrier::cbn};
    a.amounts = {100};
    a.recharge_types = {0, 1};
    a.cost_rate_ppm = 980'000;
    cfg.channels = {a};

    conn = topup::test::connect_to(io, *redis, 5s);
    ASSERT_TRUE(conn->connected());
    topup::test::grant_fence(*redis, k_prefix, {k_merchant});
    store = std::make_unique<order_store>(*conn, k_prefix, *fence);
    catalogue = std::make_unique<channel_catalogue>(cfg.channels);
    callbacks = std::make_unique<callback_store>(*store);
    orders = std::make_unique<order_service>(cfg, *store, *catalogue, nullptr, kicker, nullptr, 0,
                                             clock);
    operations = std::make_unique<operations_service>(cfg, *store, *callbacks, *catalogue, kicker,
                                                      switchboard, settler, clock);
    ASSERT_TRUE(run(store->credit(k_merchant, "seed", k_start_fen, k_t0_ms)));
  }

  void TearDown() override {
    if (conn) conn->stop();
    io.run_for(50ms);
  }

  template <class T>
  T run(asio::awaitable<T> op) {
    auto out = topup::test::run(io, std::move(op), 10s);
    if (!out) throw std::runtime_error("operation did not complete");
    return std::move(*out);
  }

  /// Accepts a 100-yuan order of merchant 1001 (left in 6: no dispatcher); its order_number.
  std::string push(const std::string& order_no, const std::string& notify_url) {
    push_request r;
    r.merchant = &cfg.merchants[0];
    r.store_id = "s1";
    r.mobile = "13800138000";
    r.order_no = order_no;
    r.money_yuan = 100;
    r.notify_url = notify_url;
    auto accepted = run(orders->push(std::move(r)));
    EXPECT_TRUE(accepted) << accepted.error().message();
    return accepted ? accepted->order_number : std::string();
  }

  order_record get(const std::string& number) {
    auto o = run(store->get(k_merchant, number));
    EXPECT_TRUE(o) << number << ": " << o.error().message();
    return o ? *o : order_record{};
  }

  /// Moves the order along `path` as the dispatcher would (each step stored).
  void advance(const std::string& number, std::vector<order_status> path) {
    order_record order = get(number);
    for (auto to : path) {
      auto moved = run(store->advance(order, to, "", {}, clock.wall_ms()));
      ASSERT_TRUE(moved) << moved.error().message();
    }
  }

  fen_t balance() { return run(store->account(k_merchant))->balance; }
  std::size_t events_of(const std::string& number) {
    return run(store->events(k_merchant, number))->size();
  }
  std::vector<std::string> due_at(std::int64_t now_ms) {
    return *run(store->due_callbacks(k_merchant, now_ms, 10));
  }
  std::vector<std::string> stored_disabled() { return *run(store->disabled_channels()); }

  /// Stops the redis-server; later commands fail (as when Redis is down).
  void take_redis_down() { redis->stop(); }
  void bring_redis_back() {
    redis->start();
    ASSERT_TRUE(topup::test::run_until(io, [&] { return conn->connected(); }, 5s));
  }
  static bool storage_down(const boost::system::error_code& ec) {
    // The first command may leave before the connection learns the server is gone: "unknown"
    // then, not "unavailable"; nothing can have been stored either way.
    return ec == errc::storage_unavailable || ec == errc::outcome_unknown;
  }

  asio::io_context io;
  config cfg;
  topup::test::manual_clock clock{k_t0_ms};
  topup::test::recording_kicker kicker;
  topup::test::recording_switchboard switchboard;
  topup::test::recording_settler settler;
  std::unique_ptr<redis::connection> conn;
  std::unique_ptr<fence_token> fence = topup::test::fence_token_for();
  std::unique_ptr<order_store> store;
  std::unique_ptr<channel_catalogue> catalogue;
  std::unique_ptr<callback_store> callbacks;
  std::unique_ptr<order_service> orders;
  std::unique_ptr<operations_service> operations;
};

class OrderServiceCancel : public services_fixture {};
class OperationsRenotify : public services_fixture {};
class OperationsChannelSwitch : public services_fixture {};
class OperationsCredit : public services_fixture {};
class IntakeErrors : public services_fixture {};
class BacklogSampler : public services_fixture {};

// ------------------------------------------------------------------------------ cancel

TEST_F(OrderServiceCancel, AWaitingOrderIsRefundedThenItsCallbackKickedOnce) {
  const std::string number = push("c-1", k_notify);
  ASSERT_EQ(balance(), k_start_fen - k_cost_fen);
  clock.advance(5s);
  auto cancelled = run(orders->cancel(k_merchant, number, ""));
  ASSERT_TRUE(cancelled) << cancelled.error().message();
  EXPECT_EQ(cancelled->status, order_status::refunded);
  EXPECT_EQ(get(number).status, order_status::refunded);
  EXPECT_EQ(balance(), k_start_fen);
  EXPECT_EQ(kicker.kicks, (kicks{{number, k_merchant}}));
  // The kick is a hint: the callback is due in Redis already, from the service's clock.
  EXPECT_EQ(due_at(clock.wall_ms()), std::vector<std::string>{number});
}

TEST_F(OrderServiceCancel, ByOrderNoWithoutANotifyUrlRefundsAndKicksNothing) {
  const std::string number = push("c-2", "");
  auto cancelled = run(orders->cancel(k_merchant, "", "c-2"));
  ASSERT_TRUE(cancelled) << cancelled.error().message();
  EXPECT_EQ(cancelled->order_number, number);
  EXPECT_EQ(cancelled->status, order_status::refunded);
  EXPECT_EQ(balance(), k_start_fen);
  EXPECT_TRUE(kicker.kicks.empty());
}

TEST_F(OrderServiceCancel, AnOrderOutOfSixIsCannotCancelMovesNoMoneyAndKicksNothing) {
  const std::vector<std::vector<order_status>> paths = {
      {order_status::matched},
      {order_status::matched, order_status::recharging},
      {order_status::matched, order_status::recharging, order_status::success}};
  int n = 0;
  for (const auto& path : paths) {
    const std::string number = push("c-out-" + std::to_string(++n), k_notify);
    ASSERT_NO_FATAL_FAILURE(advance(number, path));
    const fen_t before = balance();
    const std::size_t events_before = events_of(number);
    auto refused = run(orders->cancel(k_merchant, number, ""));
    ASSERT_FALSE(refused) << "cancelled in " << to_int(path.back());
    EXPECT_EQ(refused.error(), errc::cannot_cancel);
    EXPECT_EQ(get(number).status, path.back());
    EXPECT_EQ(balance(), before) << "nothing refunded from " << to_int(path.back());
    EXPECT_EQ(events_of(number), events_before) << "nothing written";
  }
  EXPECT_TRUE(kicker.kicks.empty());
}

TEST_F(OrderServiceCancel, ASecondCancelIsCannotCancelRefundsOnceAndKicksOnce) {
  const std::string number = push("c-twice", k_notify);
  ASSERT_TRUE(run(orders->cancel(k_merchant, number, "")));
  auto again = run(orders->cancel(k_merchant, number, ""));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), errc::cannot_cancel);
  EXPECT_EQ(balance(), k_start_fen);
  EXPECT_EQ(kicker.kicks.size(), 1u);
}

TEST_F(OrderServiceCancel, AnotherMerchantsOrderIsNotFoundAndUntouched) {
  const std::string number = push("c-mine", k_notify);
  auto refused = run(orders->cancel(1002, number, ""));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), errc::order_not_found);
  EXPECT_EQ(get(number).status, order_status::waiting);
  EXPECT_TRUE(kicker.kicks.empty());
}

TEST_F(OrderServiceCancel, WithRedisDownNothingIsRefundedOrKicked) {
  const std::string number = push("c-down", k_notify);
  take_redis_down();
  auto refused = run(orders->cancel(k_merchant, number, ""));
  ASSERT_FALSE(refused);
  EXPECT_TRUE(storage_down(refused.error())) << refused.error().message();
  EXPECT_TRUE(kicker.kicks.empty());
  ASSERT_NO_FATAL_FAILURE(bring_redis_back());
  EXPECT_EQ(get(number).status, order_status::waiting);
  EXPECT_EQ(balance(), k_start_fen - k_cost_fen);
}

// ---------------------------------------------------------------------------- re-notify

TEST_F(OperationsRenotify, AFinalOrderIsDueAtTheServiceClockAndItsOwnerKicked) {
  const std::string number = push("r-1", k_notify);
  ASSERT_NO_FATAL_FAILURE(
      advance(number, {order_status::matched, order_status::recharging, order_status::success}));
  // Its callback was delivered: off the due set, until an operator asks again.
  callback_attempt delivered;
  delivered.attempt = 1;
  delivered.at_ms = clock.wall_ms();
  delivered.http_status = 200;
  delivered.delivered = true;
  ASSERT_TRUE(run(callbacks->record_attempt(k_merchant, number, delivered, 0)));
  ASSERT_TRUE(due_at(k_t0_ms + 3'600'000).empty());

  clock.advance(60s);
  auto armed = run(operations->renotify(number, "ops1"));
  ASSERT_TRUE(armed) << armed.error().message();
  EXPECT_EQ(get(number).named_field("cb_status").value_or(""), "pending");
  EXPECT_EQ(due_at(clock.wall_ms()), std::vector<std::string>{number});
  EXPECT_TRUE(due_at(clock.wall_ms() - 1).empty()) << "due from the service's clock, not before";
  EXPECT_EQ(kicker.kicks, (kicks{{number, k_merchant}}));
}

TEST_F(OperationsRenotify, AnOrderNotFinalIsCannotCancelWritesNothingAndKicksNothing) {
  const std::string waiting = push("r-6", k_notify);
  const std::string recharging = push("r-1", k_notify);
  ASSERT_NO_FATAL_FAILURE(advance(recharging, {order_status::matched, order_status::recharging}));
  for (const auto& number : {waiting, recharging}) {
    const std::size_t events_before = events_of(number);
    auto refused = run(operations->renotify(number, "ops1"));
    ASSERT_FALSE(refused) << number;
    EXPECT_EQ(refused.error(), errc::cannot_cancel);
    EXPECT_EQ(events_of(number), events_before) << "nothing written";
  }
  EXPECT_TRUE(due_at(k_t0_ms + 3'600'000).empty());
  EXPECT_TRUE(kicker.kicks.empty());
}

TEST_F(OperationsRenotify, AFinalOrderWithoutANotifyUrlIsCannotCancelAndKicksNothing) {
  const std::string number = push("r-quiet", "");
  ASSERT_TRUE(run(orders->cancel(k_merchant, number, "")));  // final: refunded (4)
  auto refused = run(operations->renotify(number, "ops1"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), errc::cannot_cancel);
  EXPECT_TRUE(due_at(k_t0_ms + 3'600'000).empty());
  EXPECT_TRUE(kicker.kicks.empty());
}

TEST_F(OperationsRenotify, AMalformedOrUnknownNumberIsNotFoundAndKicksNothing) {
  const std::string never_stored = make_order_number(
      {static_cast<std::uint64_t>(k_t0_ms), 0, 0, 99, k_merchant});
  for (const std::string& number : {std::string("nonsense"), std::string(), never_stored}) {
    auto refused = run(operations->renotify(number, "ops1"));
    ASSERT_FALSE(refused) << number;
    EXPECT_EQ(refused.error(), errc::order_not_found) << number;
  }
  EXPECT_TRUE(kicker.kicks.empty());
}

TEST_F(OperationsRenotify, WithRedisDownNothingIsKicked) {
  const std::string number = push("r-down", k_notify);
  ASSERT_NO_FATAL_FAILURE(
      advance(number, {order_status::matched, order_status::recharging, order_status::success}));
  take_redis_down();
  auto refused = run(operations->renotify(number, "ops1"));
  ASSERT_FALSE(refused);
  EXPECT_TRUE(storage_down(refused.error())) << refused.error().message();
  EXPECT_TRUE(kicker.kicks.empty());
  ASSERT_NO_FATAL_FAILURE(bring_redis_back());
}

// ----------------------------------------------------------------------- channel switch

TEST_F(OperationsChannelSwitch, IsStoredThenAppliedOnEveryShard) {
  ASSERT_TRUE(run(operations->switch_channel("A", false)));
  EXPECT_EQ(stored_disabled(), std::vector<std::string>{"A"});
  EXPECT_EQ(switchboard.switches, (switches{{"A", false}}));
  ASSERT_TRUE(run(operations->switch_channel("A", true)));
  EXPECT_TRUE(stored_disabled().empty());
  EXPECT_EQ(switchboard.switches, (switches{{"A", false}, {"A", true}}));
}

TEST_F(OperationsChannelSwitch, AnUnknownChannelIsNoChannelAndNothingIsStoredOrApplied) {
  for (const std::string id : {"Z", "", "a"}) {
    auto refused = run(operations->switch_channel(id, false));
    ASSERT_FALSE(refused) << id;
    EXPECT_EQ(refused.error(), errc::no_channel) << id;
  }
  EXPECT_TRUE(stored_disabled().empty());
  EXPECT_TRUE(switchboard.switches.empty());
}

TEST_F(OperationsChannelSwitch, WhenTheSwitchCannotBeStoredNoShardAppliesIt) {
  take_redis_down();
  auto refused = run(operations->switch_channel("A", false));
  ASSERT_FALSE(refused);
  EXPECT_TRUE(storage_down(refused.error())) << refused.error().message();
  EXPECT_TRUE(switchboard.switches.empty()) << "applied but not stored: a restart would undo it";
  ASSERT_NO_FATAL_FAILURE(bring_redis_back());
  EXPECT_TRUE(stored_disabled().empty());
}

// ------------------------------------------------------------------------------- credit

TEST_F(OperationsCredit, IsAppliedOnceAndTheSameRefWithAnotherAmountIsAConflict) {
  auto credited = run(operations->credit(k_merchant, "wire-1", 2'500, "fin1"));
  ASSERT_TRUE(credited) << credited.error().message();
  EXPECT_FALSE(credited->repeat);
  EXPECT_EQ(credited->balance_fen, k_start_fen + 2'500);
  auto repeat = run(operations->credit(k_merchant, "wire-1", 2'500, "fin1"));
  ASSERT_TRUE(repeat);
  EXPECT_TRUE(repeat->repeat);
  auto conflict = run(operations->credit(k_merchant, "wire-1", 3'000, "fin1"));
  ASSERT_FALSE(conflict);
  EXPECT_EQ(conflict.error(), errc::order_no_conflict);
  EXPECT_EQ(balance(), k_start_fen + 2'500);
  auto ledger = run(store->ledger(k_merchant, "", 10));
  ASSERT_TRUE(ledger);
  ASSERT_EQ(ledger->entries.size(), 2u);  // the seed and wire-1
  EXPECT_EQ(ledger->entries.back().ref, "wire-1");
  EXPECT_EQ(ledger->entries.back().amount_fen, 2'500);
}

// ------------------------------------------------------------------------------ metrics

TEST_F(IntakeErrors, TopupdsFailuresAreCountedByReasonAndTheMerchantsMistakesAreNot) {
  shard_metrics figures(cfg.channels.size());
  order_service counted(cfg, *store, *catalogue, nullptr, kicker, &figures, 0, clock);
  push_request r;
  r.merchant = &cfg.merchants[0];
  r.store_id = "s1";
  r.mobile = "12345";  // not a mobile number: the merchant's mistake (2001)
  r.order_no = "ie-1";
  r.money_yuan = 100;
  auto bad = run(counted.push(r));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), errc::invalid_mobile);
  for (const auto& n : figures.intake_errors) EXPECT_EQ(n.load(), 0u);

  counted.set_intake_open(false);  // as before a shard has read what routing needs
  r.mobile = "13800138000";
  auto closed = run(counted.push(r));
  ASSERT_FALSE(closed);
  EXPECT_EQ(closed.error(), errc::storage_unavailable);
  EXPECT_EQ(figures.intake_errors[0].load(), 1u) << "unavailable";

  counted.set_intake_open(true);
  auto accepted = run(counted.push(r));
  ASSERT_TRUE(accepted) << accepted.error().message();
  EXPECT_EQ(figures.orders_accepted.load(), 1u);
  std::uint64_t errors = 0;
  for (const auto& n : figures.intake_errors) errors += n.load();
  EXPECT_EQ(errors, 1u) << "an accepted order is no error";
}

TEST_F(BacklogSampler, CountsCallbacksOwedAndTheExceptionQueueByKind) {
  const std::string succeeded = push("bs-1", k_notify);
  const std::string cancelled = push("bs-2", k_notify);
  const std::string waiting = push("bs-3", k_notify);
  const std::string stranded = push("bs-4", k_notify);
  advance(succeeded, {order_status::matched, order_status::recharging, order_status::success});
  ASSERT_TRUE(run(orders->cancel(k_merchant, cancelled, "")));
  // In 1 on a channel this configuration does not have (none named): channel_removed.
  advance(stranded, {order_status::matched, order_status::recharging});

  instance_metrics gauges;
  backlog_sampler sampler(*store, cfg, gauges);
  // Two days later: both callbacks are due, the order still in 6 is past even a slow deadline.
  const std::int64_t later_ms = clock.wall_ms() + std::int64_t{2} * 86400 * 1000;
  ASSERT_FALSE(run(sampler.sample(later_ms)));
  EXPECT_EQ(gauges.callbacks_owed.load(), 2);
  EXPECT_EQ(gauges.callbacks_due.load(), 2);
  auto kind = [&](exception_kind k) { return gauges.exceptions[static_cast<std::size_t>(k)].load(); };
  EXPECT_EQ(kind(exception_kind::overdue), 1) << waiting;
  EXPECT_EQ(kind(exception_kind::channel_removed), 1);
  EXPECT_EQ(kind(exception_kind::unresolved), 0);
  EXPECT_EQ(kind(exception_kind::callback_failed), 0);
  // Long before their due times: owed, none due yet.
  ASSERT_FALSE(run(sampler.sample(k_t0_ms - 3600 * 1000)));
  EXPECT_EQ(gauges.callbacks_owed.load(), 2);
  EXPECT_EQ(gauges.callbacks_due.load(), 0);

  // Redis down: the sample fails and the gauges keep their last figures.
  take_redis_down();
  EXPECT_TRUE(run(sampler.sample(later_ms)));
  EXPECT_EQ(gauges.callbacks_owed.load(), 2);
  EXPECT_EQ(kind(exception_kind::overdue), 0) << "the earlier sample's figure";
  bring_redis_back();
}

}  // namespace
}  // namespace topup::engine
