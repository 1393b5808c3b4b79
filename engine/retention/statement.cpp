#include "engine/retention/statement.hpp"

#include <algorithm>
#include <tuple>

#include "engine/retention/csv_text.hpp"
#include "engine/retention/statement_layout.hpp"

namespace topup::engine {
namespace {

namespace layout = statement_layout;

/// One line of the table, rendered, with what it is sorted by.
struct sorted_record {
  std::int64_t at_ms = 0;
  std::string id;  // order_number or ref
  statement_line_kind kind = statement_line_kind::order;
  std::string record;
};

bool sorts_before(const sorted_record& a, const sorted_record& b) {
  // The kind last, only so that equal time and id (an order_number equal to a credit's ref)
  // still have one order.
  return std::tie(a.at_ms, a.id, a.kind) < std::tie(b.at_ms, b.id, b.kind);
}

/// A time field: empty for 0 (not happened), else local time.
std::string time_field(std::int64_t unix_ms, std::int64_t offset_s) {
  return unix_ms == 0 ? std::string{} : format_local_time(unix_ms, offset_s);
}

sorted_record order_record(const statement_order& o, std::int64_t offset_s) {
  const statement_line_kind kind = kind_of(o);
  std::vector<std::string> f(layout::column_count);
  f[layout::kind] = layout::kind_name(kind);
  f[layout::order_number] = o.order_number;
  f[layout::order_no] = guard_formula(o.order_no);
  f[layout::mobile] = o.mobile;
  f[layout::carrier] = carrier_code(o.carrier);
  f[layout::amount] = std::to_string(o.amount_yuan);
  f[layout::cost] = format_fen(o.cost_fen);
  f[layout::status] = std::to_string(to_int(o.status));
  f[layout::reason] = guard_formula(o.reason);
  f[layout::created_at] = time_field(o.created_at_ms, offset_s);
  f[layout::finished_at] = time_field(o.finished_at_ms, offset_s);
  f[layout::debit] = format_fen(o.debit_fen);
  f[layout::refund] = format_fen(o.refund_fen);
  const std::int64_t at_ms =
      kind == statement_line_kind::order ? o.finished_at_ms : o.created_at_ms;
  return {at_ms, o.order_number, kind, csv_record(f)};
}

sorted_record credit_record(const statement_credit& c, std::int64_t offset_s) {
  std::vector<std::string> f(layout::column_count);
  f[layout::kind] = layout::kind_name(statement_line_kind::credit);
  f[layout::created_at] = time_field(c.at_ms, offset_s);
  f[layout::credit] = format_fen(c.amount_fen);
  f[layout::ref] = guard_formula(c.ref);
  f[layout::by] = guard_formula(c.by);
  return {c.at_ms, c.ref, statement_line_kind::credit, csv_record(f)};
}

std::string summary_record(std::string_view name, std::string value) {
  return csv_record({std::string(layout::k_summary), std::string(name), std::move(value)});
}

std::string summary_records(const statement_lines& lines, const statement_summary& s) {
  namespace row = layout::summary_row;
  std::string out;
  out += summary_record(row::merchant, std::to_string(lines.merchant_id));
  out += summary_record(row::date, lines.day.to_string());
  out += summary_record(row::timezone, format_utc_offset(lines.offset_s));
  out += summary_record(row::mode,
                        std::string(lines.sandbox ? layout::k_mode_sandbox : layout::k_mode_live));
  out += summary_record(row::opening, format_fen(s.opening_fen));
  out += summary_record(row::credits, format_fen(s.credits_fen));
  out += summary_record(row::debits, format_fen(s.debits_fen));
  out += summary_record(row::refunds, format_fen(s.refunds_fen));
  out += summary_record(row::closing, format_fen(s.closing_fen));
  out += summary_record(row::orders, std::to_string(s.orders));
  out += summary_record(row::pendings, std::to_string(s.pendings));
  out += summary_record(row::credits_count, std::to_string(s.credit_lines));
  return out;
}

}  // namespace

std::string_view statement_layout::kind_name(statement_line_kind kind) noexcept {
  switch (kind) {
    case statement_line_kind::order:
      return "order";
    case statement_line_kind::pending:
      return "pending";
    case statement_line_kind::credit:
      return "credit";
  }
  return "order";  // unreachable: every kind is named above
}

statement_line_kind kind_of(const statement_order& order) noexcept {
  return order.finished_at_ms == 0 ? statement_line_kind::pending : statement_line_kind::order;
}

statement_summary summarize(const statement_lines& lines) {
  statement_summary s;
  s.opening_fen = lines.opening_fen;
  for (const statement_order& o : lines.orders) {
    s.debits_fen += o.debit_fen;
    s.refunds_fen += o.refund_fen;
    ++(kind_of(o) == statement_line_kind::order ? s.orders : s.pendings);
  }
  for (const statement_credit& c : lines.credits) {
    s.credits_fen += c.amount_fen;
    ++s.credit_lines;
  }
  s.closing_fen = s.opening_fen + s.credits_fen - s.debits_fen + s.refunds_fen;
  return s;
}

statement build_statement(const statement_lines& lines) {
  std::vector<sorted_record> records;
  records.reserve(lines.orders.size() + lines.credits.size());
  for (const statement_order& o : lines.orders) records.push_back(order_record(o, lines.offset_s));
  for (const statement_credit& c : lines.credits) {
    records.push_back(credit_record(c, lines.offset_s));
  }
  std::sort(records.begin(), records.end(), sorts_before);

  statement out{summarize(lines), {}};
  out.csv += k_utf8_bom;
  out.csv += k_statement_header;
  out.csv += k_csv_record_end;
  for (const sorted_record& r : records) out.csv += r.record;
  out.csv += summary_records(lines, out.summary);
  return out;
}

}  // namespace topup::engine
