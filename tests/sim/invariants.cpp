#include "tests/sim/invariants.hpp"

#include <fmt/format.h>

#include <charconv>

#include "engine/order/order_number.hpp"
#include "engine/order/order_status.hpp"

namespace topup::sim {

using engine::order_status;

namespace {

std::string_view field(const engine::field_pairs& fields, std::string_view name) {
  for (const auto& [k, v] : fields)
    if (k == name) return v;
  return {};
}

std::int64_t number_of(std::string_view text, std::int64_t otherwise = -1) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  return ec == std::errc{} && end == text.data() + text.size() ? v : otherwise;
}

bool final_status(int s) { return s == 2 || s == 4; }

}  // namespace

const std::vector<invariant_info>& invariant_catalogue() {
  static const std::vector<invariant_info> all = {
      {"order_delivered_once", "no order is delivered by suppliers more than once"},
      {"mobile_deliveries_bounded",
       "no mobile number receives more top-ups than orders were accepted for it"},
      {"refunded_never_delivered", "an order refunded (4) was never delivered, before or after"},
      {"success_delivered_once",
       "an order reaching 2 was delivered exactly once, by the attempt it names"},
      {"delivered_ends_success", "at the end, every delivered order is in 2"},
      {"transition_legal", "every stored step is one of spec §4, from the status the order was in"},
      {"versions_consecutive", "an order's events carry versions 1, 2, 3... with no gap"},
      {"refund_at_most_once", "no order is refunded twice"},
      {"balance_books", "after every step: balance = credits - debits + refunds, and each of them "
                        "equals what the log and the credits say"},
      {"balance_matches_deliveries",
       "at the end: balance = credits - cost of the orders in 2, and orders in 2 = deliveries"},
      {"persisted_before_submit",
       "a supplier receives an attempt only once its order is stored in 7 holding that attempt"},
      {"submit_once_per_attempt", "no attempt id is submitted twice (recovery asks, never resends)"},
      {"one_open_attempt",
       "an order goes to another channel only once every earlier attempt is settled as failed"},
      {"wrong_channel_refused",
       "a supplier callback through a channel that does not hold the attempt is refused"},
      {"on_final_once", "the dispatcher's on_final hook fires at most once per order"},
      {"on_final_persisted", "on_final fires only for an order stored final with that status"},
      {"idempotent_answers",
       "a merchant's order_no always answers the same order_number; a push sent once the merchant "
       "holds its 0000 never answers 2004"},
      {"no_false_conflict", "a repeat with the same parameters never answers 2003"},
      {"acked_order_stored", "an order answered 0000 is stored"},
      {"callback_truthful",
       "a merchant callback is sent only for an order stored final, with its stored status"},
      {"callback_until_ack", "at the end, every final order with a notify_url was called back "
                             "until acknowledged or callbacks.max_attempts"},
      {"callback_bounded", "no callback round makes more than callbacks.max_attempts deliveries "
                           "(one more in a re-notified round: the delivery already out)"},
      {"stored_orders_final", "at the end, once the world answers, every stored order is in 2 or 4"},
      {"acked_orders_final", "at the end, every order a merchant got 0000 for is in 2 or 4"},
      {"no_engine_exception", "no exception leaves an engine coroutine"},
  };
  return all;
}

void invariants::fail(std::string_view name, std::string detail) {
  if (first_) return;
  first_ = violation{std::string(name), std::move(detail), step_};
  out_.line("VIOLATION {}: {}", name, first_->detail);
}

void invariants::submitted(const std::string& channel, const std::string& order_number,
                           const std::string& attempt_id, int submits_of_attempt,
                           const std::string& open) {
  const auto parts = engine::parse_order_number(order_number);
  const auto stored = parts ? store_.peek(parts->merchant_id, order_number) : std::nullopt;
  if (!stored || stored->status != order_status::matched || stored->attempt.id != attempt_id ||
      stored->attempt.channel != channel)
    fail("persisted_before_submit",
         fmt::format("{} submitted to {} while stored {}", attempt_id, channel,
                     stored ? fmt::format("in {} holding {} at {}", engine::to_int(stored->status),
                                          stored->attempt.id, stored->attempt.channel)
                            : std::string("nowhere")));
  if (submits_of_attempt > 1)
    fail("submit_once_per_attempt",
         fmt::format("{} submitted {} times to {}", attempt_id, submits_of_attempt, channel));
  if (!open.empty())
    fail("one_open_attempt", fmt::format("{} submitted to {} while {} may still be delivered",
                                         attempt_id, channel, open));
}

void invariants::delivered(const std::string& order_number, const std::string& attempt_id,
                           const std::string& mobile) {
  catch_up();  // the order's events stored earlier in this step count
  ++deliveries_total_;
  auto& t = orders_[order_number];
  t.delivered_attempts.insert(attempt_id);
  const int per_mobile = ++deliveries_per_mobile_[mobile];
  if (t.delivered_attempts.size() > 1 || t.delivered_attempts.count(attempt_id) == 0)
    fail("order_delivered_once", fmt::format("{} delivered by {} attempts", order_number,
                                             t.delivered_attempts.size()));
  if (per_mobile > orders_per_mobile_[mobile])
    fail("mobile_deliveries_bounded", fmt::format("{} got {} top-ups for {} orders accepted",
                                                  mobile, per_mobile, orders_per_mobile_[mobile]));
  if (t.status == 4)
    fail("refunded_never_delivered", fmt::format("{} delivered by {} after its refund",
                                                 order_number, attempt_id));
}

void invariants::final_hook(const engine::order_record& order) {
  ++final_hooks_total_;
  auto& t = orders_[order.order_number];
  if (++t.final_hooks > 1)
    fail("on_final_once", fmt::format("{} on_final fired {} times (status {})", order.order_number,
                                      t.final_hooks, engine::to_int(order.status)));
  const auto stored = store_.peek(order.merchant_id, order.order_number);
  if (!stored || !engine::is_terminal(stored->status) || stored->status != order.status)
    fail("on_final_persisted",
         fmt::format("{} on_final with status {}, stored {}", order.order_number,
                     engine::to_int(order.status),
                     stored ? engine::to_int(stored->status) : -1));
}

void invariants::push_answered(std::int64_t merchant_id, const std::string& order_no,
                               const std::string& code, const std::string& order_number,
                               bool sent_after_0000) {
  const auto key = std::make_pair(merchant_id, order_no);
  auto seen = acked_.find(key);
  if (code == "2003")
    fail("no_false_conflict", fmt::format("m{} {} answered 2003 to its own repeat", merchant_id,
                                          order_no));
  // Causal, not by arrival: two pushes out at once are decided one after the other, and the
  // first one's refusal (decided before the other was accepted) may reach the merchant after
  // the other's 0000 (FOUND.md, "Not a bug"). A push sent once the merchant held the 0000 was
  // decided after the order existed: it must find it.
  if (code == "2004" && seen != acked_.end() && sent_after_0000)
    fail("idempotent_answers", fmt::format("m{} {} answered 2004 after 0000 ({})", merchant_id,
                                           order_no, seen->second));
  if (code != "0000") return;
  if (seen != acked_.end() && seen->second != order_number)
    fail("idempotent_answers", fmt::format("m{} {} answered {} after {}", merchant_id, order_no,
                                           order_number, seen->second));
  acked_.emplace(key, order_number);
  const auto stored = store_.peek(merchant_id, order_number);
  if (!stored || stored->order_no != order_no)
    fail("acked_order_stored", fmt::format("m{} {} answered 0000 {} but not stored", merchant_id,
                                           order_no, order_number));
}

void invariants::merchant_called(const std::string& order_number, std::int64_t merchant_id,
                                 int status, bool acked) {
  auto& t = orders_[order_number];
  ++t.merchant_calls[status];
  t.merchant_acked = t.merchant_acked || acked;
  const auto stored = store_.peek(merchant_id, order_number);
  if (!stored || !engine::is_terminal(stored->status) ||
      engine::to_int(stored->status) != status || stored->notify_url.empty())
    fail("callback_truthful",
         fmt::format("{} called back with status {} while stored {}", order_number, status,
                     stored ? engine::to_int(stored->status) : -1));
}

void invariants::wrong_channel_answered(const std::string& attempt_id, bool taken) {
  if (taken)
    fail("wrong_channel_refused",
         fmt::format("a callback about {} through a channel not holding it was taken", attempt_id));
}

void invariants::catch_up() {
  for (const auto& m : cfg_.merchants) {
    const auto& log = store_.log(m.id);
    for (auto& read = events_read_[m.id]; read < log.size(); ++read) read_event(m.id, log[read]);
  }
}

void invariants::after_step() {
  catch_up();
  for (const auto& m : cfg_.merchants) check_books(m.id);
}

void invariants::read_event(std::int64_t merchant_id, const test::memory_log::entry& e) {
  auto& t = orders_[e.order_number];
  if (out_.on()) {
    const bool step = e.type == "step" || e.type == "refund";
    out_.line("stored {} v{} {} {}", e.order_number, e.version, e.type,
              e.type == "accepted" ? fmt::format("to={} cost={}", field(e.fields, "to"),
                                                 field(e.fields, "amount"))
              : step ? fmt::format("{}->{}", field(e.fields, "f"), field(e.fields, "t"))
              : e.type == "cb" ? fmt::format("n={} ok={}", field(e.fields, "n"), field(e.fields, "ok"))
                               : std::string());
  }
  if (e.version != t.version + 1)
    fail("versions_consecutive", fmt::format("{} event v{} after v{}", e.order_number, e.version,
                                             t.version));
  t.version = e.version;
  if (e.type == "accepted") {
    const int to = static_cast<int>(number_of(field(e.fields, "to")));
    if (e.version != 1 || (to != 6 && to != 7))
      fail("transition_legal", fmt::format("{} accepted into {} as v{}", e.order_number, to,
                                           e.version));
    t.status = to;
    t.cost = number_of(field(e.fields, "amount"), 0);
    debits_[merchant_id] += t.cost;
    if (const auto r = store_.peek(merchant_id, e.order_number)) t.mobile = r->mobile;
    ++orders_per_mobile_[t.mobile];
    return;
  }
  if (e.type == "step" || e.type == "refund") {
    const int from = static_cast<int>(number_of(field(e.fields, "f")));
    const int to = static_cast<int>(number_of(field(e.fields, "t")));
    if (e.type == "refund") {
      if (from != 3 || to != 4)
        fail("transition_legal", fmt::format("{} refund {}->{}", e.order_number, from, to));
      if (++t.refunds > 1)
        fail("refund_at_most_once", fmt::format("{} refunded {} times", e.order_number, t.refunds));
      refunds_[merchant_id] += number_of(field(e.fields, "amount"), 0);
    }
    read_step(t, e, from, to);
    return;
  }
  // cb and renotify: a final order's callback bookkeeping, nothing else.
  if (!final_status(t.status))
    fail("transition_legal", fmt::format("{} {} event while in {}", e.order_number, e.type,
                                         t.status));
}

void invariants::read_step(order_track& t, const test::memory_log::entry& e, int from, int to) {
  const auto from_s = engine::status_from_int(from);
  const auto to_s = engine::status_from_int(to);
  if (from != t.status || !from_s || !to_s || !engine::transition_allowed(*from_s, *to_s))
    fail("transition_legal", fmt::format("{} step {}->{} while in {}", e.order_number, from, to,
                                         t.status));
  t.status = to;
  if (to == 4 && !t.delivered_attempts.empty())
    fail("refunded_never_delivered", fmt::format("{} refunded after delivery by {}",
                                                 e.order_number, *t.delivered_attempts.begin()));
  if (to != 2) return;
  const auto parts = engine::parse_order_number(e.order_number);
  const auto stored = parts ? store_.peek(parts->merchant_id, e.order_number) : std::nullopt;
  const std::string named = stored ? stored->attempt.id : std::string();
  if (t.delivered_attempts.size() != 1 || !t.delivered_attempts.contains(named))
    fail("success_delivered_once",
         fmt::format("{} in 2 by attempt {} with {} deliveries ({})", e.order_number, named,
                     t.delivered_attempts.size(),
                     t.delivered_attempts.empty() ? std::string("none")
                                                  : *t.delivered_attempts.begin()));
}

void invariants::check_books(std::int64_t merchant_id) {
  const auto a = store_.totals(merchant_id);
  const auto credits = credits_[merchant_id];
  const auto debits = debits_[merchant_id];
  const auto refunds = refunds_[merchant_id];
  if (a.balance != a.credits - a.debits + a.refunds || a.credits != credits ||
      a.debits != debits || a.refunds != refunds || a.balance < 0)
    fail("balance_books",
         fmt::format("m{} stored balance={} credits={} debits={} refunds={}; world credits={} "
                     "log debits={} refunds={}",
                     merchant_id, a.balance, a.credits, a.debits, a.refunds, credits, debits,
                     refunds));
}

void invariants::at_end(bool settled) {
  after_step();
  std::int64_t delivered_orders = 0;
  for (const auto& [number, t] : orders_) delivered_orders += t.delivered_attempts.empty() ? 0 : 1;
  std::int64_t in_success = 0;
  for (const auto& m : cfg_.merchants) {
    engine::fen_t cost_of_success = 0;
    for (const auto& r : store_.orders(m.id)) {
      check_final_order(r);
      if (r.status == order_status::success) {
        ++in_success;
        cost_of_success += r.cost_fen;
      }
    }
    const auto a = store_.totals(m.id);
    if (a.balance != credits_[m.id] - cost_of_success)
      fail("balance_matches_deliveries",
           fmt::format("m{} balance {} but credits {} - cost of orders in 2 {}", m.id, a.balance,
                       credits_[m.id], cost_of_success));
  }
  if (in_success != delivered_orders)
    fail("balance_matches_deliveries",
         fmt::format("{} orders in 2 but {} orders delivered", in_success, delivered_orders));
  for (const auto& [key, number] : acked_) {
    const auto r = store_.peek(key.first, number);
    if (!r || !engine::is_terminal(r->status))
      fail("acked_orders_final", fmt::format("m{} {} ({}) acknowledged, left in {}", key.first,
                                             key.second, number,
                                             r ? engine::to_int(r->status) : -1));
  }
  if (!settled && !first_)
    fail("stored_orders_final", "the drain phase ran out of time with work left");
}

void invariants::check_final_order(const engine::order_record& r) {
  const auto& t = orders_[r.order_number];
  if (!engine::is_terminal(r.status)) {
    fail("stored_orders_final", fmt::format("{} left in {} ({})", r.order_number,
                                            engine::to_int(r.status), r.reason));
    return;
  }
  if (!t.delivered_attempts.empty() && r.status != order_status::success)
    fail("delivered_ends_success", fmt::format("{} delivered, ended in {}", r.order_number,
                                               engine::to_int(r.status)));
  if (!r.notify_url.empty()) check_callback_done(r);
}

void invariants::check_callback_done(const engine::order_record& r) {
  const auto& t = orders_[r.order_number];
  const auto& cb = r.callback;
  const std::int64_t in_round = cb.attempts - cb.round_base;
  const auto max = static_cast<std::int64_t>(cfg_.callbacks.max_attempts);
  // A delivery already out when an operator re-notified is recorded in the new round (and the
  // round still owes one of its own): one more than max_attempts then.
  const std::int64_t allowed = max + (cb.renotify_seq > 0 ? 1 : 0);
  if (in_round > allowed)
    fail("callback_bounded", fmt::format("{} callback round of {} deliveries (at most {})",
                                         r.order_number, in_round, allowed));
  const auto calls = t.merchant_calls.find(engine::to_int(r.status));
  const bool done = cb.status == engine::callback_status::delivered
                        ? t.merchant_acked
                        : cb.status == engine::callback_status::failed && in_round >= max;
  if (!done || calls == t.merchant_calls.end())
    fail("callback_until_ack",
         fmt::format("{} in {} callback {} after {} deliveries, merchant got {} acked={}",
                     r.order_number, engine::to_int(r.status),
                     engine::callback_status_name(cb.status), cb.attempts,
                     calls == t.merchant_calls.end() ? 0 : calls->second, t.merchant_acked));
}

}  // namespace topup::sim
