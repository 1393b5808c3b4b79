#pragma once
// Drives paid orders through channels to a final status (spec §4, §6; DESIGN.md "Routing").
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include "engine/support/timer.hpp"
#include <boost/system/error_code.hpp>
#include <spdlog/logger.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/routing/channel_adapter.hpp"
#include "engine/routing/channel_router.hpp"
#include "engine/support/clock.hpp"
#include "engine/config/config.hpp"
#include "engine/store/order_ownership.hpp"
#include "engine/runtime/metrics.hpp"
#include "engine/runtime/shutdown_gate.hpp"
#include "engine/order/order_record.hpp"
#include "engine/store/order_log.hpp"
#include "engine/dispatch/exception_rules.hpp"
#include "engine/dispatch/wait_lines.hpp"

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
/// An order in 6 that no channel can take right now (all busy or tripped) holds no coroutine: it
/// is parked in a compact wait line (about 200 bytes, its record stays in Redis) and resumed,
/// with a channel slot already taken for it, when one frees. Orders that route alike (carrier,
/// amount, recharge type, source, channels tried) share a line, first come first served; lines
/// take turns. Parked orders are retried every 200 ms (a breaker cooling down, a channel enabled
/// again) and failed with a refund at their deadline.
/// Lives on its shard's thread.
class order_dispatcher {
 public:
  order_dispatcher(boost::asio::io_context& io, const config& cfg, order_log& store,
                   channel_router& router, unsigned shard,
                   const engine::clock& clock = system_clock());
  ~order_dispatcher();

  /// Counts into `m`; each channel's health publishes its in-flight count and breaker there too.
  void set_metrics(shard_metrics* m, const metrics_registry* registry) noexcept;

  /// Which orders are this shard's to drive (see callback_scheduler::set_ownership).
  void set_ownership(const order_ownership* ownership) noexcept { ownership_ = ownership; }

  /// Called when an order this dispatcher drove became final (2 or 4).
  void on_final(std::function<void(const order_record&)> hook) { on_final_ = std::move(hook); }

  /// Takes over an order this shard owns (just accepted, or recovered at start-up).
  void adopt(const order_record& order);

  /// A channel chosen for a new order before it is stored, its slot already taken, so that
  /// accept can store the order matched (0->6->7 in one script, one round trip fewer).
  struct first_match {
    channel_router::channel* channel = nullptr;
    field_pairs fields;  // channel, attempts, attempt_id, tried, matched_at
  };
  /// Empty when no channel can take the order right now (it is then stored in 6 and adopted).
  /// Needs the order's number, carrier, amount, recharge type and source.
  std::optional<first_match> match_new(const order_record& order, std::int64_t now_ms);
  /// After accept stored the order in 7 with `m`'s fields: submits it.
  void adopt_matched(order_record order, first_match m);
  /// Accept did not store the order matched (refused, duplicate, storage error): the slot goes
  /// back.
  void release(const first_match& m);
  /// A supplier callback for an order this shard owns; ignored unless it is about the order's
  /// current attempt. The coroutine persists it (a callback lost to a crash is found by query).
  void deliver(const std::string& order_number, supplier_callback callback);

  /// An operator's settlement (spec §7) of an order this shard owns, applied here, through the
  /// same steps a supplier's final answer takes: success 1 -> 2 (7 -> 1 -> 2), failed -> 3 and
  /// then the refund (3 -> 4, once), each a compare-and-set on the order's version, so of a
  /// supplier's answer and a settlement arriving together exactly one is stored. The step into
  /// 2 or 3 carries `by` and `evidence`. Only for an order the exception queue lists as
  /// settleable, checked on the record read here (else a refusal, nothing written). Once
  /// applied: the order's driver (if any) reads it again and ends, the final hook fires (the
  /// merchant's callback), the order leaves `unresolved`. Errors: order_not_found, storage's.
  boost::asio::awaitable<boost::system::result<settle_outcome>> settle(std::int64_t merchant_id,
                                                                       std::string order_number,
                                                                       manual_settlement s);

  /// Stops taking new steps: coroutines end at their next wait, leaving orders in their
  /// persisted status for recovery. Closes coroutines().
  void begin_shutdown();
  /// Each order's coroutine holds a ticket of this gate until it ends. The shard's stop awaits it
  /// (app/server.cpp), so that a step under way — a submit's answer, a result being stored — is
  /// persisted before Redis closes and the next run need not ask the supplier about it.
  shutdown_gate& coroutines() noexcept { return coroutines_; }
  /// Orders with a coroutine (parked orders hold none and need nothing at shutdown).
  std::size_t active() const noexcept { return orders_.size(); }
  std::size_t parked() const noexcept { return lines_.size(); }
  bool driving(const std::string& order_number) const {
    return orders_.contains(order_number) || lines_.contains(order_number);
  }

 private:
  /// The most orders_ is sized for up front (8 MiB of buckets); beyond it, it grows.
  static constexpr std::uint64_t k_reserved_orders_max = 1u << 20;
  struct driven_order;
  using step_result = std::optional<boost::system::error_code>;

  void start(order_record order, bool reload, channel_router::channel* reserved);
  /// The order's driver: runs the step of its status until it is final, parked, or shutdown.
  boost::asio::awaitable<void> drive(std::shared_ptr<driven_order> d);

  // One step function per status. Each either stores one step (answers its error code, empty
  // when stored; the order's record is then the stored one) or stores nothing this round
  // (answers nullopt: it waited, asked a supplier without a final answer, or parked the order).
  boost::asio::awaitable<step_result> step_waiting(driven_order& d, std::int64_t now_ms);
  boost::asio::awaitable<step_result> step_matched(driven_order& d, std::int64_t now_ms);
  boost::asio::awaitable<step_result> step_recharging(driven_order& d, std::int64_t now_ms);
  boost::asio::awaitable<step_result> step_failed(driven_order& d, std::int64_t now_ms);

  /// Stores where the attempt's definitive result takes the order from 7 or 1.
  boost::asio::awaitable<boost::system::error_code> store_result(driven_order& d,
                                                                 channel_router::channel& ch,
                                                                 std::int64_t now_ms);
  /// After a step that was not stored: follow another writer, back off, or give up. False when
  /// the order cannot be driven any further (it vanished).
  boost::asio::awaitable<bool> recover_from(driven_order& d, boost::system::error_code step);
  /// A parked order resumed: reads its record (only the number was kept). False at shutdown.
  boost::asio::awaitable<bool> reload(driven_order& d);
  /// Lists the order for an operator (its attempt is overdue), or takes it off the list (settled).
  /// Callers test whether there is anything to do. (GCC 12 miscompiled these as
  /// `if (co_await store_.x(...)) ...;` at their end: an illegal instruction at run time. The
  /// answer is awaited into a variable first.)
  boost::asio::awaitable<void> tell_operator(driven_order& d, channel_router::channel& ch,
                                             std::int64_t age_ms);
  boost::asio::awaitable<void> clear_unresolved(driven_order& d);
  /// An order in 7 or 1 on a channel this configuration does not have: listed for an operator
  /// (the exception queue's channel_removed; settled by hand), once per driver.
  boost::asio::awaitable<void> tell_channel_removed(driven_order& d);
  /// The driver's record was changed by another step of this shard (a settlement): read again.
  boost::asio::awaitable<void> reread(driven_order& d);
  /// The order's driver ends: its slot goes back; parked, or counted final.
  void finish(driven_order& d);

  /// The channel of the open attempt (7 or 1), holding one of its slots; null if this
  /// configuration has no such channel.
  channel_router::channel* attempt_channel(driven_order& d);
  void release_slot(driven_order& d);
  /// A definitive result of the attempt is stored: health, the slot, nothing left to persist.
  void attempt_settled(driven_order& d, channel_router::channel& ch, bool ok,
                       std::chrono::milliseconds latency);
  boost::asio::awaitable<void> back_off(driven_order& d);

  void park(const order_record& order, std::vector<std::string> tried, std::int64_t deadline_ms);
  void request_pump();
  void pump();
  void arm_pump_timer();
  std::int64_t deadline_ms(const order_record& order) const;

  boost::asio::io_context& io_;
  const config& config_;
  order_log& store_;
  channel_router& router_;
  unsigned shard_;
  const engine::clock& clock_;
  std::shared_ptr<spdlog::logger> log_;
  bool stopping_ = false;
  shutdown_gate coroutines_{io_};
  std::unordered_map<std::string, std::shared_ptr<driven_order>> orders_;
  wait_lines lines_;  // orders in 6 waiting for a channel, without a coroutine
  bool pump_posted_ = false;
  bool pump_timer_armed_ = false;
  engine::timer pump_timer_;
  std::function<void(const order_record&)> on_final_;
  shard_metrics* metrics_ = nullptr;
  const metrics_registry* registry_ = nullptr;
  const order_ownership* ownership_ = nullptr;
  channel_metrics* channel_figures(const channel_router::channel& ch);
};

}  // namespace topup::engine
