// The merchant callback scheduler against a real redis-server, with a scripted sender: what
// counts as a delivery attempt.
#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cstdint>

#include <deque>
#include <memory>

#include "engine/callbacks/callback_scheduler.hpp"
#include "engine/callbacks/callback_store.hpp"
#include "engine/support/clock.hpp"
#include "engine/order/order_number.hpp"
#include "engine/store/order_store.hpp"
#include "engine/redis/connection.hpp"
#include "tests/support/fence.hpp"
#include "tests/support/io_run.hpp"
#include "tests/support/redis_server.hpp"

namespace {

using namespace topup::engine;
namespace asio = boost::asio;
using namespace std::chrono_literals;
using topup::test::run;
using topup::test::run_until;

/// Answers each send with the next scripted delivery.
struct scripted_sender {
  std::deque<callback_delivery> script;
  int calls = 0;
};

asio::awaitable<callback_delivery> send_next(scripted_sender* s) {
  ++s->calls;
  callback_delivery d = s->script.front();
  s->script.pop_front();
  co_return d;
}

callback_delivery never_sent() {
  callback_delivery d;
  d.error = "waited for a free connection until the deadline";
  d.not_sent = true;
  return d;
}

callback_delivery acknowledged() {
  callback_delivery d;
  d.delivered = true;
  d.http_status = 200;
  d.body_excerpt = "success";
  return d;
}

/// Stores a delivered (2) order of merchant 1001 with a notify_url, so its callback is due now;
/// `sequence` tells the orders of one test apart.
void delivered_order(asio::io_context& io, order_store& store, order_record& r,
                     std::uint32_t sequence = 1) {
  ASSERT_TRUE(run(io, store.credit(1001, "seed", 100000, 1)));
  const std::int64_t now = wall_clock_ms();
  r.order_number = make_order_number({static_cast<std::uint64_t>(now), 0, 0, sequence, 1001});
  r.order_no = "cb-" + std::to_string(sequence);
  r.merchant_id = 1001;
  r.mobile = "13800138000";
  r.money_yuan = 100;
  r.notify_url = "http://merchant.example/cb";
  r.fingerprint = "fp";
  r.cost_fen = 10000;
  ASSERT_TRUE(run(io, store.accept(r, now)));
  auto read = run(io, store.get(1001, r.order_number));
  ASSERT_TRUE(read && *read);
  order_record order = **read;
  for (auto to : {order_status::matched, order_status::recharging, order_status::success}) {
    auto moved = run(io, store.advance(order, to, "", {}, now));
    ASSERT_TRUE(moved && *moved);
  }
}

/// The merchant acknowledges, but while the delivery is out an operator asks to notify again
/// (POST /admin/orders/<n>/notify does renotify, then kick).
asio::awaitable<callback_delivery> acknowledge_after_renotify(scripted_sender* s,
                                                              callback_store* callbacks,
                                                              callback_scheduler** scheduler,
                                                              std::string number) {
  if (++s->calls == 1) {
    auto armed = co_await callbacks->renotify(1001, number, wall_clock_ms());
    EXPECT_TRUE(armed) << armed.error().message();
    (*scheduler)->kick(number, 1001);
  }
  co_return acknowledged();
}

/// Acknowledges every delivery after holding it for a while (a slow merchant), counting how
/// many are out at once.
struct slow_merchant {
  int calls = 0;
  int out = 0;
  int most_out = 0;
};

asio::awaitable<callback_delivery> acknowledge_slowly(slow_merchant* m) {
  ++m->calls;
  m->most_out = std::max(m->most_out, ++m->out);
  asio::steady_timer hold(co_await asio::this_coro::executor, 100ms);
  co_await hold.async_wait(asio::as_tuple(asio::use_awaitable));
  --m->out;
  co_return acknowledged();
}

/// The sender of a merchant that acknowledges slowly.
callback_sender slowly(slow_merchant& m) {
  return [&m](std::string, std::vector<std::pair<std::string, std::string>>, std::string,
              sign_method) { return acknowledge_slowly(&m); };
}

/// A real redis-server, the shard's stores on it, and merchant 1001 (first delivery due at once).
class CallbackScheduler : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(conn.connected());
    merchant_config m;
    m.id = 1001;
    m.app_key = "k1";
    m.app_secret = "s";
    cfg.merchants = {m};
    cfg.callbacks.backoff_ms = {0};
  }

  topup::test::redis_server server;
  asio::io_context io;
  std::unique_ptr<redis::connection> connection = topup::test::connect_to(io, server, 5s);
  redis::connection& conn = *connection;
  bool granted = (topup::test::grant_fence(server, "cbs", {1001}), true);
  std::unique_ptr<fence_token> fence = topup::test::fence_token_for();
  order_store store{conn, "cbs", *fence};
  callback_store callbacks{store};
  config cfg;

  /// How many of merchant 1001's callbacks are due now (SIZE_MAX when Redis did not say).
  std::size_t due_now() {
    auto due = run(io, store.due_callbacks(1001, wall_clock_ms(), 10));
    EXPECT_TRUE(due && *due);
    return due && *due ? (*due)->size() : SIZE_MAX;
  }

  /// Ends a test: the scheduler stops, Redis closes, both wind down.
  void stop(callback_scheduler& scheduler) {
    scheduler.begin_shutdown();
    conn.stop();
    io.run_for(50ms);
  }
};

TEST_F(CallbackScheduler, ReNotifyLandingWhileADeliveryIsOutSendsAgainAfterIt) {
  order_record r;
  ASSERT_NO_FATAL_FAILURE(delivered_order(io, store, r));

  scripted_sender sender;
  callback_scheduler* self = nullptr;
  callback_scheduler scheduler(
      io, cfg, store, callbacks,
      [&](std::string, std::vector<std::pair<std::string, std::string>>, std::string,
          sign_method) { return acknowledge_after_renotify(&sender, &callbacks, &self, r.order_number); },
      nullptr, 0, 1);
  self = &scheduler;
  scheduler.kick(r.order_number, 1001);
  // The first delivery is acknowledged, but the re-notify asked during it is owed all the same:
  // a second delivery follows, without waiting for a scan.
  ASSERT_TRUE(run_until(io, [&] { return sender.calls == 2 && scheduler.idle(); }, 3s))
      << "deliveries: " << sender.calls;
  auto attempts = run(io, callbacks.attempts(1001, r.order_number));
  ASSERT_TRUE(attempts && *attempts);
  ASSERT_EQ((*attempts)->size(), 2u);
  EXPECT_TRUE((**attempts)[0].delivered);
  EXPECT_TRUE((**attempts)[1].delivered);
  EXPECT_EQ(due_now(), 0u);
  stop(scheduler);
}

TEST_F(CallbackScheduler, ADeliveryThatNeverLeftIsNoAttempt) {
  cfg.callbacks.max_attempts = 2;

  order_record r;
  ASSERT_NO_FATAL_FAILURE(delivered_order(io, store, r));

  scripted_sender sender;
  sender.script = {never_sent(), never_sent(), never_sent(), acknowledged()};
  callback_scheduler scheduler(
      io, cfg, store, callbacks,
      [&sender](std::string, std::vector<std::pair<std::string, std::string>>, std::string,
                sign_method) { return send_next(&sender); },
      nullptr, 0, 1);

  // Three deliveries stuck behind other connections: with max_attempts 2 they would have given
  // the callback up; none is recorded, the order stays due.
  for (int i = 1; i <= 3; ++i) {
    scheduler.kick(r.order_number, 1001);
    ASSERT_TRUE(run_until(io, [&] { return sender.calls == i && scheduler.idle(); }, 5s));
  }
  auto attempts = run(io, callbacks.attempts(1001, r.order_number));
  ASSERT_TRUE(attempts && *attempts);
  EXPECT_TRUE((*attempts)->empty());
  EXPECT_EQ(due_now(), 1u);

  // The next one gets out and is acknowledged: recorded as attempt 1.
  scheduler.kick(r.order_number, 1001);
  ASSERT_TRUE(run_until(io, [&] { return sender.calls == 4 && scheduler.idle(); }, 5s));
  attempts = run(io, callbacks.attempts(1001, r.order_number));
  ASSERT_TRUE(attempts && *attempts);
  ASSERT_EQ((*attempts)->size(), 1u);
  EXPECT_EQ((**attempts)[0].attempt, 1);
  EXPECT_TRUE((**attempts)[0].delivered);
  stop(scheduler);
}

TEST_F(CallbackScheduler, BeyondMaxInflightCallbacksWaitDueAndGoOutLater) {
  cfg.callbacks.max_inflight = 2;
  constexpr int k_orders = 5;
  std::vector<order_record> orders(k_orders);
  for (int i = 0; i < k_orders; ++i)
    ASSERT_NO_FATAL_FAILURE(delivered_order(io, store, orders[i], static_cast<std::uint32_t>(i + 1)));

  slow_merchant merchant;
  callback_scheduler scheduler(io, cfg, store, callbacks, slowly(merchant), nullptr, 0, 1);
  // All five are kicked at once: two go out, the other three find no room and stay due.
  for (const auto& order : orders) scheduler.kick(order.order_number, 1001);
  ASSERT_TRUE(run_until(io, [&] { return merchant.calls == 2; }, 3s));
  EXPECT_EQ(due_now(), 5u);

  // The scan sends the rest as room frees, never more than two at once.
  scheduler.start();
  ASSERT_TRUE(run_until(io, [&] { return merchant.calls == k_orders && scheduler.idle(); }, 10s))
      << "deliveries: " << merchant.calls;
  EXPECT_EQ(merchant.most_out, 2);
  for (const auto& order : orders) {
    auto attempts = run(io, callbacks.attempts(1001, order.order_number));
    ASSERT_TRUE(attempts && *attempts);
    ASSERT_EQ((*attempts)->size(), 1u) << order.order_number;
    EXPECT_TRUE((**attempts)[0].delivered);
  }
  EXPECT_EQ(due_now(), 0u);
  stop(scheduler);
}

TEST_F(CallbackScheduler, ShutdownWaitsForADeliveryOutToBeRecorded) {
  order_record r;
  ASSERT_NO_FATAL_FAILURE(delivered_order(io, store, r));
  slow_merchant merchant;
  callback_scheduler scheduler(io, cfg, store, callbacks, slowly(merchant), nullptr, 0, 1);
  scheduler.kick(r.order_number, 1001);
  ASSERT_TRUE(run_until(io, [&] { return merchant.out == 1; }, 3s));

  // The merchant is still holding the delivery when the shard stops: the gate opens only once
  // its acknowledgement is recorded, and nothing new starts meanwhile.
  scheduler.begin_shutdown();
  scheduler.kick(r.order_number, 1001);
  auto drained = topup::test::spawn(
      io, scheduler.deliveries().drained(std::chrono::steady_clock::now() + 10s));
  ASSERT_TRUE(run_until(io, [&] { return drained->done() || merchant.out == 0; }, 5s));
  EXPECT_FALSE(drained->done()) << "opened before the acknowledged delivery was recorded";
  ASSERT_TRUE(run_until(io, [&] { return drained->done(); }, 5s));
  EXPECT_TRUE(*drained->value);
  EXPECT_EQ(merchant.calls, 1);
  auto attempts = run(io, callbacks.attempts(1001, r.order_number));
  ASSERT_TRUE(attempts && *attempts);
  ASSERT_EQ((*attempts)->size(), 1u);
  EXPECT_TRUE((**attempts)[0].delivered);
  stop(scheduler);
}

}  // namespace
