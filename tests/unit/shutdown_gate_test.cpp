// The shutdown gate on a test io_context, without Redis and without waiting for time to pass:
// deadlines are either already past or an hour away, and the io_context is only polled.
#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <exception>
#include <future>
#include <memory>
#include <optional>

#include "engine/runtime/shard_runtime.hpp"
#include "engine/runtime/shutdown_gate.hpp"

namespace {

using namespace topup::engine;
namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

const std::optional<bool> k_opened = true;     // drained() answered: nobody inside
const std::optional<bool> k_timed_out = false;  // drained() answered: the deadline passed

steady::time_point an_hour_away() { return steady::now() + std::chrono::hours(1); }

/// Starts awaiting `wait` on `io`; the answer lands in the returned slot.
std::shared_ptr<std::optional<bool>> start(asio::io_context& io, asio::awaitable<bool> wait) {
  auto out = std::make_shared<std::optional<bool>>();
  asio::co_spawn(io, std::move(wait), [out](std::exception_ptr e, bool drained) {
    if (e) std::rethrow_exception(e);
    *out = drained;
  });
  return out;
}

/// Runs whatever is ready, without blocking.
void settle(asio::io_context& io) {
  io.restart();
  io.poll();
}

/// A step as the dispatcher runs one: a coroutine that waits on `wake`, holding its ticket in
/// the co_spawn completion handler.
asio::awaitable<void> wait_for_wake(asio::steady_timer* wake) {
  co_await wake->async_wait(asio::as_tuple(asio::use_awaitable));
}

TEST(ShutdownGate, DrainedWaitsForTheLastStepToLeave) {
  asio::io_context io;
  shutdown_gate gate(io);
  std::optional<shutdown_gate::ticket> first = gate.enter();
  std::optional<shutdown_gate::ticket> second = gate.enter();
  gate.close();
  auto drained = start(io, gate.drained(an_hour_away()));
  settle(io);
  EXPECT_FALSE(drained->has_value());
  first.reset();
  settle(io);
  EXPECT_FALSE(drained->has_value()) << "opened with a step still inside";
  second.reset();
  settle(io);
  EXPECT_EQ(*drained, k_opened);
  EXPECT_EQ(gate.inside(), 0u);
}

TEST(ShutdownGate, AnEmptyGateIsDrainedAtOnce) {
  asio::io_context io;
  shutdown_gate gate(io);
  { auto passed = gate.enter(); }
  gate.close();
  auto drained = start(io, gate.drained(an_hour_away()));
  settle(io);
  EXPECT_EQ(*drained, k_opened);
}

TEST(ShutdownGate, TheDeadlineEndsTheWaitWithAStepInside) {
  asio::io_context io;
  shutdown_gate gate(io);
  auto stuck = gate.enter();
  gate.close();
  auto drained = start(io, gate.drained(steady::now()));
  settle(io);
  EXPECT_EQ(*drained, k_timed_out);
  EXPECT_EQ(gate.inside(), 1u);
}

TEST(ShutdownGate, AStepEnteringAfterCloseIsWaitedForToo) {
  asio::io_context io;
  shutdown_gate gate(io);
  std::optional<shutdown_gate::ticket> reading = gate.enter();
  gate.close();
  auto drained = start(io, gate.drained(an_hour_away()));
  settle(io);
  // The last step leaves and one more enters (a request read before the listener closed) before
  // the waiter runs: the gate wakes, finds that one inside, and waits on.
  reading.reset();
  std::optional<shutdown_gate::ticket> handling = gate.enter();
  settle(io);
  EXPECT_FALSE(drained->has_value());
  handling.reset();
  settle(io);
  EXPECT_EQ(*drained, k_opened);
}

TEST(ShutdownGate, ACoroutineLeavesWhenItEnds) {
  asio::io_context io;
  shutdown_gate gate(io);
  asio::steady_timer wake(io, std::chrono::hours(1));
  asio::co_spawn(io, wait_for_wake(&wake),
                 [in_gate = gate.enter()](std::exception_ptr e) {
                   if (e) std::rethrow_exception(e);
                 });
  gate.close();
  auto drained = start(io, gate.drained(an_hour_away()));
  settle(io);
  EXPECT_EQ(gate.inside(), 1u);
  EXPECT_FALSE(drained->has_value());
  wake.cancel();  // as begin_shutdown wakes an order's coroutine
  settle(io);
  EXPECT_EQ(*drained, k_opened);
}

TEST(ShutdownGate, ATicketMayOutliveItsGate) {
  asio::io_context io;
  auto gate = std::make_unique<shutdown_gate>(io);
  auto late = gate->enter();
  gate.reset();
  late = shutdown_gate::ticket();  // leaves a gate that is gone: counts nothing, touches nothing
  SUCCEED();
}

TEST(ShutdownGate, AllDrainedWaitsUntilEveryGateIsEmptyAtOnce) {
  asio::io_context io;
  shutdown_gate requests(io);
  shutdown_gate orders(io);
  std::optional<shutdown_gate::ticket> order = orders.enter();
  requests.close();
  orders.close();
  auto drained = start(io, all_drained({&requests, &orders}, an_hour_away()));
  settle(io);
  EXPECT_FALSE(drained->has_value());
  // While the last order's step ends, a request read before the listener closed reaches its
  // handler: the requests gate, passed over empty a moment ago, is waited for.
  std::optional<shutdown_gate::ticket> request = requests.enter();
  order.reset();
  settle(io);
  EXPECT_FALSE(drained->has_value()) << "opened with a request being handled";
  request.reset();
  settle(io);
  EXPECT_EQ(*drained, k_opened);
}

TEST(ShardRuntime, PendingHandlersAreDestroyedBeforeWhatTheyReferTo) {
  shard_runtime runtime(1);
  // Stands for a shard's objects: it outlives the runtime's threads but not the runtime.
  auto gate = std::make_unique<shutdown_gate>(runtime.context(0));
  auto wake = std::make_unique<asio::steady_timer>(runtime.context(0), std::chrono::hours(1));
  std::promise<void> waiting;
  runtime.start();
  runtime.invoke_on(0, [&] {
    asio::co_spawn(runtime.context(0), wait_for_wake(wake.get()),
                   [in_gate = gate->enter()](std::exception_ptr) {});
    waiting.set_value();
  });
  waiting.get_future().wait();
  // Stopped with the coroutine still waiting, as after a drain that timed out.
  runtime.stop();
  runtime.join();
  EXPECT_EQ(gate->inside(), 1u);
  runtime.destroy_pending_handlers();
  EXPECT_EQ(gate->inside(), 0u) << "the coroutine's frame outlives the objects it refers to";
  wake.reset();
  gate.reset();
}

}  // namespace
