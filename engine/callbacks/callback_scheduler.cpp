#include "engine/callbacks/callback_scheduler.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <charconv>

#include "engine/support/assert.hpp"
#include "engine/support/clock.hpp"
#include "engine/support/errc.hpp"
#include "engine/support/log.hpp"
#include "engine/dispatch/order_recovery.hpp"

namespace topup::engine {

namespace asio = boost::asio;

namespace {

/// The form of spec §5, before signing.
std::vector<std::pair<std::string, std::string>> callback_params(const order_record& o,
                                                                std::int64_t now_ms) {
  std::vector<std::pair<std::string, std::string>> p;
  p.emplace_back("order_no", o.order_no);
  p.emplace_back("order_number", o.order_number);
  p.emplace_back("status", std::to_string(to_int(o.status)));
  p.emplace_back("amount", std::to_string(o.money_yuan));
  p.emplace_back("mobile", o.mobile);
  p.emplace_back("timestamp", std::to_string(now_ms / 1000));
  return p;
}

}  // namespace

callback_scheduler::callback_scheduler(asio::io_context& io, const config& cfg, order_log& store,
                                       callback_store& callbacks, callback_sender sender,
                                       shard_metrics* metrics, unsigned shard,
                                       unsigned shard_count, const engine::clock& clock)
    : io_(io),
      config_(cfg),
      store_(store),
      callbacks_(callbacks),
      sender_(std::move(sender)),
      shard_(shard),
      shard_count_(shard_count),
      clock_(clock),
      scan_timer_(io),
      deliveries_(io),
      metrics_(metrics) {}

void callback_scheduler::start() {
  asio::co_spawn(io_, scan_loop(), [shard = shard_](std::exception_ptr e) {
    if (e) logger("engine")->error("shard={} callback scan loop ended by exception", shard);
  });
}

void callback_scheduler::begin_shutdown() {
  stopping_ = true;
  deliveries_.close();
  scan_timer_.cancel();
}

void callback_scheduler::kick(std::string order_number, std::int64_t merchant_id) {
  if (stopping_) return;
  // One delivery per order at a time: a kick during one (an operator's re-notify) is owed a
  // delivery after it, which reads the order afresh.
  if (in_flight_.contains(order_number)) {
    kicked_again_.insert(std::move(order_number));
    return;
  }
  spawn_delivery(std::move(order_number), merchant_id);
}

void callback_scheduler::kick(const order_record& final_order) {
  if (stopping_) return;
  spawn_delivery(final_order.order_number, final_order.merchant_id, final_order);
}

void callback_scheduler::spawn_delivery(std::string order_number, std::int64_t merchant_id,
                                        std::optional<order_record> known) {
  // The scan may resume after begin_shutdown: nothing starts then (the next run sends it).
  if (stopping_ || in_flight_.contains(order_number)) return;  // one per order at a time
  if (!has_room()) {
    rescan_owed_ = true;
    return;
  }
  in_flight_.insert(order_number);
  if (metrics_) metrics_->callbacks_in_flight.fetch_add(1, std::memory_order_relaxed);
  asio::co_spawn(io_, deliver(order_number, merchant_id, std::move(known)),
                 [this, order_number, merchant_id, shard = shard_,
                  in_gate = deliveries_.enter()](std::exception_ptr e) {
                   in_flight_.erase(order_number);
                   if (metrics_) metrics_->callbacks_in_flight.fetch_sub(1, std::memory_order_relaxed);
                   if (e)
                     logger("engine")->error("shard={} order={} callback delivery threw", shard,
                                             order_number);
                   if (kicked_again_.erase(order_number) != 0)
                     spawn_delivery(order_number, merchant_id);
                   if (rescan_owed_ && !stopping_ &&
                       in_flight_.size() <= config_.callbacks.max_inflight / 2) {
                     rescan_owed_ = false;
                     scan_timer_.cancel();  // wakes scan_loop (a no-op while it scans)
                   }
                 });
}

asio::awaitable<void> callback_scheduler::scan_loop() {
  // Every scan is bounded: at most k_scan_batch due entries read per configured merchant, and
  // deliveries started only while fewer than callbacks.max_inflight are out; what it leaves
  // stays due in Redis for the next scan. Merchants take turns being read first, so that one
  // merchant's backlog cannot keep the others' callbacks waiting for room.
  const auto& merchants = config_.merchants;
  std::size_t first = 0;
  while (!stopping_) {
    const std::int64_t now_ms = clock_.wall_ms();
    for (std::size_t i = 0; i < merchants.size() && has_room(); ++i) {
      const auto& merchant = merchants[(first + i) % merchants.size()];
      auto due = co_await store_.due_callbacks(merchant.id, now_ms, k_scan_batch);
      if (!due) break;  // storage unavailable: try again next round
      for (auto& number : *due)
        if (ownership_ ? ownership_->drives(number, shard_, shard_count_)
                       : owns_order(number, config_.server.instance_id, shard_, shard_count_))
          spawn_delivery(std::move(number), merchant.id);
    }
    if (!has_room()) rescan_owed_ = true;  // merchants may be left unread this round
    if (!merchants.empty()) first = (first + 1) % merchants.size();
    scan_timer_.expires_after(k_scan_interval);
    co_await scan_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

asio::awaitable<void> callback_scheduler::deliver(std::string number, std::int64_t merchant_id,
                                                  std::optional<order_record> known) {
  auto log = logger("engine");
  const merchant_config* merchant = nullptr;
  for (const auto& m : config_.merchants)
    if (m.id == merchant_id) merchant = &m;
  if (!merchant) co_return;

  // The order as it became final, when the dispatcher handed it over; else read it.
  boost::system::result<order_record> order = errc::internal;
  if (known) order = std::move(*known);
  else order = co_await store_.get(merchant_id, number);
  if (!order) co_return;  // storage trouble: the next scan retries
  if (order->notify_url.empty() || !is_terminal(order->status)) co_return;
  if (order->callback.status != callback_status::pending) co_return;

  const auto& cb = config_.callbacks;
  // Attempts are numbered across the whole order; an operator's re-notify starts a new round
  // (cb_round_base = attempts before it) with max_attempts and the back-off counted afresh.
  const std::int64_t attempt = order->callback.attempts + 1;
  const std::int64_t in_round = attempt - order->callback.round_base;
  // The first delivery waits backoff_ms[0] from the order becoming final; later ones are
  // scheduled by the previous attempt's record.
  if (attempt == 1) {
    const auto first_due =
        order->finished_at_ms + static_cast<std::int64_t>(cb.delay_before_attempt_ms(1));
    if (clock_.wall_ms() < first_due) co_return;  // the scan comes back for it
  }

  TOPUP_ASSERT(!merchant->sign_types.empty());
  callback_attempt record;
  record.attempt = attempt;
  record.at_ms = clock_.wall_ms();
  record.renotify_seq = order->callback.renotify_seq;
  auto result = co_await sender_(order->notify_url, callback_params(*order, clock_.wall_ms()), merchant->app_secret,
                                 merchant->sign_types.front());
  if (result.not_sent) {
    // Stuck behind other deliveries to the same host (hanging ones, typically): the order stays
    // due and the next scan tries again; a merchant's own hang must not use up the attempts of
    // its other orders.
    log->debug("shard={} order={} callback not sent ({}): retried by the next scan", shard_, number,
               result.error);
    co_return;
  }
  record.http_status = result.http_status;
  record.body_excerpt = std::move(result.body_excerpt);
  record.error = std::move(result.error);
  record.delivered = result.delivered;

  std::int64_t next_due_ms = 0;
  if (!result.delivered && in_round < static_cast<std::int64_t>(cb.max_attempts))
    next_due_ms = clock_.wall_ms() +
                  static_cast<std::int64_t>(
                      cb.delay_before_attempt_ms(static_cast<std::uint32_t>(in_round + 1)));
  // A record lost to a storage outage leaves the order due: the attempt is made again later
  // (at-least-once; merchants must treat callbacks idempotently, as the spec's repeats imply).
  auto saved = co_await callbacks_.record_attempt(merchant_id, number, std::move(record), next_due_ms);
  if (!saved && saved.error() != errc::stale_status)
    log->warn("shard={} order={} callback attempt={} not recorded: {}", shard_, number, attempt,
              saved.error().message());
  if (metrics_) {
    if (result.delivered) bump(metrics_->callbacks_delivered);
    else bump(metrics_->callbacks_failed_attempts);
    if (!result.delivered && next_due_ms == 0) bump(metrics_->callbacks_given_up);
  }
  if (!result.delivered && next_due_ms == 0)
    log->warn("shard={} order={} callback given up after attempts={}", shard_, number, attempt);
}

}  // namespace topup::engine
