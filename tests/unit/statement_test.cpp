// The daily statement (spec §3.7) without Redis or a server: the business day and its edges,
// the CSV a merchant opens in Excel (exact bytes), reading it back and catching tampering, and
// the files on disk (gzip, manifest, durable writes) in a temp directory.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "engine/retention/business_day.hpp"
#include "engine/retention/csv_text.hpp"
#include "engine/retention/durable_file.hpp"
#include "engine/retention/gzip.hpp"
#include "engine/retention/statement.hpp"
#include "engine/retention/statement_check.hpp"
#include "engine/retention/statement_files.hpp"
#include "engine/support/digest.hpp"

namespace {

using namespace topup::engine;
using namespace std::chrono;
namespace fs = std::filesystem;

constexpr std::int64_t k_plus8_s = 8 * 3600;
constexpr std::int64_t k_minus5_s = -5 * 3600;

/// Unix ms of a local date and time at `offset_s`, computed with <chrono> alone (not with the
/// code under test).
std::int64_t ms_at(year_month_day date, int h, int m, int s, std::int64_t offset_s) {
  const auto local = sys_days{date} + hours{h} + minutes{m} + seconds{s};
  return duration_cast<milliseconds>(local.time_since_epoch()).count() - offset_s * 1000;
}

business_day day(std::string_view yyyymmdd) {
  const auto d = business_day::parse(yyyymmdd);
  EXPECT_TRUE(d) << yyyymmdd;
  return d.value_or(business_day{});
}

// --- the business day -------------------------------------------------------------------

TEST(BusinessDay, ParsesUtcOffsetsInTheirOneSpelling) {
  EXPECT_EQ(parse_utc_offset("+08:00"), 8 * 3600);
  EXPECT_EQ(parse_utc_offset("-05:30"), -(5 * 3600 + 30 * 60));
  EXPECT_EQ(parse_utc_offset("+00:00"), 0);
  EXPECT_EQ(parse_utc_offset("+14:00"), 14 * 3600);
  EXPECT_EQ(parse_utc_offset("-12:00"), -12 * 3600);
  for (const char* bad : {"+14:01", "-12:01", "+08:60", "08:00", "+8:00", "+0800", "+08:00 ",
                          " +08:00", "Z", "", "+08:0", "+0a:00", "-15:00"}) {
    EXPECT_EQ(parse_utc_offset(bad), std::nullopt) << bad;
  }
}

TEST(BusinessDay, FormatsUtcOffsetsAsParsed) {
  for (const char* text : {"+08:00", "-05:30", "+00:00", "+14:00", "-12:00", "+05:45"}) {
    EXPECT_EQ(format_utc_offset(parse_utc_offset(text).value()), text);
  }
}

TEST(BusinessDay, MidnightAtPlusEight) {
  // 2026-12-02 00:00 at +08:00 is 2026-12-01 16:00 UTC.
  const std::int64_t midnight_ms = ms_at(2026y / 12 / 1, 16, 0, 0, 0);
  EXPECT_EQ(business_day::day_of(midnight_ms - 1, k_plus8_s), day("20261201"));
  EXPECT_EQ(business_day::day_of(midnight_ms, k_plus8_s), day("20261202"));
  EXPECT_EQ(day("20261202").start_ms(k_plus8_s), midnight_ms);
  EXPECT_EQ(day("20261201").end_ms(k_plus8_s), midnight_ms);
  // The same instant is still 12-01 in UTC.
  EXPECT_EQ(business_day::day_of(midnight_ms, 0), day("20261201"));
}

TEST(BusinessDay, MidnightAtMinusFive) {
  // 2026-12-02 00:00 at -05:00 is 2026-12-02 05:00 UTC.
  const std::int64_t midnight_ms = ms_at(2026y / 12 / 2, 5, 0, 0, 0);
  EXPECT_EQ(business_day::day_of(midnight_ms - 1, k_minus5_s), day("20261201"));
  EXPECT_EQ(business_day::day_of(midnight_ms, k_minus5_s), day("20261202"));
  EXPECT_EQ(day("20261202").start_ms(k_minus5_s), midnight_ms);
  EXPECT_EQ(day("20261202").end_ms(k_minus5_s) - day("20261202").start_ms(k_minus5_s), 86'400'000);
}

TEST(BusinessDay, InstantsBeforeTheEpochBelongToTheEarlierDay) {
  EXPECT_EQ(business_day::day_of(-1, 0).days_since_epoch, -1);
  EXPECT_EQ(business_day::day_of(0, 0).days_since_epoch, 0);
  EXPECT_EQ(business_day::day_of(0, -3600).days_since_epoch, -1);
}

TEST(BusinessDay, MonthAndYearEnds) {
  EXPECT_EQ(day("20261231").next(), day("20270101"));
  EXPECT_EQ(day("20270101").prev(), day("20261231"));
  EXPECT_EQ(day("20260131").next().to_string(), "20260201");
  EXPECT_EQ(day("20260430").next().to_string(), "20260501");
  EXPECT_EQ(day("20260301").prev().to_string(), "20260228");
  EXPECT_LT(day("20261231"), day("20270101"));
}

TEST(BusinessDay, LeapDays) {
  EXPECT_EQ(day("20280228").next().to_string(), "20280229");
  EXPECT_EQ(day("20280229").next().to_string(), "20280301");
  EXPECT_EQ(day("20260228").next().to_string(), "20260301");
  EXPECT_TRUE(business_day::parse("20000229"));   // divisible by 400
  EXPECT_FALSE(business_day::parse("21000229"));  // by 100, not 400
  EXPECT_FALSE(business_day::parse("20260229"));
}

TEST(BusinessDay, ParseIsStrict) {
  for (const char* bad :
       {"2026130", "20261301", "20260230", " 20261201", "20261201 ", "2026-12-01", "20261200",
        "20260001", "19991231", "30000101", "2026120a", "+2026120", ""}) {
    EXPECT_FALSE(business_day::parse(bad)) << bad;
  }
  for (const char* good : {"20000101", "20261201", "29991231"}) {
    EXPECT_EQ(day(good).to_string(), good);
  }
}

TEST(BusinessDay, LocalTimeTextAtTheOffset) {
  const std::int64_t midnight_ms = ms_at(2026y / 12 / 1, 16, 0, 0, 0);
  EXPECT_EQ(format_local_time(midnight_ms, k_plus8_s), "2026-12-02 00:00:00");
  EXPECT_EQ(format_local_time(midnight_ms + 999, k_plus8_s), "2026-12-02 00:00:00");
  EXPECT_EQ(format_local_time(midnight_ms - 1, k_plus8_s), "2026-12-01 23:59:59");
  EXPECT_EQ(format_local_time(midnight_ms, k_minus5_s), "2026-12-01 11:00:00");
  EXPECT_EQ(parse_local_time("2026-12-02 00:00:00", k_plus8_s), midnight_ms);
  EXPECT_EQ(parse_local_time("2026-12-01 11:00:00", k_minus5_s), midnight_ms);
  for (const char* bad : {"2026-12-02 24:00:00", "2026-02-30 00:00:00", "2026-12-02T00:00:00",
                          "2026-12-02 00:00", "2026-12-02 00:60:00", ""}) {
    EXPECT_EQ(parse_local_time(bad, k_plus8_s), std::nullopt) << bad;
  }
}

// --- the CSV dialect --------------------------------------------------------------------

TEST(StatementCsv, QuotesOnlyWhatRfc4180Needs) {
  EXPECT_EQ(csv_field("plain text"), "plain text");
  EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_field("two\r\nlines"), "\"two\r\nlines\"");
  EXPECT_EQ(csv_field("cr\ronly"), "\"cr\ronly\"");
  EXPECT_EQ(csv_record({"a", "", "b,c"}), "a,,\"b,c\"\r\n");
}

TEST(StatementCsv, FormulaGuardIsReversible) {
  for (const char* text : {"=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "'=x", "'x", "'"}) {
    const std::string guarded = guard_formula(text);
    EXPECT_EQ(guarded, "'" + std::string(text)) << text;
    EXPECT_EQ(unguard_formula(guarded), text);
  }
  for (const char* text : {"A-1", "充值失败", "", "x=1", "x'"}) {
    EXPECT_EQ(guard_formula(text), text);
    EXPECT_EQ(unguard_formula(text), text);
  }
}

TEST(StatementCsv, ReadsRecordsWithTheirLines) {
  const auto rows = read_csv_rows("a,\"b\r\nc\",d\r\n\"x\"\"y\",\r\n", 2);
  ASSERT_TRUE(rows) << rows.error().message();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].fields, (std::vector<std::string>{"a", "b\r\nc", "d"}));
  EXPECT_EQ((*rows)[0].line, 2u);
  EXPECT_EQ((*rows)[1].fields, (std::vector<std::string>{"x\"y", ""}));
  EXPECT_EQ((*rows)[1].line, 4u);  // the quoted CRLF moved it one line down
}

TEST(StatementCsv, RefusesWhatIsNotStrictCsv) {
  EXPECT_FALSE(read_csv_rows("a,b\n", 1));         // bare LF
  EXPECT_FALSE(read_csv_rows("a,b", 1));           // no CRLF at the end
  EXPECT_FALSE(read_csv_rows("a,\"b\r\n", 1));     // unclosed quote
  EXPECT_FALSE(read_csv_rows("a,b\"c\r\n", 1));    // quote inside a plain field
  EXPECT_FALSE(read_csv_rows("a,\"b\"c\r\n", 1));  // text after a closing quote
  const auto err = read_csv_rows("a\r\nb\r\nc\n", 7);
  ASSERT_FALSE(err);
  EXPECT_EQ(err.error().message().rfind("line 9:", 0), 0u) << err.error().message();
}

// --- building a statement ---------------------------------------------------------------

constexpr std::int64_t k_merchant = 1001;

/// 2026-12-03 at +08:00.
std::int64_t at(int h, int m, int s) { return ms_at(2026y / 12 / 3, h, m, s, k_plus8_s); }

statement_order order_line(std::string number, std::string order_no, std::string mobile, carrier c,
                           std::int64_t amount_yuan, fen_t cost_fen) {
  statement_order o;
  o.order_number = std::move(number);
  o.order_no = std::move(order_no);
  o.mobile = std::move(mobile);
  o.carrier = c;
  o.amount_yuan = amount_yuan;
  o.cost_fen = cost_fen;
  return o;
}

/// A day with every kind of line, given out of order: an order accepted the day before, a
/// refunded one whose order_no is a formula with a comma, a quote in an order_no, a pending
/// order, a credit and a negative correction whose ref starts with '-'.
statement_lines example_day() {
  statement_lines day_lines;
  day_lines.merchant_id = k_merchant;
  day_lines.day = day("20261203");
  day_lines.offset_s = k_plus8_s;
  day_lines.opening_fen = 100000;

  auto t1 = order_line("T1", "A-1", "13800138000", carrier::cmcc, 100, 9950);
  t1.created_at_ms = at(9, 0, 0);
  t1.finished_at_ms = at(9, 0, 5);
  t1.debit_fen = 9950;

  auto t2 = order_line("T2", "=SUM(1,2)", "18600186000", carrier::cucc, 50, 4975);
  t2.status = order_status::refunded;
  t2.reason = "充值失败";
  t2.created_at_ms = at(10, 0, 0);
  t2.finished_at_ms = at(10, 30, 0);
  t2.debit_fen = 4975;
  t2.refund_fen = 4975;

  auto t3 = order_line("T3", "say \"hi\"", "18900189000", carrier::ctcc, 30, 2985);
  t3.created_at_ms = ms_at(2026y / 12 / 2, 23, 50, 0, k_plus8_s);  // debited the day before
  t3.finished_at_ms = at(0, 10, 0);

  auto t4 = order_line("T4", "P4", "13300133000", carrier::ctcc, 20, 1990);
  t4.status = order_status::recharging;
  t4.created_at_ms = at(23, 0, 0);
  t4.debit_fen = 1990;

  day_lines.orders = {t4, t2, t1, t3};
  day_lines.credits = {{"-fix C1", -1230, at(11, 0, 0), "bob"},
                       {"bank 8812", 50000, at(8, 0, 0), "alice"}};
  return day_lines;
}

const std::string k_example_csv =
    "\xEF\xBB\xBF"
    "kind,order_number,order_no,mobile,carrier,amount,cost,status,reason,created_at,finished_at,"
    "debit,refund,credit,ref,by\r\n"
    "order,T3,\"say \"\"hi\"\"\",18900189000,ctcc,30,29.85,2,,2026-12-02 23:50:00,"
    "2026-12-03 00:10:00,0.00,0.00,,,\r\n"
    "credit,,,,,,,,,2026-12-03 08:00:00,,,,500.00,bank 8812,alice\r\n"
    "order,T1,A-1,13800138000,cmcc,100,99.50,2,,2026-12-03 09:00:00,2026-12-03 09:00:05,"
    "99.50,0.00,,,\r\n"
    "order,T2,\"'=SUM(1,2)\",18600186000,cucc,50,49.75,4,充值失败,2026-12-03 10:00:00,"
    "2026-12-03 10:30:00,49.75,49.75,,,\r\n"
    "credit,,,,,,,,,2026-12-03 11:00:00,,,,-12.30,'-fix C1,bob\r\n"
    "pending,T4,P4,13300133000,ctcc,20,19.90,1,,2026-12-03 23:00:00,,19.90,0.00,,,\r\n"
    "summary,merchant,1001\r\n"
    "summary,date,20261203\r\n"
    "summary,timezone,+08:00\r\n"
    "summary,mode,live\r\n"
    "summary,opening,1000.00\r\n"
    "summary,credits,487.70\r\n"
    "summary,debits,169.15\r\n"
    "summary,refunds,49.75\r\n"
    "summary,closing,1368.30\r\n"
    "summary,orders,3\r\n"
    "summary,pendings,1\r\n"
    "summary,credits_count,2\r\n";

TEST(Statement, SumsTheDay) {
  const statement_summary s = build_statement(example_day()).summary;
  EXPECT_EQ(s.opening_fen, 100000);
  EXPECT_EQ(s.credits_fen, 50000 - 1230);
  EXPECT_EQ(s.debits_fen, 9950 + 4975 + 1990);  // T3 was debited the day before
  EXPECT_EQ(s.refunds_fen, 4975);
  EXPECT_EQ(s.closing_fen, 136830);
  EXPECT_EQ(s.orders, 3);
  EXPECT_EQ(s.pendings, 1);
  EXPECT_EQ(s.credit_lines, 2);
}

TEST(Statement, RendersTheExactCsv) {
  EXPECT_EQ(build_statement(example_day()).csv, k_example_csv);
}

TEST(Statement, SameLinesInAnyOrderGiveTheSameBytes) {
  statement_lines shuffled = example_day();
  std::reverse(shuffled.orders.begin(), shuffled.orders.end());
  std::reverse(shuffled.credits.begin(), shuffled.credits.end());
  EXPECT_EQ(build_statement(shuffled).csv, k_example_csv);
}

TEST(Statement, EqualTimesAreOrderedByNumberOrRef) {
  statement_lines lines = example_day();
  lines.orders.clear();
  lines.credits = {{"R2", 100, at(8, 0, 0), ""}, {"R1", 100, at(8, 0, 0), ""}};
  const std::string csv = build_statement(lines).csv;
  EXPECT_LT(csv.find(",R1,"), csv.find(",R2,"));
}

TEST(Statement, ADayWithoutLinesClosesWhereItOpened) {
  statement_lines empty;
  empty.merchant_id = k_merchant;
  empty.day = day("20261204");
  empty.offset_s = k_plus8_s;
  empty.opening_fen = 136830;
  const statement st = build_statement(empty);
  EXPECT_EQ(st.summary.closing_fen, 136830);
  EXPECT_EQ(st.summary.orders + st.summary.pendings + st.summary.credit_lines, 0);
  const auto parsed = parse_statement(st.csv);
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_TRUE(check_statement(*parsed).empty());
}

// --- reading it back and checking it ----------------------------------------------------

/// The example's lines as the file orders them.
statement_lines example_day_in_file_order() {
  statement_lines lines = example_day();
  const auto& o = lines.orders;  // T4, T2, T1, T3
  lines.orders = {o[3], o[2], o[1], o[0]};
  std::swap(lines.credits[0], lines.credits[1]);
  return lines;
}

TEST(StatementCheck, ParseGivesBackWhatWasRendered) {
  const statement built = build_statement(example_day());
  const auto parsed = parse_statement(built.csv);
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(parsed->lines, example_day_in_file_order());
  EXPECT_EQ(parsed->summary, built.summary);
  EXPECT_EQ(build_statement(parsed->lines).csv, built.csv);
  EXPECT_TRUE(check_statement(*parsed).empty());
}

std::string replaced(std::string text, std::string_view from, std::string_view to) {
  const std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

std::vector<std::string> problems_of(const std::string& csv) {
  const auto parsed = parse_statement(csv);
  EXPECT_TRUE(parsed) << parsed.error().message();
  return parsed ? check_statement(*parsed) : std::vector<std::string>{"unreadable"};
}

bool mentions(const std::vector<std::string>& problems, std::string_view text) {
  return std::any_of(problems.begin(), problems.end(),
                     [&](const std::string& p) { return p.find(text) != std::string::npos; });
}

TEST(StatementCheck, CatchesATamperedLine) {
  // T1's debit lowered by 90 yuan: the lines no longer add up to the summary.
  const auto problems = problems_of(replaced(k_example_csv, "09:00:05,99.50,", "09:00:05,9.50,"));
  EXPECT_TRUE(mentions(problems, "debits: the lines add up to 79.15, the summary says 169.15"))
      << testing::PrintToString(problems);
  EXPECT_TRUE(mentions(problems, "T1: debit 9.50 is neither 0 nor the cost"));
}

TEST(StatementCheck, CatchesATamperedSummary) {
  const auto closing = problems_of(replaced(k_example_csv, "closing,1368.30", "closing,1368.31"));
  EXPECT_EQ(closing, (std::vector<std::string>{
                         "closing: opening + credits - debits + refunds = 1368.30, the summary "
                         "says 1368.31"}));
  const auto count = problems_of(replaced(k_example_csv, "summary,orders,3", "summary,orders,4"));
  EXPECT_EQ(count, (std::vector<std::string>{"orders: the file has 3 lines, the summary says 4"}));
}

TEST(StatementCheck, CatchesALineOfAnotherDayOrAFinalPending) {
  const auto moved = problems_of(
      replaced(k_example_csv, "2026-12-03 10:30:00,49.75", "2026-12-04 10:30:00,49.75"));
  EXPECT_TRUE(mentions(moved, "T2: outside the statement's day"));
  const auto final_pending = problems_of(replaced(k_example_csv, "19.90,1,", "19.90,2,"));
  EXPECT_TRUE(mentions(final_pending, "T4: status 2 on a pending line"));
}

TEST(StatementCheck, ReadsTheSandboxMode) {
  statement_lines lines = example_day();
  lines.sandbox = true;
  const std::string csv = build_statement(lines).csv;
  EXPECT_NE(csv.find("summary,mode,sandbox\r\n"), std::string::npos);
  const auto parsed = parse_statement(csv);
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_TRUE(parsed->lines.sandbox);
  const auto odd = parse_statement(replaced(csv, "mode,sandbox", "mode,test"));
  ASSERT_FALSE(odd);
  EXPECT_NE(odd.error().message().find("summary mode is not valid"), std::string::npos)
      << odd.error().message();
}

TEST(StatementCheck, ChainsDayToDay) {
  const auto prev = parse_statement(k_example_csv);
  ASSERT_TRUE(prev);
  statement_lines next_lines;
  next_lines.merchant_id = k_merchant;
  next_lines.day = day("20261204");
  next_lines.offset_s = k_plus8_s;
  next_lines.opening_fen = prev->summary.closing_fen;
  const auto next = parse_statement(build_statement(next_lines).csv);
  ASSERT_TRUE(next);
  EXPECT_TRUE(check_chain(*prev, *next).empty());

  parsed_statement off_by_a_fen = *next;
  off_by_a_fen.summary.opening_fen -= 1;
  EXPECT_EQ(check_chain(*prev, off_by_a_fen),
            (std::vector<std::string>{"20261204 opens at 1368.29, 20261203 closed at 1368.30"}));

  parsed_statement gap = *next;
  gap.lines.day = day("20261205");
  EXPECT_TRUE(mentions(check_chain(*prev, gap), "20261205 is not the day after 20261203"));
  parsed_statement other = *next;
  other.lines.merchant_id = 1002;
  EXPECT_TRUE(mentions(check_chain(*prev, other), "merchant 1002 follows merchant 1001"));
}

TEST(StatementCheck, ParseErrorsNameTheLine) {
  struct edit {
    std::string_view from, to, error;
  };
  const edit edits[] = {
      {"\xEF\xBB\xBF", "", "line 1: no UTF-8 BOM"},
      {"credit,ref,by", "credit,ref", "line 1: not the statement header"},
      {"ctcc,30,29.85", "ctcc,30,29.8.5", "line 2: cost is not valid: \"29.8.5\""},
      {"ctcc,30,", "xx,30,", "line 2: carrier is not valid: \"xx\""},
      {"0.00,0.00,,,\r\ncredit", "0.00,0.00,,,x\r\ncredit",
       "line 2: by must be empty on kind order"},
      {"bank 8812,alice\r\n", "bank 8812\r\n", "line 3: 15 fields, not 16"},
      {"summary,pendings,1\r\n", "", "line 8: the summary has 11 rows, not 12"},
      {"summary,pendings,", "summary,pending,", "no summary row pendings"},
      {"date,20261203", "date,20261232", "line 9: summary date is not valid: \"20261232\""},
      {"credits_count,2\r\n", "credits_count,2\r\norder,T9\r\n",
       "line 20: a line after the summary"},
  };
  for (const edit& e : edits) {
    const auto parsed = parse_statement(replaced(k_example_csv, e.from, e.to));
    ASSERT_FALSE(parsed) << e.error;
    EXPECT_EQ(parsed.error().message(), e.error);
  }
}

// --- the files on disk ------------------------------------------------------------------

/// A fresh directory per test, removed after it.
class StatementFiles : public testing::Test {
 protected:
  void SetUp() override {
    static int counter = 0;
    dir_ = fs::temp_directory_path() /
           ("topup-statement-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path merchant_dir() const { return merchant_statement_dir(dir_, k_merchant); }
  std::string manifest_text() const {
    return read_whole_file(merchant_dir() / "MANIFEST.sha256").value().value_or("");
  }
  std::vector<std::string> names_in_merchant_dir() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(merchant_dir())) {
      names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }
  written_statement write(std::string_view yyyymmdd, std::string_view csv) {
    const auto w = write_statement(dir_, k_merchant, day(yyyymmdd), csv);
    EXPECT_TRUE(w) << w.error().message();
    return w ? *w : written_statement{};
  }

  fs::path dir_;
};

TEST_F(StatementFiles, WriteReadGunzipRoundTrip) {
  const written_statement w = write("20261203", k_example_csv);
  EXPECT_EQ(w.path, dir_ / "m1001" / "20261203.csv.gz");
  const auto bytes = read_statement(dir_, k_merchant, day("20261203"));
  ASSERT_TRUE(bytes && *bytes);
  EXPECT_EQ(bytes->value().substr(0, 2), "\x1f\x8b");  // gzip magic: served as it is
  EXPECT_EQ(bytes->value().size(), w.compressed_bytes);
  EXPECT_EQ(sha256_hex(bytes->value()), w.sha256_hex);
  EXPECT_EQ(gunzip(bytes->value()).value(), k_example_csv);
  EXPECT_EQ(manifest_text(), w.sha256_hex + "  20261203.csv.gz\n");
  EXPECT_TRUE(verify_manifest(dir_, k_merchant).empty());
}

TEST_F(StatementFiles, AStatementNotMadeIsAbsent) {
  const auto bytes = read_statement(dir_, k_merchant, day("20261203"));
  ASSERT_TRUE(bytes);
  EXPECT_FALSE(bytes->has_value());
  EXPECT_TRUE(verify_manifest(dir_, k_merchant).empty());
}

TEST_F(StatementFiles, WritingADayAgainReplacesItsManifestLine) {
  const written_statement later_day = write("20261204", "b");
  const written_statement first = write("20261203", "a");
  const written_statement again = write("20261203", "a, made again");
  EXPECT_NE(first.sha256_hex, again.sha256_hex);
  EXPECT_EQ(manifest_text(), again.sha256_hex + "  20261203.csv.gz\n" + later_day.sha256_hex +
                                 "  20261204.csv.gz\n");  // one line each, sorted by name
  EXPECT_EQ(write("20261203", "a, made again").sha256_hex, again.sha256_hex);  // deterministic
  EXPECT_TRUE(verify_manifest(dir_, k_merchant).empty());
}

TEST_F(StatementFiles, Sha256sumChecksTheManifest) {
  write("20261203", k_example_csv);
  write("20261204", "another day");
  const std::string command = "cd '" + merchant_dir().string() +
                              "' && sha256sum --quiet --strict -c MANIFEST.sha256 >/dev/null 2>&1";
  EXPECT_EQ(std::system(command.c_str()), 0);
}

TEST_F(StatementFiles, VerifyCatchesAModifiedFile) {
  write("20261203", k_example_csv);
  write("20261204", "another day");
  std::ofstream(merchant_dir() / "20261204.csv.gz", std::ios::binary | std::ios::app) << "x";
  EXPECT_EQ(
      verify_manifest(dir_, k_merchant),
      (std::vector<std::string>{"20261204.csv.gz: its SHA-256 is not the one in MANIFEST.sha256"}));
}

TEST_F(StatementFiles, VerifyCatchesAFileWithoutALineAndALineWithoutAFile) {
  write("20261203", k_example_csv);
  write("20261204", "another day");
  fs::remove(merchant_dir() / "20261203.csv.gz");
  fs::copy_file(merchant_dir() / "20261204.csv.gz", merchant_dir() / "20261205.csv.gz");
  EXPECT_EQ(verify_manifest(dir_, k_merchant),
            (std::vector<std::string>{"20261205.csv.gz: not in MANIFEST.sha256",
                                      "20261203.csv.gz: in MANIFEST.sha256, but no such file"}));
}

TEST_F(StatementFiles, LeavesNoTempFilesBehind) {
  write("20261203", k_example_csv);
  write("20261203", "again");
  write("20261204", "another day");
  EXPECT_EQ(names_in_merchant_dir(),
            (std::vector<std::string>{".manifest.lock", "20261203.csv.gz", "20261204.csv.gz",
                                      "MANIFEST.sha256"}));
}

TEST_F(StatementFiles, TwoWritersAtOnceLoseNoManifestLine) {
  // Two makers (a lapsed lock, two instances) writing days of one merchant at the same time.
  auto writer = [&](int first_day) {
    for (int d = first_day; d < first_day + 10; ++d)
      write("202612" + std::string(d < 10 ? "0" : "") + std::to_string(d), "day " + std::to_string(d));
  };
  std::thread a(writer, 1);
  std::thread b(writer, 11);
  a.join();
  b.join();
  EXPECT_TRUE(verify_manifest(dir_, k_merchant).empty())
      << testing::PrintToString(verify_manifest(dir_, k_merchant));
  std::ifstream manifest(merchant_dir() / "MANIFEST.sha256");
  int lines = 0;
  for (std::string line; std::getline(manifest, line);) ++lines;
  EXPECT_EQ(lines, 20);
}

TEST_F(StatementFiles, AFailedWriteLeavesNoTempAndTheManifestAsItWas) {
  const written_statement old = write("20261203", "old");
  // A non-empty directory where the statement file goes: its rename fails, after the temp file
  // was written and synced.
  fs::create_directory(merchant_dir() / "20261204.csv.gz");
  fs::create_directory(merchant_dir() / "20261204.csv.gz" / "keep");
  const auto failed = write_statement(dir_, k_merchant, day("20261204"), "new");
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().message().find("cannot rename onto"), std::string::npos)
      << failed.error().message();
  EXPECT_EQ(names_in_merchant_dir(),
            (std::vector<std::string>{".manifest.lock", "20261203.csv.gz", "20261204.csv.gz",
                                      "MANIFEST.sha256"}));
  EXPECT_EQ(manifest_text(), old.sha256_hex + "  20261203.csv.gz\n");
}

TEST_F(StatementFiles, ACorruptManifestStopsTheWriteBeforeAnythingChanges) {
  write("20261203", "a");
  std::ofstream(merchant_dir() / "MANIFEST.sha256", std::ios::app) << "garbage\n";
  const auto failed = write_statement(dir_, k_merchant, day("20261204"), "b");
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().message(), "MANIFEST.sha256 line 2: not \"<sha256>  <name>\"");
  EXPECT_FALSE(fs::exists(merchant_dir() / "20261204.csv.gz"));
  EXPECT_EQ(verify_manifest(dir_, k_merchant),
            (std::vector<std::string>{"MANIFEST.sha256 line 2: not \"<sha256>  <name>\""}));
}

TEST_F(StatementFiles, GunzipRefusesCorruptBytes) {
  const std::string good = gzip(k_example_csv);
  EXPECT_FALSE(gunzip(good.substr(0, good.size() - 4)));  // truncated
  EXPECT_FALSE(gunzip(""));
  EXPECT_FALSE(gunzip(k_example_csv));  // not gzip at all
  EXPECT_FALSE(gunzip(good + "x"));     // bytes after the stream
  std::string flipped = good;
  flipped[flipped.size() / 2] ^= 0x01;
  EXPECT_FALSE(gunzip(flipped));
  EXPECT_FALSE(gunzip(good, k_example_csv.size() - 1));  // over the bound
  EXPECT_EQ(gunzip(good, k_example_csv.size()).value(), k_example_csv);
}

}  // namespace
