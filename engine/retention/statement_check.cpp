#include "engine/retention/statement_check.hpp"

namespace topup::engine {
namespace {

/// Problems, bounded: past k_max_problems only counted, and the count said once at the end.
class problem_list {
 public:
  void add(std::string problem) {
    if (lines_.size() < k_max_problems - 1) {
      lines_.push_back(std::move(problem));
    } else {
      ++more_;
    }
  }
  std::vector<std::string> take() && {
    if (more_ > 0) lines_.push_back("and " + std::to_string(more_) + " more problems");
    return std::move(lines_);
  }

 private:
  std::vector<std::string> lines_;
  std::size_t more_ = 0;
};

void compare_fen(problem_list& out, std::string_view name, fen_t lines_fen, fen_t summary_fen) {
  if (lines_fen == summary_fen) return;
  out.add(std::string(name) + ": the lines add up to " + format_fen(lines_fen) +
          ", the summary says " + format_fen(summary_fen));
}

void compare_count(problem_list& out, std::string_view name, std::int64_t lines,
                   std::int64_t summary) {
  if (lines == summary) return;
  out.add(std::string(name) + ": the file has " + std::to_string(lines) +
          " lines, the summary says " + std::to_string(summary));
}

void check_totals(problem_list& out, const parsed_statement& st) {
  const statement_summary sum = summarize(st.lines);
  const statement_summary& written = st.summary;
  compare_fen(out, "credits", sum.credits_fen, written.credits_fen);
  compare_fen(out, "debits", sum.debits_fen, written.debits_fen);
  compare_fen(out, "refunds", sum.refunds_fen, written.refunds_fen);
  compare_count(out, "orders", sum.orders, written.orders);
  compare_count(out, "pendings", sum.pendings, written.pendings);
  compare_count(out, "credits_count", sum.credit_lines, written.credit_lines);
  // The summary's own identity, from its own numbers: a closing edited alone shows here.
  const fen_t closing_fen =
      written.opening_fen + written.credits_fen - written.debits_fen + written.refunds_fen;
  if (closing_fen != written.closing_fen) {
    out.add("closing: opening + credits - debits + refunds = " + format_fen(closing_fen) +
            ", the summary says " + format_fen(written.closing_fen));
  }
}

bool within_day(std::int64_t at_ms, const statement_lines& lines) {
  return at_ms >= lines.day.start_ms(lines.offset_s) && at_ms < lines.day.end_ms(lines.offset_s);
}

/// The money of one order line, as spec §3.1 and §3.5 move it: the debit is the whole cost,
/// and the refund gives the whole debit back, to a refunded order only.
void check_order_money(problem_list& out, const statement_order& o) {
  if (o.debit_fen != 0 && o.debit_fen != o.cost_fen) {
    out.add(o.order_number + ": debit " + format_fen(o.debit_fen) + " is neither 0 nor the cost");
  }
  if (o.refund_fen != 0 && o.refund_fen != o.cost_fen) {
    out.add(o.order_number + ": refund " + format_fen(o.refund_fen) + " is neither 0 nor the cost");
  }
  if (o.refund_fen != 0 && o.status != order_status::refunded) {
    out.add(o.order_number + ": a refund on an order in status " +
            std::to_string(to_int(o.status)));
  }
}

void check_order(problem_list& out, const statement_order& o, const statement_lines& lines) {
  const bool final_line = kind_of(o) == statement_line_kind::order;
  // An `order` line is the day it became final; a `pending` one the day it was accepted.
  const std::int64_t at_ms = final_line ? o.finished_at_ms : o.created_at_ms;
  if (!within_day(at_ms, lines)) out.add(o.order_number + ": outside the statement's day");
  if (final_line && o.finished_at_ms < o.created_at_ms) {
    out.add(o.order_number + ": finished before it was created");
  }
  if (final_line != is_terminal(o.status)) {
    out.add(o.order_number + ": status " + std::to_string(to_int(o.status)) + " on " +
            (final_line ? "an order" : "a pending") + " line");
  }
  check_order_money(out, o);
}

}  // namespace

std::vector<std::string> check_statement(const parsed_statement& statement) {
  problem_list out;
  check_totals(out, statement);
  for (const statement_order& o : statement.lines.orders) check_order(out, o, statement.lines);
  for (const statement_credit& c : statement.lines.credits) {
    if (!within_day(c.at_ms, statement.lines)) out.add(c.ref + ": outside the statement's day");
  }
  return std::move(out).take();
}

std::vector<std::string> check_chain(const parsed_statement& prev, const parsed_statement& next) {
  std::vector<std::string> out;
  if (prev.lines.merchant_id != next.lines.merchant_id) {
    out.push_back("merchant " + std::to_string(next.lines.merchant_id) + " follows merchant " +
                  std::to_string(prev.lines.merchant_id));
  }
  if (next.lines.day != prev.lines.day.next()) {
    out.push_back(next.lines.day.to_string() + " is not the day after " +
                  prev.lines.day.to_string());
  }
  if (prev.summary.closing_fen != next.summary.opening_fen) {
    out.push_back(next.lines.day.to_string() + " opens at " + format_fen(next.summary.opening_fen) +
                  ", " + prev.lines.day.to_string() + " closed at " +
                  format_fen(prev.summary.closing_fen));
  }
  return out;
}

}  // namespace topup::engine
