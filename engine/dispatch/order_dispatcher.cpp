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
#include "engine/support/log.hpp"

namespace topup::engine {

namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

/// The in-memory side of one order being driven: its wake-up timer and a callback waiting to
/// be applied.
struct order_dispatcher::active_order {
  explicit active_order(asio::io_context& io) : wake(io) {}
  asio::steady_timer wake;
  std::string attempt_id;                     // the attempt a callback must name to count
  std::string channel_id;                     // the channel holding it, the only one heard
  std::optional<attempt_result> delivered;    // a callback's result, not yet applied
  std::string delivered_for;                  // the attempt that result is about
  bool unresolved = false;                    // listed for an operator (unknown_max_s passed)
};

namespace {

std::int64_t field_int(const order_record& o, std::string_view name) {
  auto v = o.extra_field(name);
  std::int64_t out = 0;
  if (v) std::from_chars(v->data(), v->data() + v->size(), out);
  return out;
}

std::string field_str(const order_record& o, std::string_view name) {
  auto v = o.extra_field(name);
  return v ? std::string(*v) : std::string();
}

/// Waits on the order's wake timer; a cancel (callback, shutdown) ends the wait early.
asio::awaitable<void> sleep_on(asio::steady_timer& timer, std::chrono::milliseconds d) {
  timer.expires_after(d);
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

// Built outside the coroutine body: GCC 12 miscompiles braced lists of literals there.
field_pairs one_field(std::string name, std::string value) {
  field_pairs out;
  out.emplace_back(std::move(name), std::move(value));
  return out;
}

attempt_result unknown_result(std::string detail) {
  return attempt_result{attempt_outcome::unknown, std::move(detail)};
}
attempt_result failed_result(std::string detail) {
  return attempt_result{attempt_outcome::failed, std::move(detail)};
}

attempt_request make_request(const order_record& o, const std::string& attempt_id) {
  attempt_request req;
  req.order_number = o.order_number;
  req.attempt_id = attempt_id;
  req.mobile = o.mobile;
  req.carrier_of = o.carrier;
  req.money_yuan = o.money_yuan;
  req.recharge_type = o.recharge_type;
  req.submitted_at_ms = field_int(o, "matched_at");
  return req;
}

/// What 6->7 stores about the attempt it starts.
field_pairs attempt_fields(const std::string& number, const std::string& channel_id,
                           std::int64_t attempt, const std::vector<std::string>& tried,
                           std::int64_t now_ms) {
  field_pairs extra;
  extra.reserve(5);
  extra.emplace_back("channel", channel_id);
  extra.emplace_back("attempts", std::to_string(attempt));
  extra.emplace_back("attempt_id", number + "-" + std::to_string(attempt));
  extra.emplace_back("tried", join_ids(tried));
  extra.emplace_back("matched_at", std::to_string(now_ms));
  return extra;
}

/// Awaits a store step that answers the whole record and, when it succeeded, makes that the
/// order's record; on an error the order is untouched. drive() awaits store steps only through
/// this and through the in-place order_store::advance: GCC gives each co_await's result its own
/// slot in the coroutine frame, and with a ~400-byte record per call site drive()'s frame was
/// 9.7 KB, held for as long as a supplier holds the order.
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

/// Where an attempt's definitive result takes the order from 1.
struct settlement {
  order_status to;     // 2; 6 to fail over; 3 (then 4, through fail_refund) when it may not
  std::string reason;  // of the step: empty on success, else the supplier's detail
  field_pairs extra;   // last_outcome
  bool ok;             // for the channel's health
};

settlement settle(const attempt_result& known, bool failover_allowed) {
  if (known.outcome == attempt_outcome::succeeded)
    return {order_status::success, std::string(), one_field("last_outcome", "succeeded"), true};
  if (failover_allowed)
    return {order_status::waiting, known.detail,
            one_field("last_outcome", std::string(outcome_name(known.outcome))), false};
  return {order_status::failed, known.detail, field_pairs{}, false};
}

bool definitive(attempt_outcome o) {
  return o == attempt_outcome::succeeded || o == attempt_outcome::failed ||
         o == attempt_outcome::refused;
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

order_dispatcher::order_dispatcher(asio::io_context& io, const config& cfg, order_store& store,
                                   channel_router& router, unsigned shard,
                                   const engine::clock& clock)
    : io_(io),
      config_(cfg),
      store_(store),
      router_(router),
      shard_(shard),
      clock_(clock),
      pump_timer_(io) {
  // Orders with a coroutine are bounded by the channels' slots. Sized for that from the start:
  // growing rehashes every entry in one go, a reactor stall of ~25 ms at 200k orders (seen as
  // the push p99 at half load). Capped, as the bucket array is allocated and cleared up front.
  std::uint64_t slots = 0;
  for (const auto& ch : cfg.channels) slots += ch.max_inflight;
  orders_.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(slots, k_reserved_orders_max)));
}

order_dispatcher::~order_dispatcher() = default;

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
  const std::vector<std::string> tried{pick.chosen->config->id};
  return first_match{pick.chosen, attempt_fields(o.order_number, pick.chosen->config->id, 1,
                                                 tried, now_ms)};
}

void order_dispatcher::adopt_matched(order_record order, first_match m) {
  TOPUP_ASSERT(m.channel != nullptr);
  if (stopping_ || driving(order.order_number)) {
    release(m);  // resumed from storage already (or stopping: recovery will)
    return;
  }
  order.status = order_status::matched;
  for (auto& field : m.fields) order.extra.push_back(std::move(field));
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
  orders_.emplace(number, std::make_shared<active_order>(io_));
  // Shutdown hook: the ticket leaves the gate when the coroutine has ended (or its frame is gone).
  asio::co_spawn(io_, drive(std::move(order), reload, reserved),
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
  auto& st = *it->second;
  if (st.attempt_id != callback.attempt_id) return;  // about an older attempt: already settled
  // Another channel's word about this attempt is no result (spec §6): only the holder knows.
  if (st.channel_id != callback.channel_id) {
    logger("engine")->warn("shard={} order={} callback about attempt={} from channel={} ignored: "
                           "the attempt is held by channel={}",
                           shard_, order_number, callback.attempt_id, callback.channel_id,
                           st.channel_id);
    return;
  }
  // Only a final status decides an attempt; "charging" and any status outside 2/3/4 mean the
  // supplier is still working on it (spec §6), and settling on them could deliver twice.
  if (!definitive(callback.result.outcome)) return;
  st.delivered = callback.result;
  st.delivered_for = callback.attempt_id;
  st.wake.cancel();
}

void order_dispatcher::begin_shutdown() {
  stopping_ = true;
  coroutines_.close();  // shutdown hook: no coroutine starts from now on
  for (auto& [number, st] : orders_) st->wake.cancel();
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

asio::awaitable<void> order_dispatcher::drive(order_record o, bool reload,
                                              channel_router::channel* reserved) {
  auto log = logger("engine");
  const std::string number = o.order_number;
  const std::int64_t merchant = o.merchant_id;
  std::shared_ptr<active_order> st = orders_.at(number);
  channel_router::channel* current = reserved;  // the channel holding one of its in-flight slots
  // 6->7 was persisted by this process just now (by accept, or below), so nothing was submitted
  // yet; an order found in 7 any other way may have been.
  bool just_matched = reserved && !reload && o.status == order_status::matched;
  std::optional<attempt_result> known;          // an attempt result not yet persisted
  steady::time_point attempt_started{};
  std::chrono::milliseconds storage_backoff{100};
  std::optional<std::int64_t> park_until;       // set when the order is to wait parked

  auto release_slot = [&] {
    if (current) {
      current->health.finished();
      request_pump();  // a parked order may take the slot
    }
    current = nullptr;
  };

  // A definitive result of the current attempt is stored: it counts for the channel's health,
  // the slot goes back, and nothing about the attempt is left to persist.
  auto attempt_settled = [&](channel_router::channel& ch, bool ok,
                             std::chrono::milliseconds latency) {
    ch.health.record(ok, latency, clock_.steady_now());
    release_slot();
    known.reset();
  };

  // The channel of the order's current attempt (7 or 1), holding one of its in-flight slots, with
  // the attempt id a callback must name recorded; null if this configuration has no such channel.
  auto attempt_channel = [&]() -> channel_router::channel* {
    auto* ch = router_.find(field_str(o, "channel"));
    if (!ch || !ch->adapter) return nullptr;
    if (!current) {
      current = ch;
      current->health.started(clock_.steady_now());
    }
    st->attempt_id = field_str(o, "attempt_id");
    st->channel_id = ch->config->id;
    return ch;
  };

  // Resumed from the wait line: only the number is known; the record is in Redis (and may have
  // moved on meanwhile, e.g. cancelled).
  while (reload && !stopping_) {
    const auto got = co_await take(o, store_.get(merchant, number));
    if (!got) break;
    if (got == errc::order_not_found) {
      log->error("shard={} order={} vanished from storage", shard_, number);
      o.status = order_status::refunded;  // nothing to drive; end without a final hook
      break;
    }
    co_await sleep_on(st->wake, storage_backoff);
    storage_backoff = std::min(storage_backoff * 2, std::chrono::milliseconds(5000));
  }
  if (reload && o.status != order_status::waiting) release_slot();  // the reserved slot is unused
  // An order found in 1 (recovered) may have been listed for an operator before the restart:
  // clear that once it settles, as for an order listed by this coroutine.
  st->unresolved = o.status == order_status::recharging;
  const bool final_already = is_terminal(o.status);
  const bool failover_allowed = o.change && o.source.empty();

  // Stores where the current attempt's definitive result (`known`) takes the order from its
  // status, 7 or 1: 2 or 6 in place, a failure through fail_refund (3, then 4 with the money
  // back); once stored, the attempt is settled.
  auto store_result = [&](channel_router::channel& ch,
                          std::int64_t now_ms) -> asio::awaitable<boost::system::error_code> {
    const auto latency =
        std::chrono::duration_cast<std::chrono::milliseconds>(clock_.steady_now() - attempt_started);
    auto settled = settle(*known, failover_allowed);
    boost::system::error_code stored;
    if (settled.to == order_status::failed)
      stored = co_await take(
          o, store_.fail_refund(o, std::move(settled.reason), now_ms));
    else
      stored = error_of(co_await store_.advance(o, settled.to, std::move(settled.reason),
                                                std::move(settled.extra), now_ms));
    if (!stored) attempt_settled(ch, settled.ok, latency);
    co_return stored;
  };

  while (!stopping_ && !is_terminal(o.status)) {
    // Empty once this round's step is stored (`o` is then the stored record).
    boost::system::error_code step = errc::internal;
    const std::int64_t now_ms = clock_.wall_ms();

    switch (o.status) {
      case order_status::pending_payment:
      case order_status::success:
      case order_status::refunded:
        TOPUP_ASSERT(false && "dispatcher given an order it cannot drive");
        break;

      case order_status::failed:
        step = co_await take(
            o, store_.fail_refund(o, o.reason, now_ms));
        break;

      case order_status::waiting: {
        auto tried = split_ids(field_str(o, "tried"));
        // A slot the wait line reserved is used, unless the order tried that channel already
        // (a stale entry of an order that failed over and was parked again on another line).
        if (current && std::ranges::find(tried, current->config->id) != tried.end())
          release_slot();
        channel_router::pick_result pick{channel_router::verdict::chosen, current};
        if (!current) {
          // Orders that route alike parked earlier go first: wait behind them.
          pick = lines_.queue_ahead(o, tried) ? channel_router::pick_result{channel_router::verdict::busy}
                                       : router_.pick(o, tried, clock_.steady_now());
        }
        if (pick.what == channel_router::verdict::chosen) {
          const auto& cfg = *pick.chosen->config;
          const std::int64_t attempt = field_int(o, "attempts") + 1;
          tried.push_back(cfg.id);
          // Take the channel's slot before awaiting the persist, so concurrent orders on this
          // shard cannot all pass the in-flight check at once; give it back if the step fails.
          if (!current) {
            current = pick.chosen;
            current->health.started(clock_.steady_now());
          }
          step = error_of(co_await store_.advance(
              o, order_status::matched, std::string(),
              attempt_fields(number, cfg.id, attempt, tried, now_ms), now_ms));
          if (!step) just_matched = true;
          else release_slot();
        } else if (pick.what == channel_router::verdict::exhausted) {
          const std::string_view why =
              tried.empty() ? failure_reason::no_channel : failure_reason::every_channel_failed;
          step = co_await take(o, store_.fail_refund(o, std::string(why), now_ms));
        } else {
          // Channels exist but none has capacity or health right now: wait parked (no
          // coroutine), up to a deadline.
          const std::int64_t deadline = deadline_ms(o);
          if (now_ms >= deadline) {
            step = co_await take(
                o, store_.fail_refund(o, std::string(failure_reason::deadline), now_ms));
          } else {
            park_until = deadline;
          }
        }
        break;
      }

      case order_status::matched: {
        auto* ch = attempt_channel();
        if (!ch) {
          log->error("shard={} order={} matched to unknown channel {}: left in 7", shard_, number,
                     field_str(o, "channel"));
          co_await sleep_on(st->wake, std::chrono::seconds(60));
          continue;
        }
        if (!just_matched && !known) {
          // Recovered in 7: the submit may or may not have reached the supplier. Unknown: ask.
          known = unknown_result("restarted while submitting");
        }
        if (!known) {
          attempt_request req = make_request(o, st->attempt_id);
          ++submitting_;
          attempt_started = clock_.steady_now();
          known = co_await ch->adapter->submit(std::move(req));
          --submitting_;
          if (auto* m = channel_figures(*ch)) {
            bump(m->submits);
            bump(m->outcomes[static_cast<std::size_t>(known->outcome)]);
            m->submit_latency.observe(std::chrono::duration_cast<std::chrono::microseconds>(
                clock_.steady_now() - attempt_started));
          }
        }
        if (known->outcome == attempt_outcome::refused) {
          step = co_await store_result(*ch, now_ms);
        } else {
          const std::string submit = known->outcome == attempt_outcome::accepted ||
                                             definitive(known->outcome)
                                         ? std::string(outcome_name(known->outcome))
                                         : "unknown";
          // When the submit ended (answered, or gave up waiting): the push left no later.
          const std::int64_t ended_ms = clock_.wall_ms();
          field_pairs extra;
          extra.emplace_back("submit", submit);
          extra.emplace_back("submitted_at", std::to_string(ended_ms));
          auto settled = settle(*known, failover_allowed);
          if (definitive(known->outcome) && settled.to != order_status::failed) {
            // The supplier's answer to the submit is already final: 7->1 and the step it calls
            // for (1->2, or 1->6 to fail over) in one script, one round trip fewer.
            const auto latency = std::chrono::duration_cast<std::chrono::milliseconds>(
                clock_.steady_now() - attempt_started);
            order_store::hop through{order_status::recharging, std::move(extra)};
            step = error_of(co_await store_.advance(o, settled.to, std::move(settled.reason),
                                                    std::move(settled.extra), ended_ms,
                                                    std::move(through)));
            if (!step) attempt_settled(*ch, settled.ok, latency);
          } else {
            step = error_of(co_await store_.advance(o, order_status::recharging, std::string(),
                                                    std::move(extra), ended_ms));
            // A definitive answer to the submit itself is applied in status 1 next round.
            if (!step && !definitive(known->outcome)) known.reset();
          }
        }
        just_matched = false;
        break;
      }

      case order_status::recharging: {
        auto* ch = attempt_channel();
        if (!ch) {
          log->error("shard={} order={} recharging on unknown channel {}: left in 1", shard_,
                     number, field_str(o, "channel"));
          co_await sleep_on(st->wake, std::chrono::seconds(60));
          continue;
        }
        if (!known && st->delivered) {
          // Only a result about this very attempt counts: a late callback about an earlier
          // attempt (already settled by query) must never decide the next one.
          if (st->delivered_for == st->attempt_id) known = st->delivered;
          st->delivered.reset();
        }
        if (!known) {
          co_await sleep_on(st->wake, std::chrono::milliseconds(ch->config->query_interval_ms));
          if (stopping_) break;
          if (st->delivered) continue;  // a callback woke us: apply it next round
          attempt_request req = make_request(o, st->attempt_id);
          auto answer = co_await ch->adapter->query(std::move(req));
          if (auto* m = channel_figures(*ch)) bump(m->outcomes[static_cast<std::size_t>(answer.outcome)]);
          // The grace runs from when the submit ended (persisted as submitted_at with 7->1), not
          // from matching: the push may have left as late as its timeout after matched_at.
          const std::int64_t age_ms =
              clock_.wall_ms() - std::max(field_int(o, "matched_at"), field_int(o, "submitted_at"));
          if (answer.outcome == attempt_outcome::not_found &&
              age_ms >= static_cast<std::int64_t>(ch->config->unknown_grace_ms)) {
            // The supplier says it never got the order, and the grace has passed: never placed.
            known = failed_result(std::string(failure_reason::never_placed));
          } else if (definitive(answer.outcome)) {
            known = answer;
          } else {
            // Pending, unknown, or not found within the grace: ask again later, for as long as
            // it takes; past the channel's unknown_max_s an operator is told (spec §6).
            if (!st->unresolved && age_ms >= ch->config->unknown_max_s * 1000) {
              const std::int64_t since =
                  std::max(field_int(o, "matched_at"), field_int(o, "submitted_at"));
              if (co_await store_.flag_unresolved(merchant, number, since)) {
                st->unresolved = true;
                log->error("shard={} order={} channel={} no final answer for {} s: listed for an "
                           "operator, still asking",
                           shard_, number, ch->config->id, age_ms / 1000);
              }
            }
            continue;
          }
        }
        step = co_await store_result(*ch, now_ms);
        break;
      }
    }

    if (park_until) break;
    if (!step) {
      storage_backoff = std::chrono::milliseconds(100);
      if (st->unresolved && o.status != order_status::recharging) {
        // The attempt is settled: off the operator's list (a failure to say so leaves a stale
        // entry, which readers skip by the order's status).
        if (co_await store_.clear_unresolved(merchant, number)) st->unresolved = false;
      }
      continue;
    }
    if (stopping_) break;  // left mid-step: the persisted status is what recovery resumes
    if (step == errc::stale_status || step == errc::illegal_transition) {
      // Someone else moved the order (a cancel, another instance): reload and follow it. A
      // result we were about to persist is dropped only if the order left the attempt's status.
      const order_status was = o.status;
      const auto got = co_await take(o, store_.get(merchant, number));
      if (!got && o.status != was) known.reset();
      continue;
    }
    if (step == errc::order_not_found) {
      log->error("shard={} order={} vanished from storage", shard_, number);
      break;
    }
    // Storage unavailable or answering oddly: keep the result in memory and try the same step
    // again with back-off (a crash meanwhile leaves the persisted status, which recovery
    // resumes by asking the supplier).
    log->warn("shard={} order={} status={} storage: {}", shard_, number, to_int(o.status),
              step.message());
    co_await sleep_on(st->wake, storage_backoff);
    storage_backoff = std::min(storage_backoff * 2, std::chrono::milliseconds(5000));
  }
  if (st->unresolved && !stopping_ && o.status != order_status::recharging) {
    // Settled by someone else's step (the record re-read): off the operator's list too.
    co_await store_.clear_unresolved(merchant, number);
  }
  release_slot();
  orders_.erase(number);
  if (park_until && !stopping_) {
    park(o, split_ids(field_str(o, "tried")), *park_until);  // still in flight, without a coroutine
    co_return;
  }
  if (metrics_) {
    metrics_->orders_in_flight.fetch_sub(1, std::memory_order_relaxed);
    if (is_terminal(o.status) && !final_already)
      bump(metrics_->orders_finished[static_cast<std::size_t>(to_int(o.status))]);
  }
  if (is_terminal(o.status) && !final_already && on_final_) on_final_(o);
}

}  // namespace topup::engine
