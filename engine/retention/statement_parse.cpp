// parse_statement (statement_check.hpp): a statement file's text back into typed lines.
#include <charconv>
#include <map>
#include <optional>

#include "engine/retention/csv_text.hpp"
#include "engine/retention/statement_check.hpp"
#include "engine/retention/statement_layout.hpp"

namespace topup::engine {
namespace {

namespace layout = statement_layout;
using layout::column;

std::string at_line(std::size_t line, std::string_view what) {
  return "line " + std::to_string(line) + ": " + std::string(what);
}

/// A whole number of at most 15 digits, no sign, no leading zero: a count, a face value or a
/// merchant id as build_statement writes them.
std::optional<std::int64_t> parse_count(std::string_view text) {
  if (text.empty() || text.size() > 15 || (text.size() > 1 && text.front() == '0')) {
    return std::nullopt;
  }
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

/// The summary's mode row: true for `sandbox`, false for `live`.
std::optional<bool> parse_mode(std::string_view text) {
  if (text == layout::k_mode_sandbox) return true;
  if (text == layout::k_mode_live) return false;
  return std::nullopt;
}

std::string_view column_name(column c) {
  std::string_view rest = k_statement_header;
  for (std::size_t i = 0; i < c; ++i) rest.remove_prefix(rest.find(',') + 1);
  return rest.substr(0, rest.find(','));
}

/// The fields of one line of the table, read column by column. The first bad field is kept
/// as the error and every later read answers a default, so a line's reader is a plain list of
/// reads with one check at the end.
class row_reader {
 public:
  row_reader(const csv_row& row, std::int64_t offset_s) : row_(row), offset_s_(offset_s) {}

  const std::string& raw(column c) const { return row_.fields[c]; }
  std::string text(column c) const { return unguard_formula(raw(c)); }
  std::string required_text(column c) {
    if (raw(c).empty()) bad(c, "is empty");
    return raw(c);
  }
  fen_t yuan(column c) { return read(c, parse_yuan(raw(c))).value_or(0); }
  std::int64_t count(column c) { return read(c, parse_count(raw(c))).value_or(0); }
  std::int64_t time_ms(column c) {
    return read(c, parse_local_time(raw(c), offset_s_)).value_or(0);
  }
  carrier carrier_of(column c) {
    return read(c, carrier_from_code(raw(c))).value_or(carrier::cmcc);
  }
  order_status status_of(column c) {
    const std::string& s = raw(c);
    const auto status = s.size() == 1 ? status_from_int(s[0] - '0') : std::nullopt;
    return read(c, status).value_or(order_status::success);
  }
  void expect_empty(column c) {
    if (!raw(c).empty()) bad(c, "must be empty on kind " + row_.fields[layout::kind]);
  }
  void expect_empty(std::initializer_list<column> columns) {
    for (const column c : columns) expect_empty(c);
  }

  /// The first problem, as "line N: …"; nullopt when every read was good.
  const std::optional<std::string>& error() const { return error_; }

 private:
  template <class T>
  std::optional<T> read(column c, std::optional<T> value) {
    if (!value) bad(c, "is not valid: \"" + raw(c) + "\"");
    return value;
  }
  void bad(column c, const std::string& what) {
    if (!error_) error_ = at_line(row_.line, std::string(column_name(c)) + " " + what);
  }

  const csv_row& row_;
  std::int64_t offset_s_;
  std::optional<std::string> error_;
};

text_result<statement_order> parse_order(const csv_row& row, std::int64_t offset_s) {
  row_reader in(row, offset_s);
  statement_order o;
  o.order_number = in.required_text(layout::order_number);
  o.order_no = in.text(layout::order_no);
  o.mobile = in.required_text(layout::mobile);
  o.carrier = in.carrier_of(layout::carrier);
  o.amount_yuan = in.count(layout::amount);
  o.cost_fen = in.yuan(layout::cost);
  o.status = in.status_of(layout::status);
  o.reason = in.text(layout::reason);
  o.created_at_ms = in.time_ms(layout::created_at);
  if (in.raw(layout::kind) == layout::kind_name(statement_line_kind::order)) {
    o.finished_at_ms = in.time_ms(layout::finished_at);
  } else {
    in.expect_empty(layout::finished_at);  // not final at the day's end: that is `pending`
  }
  o.debit_fen = in.yuan(layout::debit);
  o.refund_fen = in.yuan(layout::refund);
  in.expect_empty({layout::credit, layout::ref, layout::by});
  if (in.error()) return fail(*in.error());
  return o;
}

text_result<statement_credit> parse_credit(const csv_row& row, std::int64_t offset_s) {
  row_reader in(row, offset_s);
  in.expect_empty({layout::order_number, layout::order_no, layout::mobile, layout::carrier,
                   layout::amount, layout::cost, layout::status, layout::reason,
                   layout::finished_at, layout::debit, layout::refund});
  statement_credit c;
  c.at_ms = in.time_ms(layout::created_at);
  c.amount_fen = in.yuan(layout::credit);
  c.ref = in.text(layout::ref);
  c.by = in.text(layout::by);
  if (in.error()) return fail(*in.error());
  return c;
}

/// The table's lines, into `out`; `out.offset_s` is already the file's (from the summary).
text_result<void> parse_table(const std::vector<csv_row>& rows, statement_lines& out) {
  for (const csv_row& row : rows) {
    if (row.fields.size() != layout::column_count) {
      return fail(at_line(row.line, std::to_string(row.fields.size()) + " fields, not " +
                                        std::to_string(layout::column_count)));
    }
    const std::string& kind = row.fields[layout::kind];
    if (kind == layout::kind_name(statement_line_kind::credit)) {
      auto credit = parse_credit(row, out.offset_s);
      if (!credit) return credit.error();
      out.credits.push_back(std::move(*credit));
    } else if (kind == layout::kind_name(statement_line_kind::order) ||
               kind == layout::kind_name(statement_line_kind::pending)) {
      auto order = parse_order(row, out.offset_s);
      if (!order) return order.error();
      out.orders.push_back(std::move(*order));
    } else {
      return fail(at_line(row.line, "unknown kind \"" + kind + "\""));
    }
  }
  return {};
}

/// The footer's rows by name, each present once; `first_line` is where the table ended, for
/// the message when there is no footer at all.
text_result<std::map<std::string, csv_row>> summary_rows(const std::vector<csv_row>& rows,
                                                         std::size_t first_line) {
  std::map<std::string, csv_row> by_name;
  for (const csv_row& row : rows) {
    if (row.fields.size() != layout::k_summary_fields) {
      return fail(at_line(row.line, "a summary row has 3 fields"));
    }
    if (!by_name.emplace(row.fields[1], row).second) {
      return fail(at_line(row.line, "summary " + row.fields[1] + " written twice"));
    }
  }
  if (by_name.size() != layout::k_summary_rows) {
    return fail(at_line(first_line, "the summary has " + std::to_string(by_name.size()) +
                                        " rows, not " + std::to_string(layout::k_summary_rows)));
  }
  return by_name;
}

/// The footer's values, read by name; like row_reader, keeps the first bad one as the error.
class summary_reader {
 public:
  explicit summary_reader(const std::map<std::string, csv_row>& rows) : rows_(rows) {}

  template <class T>
  T value(std::string_view name, std::optional<T> (*parse)(std::string_view)) {
    const auto it = rows_.find(std::string(name));
    const auto value = it == rows_.end() ? std::nullopt : parse(it->second.fields[2]);
    if (!value && !error_) {
      error_ = it == rows_.end()
                   ? "no summary row " + std::string(name)
                   : at_line(it->second.line, "summary " + std::string(name) + " is not valid: \"" +
                                                  it->second.fields[2] + "\"");
    }
    return value.value_or(T{});
  }

  const std::optional<std::string>& error() const { return error_; }

 private:
  const std::map<std::string, csv_row>& rows_;
  std::optional<std::string> error_;
};

/// Reads the footer into `out` (the file's merchant, day, offset, opening) and its totals.
text_result<statement_summary> parse_summary(const std::map<std::string, csv_row>& rows,
                                             statement_lines& out) {
  namespace row = layout::summary_row;
  summary_reader in(rows);
  out.merchant_id = in.value(row::merchant, &parse_count);
  out.day = in.value(row::date, &business_day::parse);
  out.offset_s = in.value(row::timezone, &parse_utc_offset);
  out.sandbox = in.value(row::mode, &parse_mode);
  statement_summary s;
  s.opening_fen = in.value(row::opening, &parse_yuan);
  s.credits_fen = in.value(row::credits, &parse_yuan);
  s.debits_fen = in.value(row::debits, &parse_yuan);
  s.refunds_fen = in.value(row::refunds, &parse_yuan);
  s.closing_fen = in.value(row::closing, &parse_yuan);
  s.orders = in.value(row::orders, &parse_count);
  s.pendings = in.value(row::pendings, &parse_count);
  s.credit_lines = in.value(row::credits_count, &parse_count);
  if (in.error()) return fail(*in.error());
  out.opening_fen = s.opening_fen;
  return s;
}

/// Where the footer starts: the first `summary` row. Every row after it must be one too.
text_result<std::size_t> footer_start(const std::vector<csv_row>& rows) {
  std::size_t first = rows.size();
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const bool is_summary = rows[i].fields[layout::kind] == layout::k_summary;
    if (is_summary && first == rows.size()) first = i;
    if (!is_summary && first != rows.size()) {
      return fail(at_line(rows[i].line, "a line after the summary"));
    }
  }
  return first;
}

}  // namespace

text_result<parsed_statement> parse_statement(std::string_view csv) {
  if (!csv.starts_with(k_utf8_bom)) return fail(at_line(1, "no UTF-8 BOM"));
  csv.remove_prefix(k_utf8_bom.size());
  if (!csv.starts_with(k_statement_header) ||
      csv.substr(k_statement_header.size(), k_csv_record_end.size()) != k_csv_record_end) {
    return fail(at_line(1, "not the statement header"));
  }
  csv.remove_prefix(k_statement_header.size() + k_csv_record_end.size());

  auto rows = read_csv_rows(csv, 2);
  if (!rows) return rows.error();
  const auto footer = footer_start(*rows);
  if (!footer) return footer.error();
  const std::vector<csv_row> table(rows->begin(), rows->begin() + *footer);
  const std::vector<csv_row> summary(rows->begin() + *footer, rows->end());

  const std::size_t footer_line = *footer < rows->size() ? (*rows)[*footer].line
                                  : rows->empty()        ? 2
                                                         : rows->back().line + 1;
  const auto by_name = summary_rows(summary, footer_line);
  if (!by_name) return by_name.error();
  parsed_statement out;
  auto totals = parse_summary(*by_name, out.lines);
  if (!totals) return totals.error();
  out.summary = *totals;
  if (auto table_read = parse_table(table, out.lines); !table_read) return table_read.error();
  return out;
}

}  // namespace topup::engine
