#include "engine/store/order_log.hpp"

#include <algorithm>

#include "engine/support/errc.hpp"
#include "engine/support/log.hpp"

namespace topup::engine {

namespace {

/// What one step stores: the record after it, its events, its change to `work`.
struct planned_step {
  order_record after;
  std::vector<log_event> events;
  work_change work = work_change::keep();
};

const std::string* first_reserved(const field_pairs& fields) noexcept {
  for (const auto& [name, value] : fields)
    if (reserved_field_name(name)) return &name;
  return nullptr;
}

log_event step_event(order_status from, order_status to) {
  log_event e;
  e.type = "step";
  e.fields.emplace_back("f", std::to_string(to_int(from)));
  e.fields.emplace_back("t", std::to_string(to_int(to)));
  return e;
}

/// Puts `fields` on the record and on the event; false when one does not parse.
bool apply_fields(order_record& after, log_event& event, field_pairs fields) {
  for (auto& [name, value] : fields) {
    if (!apply_field(after, name, value)) return false;
    event.fields.emplace_back(std::move(name), std::move(value));
  }
  return true;
}

/// A final order with a notify_url owes its merchant a callback from now.
void owe_callback(order_record& after) {
  if (after.notify_url.empty()) return;
  after.callback.status = callback_status::pending;
  after.callback.attempts = 0;
}

/// The step of advance(), or why it may not be taken.
boost::system::result<planned_step> plan_advance(const order_record& order, order_status to,
                                                 std::string reason, field_pairs fields,
                                                 std::int64_t now_ms,
                                                 std::optional<order_log::hop> via) {
  const order_status from = order.status;
  // Through a status only on the one path the dispatcher takes: a final answer to the submit.
  const bool path_ok =
      via ? from == order_status::matched && via->status == order_status::recharging &&
                (to == order_status::success || to == order_status::waiting)
          : transition_allowed(from, to) && to != order_status::refunded &&
                from != order_status::pending_payment;
  if (!path_ok) return make_error_code(errc::illegal_transition);
  const std::string* reserved = first_reserved(fields);
  if (!reserved && via) reserved = first_reserved(via->fields);
  if (reserved) {
    logger("engine")->error("store op=advance order={} refused: reserved field {}",
                            order.order_number, *reserved);
    return make_error_code(errc::internal);
  }
  planned_step plan{order, {}, work_change::keep()};
  order_record& after = plan.after;
  if (via) {
    log_event hop_event = step_event(from, via->status);
    if (!apply_fields(after, hop_event, std::move(via->fields)))
      return make_error_code(errc::internal);
    plan.events.push_back(std::move(hop_event));
    ++after.event_count;
  }
  log_event step = step_event(via ? via->status : from, to);
  if (!reason.empty()) step.fields.emplace_back("why", reason);
  if (!apply_fields(after, step, std::move(fields))) return make_error_code(errc::internal);
  plan.events.push_back(std::move(step));
  after.status = to;
  after.reason = std::move(reason);
  after.updated_at_ms = now_ms;
  ++after.event_count;
  if (to == order_status::success) {
    after.finished_at_ms = now_ms;
    owe_callback(after);
    plan.work = work_when_final(after, now_ms);
  }
  return plan;
}

/// The refunded record: 4 through 3 (one event each), or 4 from 3.
boost::system::result<order_record> plan_refund(const order_record& order, std::string reason,
                                                std::int64_t now_ms) {
  const order_status from = order.status;
  if (!refund_starts_from(from))
    return make_error_code(from == order_status::refunded ? errc::stale_status
                                                          : errc::illegal_transition);
  if (order.refunded) return make_error_code(errc::stale_status);
  order_record after = order;
  if (from == order_status::failed) {
    // Keep the reason the order failed with; the caller (recovery) may not know it.
    if (after.reason.empty()) after.reason = std::move(reason);
  } else {
    after.reason = std::move(reason);
    ++after.event_count;
  }
  ++after.event_count;
  after.status = order_status::refunded;
  after.refunded = true;
  after.updated_at_ms = after.finished_at_ms = now_ms;
  owe_callback(after);
  return after;
}

}  // namespace

bool form_accepted_record(order_record& record, std::int64_t now_ms, field_pairs match) {
  // An empty fingerprint would make every repeat of the order_no a duplicate.
  bool complete = !record.fingerprint.empty() && !record.order_no.empty() &&
                  !record.order_number.empty() && record.merchant_id > 0 && record.cost_fen >= 0;
  record.status = match.empty() ? order_status::waiting : order_status::matched;
  record.reason.clear();
  record.created_at_ms = record.updated_at_ms = now_ms;
  record.finished_at_ms = 0;
  record.event_count = 1;
  record.refunded = false;
  for (auto& [name, value] : match)
    complete = complete && !reserved_field_name(name) && apply_field(record, name, std::move(value));
  if (!complete)
    logger("engine")->error("store op=accept order={} refused: incomplete record or bad match field",
                            record.order_number);
  return complete;
}

bool refund_starts_from(order_status s) noexcept {
  return s == order_status::recharging || s == order_status::waiting ||
         s == order_status::matched || s == order_status::failed;
}

// The record's own fields and the log event's fixed ones, and no name at all (pack_order would
// write it, unpack_order refuses it: the order could never be read again, nor any list page
// holding it).
bool reserved_field_name(std::string_view name) noexcept {
  return name.empty() || is_core_order_field(name) || name == "e" || name == "o" || name == "v" ||
         name == "f" || name == "t" || name == "why" || name == "type" || name == "from" ||
         name == "to" || name == "at";
}

work_change work_when_final(const order_record& after, std::int64_t now_ms) {
  if (after.notify_url.empty()) return work_change::remove();
  return work_change::set(std::max<std::int64_t>(now_ms, 1));
}

boost::asio::awaitable<boost::system::result<order_record>> order_log::find_by_order_no(
    std::int64_t merchant_id, std::string order_no) {
  auto entry = co_await order_no_entry_of(merchant_id, std::move(order_no));
  if (!entry) co_return entry.error();
  co_return co_await get(merchant_id, std::move(entry->order_number));
}

boost::asio::awaitable<boost::system::result<void>> order_log::advance(
    order_record& order, order_status to, std::string reason, field_pairs fields,
    std::int64_t now_ms, std::optional<hop> via) {
  auto plan = plan_advance(order, to, std::move(reason), std::move(fields), now_ms, std::move(via));
  if (!plan) co_return plan.error();
  co_return co_await commit(order, std::move(plan->after), std::move(plan->events), plan->work);
}

boost::asio::awaitable<boost::system::result<order_record>> order_log::transition(
    std::int64_t merchant_id, std::string order_number, order_status from, order_status to,
    std::string reason, field_pairs fields, std::int64_t now_ms) {
  if (!transition_allowed(from, to) || to == order_status::refunded ||
      from == order_status::pending_payment)
    co_return errc::illegal_transition;
  auto order = co_await get(merchant_id, std::move(order_number));
  if (!order) co_return order.error();
  if (order->status != from) co_return errc::stale_status;
  auto moved = co_await advance(*order, to, std::move(reason), std::move(fields), now_ms);
  if (!moved) co_return moved.error();
  co_return std::move(*order);
}

boost::asio::awaitable<boost::system::result<order_record>> order_log::fail_refund(
    const order_record& order, std::string reason, std::int64_t now_ms) {
  auto after = plan_refund(order, std::move(reason), now_ms);
  if (!after) co_return after.error();
  auto stored = co_await refund(order, *after, work_when_final(*after, now_ms));
  if (!stored) co_return stored.error();
  co_return std::move(*after);
}

boost::asio::awaitable<boost::system::result<order_record>> order_log::fail_refund(
    std::int64_t merchant_id, std::string order_number, order_status expected_from,
    std::string reason, std::int64_t now_ms) {
  if (!refund_starts_from(expected_from)) co_return errc::illegal_transition;
  auto order = co_await get(merchant_id, std::move(order_number));
  if (!order) co_return order.error();
  if (order->status != expected_from || order->refunded) co_return errc::stale_status;
  co_return co_await fail_refund(*order, std::move(reason), now_ms);
}

}  // namespace topup::engine
