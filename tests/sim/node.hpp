#pragma once
// One simulated topupd process: one shard's real engine objects, wired as app/shard_services
// wires them (without Redis and HTTP), on an io_context of its own that a crash throws away.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <functional>
#include <set>
#include <string>

#include "engine/callbacks/callback_scheduler.hpp"
#include "engine/callbacks/callback_store.hpp"
#include "engine/config/config.hpp"
#include "engine/dispatch/order_dispatcher.hpp"
#include "engine/routing/channel_catalogue.hpp"
#include "engine/routing/channel_router.hpp"
#include "engine/service/callback_kicker.hpp"
#include "engine/service/order_service.hpp"
#include "engine/service/supplier_results.hpp"
#include "engine/support/timer.hpp"
#include "tests/sim/trace.hpp"

namespace topup::sim {

/// What a process is built from: the parts of the world it talks to.
struct node_parts {
  const engine::config& cfg;
  engine::order_log& log;  // the simulated Redis (what survives a crash)
  engine::channel_adapter_factory adapters;
  engine::callback_sender merchant_endpoint;
  const engine::clock& clock;
  trace& out;
  /// The dispatcher's on_final hook, as the world observes it.
  std::function<void(const engine::order_record&)> final_seen;
  /// Channels an operator disabled (persisted, as order_store keeps them), applied at start.
  const std::set<std::string>& disabled;
};

/// class node — one incarnation of topupd (instance 0, one shard): catalogue, router with
/// simulated adapters, dispatcher, order service, callback store and scheduler, supplier results,
/// and the recovery loop (start-up recovery, then an orphan sweep after an uncertain accept, as
/// app/shard_services::recovery_loop). Everything runs on its own io_context, polled by the
/// world. crash() drops every coroutine in flight without resuming it: only what the log has
/// stored survives, and the next node's recovery starts from that.
class node final : public engine::callback_kicker {
 public:
  template <class T>
  using answer = std::function<void(boost::system::result<T>)>;

  node(const node_parts& parts, int incarnation);
  ~node() override;

  int incarnation() const noexcept { return incarnation_; }
  /// Starts the scheduler and the recovery loop.
  void start();
  /// Runs what is ready now (the world moves the clock between polls).
  void poll();
  /// The process dies: nothing it had in flight ever runs again.
  void crash();

  void push(engine::push_request request, answer<engine::accept_result> answered);
  void cancel(std::int64_t merchant_id, std::string order_number,
              answer<engine::order_record> answered);
  /// The operator's "notify again" (spec §7): stored first, then kicked.
  void renotify(std::int64_t merchant_id, std::string order_number);
  void supplier_callback(std::string via, engine::supplier_callback callback,
                         std::function<void(engine::supplier_receipt)> answered);
  void set_channel(const std::string& channel_id, bool enabled);

  // engine::callback_kicker
  void kick(std::string order_number, std::int64_t merchant_id) override;

 private:
  /// An io_context whose pending handlers (and the coroutine frames they own) can be destroyed
  /// without running them, before the objects those frames refer to go.
  struct process_io : boost::asio::io_context {
    void drop_everything() { shutdown(); }
  };

  boost::asio::awaitable<void> recovery_loop();
  boost::asio::awaitable<void> push_one(engine::push_request request,
                                        answer<engine::accept_result> answered);
  boost::asio::awaitable<void> cancel_one(std::int64_t merchant_id, std::string order_number,
                                          answer<engine::order_record> answered);
  boost::asio::awaitable<void> renotify_one(std::int64_t merchant_id, std::string order_number);
  boost::asio::awaitable<void> receive_one(std::string via, engine::supplier_callback callback,
                                           std::function<void(engine::supplier_receipt)> answered);
  template <class Coroutine>
  void spawn(Coroutine coroutine);

  static constexpr std::chrono::seconds k_orphan_sweep_interval{10};  // as app/shard_services

  node_parts parts_;
  int incarnation_;
  bool stopping_ = false;
  process_io io_;  // first: destroyed last, after every object whose timers it runs
  engine::channel_catalogue catalogue_;
  engine::channel_router router_;
  engine::order_dispatcher dispatcher_;
  engine::callback_store callbacks_;
  engine::callback_scheduler scheduler_;
  engine::order_service service_;
  engine::supplier_results results_;
  engine::timer sweep_timer_;
};

}  // namespace topup::sim
