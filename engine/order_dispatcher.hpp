#pragma once
// Drives paid orders through channels to a final status (spec §4, §6; DESIGN.md "Routing").
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "engine/channel_adapter.hpp"
#include "engine/channel_router.hpp"
#include "engine/config.hpp"
#include "engine/metrics.hpp"
#include "engine/order_record.hpp"
#include "engine/order_store.hpp"

namespace topup::engine {

/// Runs one coroutine per order this shard owns and that is not final: waiting (6) -> pick a
/// channel -> matched (7, persisted before submitting) -> submit -> recharging (1) -> callback or
/// query -> success (2), or failover (1->6 / 7->6) when `change` allows and no `source` pins it,
/// or failed and refunded (3->4). Rules it never breaks:
///  - every transition is persisted (compare-and-set script) before the next action;
///  - an attempt whose outcome is unknown (timeout, reset, 5xx, garbage, or a restart while in
///    7) is resolved by asking the same channel, never by sending to another; "never placed" is
///    concluded only from the supplier's own not-found after unknown_grace_ms;
///  - a channel is submitted to only after the order's previous attempt was definitively
///    resolved, so one top-up is never delivered twice.
/// Lives on its shard's thread.
class order_dispatcher {
 public:
  order_dispatcher(boost::asio::io_context& io, const config& cfg, order_store& store,
                   channel_router& router, unsigned shard);
  ~order_dispatcher();

  void set_metrics(shard_metrics* m, const metrics_registry* registry) noexcept {
    metrics_ = m;
    registry_ = registry;
  }

  /// Called when an order this dispatcher drove became final (2 or 4).
  void on_final(std::function<void(const order_record&)> hook) { on_final_ = std::move(hook); }

  /// Takes over an order this shard owns (just accepted, or recovered at start-up).
  void adopt(const order_record& order);
  /// A supplier callback for an order this shard owns; ignored unless it is about the order's
  /// current attempt. The coroutine persists it (a callback lost to a crash is found by query).
  void deliver(const std::string& order_number, supplier_callback callback);

  /// Stops taking new steps: coroutines end at their next wait, leaving orders in their
  /// persisted status for recovery.
  void begin_shutdown();
  std::size_t active() const noexcept { return orders_.size(); }
  bool driving(const std::string& order_number) const { return orders_.contains(order_number); }
  /// True when no coroutine is between a submit and persisting its result.
  bool quiescent() const noexcept { return submitting_ == 0; }

 private:
  struct active_order;
  boost::asio::awaitable<void> drive(order_record order);

  boost::asio::io_context& io_;
  const config& config_;
  order_store& store_;
  channel_router& router_;
  unsigned shard_;
  bool stopping_ = false;
  std::size_t submitting_ = 0;
  std::unordered_map<std::string, std::shared_ptr<active_order>> orders_;
  std::function<void(const order_record&)> on_final_;
  shard_metrics* metrics_ = nullptr;
  const metrics_registry* registry_ = nullptr;
  channel_metrics* channel_figures(const channel_router::channel& ch);
};

}  // namespace topup::engine
