// Steps 3 to 6 of the books audit (engine/audit/books_checks): `acct`, `crefs` and the projections
// `o`, `t`, `work` as typed values, compared with a replay built by hand. No Redis.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/audit/audit.hpp"
#include "engine/audit/books_checks.hpp"
#include "engine/audit/finding_sink.hpp"
#include "engine/audit/log_replay.hpp"
#include "engine/audit/stored_books.hpp"
#include "engine/order/order_record.hpp"

namespace topup::engine {
namespace {

constexpr std::int64_t k_merchant = 1001;
constexpr fen_t k_cost_fen = 9950;
constexpr std::int64_t k_created_ms = 1'700'000'000'000;
const std::string k_number = "N-1";

read_value present(std::string text) {
  return read_value{read_value::state::present, std::move(text)};
}
read_value absent() { return read_value{}; }
read_value unreadable() {
  return read_value{read_value::state::unreadable,
                    "WRONGTYPE Operation against a key holding the wrong kind of value"};
}

int count(const std::vector<std::string>& problems, const std::string& text) {
  int n = 0;
  for (const auto& p : problems)
    if (p.find(text) != std::string::npos) ++n;
  return n;
}

std::string listing(const std::vector<std::string>& problems) {
  std::string s;
  for (const auto& p : problems) s += p + "\n";
  return s;
}

// The replay of an order the log left in `status` after `version` entries, accepted with `r`.
order_replay replayed(order_status status, std::int64_t version) {
  order_replay o;
  o.accepted = true;
  o.status = status;
  o.version = version;
  o.cost = k_cost_fen;
  o.refunded = status == order_status::refunded;
  o.facts = accepted_facts{"no-1", "fp-1", k_created_ms};
  return o;
}

// The record the scripts would have stored for `o`.
order_record record_of(const order_replay& o) {
  order_record r;
  r.order_number = k_number;
  r.order_no = "no-1";
  r.merchant_id = k_merchant;
  r.mobile = "13800138000";
  r.money_yuan = 100;
  r.notify_url = "http://merchant.example/cb";
  r.fingerprint = "fp-1";
  r.cost_fen = o.cost;
  r.status = *o.status;
  r.refunded = o.refunded;
  r.created_at_ms = r.updated_at_ms = k_created_ms;
  r.finished_at_ms = is_terminal(*o.status) ? k_created_ms + 9 : 0;
  r.event_count = o.version;
  return r;
}

// Projections as the scripts leave them: `work` holds a final order only with `work_score`.
order_projections projections_of(const order_record& r, std::optional<std::string> work_score) {
  order_projections read;
  read.record = present(pack_order(r));
  read.order_no_entry = present(k_number + ":fp-1");
  read.by_time = present(std::to_string(k_created_ms));
  if (!is_terminal(r.status))
    read.work = present(std::to_string(-k_created_ms));
  else if (work_score)
    read.work = present(*work_score);
  return read;
}

projection_verdict check(const order_replay& o, const order_projections& read,
                         bool may_have_moved = false) {
  return check_order_projections(k_number, k_merchant, o, read, may_have_moved);
}

TEST(AuditBooksChecks, ProjectionsThatAgreeWithTheReplayHaveNoProblems) {
  for (auto status : {order_status::waiting, order_status::recharging, order_status::success,
                      order_status::refunded}) {
    const auto o = replayed(status, 3);
    const auto verdict = check(o, projections_of(record_of(o), std::nullopt));
    EXPECT_TRUE(verdict.problems.empty()) << to_int(status) << "\n" << listing(verdict.problems);
    EXPECT_FALSE(verdict.moved);
    EXPECT_EQ(verdict.order_no, "no-1");
  }
}

TEST(AuditBooksChecks, RecordThatDisagreesWithTheReplayIsFound) {
  auto o = replayed(order_status::recharging, 3);
  o.called_back = true;
  auto r = record_of(o);
  r.status = order_status::matched;
  r.cost_fen = k_cost_fen - 1;
  r.refunded = true;
  r.merchant_id = 7;
  r.notify_url.clear();
  r.finished_at_ms = k_created_ms;
  r.fingerprint = "fp-other";
  const auto verdict = check(o, projections_of(r, std::nullopt));
  const auto& p = verdict.problems;
  for (const char* text :
       {"its record is in status 7 but the log leaves it in 1",
        "its record costs 9949 fen but the log debited 9950 fen",
        "its record is refunded but the log has no refund of it", "its record is of merchant 7",
        "its record's fingerprint is \"fp-other\", the accepted entry's \"fp-1\"",
        "the log has callback entries of the order but it has no notify_url",
        "its record has a finished_at but the order is in 1, not final"})
    EXPECT_EQ(count(p, text), 1) << text << "\n" << listing(p);
  EXPECT_EQ(p.size(), 7u) << listing(p);
}

TEST(AuditBooksChecks, FinalOrderWithoutFinishedAtIsFound) {
  const auto o = replayed(order_status::success, 4);
  auto r = record_of(o);
  r.finished_at_ms = 0;
  const auto verdict = check(o, projections_of(r, std::nullopt));
  EXPECT_EQ(count(verdict.problems, "final (2) but its record has no finished_at"), 1)
      << listing(verdict.problems);
  EXPECT_EQ(verdict.problems.size(), 1u) << listing(verdict.problems);
}

// A record ahead of the replay is an order that moved after the entries replayed, while it may
// have; once it may not, the record is simply wrong.
TEST(AuditBooksChecks, RecordAheadOfTheReplayIsAMoveOrAProblem) {
  const auto o = replayed(order_status::recharging, 3);
  auto r = record_of(o);
  r.event_count = 4;
  const auto read = projections_of(r, std::nullopt);
  const auto moving = check(o, read, true);
  EXPECT_TRUE(moving.moved);
  EXPECT_TRUE(moving.problems.empty()) << listing(moving.problems);
  const auto settled = check(o, read, false);
  EXPECT_FALSE(settled.moved);
  EXPECT_EQ(count(settled.problems, "its record is at version 4 but the log has 3 entries"), 1)
      << listing(settled.problems);
  EXPECT_EQ(settled.problems.size(), 1u) << listing(settled.problems);
}

TEST(AuditBooksChecks, AFinalOrderWithEveryProjectionGoneWasArchivedAndAnythingLessIsAFinding) {
  for (auto status : {order_status::success, order_status::refunded}) {
    const auto o = replayed(status, 3);
    order_projections gone;  // what the retire script leaves
    const auto archived = check(o, gone);
    EXPECT_TRUE(archived.archived);
    EXPECT_TRUE(archived.problems.empty()) << listing(archived.problems);
    // A later order took its order_no since: still archived.
    order_projections reused;
    reused.order_no_entry = present("T1700000000999000000000001M1001:fp-later");
    EXPECT_TRUE(check(o, reused).archived);
    // Half gone is no archive: the time index still lists it.
    order_projections half;
    half.by_time = present("1700000000001");
    const auto partial = check(o, half);
    EXPECT_FALSE(partial.archived);
    EXPECT_EQ(count(partial.problems, "the log accepted the order but o has no record of it"), 1)
        << listing(partial.problems);
  }
  // An order not final is never archived: its projections gone is a finding.
  const auto waiting = check(replayed(order_status::waiting, 1), order_projections{});
  EXPECT_FALSE(waiting.archived);
  EXPECT_FALSE(waiting.problems.empty());
}

TEST(AuditBooksChecks, MissingProjectionsAreFound) {
  const auto o = replayed(order_status::waiting, 1);
  order_projections read;  // nothing stored at all
  const auto verdict = check(o, read);
  const auto& p = verdict.problems;
  EXPECT_EQ(count(p, "the log accepted the order but o has no record of it"), 1) << listing(p);
  EXPECT_EQ(count(p, "o has no entry \"#no-1\": a repeat of the order_no would be accepted again"),
            1)
      << listing(p);
  EXPECT_EQ(count(p, "not in t: listing orders would miss it"), 1) << listing(p);
  EXPECT_EQ(count(p, "in 6 (not final) but not in work: recovery would not resume it"), 1)
      << listing(p);
  EXPECT_EQ(p.size(), 4u) << listing(p);
  EXPECT_EQ(verdict.order_no, "no-1");  // the log's word
}

TEST(AuditBooksChecks, UnreadableProjectionsAreFound) {
  const auto o = replayed(order_status::waiting, 1);
  order_projections read;
  read.record = unreadable();
  read.order_no_entry = unreadable();
  read.by_time = unreadable();
  read.work = unreadable();
  const auto& p = check(o, read).problems;
  EXPECT_EQ(count(p, "o is unreadable: \"WRONGTYPE"), 1) << listing(p);
  EXPECT_EQ(count(p, "t is unreadable: \"WRONGTYPE"), 1) << listing(p);
  EXPECT_EQ(count(p, "work is unreadable: \"WRONGTYPE"), 1) << listing(p);
  EXPECT_EQ(p.size(), 3u) << listing(p);  // the order_no entry is in `o`: said once
}

TEST(AuditBooksChecks, RecordThatDoesNotUnpackIsFound) {
  const auto o = replayed(order_status::waiting, 1);
  auto read = projections_of(record_of(o), std::nullopt);
  read.record = present("garbage");
  const auto& p = check(o, read).problems;
  EXPECT_EQ(count(p, "its record in o does not unpack"), 1) << listing(p);
  EXPECT_EQ(p.size(), 1u) << listing(p);
}

TEST(AuditBooksChecks, OrderNoEntryAndTimeIndexElsewhereAreFound) {
  const auto o = replayed(order_status::waiting, 1);
  auto read = projections_of(record_of(o), std::nullopt);
  read.order_no_entry = present("N-2:fp-2");
  read.by_time = present("5");
  const auto& p = check(o, read).problems;
  EXPECT_EQ(count(p, "o's entry \"#no-1\" is \"N-2:fp-2\", not \"N-1:fp-1\""), 1) << listing(p);
  EXPECT_EQ(count(p, "t holds it at \"5\", not at its created_at (1700000000000)"), 1)
      << listing(p);
  EXPECT_EQ(p.size(), 2u) << listing(p);
}

// An accepted entry without its record: the record in `o` is the only word on order_no,
// fingerprint and created_at.
TEST(AuditBooksChecks, WithoutTheAcceptedRecordTheStoredOneSpeaks) {
  auto o = replayed(order_status::waiting, 1);
  o.facts.reset();
  auto r = record_of(o);
  r.order_no = "no-9";
  r.created_at_ms = 42;
  auto read = projections_of(r, std::nullopt);
  read.order_no_entry = present("N-1:fp-1");
  read.work = present("-42");
  read.by_time = present("42");
  const auto verdict = check(o, read);
  EXPECT_TRUE(verdict.problems.empty()) << listing(verdict.problems);
  EXPECT_EQ(verdict.order_no, "no-9");
}

TEST(AuditBooksChecks, WorkOfOrdersIsChecked) {
  const auto waiting = replayed(order_status::waiting, 1);
  auto read = projections_of(record_of(waiting), std::nullopt);
  read.work = present("123");
  EXPECT_EQ(count(check(waiting, read).problems,
                  "in 6 (not final) but work holds it at \"123\", not -created_at"),
            1);
  read.work = present("-5");
  EXPECT_EQ(count(check(waiting, read).problems,
                  "work holds it at \"-5\", not -created_at (-1700000000000)"),
            1);

  const auto done = replayed(order_status::success, 4);
  auto pending = record_of(done);
  pending.callback.status = callback_status::pending;
  EXPECT_TRUE(check(done, projections_of(pending, "1700000001000")).problems.empty());
  EXPECT_EQ(count(check(done, projections_of(pending, std::nullopt)).problems,
                  "final (2) with its callback pending but not in work: the callback would never "
                  "be sent"),
            1);
  EXPECT_EQ(count(check(done, projections_of(pending, "-5")).problems,
                  "final (2) but work holds it at \"-5\", as an order still to finish"),
            1);
  EXPECT_EQ(count(check(done, projections_of(record_of(done), "123")).problems,
                  "final (2) with no callback pending but still in work"),
            1);
}

TEST(AuditBooksChecks, AccountThatDoesNotAddUpIsFound) {
  audit_report report;
  finding_sink out(report, k_merchant);
  check_account_adds_up(account_totals{70, 100, 30, 0}, out);
  EXPECT_TRUE(report.findings.empty());
  check_account_adds_up(account_totals{71, 100, 30, 0}, out);
  check_account_adds_up(account_totals{-10, 0, 10, 0}, out);
  ASSERT_EQ(report.findings.size(), 2u);
  EXPECT_EQ(report.findings[0].problem,
            "acct balance 71 fen is not credits 100 fen - debits 30 fen + refunds 0 fen");
  EXPECT_EQ(report.findings[1].problem, "acct balance -10 fen is below 0");
}

TEST(AuditBooksChecks, AccountAgainstTheLogIsCheckedSumBySum) {
  audit_report report;
  finding_sink out(report, k_merchant);
  money_replay m;
  m.credits = 100;
  m.debits = 30;
  m.refunds = 10;
  check_account_against_log(account_totals{80, 100, 30, 10}, m, out);
  EXPECT_TRUE(report.findings.empty());
  check_account_against_log(account_totals{81, 101, 30, 10}, m, out);
  ASSERT_EQ(report.findings.size(), 2u);
  EXPECT_EQ(report.findings[0].problem, "acct balance is 81 fen but the log adds up to 80 fen");
  EXPECT_EQ(report.findings[1].problem,
            "acct credits are 101 fen but the log's credits add up to 100 fen");
  check_account_against_log(account_totals{79, 100, 31, 10}, m, out);
  check_account_against_log(account_totals{79, 100, 30, 9}, m, out);
  ASSERT_EQ(report.findings.size(), 6u);
  EXPECT_EQ(report.findings[3].problem,
            "acct debits are 31 fen but the log's accepted entries debit 30 fen");
  EXPECT_EQ(report.findings[5].problem,
            "acct refunds are 9 fen but the log's refunds add up to 10 fen");
}

// A ref credited twice with another amount: the replay keeps the first, and `crefs` must hold it.
TEST(AuditBooksChecks, CreditRefsAreCheckedAgainstTheLog) {
  audit_report report;
  finding_sink out(report, k_merchant);
  money_replay m;
  m.credit_refs = {{"fix-1", 500}, {"fix-2", 7}};
  check_credit_ref_count(2, m, 0, out);
  check_credit_ref("fix-1", 500, present("500"), out);
  EXPECT_TRUE(report.findings.empty());
  check_credit_ref_count(3, m, 0, out);
  check_credit_ref("fix-1", 500, present("700"), out);
  check_credit_ref("fix-2", 7, absent(), out);
  ASSERT_EQ(report.findings.size(), 3u);
  EXPECT_EQ(report.findings[0].problem, "crefs holds 3 refs but the log credits 2");
  EXPECT_EQ(report.findings[1].problem,
            "crefs holds \"700\" for ref \"fix-1\" but the log credited 500 fen");
  EXPECT_EQ(report.findings[2].problem,
            "the log credits ref \"fix-2\" but crefs has no entry for it: a repeat would be "
            "credited again");
  // After a trim, crefs also holds the refs the checkpoint counted.
  check_credit_ref_count(5, m, 3, out);
  check_credit_ref_count(4, m, 3, out);
  ASSERT_EQ(report.findings.size(), 4u);
  EXPECT_EQ(report.findings[3].problem,
            "crefs holds 4 refs but the log credits 2 after its checkpoint and the checkpoint 3 "
            "before it");
}

class AuditProjectionScan : public ::testing::Test {
 protected:
  void SetUp() override {
    accept("A");
    EXPECT_TRUE(report_.findings.empty());
  }

  // A credit and an order accepted with it, as the scripts log them.
  void accept(const std::string& number) {
    order_event credit;
    credit.id = "1-" + number;
    credit.fields = {{"e", "credit"},
                     {"ref", "r" + number},
                     {"amount", std::to_string(k_cost_fen)},
                     {"bal", std::to_string(bal_ + k_cost_fen)}};
    replay_.apply(credit);
    order_event accepted;
    accepted.id = "2-" + number;
    accepted.fields = {{"e", "accepted"},
                       {"o", number},
                       {"to", "6"},
                       {"amount", std::to_string(k_cost_fen)},
                       {"bal", std::to_string(bal_)}};
    replay_.apply(accepted);
  }

  fen_t bal_ = 0;
  audit_report report_;
  finding_sink out_{report_, k_merchant};
  log_replay replay_{k_merchant, out_};
  projection_scan scan_;
};

TEST_F(AuditProjectionScan, OrdersTheLogNeverAcceptedAreFoundWithWhereTheyWereSeen) {
  scan_.check_orders_field("A", "record", replay_, out_);
  scan_.check_index_member("t", "A", replay_);
  EXPECT_FALSE(scan_.waiting());
  scan_.check_orders_field("G", "record", replay_, out_);
  scan_.check_orders_field("#no-g", "G:fp-g", replay_, out_);
  scan_.check_index_member("t", "G", replay_);
  scan_.check_index_member("work", "G", replay_);
  EXPECT_TRUE(scan_.waiting());
  scan_.report_unlogged(replay_, out_);
  EXPECT_FALSE(scan_.waiting());
  ASSERT_EQ(report_.findings.size(), 1u);
  EXPECT_EQ(report_.findings[0].order_number, "G");
  EXPECT_EQ(report_.findings[0].problem,
            "in o, o's entry \"#no-g\", t and work but the log has no accepted entry of the order");
}

// A projection read before the log's later entries may name an order accepted since.
TEST_F(AuditProjectionScan, OrdersAcceptedAfterTheScanAreNotFindings) {
  scan_.check_index_member("work", "L", replay_);
  accept("L");
  scan_.report_unlogged(replay_, out_);
  EXPECT_TRUE(report_.findings.empty());
}

TEST_F(AuditProjectionScan, OrderNoEntriesOfAnotherOrderNoAreFound) {
  scan_.note_order_no("A", "no-a");
  scan_.check_orders_field("#no-a", "A:fp-a", replay_, out_);
  EXPECT_TRUE(report_.findings.empty());
  scan_.check_orders_field("#no-x", "A:fp-a", replay_, out_);
  scan_.check_orders_field("#no-y", "no separator", replay_, out_);
  ASSERT_EQ(report_.findings.size(), 2u);
  EXPECT_EQ(report_.findings[0].order_number, "A");
  EXPECT_EQ(report_.findings[0].problem,
            "o's entry \"#no-x\" names it but its order_no is \"no-a\"");
  EXPECT_EQ(report_.findings[1].order_number, "");
  EXPECT_EQ(report_.findings[1].problem,
            "o's entry \"#no-y\" is \"no separator\", not <order_number>:<fingerprint>");
}

TEST(AuditFindingSink, FindingsBeyondTheBoundAreCounted) {
  audit_report report;
  finding_sink out(report, k_merchant);
  for (std::size_t i = 0; i < k_audit_findings_max + 3; ++i) out.add("", "x");
  EXPECT_EQ(report.findings.size(), k_audit_findings_max);
  EXPECT_EQ(report.findings_not_listed, 3);
  EXPECT_FALSE(report.clean());
}

TEST(AuditBooksChecks, ACheckpointIsCheckedAgainstItselfAndTheLogsFirstEntry) {
  audit_report report;
  finding_sink out(report, k_merchant);
  log_checkpoint c{.id = "1700000000000-3", .balance_fen = 80, .credits_fen = 100,
                   .debits_fen = 30, .refunds_fen = 10, .refs = 1, .entries = 5,
                   .money_entries = 4, .orders = 2};
  check_checkpoint(c, "1700000000000-3", out);
  check_checkpoint(c, "", out);
  EXPECT_TRUE(report.findings.empty());
  c.balance_fen = 81;
  check_checkpoint(c, "1700000000000-2", out);
  c.balance_fen = 80;
  c.orders = 5;
  check_checkpoint(c, "1700000000001-0", out);
  ASSERT_EQ(report.findings.size(), 3u);
  EXPECT_EQ(report.findings[0].problem,
            "ckpt balance 81 fen is not credits 100 fen - debits 30 fen + refunds 10 fen");
  EXPECT_EQ(report.findings[1].problem,
            "the log's first entry \"1700000000000-2\" is below its checkpoint's position "
            "\"1700000000000-3\" (the trim removes every entry below it)");
  EXPECT_EQ(report.findings[2].problem,
            "ckpt counts do not fit together: 5 entries, 4 money entries, 5 orders, 1 refs");
}

// After a trim, the refs of crefs the log no longer credits are the checkpoint's: as many as it
// counted, adding up to its sum.
TEST(AuditBooksChecks, CreditRefsBeforeTheCheckpointAddUpToItsSum) {
  const log_checkpoint c{.refs = 2, .refs_fen = 700};
  EXPECT_EQ(trimmed_refs_problem({{"a", "500"}, {"b", "200"}}, c), "");
  EXPECT_EQ(trimmed_refs_problem({{"a", "500"}, {"b", "201"}}, c),
            "crefs holds 2 refs adding up to 701 fen that the log after its checkpoint does not "
            "credit, but the checkpoint trimmed 2 adding up to 700 fen");
  EXPECT_EQ(trimmed_refs_problem({{"a", "700"}}, c),
            "crefs holds 1 refs adding up to 700 fen that the log after its checkpoint does not "
            "credit, but the checkpoint trimmed 2 adding up to 700 fen");
  EXPECT_EQ(trimmed_refs_problem({{"a", "x"}, {"b", "200"}}, c),
            "crefs holds \"x\" for ref \"a\", not an integer");
}

}  // namespace
}  // namespace topup::engine
