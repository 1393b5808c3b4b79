// The statements audit (engine/audit/statement_audit.hpp, `topupd audit --statements`): real
// statement files written with the statement module into a temp directory, then tampered with
// the way a person or a bug would (a number edited, a file swapped, a day lost).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/audit/statement_audit.hpp"
#include "engine/retention/gzip.hpp"
#include "engine/retention/statement.hpp"
#include "engine/retention/statement_files.hpp"
#include "tests/support/process.hpp"
#include "tests/support/sample_statement.hpp"

namespace {

using namespace topup::engine;
namespace fs = std::filesystem;
using topup::test::sample_statement_day;

constexpr std::int64_t k_merchant = 1001;
constexpr std::int64_t k_other_merchant = 1002;
constexpr std::int64_t k_plus8_s = topup::test::k_sample_statement_offset_s;
constexpr fen_t k_opening_fen = 100'000;

business_day day(std::string_view yyyymmdd) {
  const auto d = business_day::parse(yyyymmdd);
  EXPECT_TRUE(d) << yyyymmdd;
  return d.value_or(business_day{});
}

std::string replaced(std::string text, std::string_view from, std::string_view to) {
  const std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

class StatementAudit : public testing::Test {
 protected:
  /// Stores `csv` as the merchant's statement of its day, manifest line and all.
  void store(std::int64_t merchant, std::string_view yyyymmdd, std::string_view csv) {
    const auto w = write_statement(dir_, merchant, day(yyyymmdd), csv);
    ASSERT_TRUE(w) << w.error().message();
  }
  /// Stores a clean day opening at `opening_fen`; answers its closing.
  fen_t store_day(std::int64_t merchant, std::string_view yyyymmdd, fen_t opening_fen) {
    const statement st = build_statement(sample_statement_day(merchant, yyyymmdd, opening_fen));
    store(merchant, yyyymmdd, st.csv);
    return st.summary.closing_fen;
  }
  /// Three clean days, 20261201..20261203, each opening where the last closed: 1000.00,
  /// 1050.50, 1101.00.
  void store_clean_chain(std::int64_t merchant = k_merchant) {
    topup::test::write_sample_statements(dir_, merchant, "20261201", 3, k_opening_fen);
  }
  /// Replaces the bytes of a stored file behind the manifest's back.
  void overwrite(std::int64_t merchant, std::string_view yyyymmdd, const std::string& bytes) {
    std::ofstream out(statement_path(dir_, merchant, day(yyyymmdd)),
                      std::ios::binary | std::ios::trunc);
    out << bytes;
  }
  statement_audit_report audit(std::string_view from = "20261201", std::string_view to = "20261203",
                               std::vector<std::int64_t> merchants = {k_merchant}) {
    auto r = audit_statements(dir_, k_plus8_s, merchants, {day(from), day(to)});
    EXPECT_TRUE(r) << r.error().message();
    return r ? std::move(*r) : statement_audit_report{};
  }
  /// The findings as `topupd audit` prints them, a line each.
  static std::vector<std::string> lines_of(const statement_audit_report& r) {
    std::vector<std::string> out;
    for (const auto& f : r.findings) out.push_back(to_string(f));
    return out;
  }

  const std::string dir_ = topup::test::make_temp_dir("statement-audit");
};

using lines = std::vector<std::string>;

TEST_F(StatementAudit, ACleanChainOfThreeDaysHasNoFindings) {
  store_clean_chain();
  const auto r = audit();
  EXPECT_TRUE(r.clean()) << testing::PrintToString(lines_of(r));
  EXPECT_EQ(r.statements, 3);
  EXPECT_EQ(r.merchants, 1);
}

TEST_F(StatementAudit, ADayNotOpeningWhereTheDayBeforeClosedBreaksTheChain) {
  const fen_t closing_fen = store_day(k_merchant, "20261201", k_opening_fen);  // 1050.50
  store_day(k_merchant, "20261202", closing_fen + 1);  // adds up, but on a wrong opening
  const auto r = audit("20261201", "20261202");
  EXPECT_EQ(lines_of(r),
            lines{"merchant 1001: statement 20261202: 20261202 opens at 1050.51, 20261201 closed "
                  "at 1050.50"});
  EXPECT_EQ(r.statements, 2);
}

TEST_F(StatementAudit, ASummaryThatTheLinesDoNotAddUpToIsAFinding) {
  store_clean_chain();
  const std::string csv =
      build_statement(sample_statement_day(k_merchant, "20261202", 105'050)).csv;
  store(k_merchant, "20261202", replaced(csv, "summary,credits,100.00", "summary,credits,110.00"));
  const auto r = audit();
  EXPECT_EQ(lines_of(r),
            (lines{"merchant 1001: statement 20261202: credits: the lines add up to 100.00, the "
                   "summary says 110.00",
                   "merchant 1001: statement 20261202: closing: opening + credits - debits + "
                   "refunds = 1111.00, the summary says 1101.00"}));
}

TEST_F(StatementAudit, AFileWhoseBytesAreNotTheManifestsIsAFinding) {
  store_clean_chain();
  // The same sums, another operator named: only the SHA-256 can tell.
  statement_lines edited = sample_statement_day(k_merchant, "20261202", 105'050);
  edited.credits[0].by = "mallory";
  overwrite(k_merchant, "20261202", gzip(build_statement(edited).csv));
  const auto r = audit();
  EXPECT_EQ(lines_of(r),
            lines{"merchant 1001: 20261202.csv.gz: its SHA-256 is not the one in MANIFEST.sha256"});
}

TEST_F(StatementAudit, AMissingDayIsAFindingAndTheChainResumesAfterIt) {
  fen_t balance_fen = store_day(k_merchant, "20261201", k_opening_fen);
  balance_fen = store_day(k_merchant, "20261203", balance_fen + 5'050);
  store_day(k_merchant, "20261204", balance_fen + 1);  // the chain is checked again from here
  const auto r = audit("20261201", "20261204");
  EXPECT_EQ(lines_of(r), (lines{"merchant 1001: statement 20261202 missing",
                                "merchant 1001: statement 20261204: 20261204 opens at 1151.51, "
                                "20261203 closed at 1151.50"}));
  EXPECT_EQ(r.statements, 3);
}

TEST_F(StatementAudit, AnotherMerchantsFileCopiedInIsAFinding) {
  store_clean_chain();
  store_day(k_other_merchant, "20261202", 105'050);  // the very same numbers
  fs::copy_file(statement_path(dir_, k_other_merchant, day("20261202")),
                statement_path(dir_, k_merchant, day("20261202")),
                fs::copy_options::overwrite_existing);
  const auto r = audit();
  EXPECT_EQ(lines_of(r),
            (lines{"merchant 1001: 20261202.csv.gz: its SHA-256 is not the one in MANIFEST.sha256",
                   "merchant 1001: statement 20261202: the file is merchant 1002's"}));
  // Merchant 1002's own statement is fine where it is.
  const auto other = audit("20261202", "20261202", {k_other_merchant});
  EXPECT_TRUE(other.clean()) << testing::PrintToString(lines_of(other));
}

TEST_F(StatementAudit, AFileOfAnotherDayOrTimezoneIsAFinding) {
  store_clean_chain();
  store(k_merchant, "20261202",
        build_statement(sample_statement_day(k_merchant, "20261203", 105'050)).csv);  // renamed
  statement_lines utc = sample_statement_day(k_merchant, "20261203", 110'100);
  utc.offset_s = 0;
  store(k_merchant, "20261203", build_statement(utc).csv);
  const auto r = audit();
  EXPECT_EQ(lines_of(r),
            (lines{"merchant 1001: statement 20261202: the file is the statement of 20261203",
                   "merchant 1001: statement 20261203: the file's timezone is +00:00, "
                   "statements.timezone is +08:00"}));
}

TEST_F(StatementAudit, AFileThatIsNotGzipIsAFinding) {
  store_clean_chain();
  overwrite(k_merchant, "20261202", "kind,order_number\r\n");
  const auto r = audit();
  ASSERT_EQ(r.findings.size(), 2u) << testing::PrintToString(lines_of(r));
  EXPECT_EQ(lines_of(r)[0],
            "merchant 1001: 20261202.csv.gz: its SHA-256 is not the one in MANIFEST.sha256");
  EXPECT_TRUE(lines_of(r)[1].starts_with("merchant 1001: statement 20261202: gunzip: "))
      << lines_of(r)[1];
  EXPECT_EQ(r.statements, 2);
}

TEST_F(StatementAudit, AFindingQuotingTheFileStaysOneLine) {
  store_clean_chain();
  statement_lines forged = sample_statement_day(k_merchant, "20261202", 105'050);
  forged.credits[0].ref = "x\nmerchant 1001: forged\x01";
  forged.credits[0].at_ms = forged.day.end_ms(k_plus8_s);  // the next day's first instant
  store(k_merchant, "20261202", build_statement(forged).csv);
  const auto r = audit();
  EXPECT_EQ(lines_of(r), lines{"merchant 1001: statement 20261202: x\\nmerchant 1001: "
                               "forged\\x01: outside the statement's day"});
}

TEST_F(StatementAudit, EveryMerchantAskedIsAudited) {
  store_clean_chain(k_merchant);
  store_clean_chain(k_other_merchant);
  auto r = audit("20261201", "20261203", {k_merchant, k_other_merchant});
  EXPECT_TRUE(r.clean()) << testing::PrintToString(lines_of(r));
  EXPECT_EQ(r.merchants, 2);
  EXPECT_EQ(r.statements, 6);
  // A merchant without any statement: each day of the range is missing.
  r = audit("20261202", "20261203", {k_merchant, 1003});
  EXPECT_EQ(lines_of(r), (lines{"merchant 1003: statement 20261202 missing",
                                "merchant 1003: statement 20261203 missing"}));
}

TEST_F(StatementAudit, AStatementsDirThatIsNotThereCannotBeAudited) {
  const auto r = audit_statements(fs::path(dir_) / "nowhere", k_plus8_s, {k_merchant},
                                  {day("20261201"), day("20261201")});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("is not a directory"), std::string::npos)
      << r.error().message();
}

TEST(StatementAuditRange, ParsesARangeOrOneDay) {
  const auto range = parse_day_range("20261201..20261203");
  ASSERT_TRUE(range) << range.error().message();
  EXPECT_EQ(range->from, day("20261201"));
  EXPECT_EQ(range->to, day("20261203"));
  EXPECT_EQ(range->days(), 3);
  EXPECT_EQ(range->to_string(), "20261201..20261203");

  const auto one = parse_day_range("20240229");
  ASSERT_TRUE(one) << one.error().message();
  EXPECT_EQ(one->from, day("20240229"));
  EXPECT_EQ(one->to, day("20240229"));

  // A leap year whole is the longest range.
  const auto year = parse_day_range("20240101..20241231");
  ASSERT_TRUE(year) << year.error().message();
  EXPECT_EQ(year->days(), 366);
}

TEST(StatementAuditRange, RefusesBadDatesBackwardsAndTooLongRanges) {
  struct row {
    const char* text;
    const char* error;
  };
  for (const row& e : {
           row{"20261203..20261201", "20261203 is after 20261201"},
           row{"20250101..20260102", "367 days, more than 366"},
           row{"20261301", "\"20261301\" is not YYYYMMDD..YYYYMMDD or YYYYMMDD"},
           row{"20261201..", "\"20261201..\" is not YYYYMMDD..YYYYMMDD or YYYYMMDD"},
           row{"20261201-20261203", "\"20261201-20261203\" is not YYYYMMDD..YYYYMMDD or YYYYMMDD"},
           row{"20261201..20261202..20261203",
               "\"20261201..20261202..20261203\" is not YYYYMMDD..YYYYMMDD or YYYYMMDD"},
           row{"", "\"\" is not YYYYMMDD..YYYYMMDD or YYYYMMDD"},
       }) {
    const auto r = parse_day_range(e.text);
    ASSERT_FALSE(r) << e.text;
    EXPECT_EQ(r.error().message(), e.error);
  }
}

}  // namespace
