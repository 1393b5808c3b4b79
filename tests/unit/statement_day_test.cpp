// statement_day: one merchant's day of log entries folded into its statement's lines.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "engine/retention/business_day.hpp"
#include "engine/retention/statement.hpp"
#include "engine/retention/statement_check.hpp"
#include "engine/retention/statement_day.hpp"

namespace {

using namespace topup::engine;

constexpr std::int64_t k_merchant = 1001;
constexpr std::int64_t k_plus8_s = 8 * 3600;
const business_day k_day = *business_day::parse("20261203");

/// Unix ms of hh:mm:ss on k_day, local (+08:00).
std::int64_t at(int h, int m, int s) {
  return k_day.start_ms(k_plus8_s) + ((h * 60 + m) * 60 + s) * 1000;
}

order_event entry(std::int64_t ms, field_pairs fields) {
  return {std::to_string(ms) + "-0", std::move(fields)};
}

order_event credit(std::int64_t ms, const std::string& ref, fen_t amount, fen_t bal) {
  return entry(ms, {{"e", "credit"}, {"ref", ref}, {"amount", std::to_string(amount)},
                    {"bal", std::to_string(bal)}, {"by", "alice"}});
}
order_event accepted(std::int64_t ms, const std::string& o, fen_t amount, fen_t bal) {
  return entry(ms, {{"e", "accepted"}, {"o", o}, {"to", "6"}, {"amount", std::to_string(amount)},
                    {"bal", std::to_string(bal)}});
}
order_event step(std::int64_t ms, const std::string& o, int v, int f, int t) {
  return entry(ms, {{"e", "step"}, {"o", o}, {"v", std::to_string(v)}, {"f", std::to_string(f)},
                    {"t", std::to_string(t)}});
}
order_event refund(std::int64_t ms, const std::string& o, int v, fen_t amount, fen_t bal) {
  return entry(ms, {{"e", "refund"}, {"o", o}, {"v", std::to_string(v)}, {"f", "3"}, {"t", "4"},
                    {"why", "channel_failed"}, {"amount", std::to_string(amount)},
                    {"bal", std::to_string(bal)}});
}

order_record record(const std::string& number, fen_t cost, order_status status,
                    std::int64_t created_ms) {
  order_record r;
  r.order_number = number;
  r.order_no = "no-" + number;
  r.merchant_id = k_merchant;
  r.mobile = "13800138000";
  r.money_yuan = cost / 100 + 1;
  r.cost_fen = cost;
  r.status = status;
  r.created_at_ms = created_ms;
  r.finished_at_ms = is_terminal(status) ? created_ms + 1000 : 0;
  r.refunded = status == order_status::refunded;
  return r;
}

/// The day of the example: a credit; A accepted and delivered; B accepted, failed, refunded;
/// C accepted and still recharging at midnight; D accepted the day before, delivered today; E
/// final the day before, only called back today.
std::vector<order_event> example_entries() {
  return {
      step(at(0, 10, 0), "D", 4, 1, 2),
      entry(at(0, 10, 1), {{"e", "cb"}, {"o", "E"}, {"v", "6"}, {"n", "1"}, {"ok", "1"}}),
      credit(at(8, 0, 0), "bank 1", 100000, 100000),
      accepted(at(9, 0, 0), "A", 9950, 90050),
      step(at(9, 0, 1), "A", 2, 6, 7),
      step(at(9, 0, 2), "A", 3, 7, 1),
      step(at(9, 0, 5), "A", 4, 1, 2),
      accepted(at(10, 0, 0), "B", 4975, 85075),
      step(at(10, 0, 1), "B", 2, 6, 3),
      refund(at(10, 30, 0), "B", 3, 4975, 90050),
      accepted(at(23, 0, 0), "C", 1990, 88060),
      step(at(23, 0, 1), "C", 2, 6, 7),
      step(at(23, 0, 2), "C", 3, 7, 1),
  };
}

std::map<std::string, order_record> example_records() {
  return {{"A", record("A", 9950, order_status::success, at(9, 0, 0))},
          {"B", record("B", 4975, order_status::refunded, at(10, 0, 0))},
          {"C", record("C", 1990, order_status::success, at(23, 0, 0))},  // final by now
          {"D", record("D", 2985, order_status::success, at(0, 0, 0) - 3'600'000)}};
}

statement_day example_day(fen_t opening = 0) {
  statement_day day(k_merchant, k_day, k_plus8_s, opening, false);
  for (const auto& e : example_entries()) {
    auto applied = day.apply(e);
    EXPECT_TRUE(applied) << applied.error().message();
  }
  return day;
}

const statement_order& line(const statement_lines& lines, const std::string& number) {
  for (const auto& o : lines.orders)
    if (o.order_number == number) return o;
  ADD_FAILURE() << "no line " << number;
  return lines.orders.front();
}

TEST(StatementDay, FoldsADayIntoLinesThatAddUp) {
  const statement_day day = example_day();
  EXPECT_EQ(day.order_numbers(), (std::vector<std::string>{"A", "B", "C", "D"}));
  EXPECT_EQ(day.closing_fen(), 88060);
  const auto lines = day.lines(example_records());
  ASSERT_TRUE(lines) << lines.error().message();
  ASSERT_EQ(lines->orders.size(), 4u);
  ASSERT_EQ(lines->credits.size(), 1u);
  EXPECT_EQ(lines->credits[0], (statement_credit{"bank 1", 100000, at(8, 0, 0), "alice"}));

  const auto& a = line(*lines, "A");
  EXPECT_EQ(kind_of(a), statement_line_kind::order);
  EXPECT_EQ(a.status, order_status::success);
  EXPECT_EQ(a.debit_fen, 9950);
  EXPECT_EQ(a.refund_fen, 0);
  EXPECT_EQ(a.finished_at_ms, at(9, 0, 5));
  const auto& b = line(*lines, "B");
  EXPECT_EQ(b.status, order_status::refunded);
  EXPECT_EQ(b.debit_fen, 4975);
  EXPECT_EQ(b.refund_fen, 4975);
  EXPECT_FALSE(b.reason.empty());
  // C is final now, but was recharging at the day's end: a pending line, its debit only.
  const auto& c = line(*lines, "C");
  EXPECT_EQ(kind_of(c), statement_line_kind::pending);
  EXPECT_EQ(c.status, order_status::recharging);
  EXPECT_EQ(c.debit_fen, 1990);
  EXPECT_EQ(c.finished_at_ms, 0);
  // D was debited the day before: its line carries no money today.
  const auto& d = line(*lines, "D");
  EXPECT_EQ(d.debit_fen, 0);
  EXPECT_EQ(d.created_at_ms, at(0, 0, 0) - 3'600'000);

  const statement made = build_statement(*lines);
  EXPECT_EQ(made.summary.closing_fen, 88060);
  EXPECT_EQ(made.summary.debits_fen, 9950 + 4975 + 1990);
  EXPECT_EQ(made.summary.refunds_fen, 4975);
  const auto parsed = parse_statement(made.csv);
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_TRUE(check_statement(*parsed).empty()) << testing::PrintToString(check_statement(*parsed));
}

TEST(StatementDay, ADayWithoutEntriesClosesAtItsOpening) {
  const statement_day day(k_merchant, k_day, k_plus8_s, 12345, true);
  const auto lines = day.lines({});
  ASSERT_TRUE(lines);
  EXPECT_TRUE(lines->orders.empty());
  EXPECT_TRUE(lines->sandbox);
  const statement_summary s = summarize(*lines);
  EXPECT_EQ(s.opening_fen, 12345);
  EXPECT_EQ(s.closing_fen, 12345);
}

TEST(StatementDay, AWrongOpeningIsCaughtByTheFirstBal) {
  statement_day day(k_merchant, k_day, k_plus8_s, 100, false);  // the log says it was 0
  auto applied = day.apply(credit(at(8, 0, 0), "bank 1", 100000, 100000));
  ASSERT_FALSE(applied);
  EXPECT_NE(applied.error().message().find("bal 1000.00, but the opening 1.00"),
            std::string::npos)
      << applied.error().message();
}

TEST(StatementDay, RefusesAnEntryOfAnotherDayOrUnreadable) {
  statement_day day(k_merchant, k_day, k_plus8_s, 0, false);
  EXPECT_FALSE(day.apply(credit(at(0, 0, 0) - 1, "early", 100, 100)));
  EXPECT_FALSE(day.apply(credit(k_day.end_ms(k_plus8_s), "late", 100, 100)));
  EXPECT_FALSE(day.apply(entry(at(1, 0, 0), {{"e", "accepted"}, {"o", "X"}, {"amount", "1"}})));
  EXPECT_FALSE(day.apply(entry(at(1, 0, 0), {{"e", "step"}, {"o", "X"}, {"t", "9"}})));
}

TEST(StatementDay, RefusesAMissingRecordOrAnotherCost) {
  const statement_day day = example_day();
  auto records = example_records();
  records.erase("C");
  const auto missing = day.lines(records);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message(), "order C: no record (Redis or archive)");
  records = example_records();
  records["A"].cost_fen = 9000;
  const auto cost = day.lines(records);
  ASSERT_FALSE(cost);
  EXPECT_EQ(cost.error().message(), "order A: debited 99.50, its record costs 90.00");
}

}  // namespace
