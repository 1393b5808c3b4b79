#include "engine/retention/statement_day.hpp"

#include <string_view>
#include <utility>

#include "engine/order/failure_reason.hpp"
#include "engine/redis/command.hpp"

namespace topup::engine {
namespace {

std::string entry_problem(const order_event& e, std::string_view what) {
  return "log entry " + e.id + ": " + std::string(what);
}

std::optional<std::int64_t> int_field(const order_event& e, std::string_view name) {
  const auto text = e.field(name);
  return text ? redis::parse_int(*text) : std::nullopt;
}

std::optional<order_status> status_field(const order_event& e, std::string_view name) {
  const auto value = int_field(e, name);
  return value ? status_from_int(static_cast<int>(*value)) : std::nullopt;
}

}  // namespace

statement_day::statement_day(std::int64_t merchant_id, business_day day, std::int64_t offset_s,
                             fen_t opening_fen, bool sandbox)
    : running_fen_(opening_fen) {
  lines_.merchant_id = merchant_id;
  lines_.day = day;
  lines_.offset_s = offset_s;
  lines_.opening_fen = opening_fen;
  lines_.sandbox = sandbox;
}

text_result<bool> statement_day::apply(const order_event& entry) {
  const std::int64_t at = entry.at_ms();
  if (at < lines_.day.start_ms(lines_.offset_s) || at >= lines_.day.end_ms(lines_.offset_s))
    return fail(entry_problem(entry, "not of " + lines_.day.to_string()));
  ++entries_;
  const std::string_view type = entry.field("e").value_or("");
  if (type == "accepted") return on_accepted(entry, at);
  if (type == "step") return on_step(entry, at);
  if (type == "refund") return on_refund(entry, at);
  if (type == "credit") return on_credit(entry, at);
  // `cb` and `renotify` move neither money nor status; a type this version does not know is
  // not money either (money entries are the three above, docs/STORAGE.md).
  return true;
}

text_result<bool> statement_day::move(const order_event& e, fen_t delta) {
  const auto bal = int_field(e, "bal");
  if (!bal) return fail(entry_problem(e, "no readable bal"));
  running_fen_ += delta;
  if (*bal != running_fen_) {
    return fail(entry_problem(e, "bal " + format_fen(*bal) + ", but the opening " +
                                     format_fen(lines_.opening_fen) + " and the day's moves make " +
                                     format_fen(running_fen_)));
  }
  return true;
}

text_result<bool> statement_day::on_accepted(const order_event& e, std::int64_t at_ms) {
  const auto number = e.field("o");
  const auto amount = int_field(e, "amount");
  const auto to = status_field(e, "to");
  if (!number || !amount || *amount < 0 || !to) return fail(entry_problem(e, "accepted unreadable"));
  day_order& o = orders_[std::string(*number)];
  o.accepted_at_ms = at_ms;
  o.debit_fen = *amount;
  o.status = to;
  return move(e, -*amount);
}

text_result<bool> statement_day::on_step(const order_event& e, std::int64_t at_ms) {
  const auto number = e.field("o");
  const auto to = status_field(e, "t");
  if (!number || !to) return fail(entry_problem(e, "step unreadable"));
  day_order& o = orders_[std::string(*number)];
  o.status = to;
  if (is_terminal(*to)) o.final_at_ms = at_ms;
  return true;
}

text_result<bool> statement_day::on_refund(const order_event& e, std::int64_t at_ms) {
  const auto number = e.field("o");
  const auto amount = int_field(e, "amount");
  if (!number || !amount || *amount < 0) return fail(entry_problem(e, "refund unreadable"));
  day_order& o = orders_[std::string(*number)];
  o.status = order_status::refunded;
  o.final_at_ms = at_ms;
  o.refund_fen = *amount;
  return move(e, *amount);
}

text_result<bool> statement_day::on_credit(const order_event& e, std::int64_t at_ms) {
  const auto ref = e.field("ref");
  const auto amount = int_field(e, "amount");
  if (!ref || !amount) return fail(entry_problem(e, "credit unreadable"));
  lines_.credits.push_back(
      {std::string(*ref), *amount, at_ms, std::string(e.field("by").value_or(""))});
  return move(e, *amount);
}

std::vector<std::string> statement_day::order_numbers() const {
  std::vector<std::string> out;
  for (const auto& [number, facts] : orders_)
    if (facts.accepted_at_ms != 0 || facts.final_at_ms != 0) out.push_back(number);
  return out;
}

statement_order statement_day::line_of(const std::string& number, const day_order& facts,
                                       const order_record& record) const {
  statement_order line;
  line.order_number = number;
  line.order_no = record.order_no;
  line.mobile = record.mobile;
  line.carrier = record.carrier;
  line.amount_yuan = record.money_yuan;
  line.cost_fen = record.cost_fen;
  line.status = facts.status.value_or(order_status::waiting);
  // Times as the log has them, so each line falls in its day; an order accepted on an earlier
  // day shows its record's creation time.
  line.created_at_ms = facts.accepted_at_ms != 0 ? facts.accepted_at_ms : record.created_at_ms;
  line.finished_at_ms = facts.final_at_ms;
  line.debit_fen = facts.debit_fen;
  line.refund_fen = facts.refund_fen;
  if (facts.final_at_ms != 0 && line.status == order_status::refunded)
    line.reason = std::string(merchant_reason(record));
  return line;
}

text_result<statement_lines> statement_day::lines(
    const std::map<std::string, order_record>& records) const {
  statement_lines out = lines_;
  for (const auto& [number, facts] : orders_) {
    if (facts.accepted_at_ms == 0 && facts.final_at_ms == 0) continue;  // moved on, no money
    const auto it = records.find(number);
    if (it == records.end()) return fail("order " + number + ": no record (Redis or archive)");
    if (facts.accepted_at_ms != 0 && it->second.cost_fen != facts.debit_fen) {
      return fail("order " + number + ": debited " + format_fen(facts.debit_fen) +
                  ", its record costs " + format_fen(it->second.cost_fen));
    }
    out.orders.push_back(line_of(number, facts, it->second));
  }
  const statement_summary sums = summarize(out);
  if (sums.closing_fen != running_fen_) {
    return fail("the lines close at " + format_fen(sums.closing_fen) + ", the log at " +
                format_fen(running_fen_));
  }
  return out;
}

}  // namespace topup::engine
