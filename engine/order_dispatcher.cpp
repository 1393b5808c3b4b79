#include "engine/order_dispatcher.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <charconv>

#include "engine/assert.hpp"
#include "engine/clock.hpp"
#include "engine/errc.hpp"
#include "engine/log.hpp"

namespace topup::engine {

namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

/// The in-memory side of one order being driven: its wake-up timer and a callback waiting to
/// be applied.
struct order_dispatcher::active_order {
  explicit active_order(asio::io_context& io) : wake(io) {}
  asio::steady_timer wake;
  std::string attempt_id;                     // the attempt a callback must name to count
  std::optional<attempt_result> delivered;    // a callback's result, not yet applied
  std::string delivered_for;                  // the attempt that result is about
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
                                   channel_router& router, unsigned shard)
    : io_(io), config_(cfg), store_(store), router_(router), shard_(shard) {}

order_dispatcher::~order_dispatcher() = default;

channel_metrics* order_dispatcher::channel_figures(const channel_router::channel& ch) {
  if (!metrics_ || !registry_) return nullptr;
  const int i = registry_->channel_index(ch.config->id);
  return i < 0 ? nullptr : metrics_->channels[static_cast<std::size_t>(i)].get();
}

void order_dispatcher::adopt(const order_record& order) {
  if (stopping_ || is_terminal(order.status)) return;
  if (orders_.contains(order.order_number)) return;  // already driven
  orders_.emplace(order.order_number, std::make_shared<active_order>(io_));
  if (metrics_) metrics_->orders_in_flight.fetch_add(1, std::memory_order_relaxed);
  asio::co_spawn(io_, drive(order), [shard = shard_, number = order.order_number](std::exception_ptr e) {
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
  st.delivered = callback.result;
  st.delivered_for = callback.attempt_id;
  st.wake.cancel();
}

void order_dispatcher::begin_shutdown() {
  stopping_ = true;
  for (auto& [number, st] : orders_) st->wake.cancel();
}

asio::awaitable<void> order_dispatcher::drive(order_record o) {
  auto log = logger("engine");
  const std::string number = o.order_number;
  const std::int64_t merchant = o.merchant_id;
  std::shared_ptr<active_order> st = orders_.at(number);
  channel_router::channel* current = nullptr;  // the channel holding one of its in-flight slots
  bool just_matched = false;                   // this coroutine persisted 6->7 itself
  std::optional<attempt_result> known;         // an attempt result not yet persisted
  steady::time_point attempt_started{};
  std::chrono::milliseconds storage_backoff{100};

  auto release_slot = [&] {
    if (current) current->health.finished();
    current = nullptr;
  };
  const bool failover_allowed = o.change && o.source.empty();

  while (!stopping_ && !is_terminal(o.status)) {
    boost::system::result<order_record> step = errc::internal;
    const std::int64_t now_ms = wall_clock_ms();

    switch (o.status) {
      case order_status::pending_payment:
      case order_status::success:
      case order_status::refunded:
        TOPUP_ASSERT(false && "dispatcher given an order it cannot drive");
        break;

      case order_status::failed:
        step = co_await store_.fail_refund(merchant, number, order_status::failed, o.reason, now_ms);
        break;

      case order_status::waiting: {
        auto tried = split_ids(field_str(o, "tried"));
        auto pick = router_.pick(o, tried, steady::now());
        if (pick.what == channel_router::verdict::chosen) {
          const auto& cfg = *pick.chosen->config;
          const std::int64_t attempt = field_int(o, "attempts") + 1;
          tried.push_back(cfg.id);
          // Take the channel's slot before awaiting the persist, so concurrent orders on this
          // shard cannot all pass the in-flight check at once; give it back if the step fails.
          current = pick.chosen;
          current->health.started(steady::now());
          field_pairs extra;
          extra.emplace_back("channel", cfg.id);
          extra.emplace_back("attempts", std::to_string(attempt));
          extra.emplace_back("attempt_id", number + "-" + std::to_string(attempt));
          extra.emplace_back("tried", join_ids(tried));
          extra.emplace_back("matched_at", std::to_string(now_ms));
          step = co_await store_.transition(merchant, number, order_status::waiting,
                                            order_status::matched, std::string(), std::move(extra),
                                            now_ms);
          if (step) just_matched = true;
          else release_slot();
        } else if (pick.what == channel_router::verdict::exhausted) {
          step = co_await store_.fail_refund(
              merchant, number, order_status::waiting,
              tried.empty() ? "no channel can serve this order" : "every allowed channel failed",
              now_ms);
        } else {
          // Channels exist but none has capacity or health right now: wait, up to a deadline.
          std::int64_t wait_s = o.recharge_type == 0 ? 86400 : 60;
          for (const auto& m : config_.merchants)
            if (m.id == merchant) wait_s = o.recharge_type == 0 ? m.slow_deadline_s : m.fast_deadline_s;
          const std::int64_t deadline_ms = o.created_at_ms + wait_s * 1000;
          if (now_ms >= deadline_ms) {
            step = co_await store_.fail_refund(merchant, number, order_status::waiting,
                                               "no channel available before the deadline", now_ms);
          } else {
            co_await sleep_on(st->wake, std::chrono::milliseconds(200));
            continue;
          }
        }
        break;
      }

      case order_status::matched: {
        auto* ch = router_.find(field_str(o, "channel"));
        if (!ch || !ch->adapter) {
          log->error("shard={} order={} matched to unknown channel {}: left in 7", shard_, number,
                     field_str(o, "channel"));
          co_await sleep_on(st->wake, std::chrono::seconds(60));
          continue;
        }
        if (!current) {
          current = ch;
          current->health.started(steady::now());
        }
        st->attempt_id = field_str(o, "attempt_id");
        if (!just_matched && !known) {
          // Recovered in 7: the submit may or may not have reached the supplier. Unknown: ask.
          known = unknown_result("restarted while submitting");
        }
        if (!known) {
          attempt_request req = make_request(o, st->attempt_id);
          ++submitting_;
          attempt_started = steady::now();
          known = co_await ch->adapter->submit(std::move(req));
          --submitting_;
          if (auto* m = channel_figures(*ch)) {
            bump(m->submits);
            bump(m->outcomes[static_cast<std::size_t>(known->outcome)]);
            m->submit_latency.observe(std::chrono::duration_cast<std::chrono::microseconds>(
                steady::now() - attempt_started));
          }
        }
        if (known->outcome == attempt_outcome::refused) {
          ch->health.record(false, std::chrono::duration_cast<std::chrono::milliseconds>(
                                       steady::now() - attempt_started), steady::now());
          if (failover_allowed)
            step = co_await store_.transition(merchant, number, order_status::matched,
                                              order_status::waiting, known->detail,
                                              one_field("last_outcome", "refused"), now_ms);
          else
            step = co_await store_.fail_refund(merchant, number, order_status::matched,
                                               known->detail, now_ms);
          if (step) {
            release_slot();
            known.reset();
          }
        } else {
          const std::string submit = known->outcome == attempt_outcome::accepted ||
                                             definitive(known->outcome)
                                         ? std::string(outcome_name(known->outcome))
                                         : "unknown";
          field_pairs extra;
          extra.emplace_back("submit", submit);
          extra.emplace_back("submitted_at", std::to_string(now_ms));
          step = co_await store_.transition(merchant, number, order_status::matched,
                                            order_status::recharging, std::string(),
                                            std::move(extra), now_ms);
          // A definitive answer to the submit itself is applied in status 1 next round.
          if (step && !definitive(known->outcome)) known.reset();
        }
        just_matched = false;
        break;
      }

      case order_status::recharging: {
        auto* ch = router_.find(field_str(o, "channel"));
        if (!ch || !ch->adapter) {
          log->error("shard={} order={} recharging on unknown channel {}: left in 1", shard_,
                     number, field_str(o, "channel"));
          co_await sleep_on(st->wake, std::chrono::seconds(60));
          continue;
        }
        if (!current) {
          current = ch;
          current->health.started(steady::now());
        }
        st->attempt_id = field_str(o, "attempt_id");
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
          const std::int64_t age_ms = wall_clock_ms() - field_int(o, "matched_at");
          if (answer.outcome == attempt_outcome::not_found &&
              age_ms >= static_cast<std::int64_t>(ch->config->unknown_grace_ms)) {
            // The supplier says it never got the order, and the grace has passed: never placed.
            known = failed_result("never placed at the supplier");
          } else if (definitive(answer.outcome)) {
            known = answer;
          } else {
            continue;  // pending, unknown, or not found within the grace: ask again later
          }
        }
        const auto latency = std::chrono::duration_cast<std::chrono::milliseconds>(
            steady::now() - attempt_started);
        if (known->outcome == attempt_outcome::succeeded) {
          step = co_await store_.transition(merchant, number, order_status::recharging,
                                            order_status::success, std::string(),
                                            one_field("last_outcome", "succeeded"), now_ms);
          if (step) ch->health.record(true, latency, steady::now());
        } else {
          if (failover_allowed)
            step = co_await store_.transition(
                merchant, number, order_status::recharging, order_status::waiting, known->detail,
                one_field("last_outcome", std::string(outcome_name(known->outcome))), now_ms);
          else
            step = co_await store_.fail_refund(merchant, number, order_status::recharging,
                                               known->detail, now_ms);
          if (step) ch->health.record(false, latency, steady::now());
        }
        if (step) {
          release_slot();
          known.reset();
        }
        break;
      }
    }

    if (step) {
      o = std::move(*step);
      storage_backoff = std::chrono::milliseconds(100);
      continue;
    }
    if (stopping_) break;  // left mid-step: the persisted status is what recovery resumes
    const auto ec = step.error();
    if (ec == errc::stale_status || ec == errc::illegal_transition) {
      // Someone else moved the order (a cancel, another instance): reload and follow it. A
      // result we were about to persist is dropped only if the order left the attempt's status.
      auto fresh = co_await store_.get(merchant, number);
      if (fresh) {
        if (fresh->status != o.status) known.reset();
        o = std::move(*fresh);
      }
      continue;
    }
    if (ec == errc::order_not_found) {
      log->error("shard={} order={} vanished from storage", shard_, number);
      break;
    }
    // Storage unavailable or answering oddly: keep the result in memory and try the same step
    // again with back-off (a crash meanwhile leaves the persisted status, which recovery
    // resumes by asking the supplier).
    log->warn("shard={} order={} status={} storage: {}", shard_, number, to_int(o.status),
              ec.message());
    co_await sleep_on(st->wake, storage_backoff);
    storage_backoff = std::min(storage_backoff * 2, std::chrono::milliseconds(5000));
  }
  release_slot();
  orders_.erase(number);
  if (metrics_) {
    metrics_->orders_in_flight.fetch_sub(1, std::memory_order_relaxed);
    if (is_terminal(o.status)) bump(metrics_->orders_finished[static_cast<std::size_t>(to_int(o.status))]);
  }
  if (is_terminal(o.status) && on_final_) on_final_(o);
}

}  // namespace topup::engine
