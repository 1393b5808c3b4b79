#include "tests/sim/node.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <utility>

#include "engine/dispatch/order_recovery.hpp"
#include "engine/support/errc.hpp"

namespace topup::sim {

namespace asio = boost::asio;

node::node(const node_parts& parts, int incarnation)
    : parts_(parts),
      incarnation_(incarnation),
      catalogue_(parts.cfg.channels),
      router_(parts.cfg.channels, catalogue_, parts.adapters, io_, 1),
      dispatcher_(io_, parts.cfg, parts.log, router_, 0, parts.clock),
      callbacks_(parts.log),
      scheduler_(io_, parts.cfg, parts.log, callbacks_, parts.merchant_endpoint, nullptr, 0, 1,
                 parts.clock),
      service_(parts.cfg, parts.log, catalogue_, &dispatcher_, *this, nullptr, 0, parts.clock),
      results_(parts.log,
               [this](std::string number, engine::supplier_callback cb) {
                 dispatcher_.deliver(number, std::move(cb));
               }),
      sweep_timer_(io_) {
  // As app/shard_services: the channels an operator disabled are known before routing starts,
  // and a final order's callback is kicked by the dispatcher's hook.
  for (const auto& id : parts.disabled) catalogue_.set_enabled(id, false);
  dispatcher_.on_final([this](const engine::order_record& order) {
    parts_.final_seen(order);
    if (!order.notify_url.empty()) scheduler_.kick(order);
  });
}

node::~node() {
  if (!stopping_) crash();
}

template <class Coroutine>
void node::spawn(Coroutine coroutine) {
  // An exception inside the engine is a bug: it leaves poll() and ends the run.
  asio::co_spawn(io_, std::move(coroutine), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
}

void node::start() {
  scheduler_.start();
  spawn(recovery_loop());
}

void node::poll() {
  io_.restart();
  io_.poll();
}

void node::crash() {
  stopping_ = true;
  dispatcher_.begin_shutdown();
  scheduler_.begin_shutdown();
  sweep_timer_.cancel();
  // Not one more step runs: every coroutine frame goes with its pending handler. The objects they
  // referred to are still alive here, so their destructors (guards, tickets) find them.
  io_.drop_everything();
}

asio::awaitable<void> node::recovery_loop() {
  for (bool first = true; !stopping_; first = false) {
    // At start-up: crash recovery. Later: only after an accept whose outcome storage did not
    // confirm (its order may exist with nobody driving it).
    if (first || service_.take_uncertain_accept()) {
      auto stats = co_await engine::recover_orders(
          parts_.cfg, parts_.log, 0, 1,
          [this](const engine::order_record& order) { dispatcher_.adopt(order); },
          [this] { return stopping_; },
          [this](const std::string& number) { return dispatcher_.driving(number); }, parts_.clock);
      if (stats)
        parts_.out.line("process {} {}: loaded={} refunded={} resumed={}", incarnation_,
                        first ? "recovered" : "swept for orphans", stats->loaded, stats->refunded,
                        stats->resumed);
      else
        parts_.out.line("process {} recovery ended: {}", incarnation_, stats.error().message());
    }
    sweep_timer_.expires_after(k_orphan_sweep_interval);
    co_await sweep_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

void node::push(engine::push_request request, answer<engine::accept_result> answered) {
  spawn(push_one(std::move(request), std::move(answered)));
}

asio::awaitable<void> node::push_one(engine::push_request request,
                                     answer<engine::accept_result> answered) {
  auto result = co_await service_.push(std::move(request));
  answered(std::move(result));
}

void node::cancel(std::int64_t merchant_id, std::string order_number,
                  answer<engine::order_record> answered) {
  spawn(cancel_one(merchant_id, std::move(order_number), std::move(answered)));
}

asio::awaitable<void> node::cancel_one(std::int64_t merchant_id, std::string order_number,
                                       answer<engine::order_record> answered) {
  std::string no_order_no;
  auto result = co_await service_.cancel(merchant_id, std::move(order_number), std::move(no_order_no));
  answered(std::move(result));
}

void node::renotify(std::int64_t merchant_id, std::string order_number) {
  spawn(renotify_one(merchant_id, std::move(order_number)));
}

asio::awaitable<void> node::renotify_one(std::int64_t merchant_id, std::string order_number) {
  // operations_service::renotify's steps (it needs the Redis order_store for its other actions).
  auto armed = co_await callbacks_.renotify(merchant_id, order_number, parts_.clock.wall_ms());
  parts_.out.line("operator re-notifies {}: {}", order_number,
                  armed ? std::string("armed") : armed.error().message());
  if (armed) kick(std::move(order_number), merchant_id);
}

void node::supplier_callback(std::string via, engine::supplier_callback callback,
                             std::function<void(engine::supplier_receipt)> answered) {
  spawn(receive_one(std::move(via), std::move(callback), std::move(answered)));
}

asio::awaitable<void> node::receive_one(std::string via, engine::supplier_callback callback,
                                        std::function<void(engine::supplier_receipt)> answered) {
  const auto receipt = co_await results_.receive(std::move(via), std::move(callback));
  answered(receipt);
}

void node::set_channel(const std::string& channel_id, bool enabled) {
  catalogue_.set_enabled(channel_id, enabled);
}

void node::kick(std::string order_number, std::int64_t merchant_id) {
  scheduler_.kick(std::move(order_number), merchant_id);
}

}  // namespace topup::sim
