#include "engine/service/order_service.hpp"

#include <algorithm>
#include <array>

#include "engine/support/assert.hpp"
#include "engine/support/clock.hpp"
#include "engine/support/digest.hpp"
#include "engine/support/errc.hpp"
#include "engine/order/failure_reason.hpp"
#include "engine/order/money.hpp"
#include "engine/order/order_number.hpp"

namespace topup::engine {

namespace {

/// Counts a push as in flight for its whole life, so the bound holds across co_awaits.
class inflight_guard {
 public:
  explicit inflight_guard(std::size_t& counter) : counter_(counter) { ++counter_; }
  ~inflight_guard() { --counter_; }
  inflight_guard(const inflight_guard&) = delete;
  inflight_guard& operator=(const inflight_guard&) = delete;

 private:
  std::size_t& counter_;
};

/// The answer for a counted rule's refusal (all wire 2008, spec §3.8).
errc risk_refusal(risk_verdict v) noexcept {
  switch (v) {
    case risk_verdict::per_mobile_orders: return errc::risk_mobile_orders;
    case risk_verdict::per_mobile_amount: return errc::risk_mobile_amount;
    case risk_verdict::daily_amount: return errc::risk_daily_amount;
    case risk_verdict::allowed: break;
  }
  return errc::internal;
}

/// A read whose answer was lost changed nothing: plain "storage unavailable" (5000), not the
/// "maybe applied" of a write (5002).
template <class T>
boost::system::result<T> read_result(boost::system::result<T> r) {
  if (!r && r.error() == errc::outcome_unknown) return errc::storage_unavailable;
  return r;
}

/// The k_intake_error_reasons index of a push's error when the failure is topupd's (wire 5000,
/// 5002, 1008, 5001), none when it is the merchant's (bad input, balance, risk, conflict).
std::optional<std::size_t> intake_error_reason(boost::system::error_code ec) noexcept {
  if (ec == errc::storage_unavailable || ec == errc::shutting_down || ec == errc::fenced) return 0;
  if (ec == errc::outcome_unknown) return 1;
  if (ec == errc::overloaded) return 2;
  if (ec == errc::internal || ec == errc::storage_protocol) return 3;
  return std::nullopt;
}

}  // namespace

order_service::order_service(const config& cfg, order_log& store, channel_catalogue& catalogue,
                             order_dispatcher* dispatcher, callback_kicker& kicker,
                             shard_metrics* metrics, unsigned shard, const engine::clock& clock,
                             const blacklist* refused_numbers, risk_counters* limits)
    : config_(cfg),
      store_(store),
      catalogue_(catalogue),
      shard_(shard),
      clock_(clock),
      dispatcher_(dispatcher),
      kicker_(kicker),
      metrics_(metrics),
      blacklist_(refused_numbers),
      limits_(limits) {}

std::string order_service::fingerprint(const push_request& r) {
  // Unit separators keep field boundaries unambiguous (no field may contain 0x1f: the form
  // decoder accepts it, so it is escaped by doubling).
  std::string joined;
  auto add = [&joined](std::string_view v) {
    for (char ch : v) {
      joined.push_back(ch);
      if (ch == '\x1f') joined.push_back(ch);
    }
    joined.push_back('\x1f');
    joined.push_back('|');
  };
  add(r.store_id);
  add(r.mobile);
  add(std::to_string(r.money_yuan));
  add(std::to_string(r.recharge_type));
  add(r.notify_url);
  add(!r.change ? "" : *r.change ? "1" : "0");
  add(r.source);
  return sha1_hex(joined);
}

std::string order_service::next_order_number(std::int64_t merchant_id, std::int64_t now_ms) {
  order_number_parts parts;
  parts.unix_ms = static_cast<std::uint64_t>(now_ms);
  parts.instance = config_.server.instance_id;
  parts.shard = shard_;
  parts.sequence = sequence_;
  parts.merchant_id = merchant_id;
  sequence_ = (sequence_ + 1) % 100000;
  return make_order_number(parts);
}

boost::asio::awaitable<boost::system::result<accept_result>> order_service::push(
    push_request request) {
  auto answer = co_await accept_or_refuse(std::move(request));
  if (!answer && metrics_) {
    if (const auto reason = intake_error_reason(answer.error())) bump(metrics_->intake_errors[*reason]);
  }
  co_return answer;
}

boost::asio::awaitable<boost::system::result<accept_result>> order_service::accept_or_refuse(
    push_request request) {
  TOPUP_ASSERT(request.merchant != nullptr);
  if (!intake_open_) co_return errc::storage_unavailable;
  if (inflight_ >= config_.server.max_inflight_orders)
    co_return co_await refuse_unless_repeat(request, errc::overloaded);
  inflight_guard guard(inflight_);

  const auto& stores = request.merchant->store_ids;
  if (std::ranges::find(stores, request.store_id) == stores.end())
    co_return co_await refuse_unless_repeat(request, errc::store_not_allowed);
  // Number segments are fixed: an invalid number was never accepted, whatever its order_no.
  auto carrier_of = detect_carrier(request.mobile);
  if (!carrier_of) co_return errc::invalid_mobile;
  // What channels serve changes with the configuration and with operators' switches: a repeat
  // of an order accepted before must get that order, not a refusal (spec §3.1).
  if (!request.source.empty() && !catalogue_.exists(request.source))
    co_return co_await refuse_unless_repeat(request, errc::no_channel);
  if (request.money_yuan <= 0 || !catalogue_.amount_served(request.money_yuan))
    co_return co_await refuse_unless_repeat(request, errc::unsupported_amount);
  if (!catalogue_.order_served(*carrier_of, request.money_yuan, request.recharge_type,
                               request.source, request.merchant->sandbox))
    co_return co_await refuse_unless_repeat(request, errc::no_channel);
  // Risk control, last of the checks and before any debit (spec §3.8); a repeat of an order
  // accepted before the number was listed still gets that order.
  if (blacklist_ && blacklist_->contains(request.mobile)) {
    auto answer = co_await refuse_unless_repeat(request, errc::risk_blacklisted);
    if (!answer && answer.error() == errc::risk_blacklisted && metrics_)
      bump(metrics_->risk_refusals[k_risk_blacklist]);
    co_return answer;
  }

  const bool change = request.change.value_or(request.merchant->default_change);
  const fen_t face_fen = request.money_yuan * 100;
  const fen_t cost_fen = apply_rate_half_up(face_fen, request.merchant->price_rate_ppm);
  TOPUP_ASSERT(cost_fen > 0);

  order_record record;
  record.order_no = request.order_no;
  record.merchant_id = request.merchant->id;
  record.store_id = request.store_id;
  record.mobile = request.mobile;
  record.carrier = *carrier_of;
  record.money_yuan = request.money_yuan;
  record.recharge_type = request.recharge_type;
  record.notify_url = request.notify_url;
  record.change = change;
  record.source = request.source;
  record.sandbox = request.merchant->sandbox;
  record.fingerprint = fingerprint(request);
  record.cost_fen = cost_fen;
  record.status = order_status::waiting;

  // A collision means another order already has this number (the clock went back across a
  // restart): take the next sequence number and try again, a bounded number of times.
  for (int attempt = 0; attempt < 8; ++attempt) {
    const std::int64_t now_ms = clock_.wall_ms();
    record.order_number = next_order_number(record.merchant_id, now_ms);
    record.created_at_ms = now_ms;
    record.updated_at_ms = now_ms;
    // No temporaries inside the co_await expression: GCC 12 destroys them twice in coroutines.
    std::optional<order_dispatcher::first_match> match;
    if (dispatcher_) match = dispatcher_->match_new(record, now_ms);
    // It would wait in 6, and the wait lines are full: refused before any debit (bounded).
    if (dispatcher_ && !match && dispatcher_->parked() >= config_.server.max_waiting_orders)
      co_return co_await refuse_unless_repeat(request, errc::overloaded);
    // The counted risk rules: claimed before the accept, taken back if it did not take the order.
    std::optional<risk_claim> claimed;
    if (limits_) {
      claimed = risk_claim{request.mobile, record.merchant_id, record.order_number,
                           request.money_yuan, now_ms};
      auto verdict = co_await limits_->claim(*claimed);
      if (!verdict || *verdict != risk_verdict::allowed) {
        if (match) dispatcher_->release(*match);
        const auto refusal = verdict ? risk_refusal(*verdict) : errc::storage_unavailable;
        auto answer = co_await refuse_unless_repeat(request, refusal);
        if (!answer && answer.error() == refusal && verdict && metrics_)
          bump(metrics_->risk_refusals[static_cast<std::size_t>(*verdict)]);
        co_return answer;
      }
    }
    field_pairs match_fields;
    if (match) match_fields = match->fields;
    auto result = co_await store_.accept(record, now_ms, std::move(match_fields));
    const bool stored = result && !result->duplicate;
    if (match && !stored) dispatcher_->release(*match);
    // A claim stays with an order that may exist (the accept's answer was lost: the safe side).
    if (claimed && !stored &&
        (result || (result.error() != errc::outcome_unknown &&
                    result.error() != errc::storage_protocol))) {
      risk_claim back = std::move(*claimed);
      co_await limits_->release(std::move(back));
    }
    if (!result && result.error() == errc::order_number_taken) continue;
    if (!result && (result.error() == errc::storage_unavailable ||
                    result.error() == errc::outcome_unknown ||
                    result.error() == errc::storage_protocol))
      uncertain_accept_ = true;
    // The script was sent and no answer we understand came back: it may have debited and stored
    // the order. "Nothing was accepted" (5000) would be a lie that invites a second order; the
    // merchant learns the outcome by retrying the same request (spec §1, 5002).
    if (!result && (result.error() == errc::outcome_unknown ||
                    result.error() == errc::storage_protocol))
      result = errc::outcome_unknown;
    if (metrics_) {
      if (result) bump(result->duplicate ? metrics_->orders_duplicate : metrics_->orders_accepted);
      else bump(metrics_->orders_refused);
    }
    if (stored) record.event_count = 1;  // the `accepted` event
    if (stored && match) dispatcher_->adopt_matched(std::move(record), std::move(*match));
    else if (stored && dispatcher_) dispatcher_->adopt(record);
    co_return result;
  }
  co_return errc::internal;
}

boost::asio::awaitable<boost::system::result<accept_result>> order_service::refuse_unless_repeat(
    const push_request& request, boost::system::error_code refusal) {
  // Bounded like pushes: under overload these reads must not pile up without limit.
  if (repeat_checks_ >= config_.server.max_inflight_orders) co_return errc::overloaded;
  inflight_guard guard(repeat_checks_);
  auto entry = co_await store_.order_no_entry_of(request.merchant->id, request.order_no);
  if (!entry) {
    if (entry.error() == errc::order_not_found) co_return refusal;
    // Storage cannot tell whether it is a repeat: nothing is accepted by this request, and the
    // merchant may retry it (5000), which is true whether or not an earlier one was accepted.
    co_return errc::storage_unavailable;
  }
  if (entry->fingerprint != fingerprint(request)) co_return errc::order_no_conflict;
  if (metrics_) bump(metrics_->orders_duplicate);
  accept_result repeat;
  repeat.duplicate = true;
  repeat.order_number = std::move(entry->order_number);
  co_return repeat;
}

boost::asio::awaitable<boost::system::result<order_record>> order_service::query(
    std::int64_t merchant_id, std::string order_number, std::string order_no) {
  if (!order_number.empty()) {
    // The number names its merchant; another merchant's number is simply "not found".
    auto parts = parse_order_number(order_number);
    if (!parts || parts->merchant_id != merchant_id) co_return errc::order_not_found;
    co_return read_result(co_await store_.get(merchant_id, std::move(order_number)));
  }
  co_return read_result(co_await store_.find_by_order_no(merchant_id, std::move(order_no)));
}

boost::asio::awaitable<boost::system::result<order_record>> order_service::cancel(
    std::int64_t merchant_id, std::string order_number, std::string order_no) {
  auto found = co_await query(merchant_id, std::move(order_number), std::move(order_no));
  if (!found) co_return found.error();
  if (found->status != order_status::waiting) co_return errc::cannot_cancel;
  auto refunded = co_await store_.fail_refund(*found, std::string(failure_reason::cancelled),
                                              clock_.wall_ms());
  // Lost the race against the dispatcher (the order left 6 meanwhile): not cancellable now.
  if (!refunded && refunded.error() == errc::stale_status) co_return errc::cannot_cancel;
  // Refunded (stored, due for its callback when it has a notify_url): the kick only spares the
  // wait for the owner's next scan.
  if (refunded && !refunded->notify_url.empty())
    kicker_.kick(refunded->order_number, refunded->merchant_id);
  // Counted here: the cancel made it final (a driver that meets it afterwards counts nothing).
  if (refunded && metrics_)
    bump(metrics_->orders_finished[static_cast<std::size_t>(to_int(order_status::refunded))]);
  co_return refunded;
}

boost::asio::awaitable<boost::system::result<account_totals>> order_service::account(
    std::int64_t merchant_id) {
  co_return read_result(co_await store_.account(merchant_id));
}

boost::asio::awaitable<boost::system::result<order_page>> order_service::list(
    std::int64_t merchant_id, std::int64_t start_ms, std::int64_t end_ms,
    std::optional<order_status> status, std::int64_t page, std::int64_t page_size) {
  co_return read_result(
      co_await store_.list(merchant_id, start_ms, end_ms, status, page, page_size));
}

}  // namespace topup::engine
