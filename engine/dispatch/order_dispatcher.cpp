#include "engine/dispatch/order_dispatcher.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <charconv>
#include <limits>

#include "engine/support/assert.hpp"
#include "engine/support/clock.hpp"
#include "engine/support/errc.hpp"
#include "engine/order/failure_reason.hpp"
#include "engine/order/order_number.hpp"
#include "engine/support/log.hpp"
#include "engine/dispatch/attempt_rules.hpp"

namespace topup::engine {

namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

/// One order being driven: its record as last stored, the attempt's in-memory facts (a result
/// not yet persisted, the slot it holds), the callback inbox and its wake-up timer. Lives in
/// orders_ while its driver runs.
struct order_dispatcher::driven_order {
  driven_order(asio::io_context& io, order_record o) : wake(io), order(std::move(o)) {}
  engine::timer wake;
  order_record order;
  channel_router::channel* slot = nullptr;  // the channel whose in-flight slot it holds
  // 6->7 was stored by this process just now (by accept, or step_waiting), so nothing was
  // submitted yet; an order found in 7 any other way may have been.
  bool just_matched = false;
  bool reload = false;                        // parked: only the number is known
  std::optional<attempt_result> known;        // the attempt's result, not yet persisted
  steady::time_point attempt_started{};
  std::chrono::milliseconds storage_backoff{100};
  std::optional<std::int64_t> park_until;     // set when the order is to wait parked
  bool unresolved = false;                    // listed for an operator (unknown_max_s passed)
  bool reread = false;                        // settled by an operator: the record moved
  bool removed_listed = false;                // listed as on a channel no longer configured
  bool final_already = false;                 // final when adopted: no final hook
  // A step of ours may have been applied with its answer lost: if the order is then found final,
  // the final status may be ours, so the hook still fires.
  bool maybe_applied = false;
  // What a supplier callback must name to count: the open attempt and its channel.
  std::string heard_attempt;
  std::string heard_channel;
  std::optional<attempt_result> delivered;    // a callback's result, not yet applied
  std::string delivered_for;                  // the attempt that result is about

  bool failover_allowed() const noexcept { return order.change && order.source.empty(); }
};

namespace {

/// Waits on the order's wake timer; a cancel (callback, shutdown) ends the wait early.
asio::awaitable<void> sleep_on(engine::timer& timer, std::chrono::milliseconds d) {
  timer.expires_after(d);
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

attempt_result unknown_result(std::string detail) {
  return attempt_result{attempt_outcome::unknown, std::move(detail)};
}
attempt_result failed_result(std::string detail) {
  return attempt_result{attempt_outcome::failed, std::move(detail)};
}

attempt_request make_request(const order_record& o) {
  attempt_request req;
  req.order_number = o.order_number;
  req.attempt_id = o.attempt.id;
  req.mobile = o.mobile;
  req.carrier_of = o.carrier;
  req.money_yuan = o.money_yuan;
  req.recharge_type = o.recharge_type;
  req.submitted_at_ms = o.attempt.matched_at_ms;
  return req;
}

/// Awaits a store step that answers the whole record and, when it succeeded, makes that the
/// order's record; on an error the order is untouched.
asio::awaitable<boost::system::error_code> take(
    order_record& o, asio::awaitable<boost::system::result<order_record>> step) {
  auto answer = co_await std::move(step);
  if (!answer) co_return answer.error();
  o = std::move(*answer);
  co_return boost::system::error_code{};
}

boost::system::error_code error_of(const boost::system::result<void>& r) {
  return r ? boost::system::error_code{} : r.error();
}

std::chrono::milliseconds since(const engine::clock& clock, steady::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.steady_now() - t);
}

}  // namespace

std::string_view outcome_name(attempt_outcome o) noexcept {
  switch (o) {
    case attempt_outcome::accepted: return "accepted";
    case attempt_outcome::refused: return "refused";
    case attempt_outcome::succeeded: return "succeeded";
    case attempt_outcome::failed: return "failed";
    case attempt_outcome::pending: return "pending";
    case attempt_outcome::not_found: return "not_found";
    case attempt_outcome::unknown: return "unknown";
  }
  return "unknown";
}

order_dispatcher::order_dispatcher(asio::io_context& io, const config& cfg, order_log& store,
                                   channel_router& router, unsigned shard,
                                   const engine::clock& clock)
    : io_(io),
      config_(cfg),
      store_(store),
      router_(router),
      shard_(shard),
      clock_(clock),
      log_(logger("engine")),
      pump_timer_(io) {
  // Orders with a coroutine are bounded by the channels' slots. Sized for that from the start:
  // growing rehashes every entry in one go, a reactor stall of ~25 ms at 200k orders (seen as
  // the push p99 at half load). Capped, as the bucket array is allocated and cleared up front.
  std::uint64_t slots = 0;
  for (const auto& ch : cfg.channels) slots += ch.max_inflight;
  orders_.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(slots, k_reserved_orders_max)));
}

order_dispatcher::~order_dispatcher() = default;

void order_dispatcher::set_metrics(shard_metrics* m, const metrics_registry* registry) noexcept {
  metrics_ = m;
  registry_ = registry;
  for (auto& ch : router_.channels()) {
    auto* figures = channel_figures(ch);
    ch.health.publish_to(figures ? &figures->health : nullptr);
  }
}

channel_metrics* order_dispatcher::channel_figures(const channel_router::channel& ch) {
  if (!metrics_ || !registry_) return nullptr;
  const int i = registry_->channel_index(ch.config->id);
  return i < 0 ? nullptr : metrics_->channels[static_cast<std::size_t>(i)].get();
}

void order_dispatcher::adopt(const order_record& order) {
  if (stopping_ || is_terminal(order.status)) return;
  if (driving(order.order_number)) return;  // already driven or parked
  if (metrics_) metrics_->orders_in_flight.fetch_add(1, std::memory_order_relaxed);
  start(order, false, nullptr);
}

std::optional<order_dispatcher::first_match> order_dispatcher::match_new(const order_record& o,
                                                                       std::int64_t now_ms) {
  const std::vector<std::string> none;
  if (stopping_ || lines_.queue_ahead(o, none)) return std::nullopt;  // first come, first served
  auto pick = router_.pick(o, none, clock_.steady_now());
  if (pick.what != channel_router::verdict::chosen) return std::nullopt;
  pick.chosen->health.started(clock_.steady_now());
  return first_match{pick.chosen,
                     attempt_rules::next_attempt_fields(o, pick.chosen->config->id, now_ms)};
}

void order_dispatcher::adopt_matched(order_record order, first_match m) {
  TOPUP_ASSERT(m.channel != nullptr);
  if (stopping_ || driving(order.order_number)) {
    release(m);  // resumed from storage already (or stopping: recovery will)
    return;
  }
  order.status = order_status::matched;
  for (auto& [name, value] : m.fields)
    TOPUP_ASSERT(apply_field(order, name, std::move(value)) && "attempt fields parse");
  if (metrics_) metrics_->orders_in_flight.fetch_add(1, std::memory_order_relaxed);
  start(std::move(order), false, m.channel);
}

void order_dispatcher::release(const first_match& m) {
  TOPUP_ASSERT(m.channel != nullptr);
  m.channel->health.finished();
  request_pump();
}

void order_dispatcher::start(order_record order, bool reload, channel_router::channel* reserved) {
  std::string number = order.order_number;
  auto d = std::make_shared<driven_order>(io_, std::move(order));
  d->slot = reserved;
  d->reload = reload;
  d->just_matched = reserved && !reload && d->order.status == order_status::matched;
  orders_.emplace(number, d);
  asio::co_spawn(io_, drive(std::move(d)),
                 // Shutdown hook: the ticket leaves the gate when the coroutine has ended (or its
                 // frame is gone).
                 [shard = shard_, number = std::move(number),
                  in_gate = coroutines_.enter()](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      logger("engine")->error("shard={} order={} dispatcher threw: {}", shard, number, ex.what());
    }
  });
}

void order_dispatcher::deliver(const std::string& order_number, supplier_callback callback) {
  auto it = orders_.find(order_number);
  if (it == orders_.end()) return;
  auto& d = *it->second;
  // Another channel's word about this attempt is no result (spec §6): only the holder knows.
  if (d.heard_attempt == callback.attempt_id && d.heard_channel != callback.channel_id)
    logger("engine")->warn("shard={} order={} callback about attempt={} from channel={} ignored: "
                           "the attempt is held by channel={}",
                           shard_, order_number, callback.attempt_id, callback.channel_id,
                           d.heard_channel);
  // An older attempt's, another channel's, or an intermediate status ("charging"): settling on
  // it could deliver twice.
  if (!attempt_rules::callback_counts(callback, d.heard_attempt, d.heard_channel)) return;
  d.delivered = std::move(callback.result);
  d.delivered_for = std::move(callback.attempt_id);
  d.wake.cancel();
}

void order_dispatcher::begin_shutdown() {
  stopping_ = true;
  coroutines_.close();  // shutdown hook: no coroutine starts from now on
  for (auto& [number, d] : orders_) d->wake.cancel();
  pump_timer_.cancel();
}

std::int64_t order_dispatcher::deadline_ms(const order_record& o) const {
  std::int64_t wait_s = o.recharge_type == 0 ? 86400 : 60;
  for (const auto& m : config_.merchants)
    if (m.id == o.merchant_id) wait_s = o.recharge_type == 0 ? m.slow_deadline_s : m.fast_deadline_s;
  return o.created_at_ms + wait_s * 1000;
}

void order_dispatcher::park(const order_record& o, std::vector<std::string> tried,
                            std::int64_t deadline) {
  TOPUP_ASSERT(o.status == order_status::waiting && !orders_.contains(o.order_number));
  lines_.park(o, std::move(tried), deadline);
  arm_pump_timer();
  request_pump();  // parked behind others, a slot may be free right now
}

void order_dispatcher::request_pump() {
  if (pump_posted_ || lines_.empty() || stopping_) return;
  pump_posted_ = true;
  asio::post(io_, [this] {
    pump_posted_ = false;
    pump();
  });
}

void order_dispatcher::arm_pump_timer() {
  if (pump_timer_armed_ || stopping_) return;
  pump_timer_armed_ = true;
  pump_timer_.expires_after(std::chrono::milliseconds(200));
  pump_timer_.async_wait([this](boost::system::error_code ec) {
    pump_timer_armed_ = false;
    if (ec || stopping_) return;
    pump();
    if (!lines_.empty()) arm_pump_timer();
  });
}

void order_dispatcher::pump() {
  if (stopping_ || lines_.empty()) return;
  const auto now = clock_.steady_now();
  const std::int64_t now_ms = clock_.wall_ms();
  // A parked order leaves its wait line with only its number and merchant known: drive() reads
  // the rest from Redis (`reserved`: the slot taken for it, or none).
  auto resume = [this](std::string number, std::int64_t merchant_id,
                       channel_router::channel* reserved) {
    order_record o;
    o.order_number = std::move(number);
    o.merchant_id = merchant_id;
    start(std::move(o), true, reserved);
  };
  // Past their deadline: resumed without a slot; the coroutine fails and refunds them.
  for (auto& p : lines_.take_expired(now_ms)) resume(std::move(p.order_number), p.merchant_id, nullptr);
  // Each line hands its oldest orders to channels with a free slot, taking the slot for them;
  // a route no channel can ever serve any more (exhausted) leaves without one, to be refunded.
  lines_.serve(
      [&](const wait_lines::route& r) -> std::optional<channel_router::channel*> {
        auto pick = router_.pick(r.sample, r.tried, now);
        if (pick.what == channel_router::verdict::busy) return std::nullopt;
        if (pick.what != channel_router::verdict::chosen) return nullptr;
        pick.chosen->health.started(now);
        return pick.chosen;
      },
      [&](wait_lines::parked p, channel_router::channel* reserved) {
        resume(std::move(p.order_number), p.merchant_id, reserved);
      });
}

asio::awaitable<void> order_dispatcher::drive(std::shared_ptr<driven_order> owner) {
  driven_order& d = *owner;
  if (d.reload && !co_await reload(d)) {
    finish(d);
    co_return;
  }
  // An order found in 1 (recovered) may have been listed for an operator before the restart:
  // clear that once it settles, as for an order listed by this driver.
  d.unresolved = d.order.status == order_status::recharging;
  d.final_already = is_terminal(d.order.status);

  while (!stopping_ && !is_terminal(d.order.status)) {
    if (d.reread) {
      co_await reread(d);
      continue;
    }
    const std::int64_t now_ms = clock_.wall_ms();
    step_result step;
    switch (d.order.status) {
      case order_status::waiting: step = co_await step_waiting(d, now_ms); break;
      case order_status::matched: step = co_await step_matched(d, now_ms); break;
      case order_status::recharging: step = co_await step_recharging(d, now_ms); break;
      case order_status::failed: step = co_await step_failed(d, now_ms); break;
      case order_status::pending_payment:
      case order_status::success:
      case order_status::refunded:
        TOPUP_ASSERT(false && "dispatcher given an order it cannot drive");
        break;
    }
    if (d.park_until) break;
    if (!step) continue;  // nothing stored this round
    if (!*step) {
      d.storage_backoff = std::chrono::milliseconds(100);
      d.maybe_applied = false;
      if (d.unresolved && d.order.status != order_status::recharging) co_await clear_unresolved(d);
      continue;
    }
    if (stopping_) break;  // left mid-step: the persisted status is what recovery resumes
    if (!co_await recover_from(d, *step)) break;
  }
  // Settled by someone else's step (the record re-read): off the operator's list too.
  if (d.unresolved && !stopping_ && d.order.status != order_status::recharging)
    co_await clear_unresolved(d);
  finish(d);
}

asio::awaitable<bool> order_dispatcher::reload(driven_order& d) {
  const std::string number = d.order.order_number;
  while (!stopping_) {
    const auto got = co_await take(d.order, store_.get(d.order.merchant_id, number));
    if (!got) break;
    if (got == errc::order_not_found) {
      logger("engine")->error("shard={} order={} vanished from storage", shard_, number);
      co_return false;  // nothing to drive; ends without a final hook
    }
    co_await back_off(d);
  }
  if (stopping_) co_return false;
  // The order may have moved on while parked (e.g. cancelled): the reserved slot is then unused.
  if (d.order.status != order_status::waiting) release_slot(d);
  co_return true;
}

asio::awaitable<order_dispatcher::step_result> order_dispatcher::step_waiting(driven_order& d,
                                                                              std::int64_t now_ms) {
  order_record& o = d.order;
  const auto& tried = o.attempt.tried;
  // A slot the wait line reserved is used, unless the order tried that channel already (a stale
  // entry of an order that failed over and was parked again on another line).
  if (d.slot && std::ranges::find(tried, d.slot->config->id) != tried.end()) release_slot(d);
  channel_router::pick_result pick{channel_router::verdict::chosen, d.slot};
  if (!d.slot) {
    // Orders that route alike parked earlier go first: wait behind them.
    pick = lines_.queue_ahead(o, tried) ? channel_router::pick_result{channel_router::verdict::busy}
                                        : router_.pick(o, tried, clock_.steady_now());
  }
  if (pick.what == channel_router::verdict::chosen) {
    // Take the channel's slot before awaiting the persist, so concurrent orders on this shard
    // cannot all pass the in-flight check at once; give it back if the step fails.
    if (!d.slot) {
      d.slot = pick.chosen;
      d.slot->health.started(clock_.steady_now());
    }
    auto fields = attempt_rules::next_attempt_fields(o, pick.chosen->config->id, now_ms);
    const auto stored = error_of(co_await store_.advance(o, order_status::matched, std::string(),
                                                         std::move(fields), now_ms));
    if (!stored) d.just_matched = true;
    else release_slot(d);
    co_return stored;
  }
  if (pick.what == channel_router::verdict::exhausted) {
    const std::string_view why =
        tried.empty() ? failure_reason::no_channel : failure_reason::every_channel_failed;
    co_return co_await take(o, store_.fail_refund(o, std::string(why), now_ms));
  }
  // Channels exist but none has capacity or health right now: wait parked (no coroutine), up to
  // a deadline.
  const std::int64_t deadline = deadline_ms(o);
  if (now_ms >= deadline)
    co_return co_await take(o, store_.fail_refund(o, std::string(failure_reason::deadline), now_ms));
  d.park_until = deadline;
  co_return std::nullopt;
}

asio::awaitable<order_dispatcher::step_result> order_dispatcher::step_matched(driven_order& d,
                                                                              std::int64_t now_ms) {
  order_record& o = d.order;
  auto* ch = attempt_channel(d);
  if (!ch) {
    logger("engine")->error("shard={} order={} matched to unknown channel {}: left in 7", shard_,
                            o.order_number, o.attempt.channel);
    if (!d.removed_listed) co_await tell_channel_removed(d);
    co_await sleep_on(d.wake, std::chrono::seconds(60));
    co_return std::nullopt;
  }
  // Recovered in 7: the submit may or may not have reached the supplier. Unknown: ask.
  if (!d.just_matched && !d.known) d.known = unknown_result("restarted while submitting");
  d.just_matched = false;
  if (!d.known) {
    d.attempt_started = clock_.steady_now();
    // The log masks the number (engine/support/log): an operator matches it with the supplier's.
    if (log_->should_log(spdlog::level::debug))
      log_->debug("shard={} order={} attempt={} channel={} mobile={} amount={} submitting", shard_,
                  o.order_number, o.attempt.id, ch->config->id, o.mobile, o.money_yuan);
    d.known = co_await ch->adapter->submit(make_request(o));
    if (auto* m = channel_figures(*ch)) {
      bump(m->submits);
      bump(m->outcomes[static_cast<std::size_t>(d.known->outcome)]);
      m->submit_latency.observe(std::chrono::duration_cast<std::chrono::microseconds>(
          clock_.steady_now() - d.attempt_started));
    }
  }
  if (d.known->outcome == attempt_outcome::refused) co_return co_await store_result(d, *ch, now_ms);

  // 7->1, saying how the submit ended and when (the push left no later).
  const std::int64_t ended_ms = clock_.wall_ms();
  field_pairs submitted;
  submitted.emplace_back("submit", attempt_rules::submit_word(d.known->outcome));
  submitted.emplace_back("submitted_at", std::to_string(ended_ms));
  auto settled = attempt_rules::settle(*d.known, d.failover_allowed());
  if (attempt_rules::definitive(d.known->outcome) && settled.to != order_status::failed) {
    // The supplier's answer to the submit is already final: 7->1 and the step it calls for
    // (1->2, or 1->6 to fail over) in one script, one round trip fewer.
    const auto latency = since(clock_, d.attempt_started);
    order_log::hop through{order_status::recharging, std::move(submitted)};
    const auto stored = error_of(co_await store_.advance(o, settled.to, std::move(settled.reason),
                                                         std::move(settled.fields), ended_ms,
                                                         std::move(through)));
    if (!stored) attempt_settled(d, *ch, settled.ok, latency);
    co_return stored;
  }
  const auto stored = error_of(co_await store_.advance(o, order_status::recharging, std::string(),
                                                       std::move(submitted), ended_ms));
  // A definitive answer to the submit itself (a failure) is applied in status 1 next round.
  if (!stored && !attempt_rules::definitive(d.known->outcome)) d.known.reset();
  co_return stored;
}

asio::awaitable<order_dispatcher::step_result> order_dispatcher::step_recharging(
    driven_order& d, std::int64_t now_ms) {
  order_record& o = d.order;
  auto* ch = attempt_channel(d);
  if (!ch) {
    logger("engine")->error("shard={} order={} recharging on unknown channel {}: left in 1",
                            shard_, o.order_number, o.attempt.channel);
    if (!d.removed_listed) co_await tell_channel_removed(d);
    co_await sleep_on(d.wake, std::chrono::seconds(60));
    co_return std::nullopt;
  }
  if (!d.known && d.delivered) {
    // Only a result about this very attempt counts: a late callback about an earlier attempt
    // (already settled by query) must never decide the next one.
    if (d.delivered_for == d.heard_attempt) d.known = d.delivered;
    d.delivered.reset();
  }
  if (d.known) co_return co_await store_result(d, *ch, now_ms);

  co_await sleep_on(d.wake, std::chrono::milliseconds(ch->config->query_interval_ms));
  // A callback woke us (apply it next round), or a settlement did (read the order again).
  if (stopping_ || d.delivered || d.reread) co_return std::nullopt;
  auto answer = co_await ch->adapter->query(make_request(o));
  if (auto* m = channel_figures(*ch)) bump(m->outcomes[static_cast<std::size_t>(answer.outcome)]);
  // The grace runs from when the submit ended (stored as submitted_at with 7->1), not from
  // matching: the push may have left as late as its timeout after matched_at.
  const std::int64_t age_ms = clock_.wall_ms() - o.attempt.since_ms();
  switch (attempt_rules::judge_query(answer.outcome, age_ms,
                                     static_cast<std::int64_t>(ch->config->unknown_grace_ms))) {
    case attempt_rules::query_verdict::never_placed:
      d.known = failed_result(std::string(failure_reason::never_placed));
      break;
    case attempt_rules::query_verdict::settle:
      d.known = std::move(answer);
      break;
    case attempt_rules::query_verdict::ask_again:
      // For as long as it takes; past the channel's unknown_max_s an operator is told (§6).
      if (!d.unresolved && attempt_rules::overdue(age_ms, ch->config->unknown_max_s))
        co_await tell_operator(d, *ch, age_ms);
      co_return std::nullopt;
  }
  co_return co_await store_result(d, *ch, now_ms);
}

asio::awaitable<order_dispatcher::step_result> order_dispatcher::step_failed(driven_order& d,
                                                                             std::int64_t now_ms) {
  // Found in 3 (a crash between the failure and its refund): the refund, once.
  co_return co_await take(d.order, store_.fail_refund(d.order, d.order.reason, now_ms));
}

asio::awaitable<boost::system::error_code> order_dispatcher::store_result(
    driven_order& d, channel_router::channel& ch, std::int64_t now_ms) {
  const auto latency = since(clock_, d.attempt_started);
  auto settled = attempt_rules::settle(*d.known, d.failover_allowed());
  boost::system::error_code stored;
  if (settled.to == order_status::failed)
    stored = co_await take(d.order, store_.fail_refund(d.order, std::move(settled.reason), now_ms));
  else
    stored = error_of(co_await store_.advance(d.order, settled.to, std::move(settled.reason),
                                              std::move(settled.fields), now_ms));
  if (!stored) attempt_settled(d, ch, settled.ok, latency);
  co_return stored;
}

asio::awaitable<bool> order_dispatcher::recover_from(driven_order& d,
                                                     boost::system::error_code step) {
  const std::string& number = d.order.order_number;
  if (step == errc::stale_status || step == errc::illegal_transition) {
    // Someone else moved the order (a cancel, another instance): reload and follow it. A result
    // we were about to persist is dropped only if the order left the attempt's status.
    const order_status was = d.order.status;
    const auto got = co_await take(d.order, store_.get(d.order.merchant_id, number));
    if (!got && d.order.status != was) d.known.reset();
    // Made final by another step (a cancel, or a driver of the same order that ran from a newer
    // record: an orphan sweep can adopt a record read just before its driver finished). That step
    // fired its own final hook; ours would kick the callback and count the order twice.
    if (!got && is_terminal(d.order.status) && !d.maybe_applied) d.final_already = true;
    co_return true;
  }
  if (step == errc::outcome_unknown || step == errc::storage_protocol) d.maybe_applied = true;
  if (step == errc::order_not_found) {
    logger("engine")->error("shard={} order={} vanished from storage", shard_, number);
    co_return false;
  }
  // Storage unavailable or answering oddly: keep the result in memory and try the same step
  // again with back-off (a crash meanwhile leaves the persisted status, which recovery resumes
  // by asking the supplier).
  logger("engine")->warn("shard={} order={} status={} storage: {}", shard_, number,
                         to_int(d.order.status), step.message());
  co_await back_off(d);
  co_return true;
}

asio::awaitable<void> order_dispatcher::back_off(driven_order& d) {
  co_await sleep_on(d.wake, d.storage_backoff);
  d.storage_backoff = std::min(d.storage_backoff * 2, std::chrono::milliseconds(5000));
}

asio::awaitable<void> order_dispatcher::tell_operator(driven_order& d, channel_router::channel& ch,
                                                      std::int64_t age_ms) {
  const order_record& o = d.order;
  const auto listed =
      co_await store_.flag_unresolved(o.merchant_id, o.order_number, o.attempt.since_ms());
  if (listed) {
    d.unresolved = true;
    logger("engine")->error("shard={} order={} channel={} mobile={} no final answer for {} s: "
                            "listed for an operator, still asking",
                            shard_, o.order_number, ch.config->id, o.mobile, age_ms / 1000);
  }
}

asio::awaitable<void> order_dispatcher::clear_unresolved(driven_order& d) {
  // The attempt is settled: off the operator's list (a failure to say so leaves a stale entry,
  // which readers skip by the order's status).
  const auto cleared = co_await store_.clear_unresolved(d.order.merchant_id, d.order.order_number);
  if (cleared) d.unresolved = false;
  co_return;
}

asio::awaitable<void> order_dispatcher::tell_channel_removed(driven_order& d) {
  const order_record& o = d.order;
  const auto listed =
      co_await store_.flag_unresolved(o.merchant_id, o.order_number, o.attempt.since_ms());
  if (listed) d.unresolved = d.removed_listed = true;
}

asio::awaitable<void> order_dispatcher::reread(driven_order& d) {
  d.reread = false;
  const order_status was = d.order.status;
  const auto got = co_await take(d.order, store_.get(d.order.merchant_id, d.order.order_number));
  if (got) {
    co_await back_off(d);  // not read: the next round reads again
    d.reread = true;
    co_return;
  }
  if (d.order.status != was) d.known.reset();
  // The settlement fired the final hook and counted the order; its driver only ends.
  if (is_terminal(d.order.status)) d.final_already = true;
}

asio::awaitable<boost::system::result<settle_outcome>> order_dispatcher::settle(
    std::int64_t merchant_id, std::string order_number, manual_settlement s) {
  settle_outcome out;
  auto read = co_await store_.get(merchant_id, order_number);
  if (!read) co_return read.error();
  out.order = std::move(*read);
  order_record& o = out.order;
  const std::int64_t now_ms = clock_.wall_ms();
  if (auto listed = classify_exception(o, config_, now_ms)) out.kind = listed->kind;
  out.refused = settle_check(o, config_, now_ms, s.success);
  if (out.refused != settle_refusal::none) co_return out;

  field_pairs fields;
  fields.emplace_back("last_outcome", s.success ? "succeeded" : "failed");
  fields.emplace_back("by", s.by);
  fields.emplace_back("evidence", s.evidence);
  const std::string reason = s.success ? std::string() : std::string(failure_reason::settled_failed);
  std::optional<order_log::hop> via;  // 7 -> 1 -> 2: the submit's answer settled by hand
  if (s.success && o.status == order_status::matched)
    via = order_log::hop{order_status::recharging, field_pairs{}};
  const order_status to = s.success ? order_status::success : order_status::failed;
  const auto stored = co_await store_.advance(o, to, reason, std::move(fields), now_ms, std::move(via));
  if (!stored && stored.error() == errc::stale_status) {
    // Another step got there first (a supplier's answer, a second operator): that one stands.
    auto now = co_await store_.get(merchant_id, order_number);
    if (!now) co_return now.error();
    out.order = std::move(*now);
    out.refused = settle_check(out.order, config_, clock_.wall_ms(), s.success) ==
                          settle_refusal::final_already
                      ? settle_refusal::final_already
                      : settle_refusal::not_listed;
    co_return out;
  }
  if (!stored) co_return stored.error();

  // Whoever drives the order reads it again: it ends if final, refunds if still in 3.
  auto wake_driver = [this, &order_number] {
    if (auto it = orders_.find(order_number); it != orders_.end()) {
      // (Its `unresolved` stays set: it takes the order off the list again as it ends, in case
      // it listed it anew meanwhile.)
      it->second->reread = true;
      it->second->wake.cancel();
    }
  };
  if (!s.success) {
    // The refund, once (the refund script's compare-and-set). If it fails for want of storage,
    // the driver (or recovery) refunds the order it finds in 3, as after any crash there.
    auto refunded = co_await store_.fail_refund(o, reason, clock_.wall_ms());
    if (!refunded) {
      wake_driver();
      // An order of this instance that nothing here drives (never driven, or its driver ended)
      // gets one now, so that a refund lost to a storage error is made without a restart.
      const auto parts = parse_order_number(order_number);
      const bool ours = ownership_ ? ownership_->drives(order_number)
                                   : parts && parts->instance == config_.server.instance_id;
      if (refunded.error() != errc::stale_status && ours) adopt(o);
      if (refunded.error() != errc::stale_status) co_return refunded.error();
      auto now = co_await store_.get(merchant_id, order_number);
      if (!now) co_return now.error();
      out.order = std::move(*now);
      co_return out;  // refunded by another step, whose final hook fired
    }
    out.order = std::move(*refunded);
  }
  wake_driver();
  // Off the operator's list (a stale entry left by a failure here is skipped by readers).
  const auto cleared = co_await store_.clear_unresolved(merchant_id, order_number);
  (void)cleared;
  if (metrics_) bump(metrics_->orders_finished[static_cast<std::size_t>(to_int(out.order.status))]);
  if (on_final_) on_final_(out.order);
  co_return out;
}

channel_router::channel* order_dispatcher::attempt_channel(driven_order& d) {
  auto* ch = router_.find(d.order.attempt.channel);
  if (!ch || !ch->adapter) return nullptr;
  if (!d.slot) {
    d.slot = ch;
    d.slot->health.started(clock_.steady_now());
  }
  d.heard_attempt = d.order.attempt.id;
  d.heard_channel = ch->config->id;
  return ch;
}

void order_dispatcher::release_slot(driven_order& d) {
  if (d.slot) {
    d.slot->health.finished();
    request_pump();  // a parked order may take the slot
  }
  d.slot = nullptr;
}

void order_dispatcher::attempt_settled(driven_order& d, channel_router::channel& ch, bool ok,
                                       std::chrono::milliseconds latency) {
  ch.health.record(ok, latency, clock_.steady_now());
  release_slot(d);
  d.known.reset();
}

void order_dispatcher::finish(driven_order& d) {
  release_slot(d);
  orders_.erase(d.order.order_number);  // the driver's own reference keeps `d` alive
  if (d.park_until && !stopping_) {
    park(d.order, d.order.attempt.tried, *d.park_until);  // still in flight, without a driver
    return;
  }
  if (metrics_) {
    metrics_->orders_in_flight.fetch_sub(1, std::memory_order_relaxed);
    if (is_terminal(d.order.status) && !d.final_already)
      bump(metrics_->orders_finished[static_cast<std::size_t>(to_int(d.order.status))]);
  }
  if (is_terminal(d.order.status) && !d.final_already && on_final_) on_final_(d.order);
}

}  // namespace topup::engine
