// Step 2 of the books audit (engine/audit/log_replay): hand-built logs replayed without Redis. Each
// test states the money and the orders' histories a user would see, and each rule broken as the
// exact finding an operator reads.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "engine/audit/audit.hpp"
#include "engine/audit/books_checks.hpp"
#include "engine/audit/finding_sink.hpp"
#include "engine/audit/log_replay.hpp"
#include "engine/order/order_record.hpp"

namespace topup::engine {
namespace {

constexpr std::int64_t k_merchant = 1001;
constexpr fen_t k_cost_fen = 9950;
const std::string k_a = "A-order";
const std::string k_b = "B-order";

class AuditLogReplay : public ::testing::Test {
 protected:
  // Appends one entry as the scripts would write it (ids in order) and replays it; answers what
  // apply answers (the order it names).
  std::string apply(field_pairs fields) {
    order_event e;
    e.id = std::to_string(++seq_) + "-0";
    e.fields = std::move(fields);
    last_id_ = e.id;
    return replay_.apply(e);
  }

  void credit(const std::string& ref, fen_t amount) {
    bal_ += amount;
    apply({{"e", "credit"}, {"ref", ref}, {"amount", fen(amount)}, {"bal", fen(bal_)}});
  }
  void accept(const std::string& number, const std::string& to = "6") {
    bal_ -= k_cost_fen;
    apply({{"e", "accepted"},
           {"o", number},
           {"to", to},
           {"amount", fen(k_cost_fen)},
           {"bal", fen(bal_)}});
  }
  void step(const std::string& number, int v, const std::string& f, const std::string& t) {
    apply({{"e", "step"}, {"o", number}, {"v", std::to_string(v)}, {"f", f}, {"t", t}});
  }
  void refund(const std::string& number, int v, fen_t amount = k_cost_fen) {
    bal_ += amount;
    apply({{"e", "refund"},
           {"o", number},
           {"v", std::to_string(v)},
           {"f", "3"},
           {"t", "4"},
           {"why", "failed"},
           {"amount", fen(amount)},
           {"bal", fen(bal_)}});
  }
  void callback(const std::string& type, const std::string& number, int v) {
    apply({{"e", type}, {"o", number}, {"v", std::to_string(v)}});
  }

  static std::string fen(fen_t amount) { return std::to_string(amount); }

  // The findings about `order` ("" = the merchant's own) that contain `text`.
  int count(const std::string& order, const std::string& text) const {
    int n = 0;
    for (const auto& f : report_.findings)
      if (f.order_number == order && f.problem.find(text) != std::string::npos) ++n;
    return n;
  }

  std::string listing() const {
    std::string s;
    for (const auto& f : report_.findings) s += to_string(f) + "\n";
    return s;
  }

  const order_replay& order(const std::string& number) const { return replay_.orders().at(number); }

  audit_report report_;
  finding_sink out_{report_, k_merchant};
  log_replay replay_{k_merchant, out_};
  int seq_ = 0;
  fen_t bal_ = 0;
  std::string last_id_;
};

TEST_F(AuditLogReplay, CleanHistoriesHaveNoFindingsAndAddUp) {
  credit("fund-1", 100'000);
  accept(k_a);  // 6, then failed and refunded
  step(k_a, 2, "6", "7");
  step(k_a, 3, "7", "1");
  step(k_a, 4, "1", "3");
  refund(k_a, 5);
  accept(k_b, "7");  // 7, then delivered, its callback sent and sent again
  step(k_b, 2, "7", "1");
  step(k_b, 3, "1", "2");
  callback("cb", k_b, 4);
  callback("renotify", k_b, 5);

  EXPECT_TRUE(report_.findings.empty()) << listing();
  const money_replay& m = replay_.money();
  EXPECT_EQ(m.credits, 100'000);
  EXPECT_EQ(m.debits, 2 * k_cost_fen);
  EXPECT_EQ(m.refunds, k_cost_fen);
  EXPECT_EQ(m.running, 100'000 - k_cost_fen);
  EXPECT_FALSE(m.overflow);
  EXPECT_EQ(replay_.money_entries(), 4);
  EXPECT_EQ(replay_.order_entries(), 10);

  EXPECT_EQ(order(k_a).status, order_status::refunded);
  EXPECT_EQ(order(k_a).version, 5);
  EXPECT_TRUE(order(k_a).refunded);
  EXPECT_EQ(order(k_a).cost, k_cost_fen);
  EXPECT_EQ(order(k_b).status, order_status::success);
  EXPECT_EQ(order(k_b).version, 5);
  EXPECT_FALSE(order(k_b).refunded);
  EXPECT_TRUE(order(k_b).called_back);
  EXPECT_TRUE(replay_.accepted(k_a));
  EXPECT_FALSE(replay_.accepted("never"));
}

TEST_F(AuditLogReplay, ApplyAnswersTheOrderAnEntryNames) {
  credit("fund-1", 100'000);
  EXPECT_EQ(apply({{"e", "credit"}, {"ref", "r2"}, {"amount", "1"}, {"bal", "100001"}}), "");
  bal_ += 1;
  accept(k_a);
  EXPECT_EQ(apply({{"e", "step"}, {"o", k_a}, {"v", "2"}, {"f", "6"}, {"t", "7"}}), k_a);
  EXPECT_EQ(apply({{"e", "cb"}, {"v", "3"}}), "");
  EXPECT_EQ(count("", "(cb) names no order (o)"), 1) << listing();
  EXPECT_EQ(report_.findings.size(), 1u) << listing();
}

TEST_F(AuditLogReplay, EventOutOfVersionOrderIsFound) {
  credit("fund-1", 100'000);
  accept(k_a);
  step(k_a, 3, "6", "7");  // written before the entry at version 2
  step(k_a, 2, "7", "1");
  EXPECT_EQ(count(k_a, "(step) is version 3 of the order but the entry before it is version 1"), 1)
      << listing();
  EXPECT_EQ(count(k_a, "(step) is version 2 of the order but the entry before it is version 3"), 1)
      << listing();
  EXPECT_EQ(report_.findings.size(), 2u) << listing();
  // The replay goes on from what each entry says.
  EXPECT_EQ(order(k_a).version, 2);
  EXPECT_EQ(order(k_a).status, order_status::recharging);
}

TEST_F(AuditLogReplay, VersionThatIsNotANumberIsFound) {
  credit("fund-1", 100'000);
  accept(k_a);
  apply({{"e", "step"}, {"o", k_a}, {"v", "two"}, {"f", "6"}, {"t", "7"}});
  step(k_a, 3, "7", "1");
  EXPECT_EQ(count(k_a, "has the version \"two\", not a number"), 1) << listing();
  EXPECT_EQ(report_.findings.size(), 1u) << listing();
}

TEST_F(AuditLogReplay, RefundWithoutAnAcceptIsFound) {
  credit("fund-1", 100'000);
  refund(k_a, 2, 500);
  EXPECT_EQ(count(k_a, "(refund) comes before any accepted entry of the order"), 1) << listing();
  EXPECT_EQ(count(k_a, "credits back 500 fen but the order was debited 0 fen"), 1) << listing();
  EXPECT_EQ(count(k_a, "is version 2 of the order but the entry before it is version 0"), 1)
      << listing();
  EXPECT_EQ(report_.findings.size(), 3u) << listing();
  EXPECT_FALSE(replay_.accepted(k_a));
  // The money moved all the same: the account must show it, and does only if it was credited.
  EXPECT_EQ(replay_.money().refunds, 500);
}

TEST_F(AuditLogReplay, TwoRefundsOfOneOrderAreFound) {
  credit("fund-1", 100'000);
  accept(k_a);
  step(k_a, 2, "6", "3");
  refund(k_a, 3);
  refund(k_a, 4);
  EXPECT_EQ(count(k_a, "refunds the order a second time (a refund is credited once)"), 1)
      << listing();
  EXPECT_EQ(report_.findings.size(), 1u) << listing();
  EXPECT_EQ(replay_.money().refunds, 2 * k_cost_fen);
}

TEST_F(AuditLogReplay, RefundBeforeTheOrderFailedIsFound) {
  credit("fund-1", 100'000);
  accept(k_a);
  step(k_a, 2, "6", "7");
  refund(k_a, 3);
  EXPECT_EQ(count(k_a, "refunds the order in 7, not after ->3"), 1) << listing();
  EXPECT_EQ(report_.findings.size(), 1u) << listing();
}

TEST_F(AuditLogReplay, RefundOfAnotherAmountOrMoveIsFound) {
  credit("fund-1", 100'000);
  accept(k_a);
  step(k_a, 2, "6", "3");
  bal_ += k_cost_fen - 1;
  apply({{"e", "refund"},
         {"o", k_a},
         {"v", "3"},
         {"f", "1"},
         {"t", "4"},
         {"amount", fen(k_cost_fen - 1)},
         {"bal", fen(bal_)}});
  EXPECT_EQ(count(k_a, "moves from \"1\" to \"4\", not 3->4"), 1) << listing();
  EXPECT_EQ(count(k_a, "credits back 9949 fen but the order was debited 9950 fen"), 1) << listing();
  EXPECT_EQ(report_.findings.size(), 2u) << listing();
}

TEST_F(AuditLogReplay, CreditRefRepeatedWithAnotherAmountIsFound) {
  credit("fix-1", 500);
  credit("fix-1", 700);
  EXPECT_EQ(count("", "(credit \"fix-1\") repeats a ref the log credited before"), 1) << listing();
  EXPECT_EQ(report_.findings.size(), 1u) << listing();
  // Both moved the balance; the ref keeps the amount first credited, which `crefs` must hold.
  EXPECT_EQ(replay_.money().credits, 1200);
  ASSERT_EQ(replay_.money().credit_refs.size(), 1u);
  EXPECT_EQ(replay_.money().credit_refs.at("fix-1"), 500);
}

TEST_F(AuditLogReplay, CreditWithoutARefOrAmountIsFound) {
  apply({{"e", "credit"}, {"amount", "5"}, {"bal", "5"}});
  apply({{"e", "credit"}, {"ref", "r"}, {"amount", "five"}, {"bal", "5"}});
  EXPECT_EQ(count("", "(credit) has no ref"), 1) << listing();
  EXPECT_EQ(count("", "(credit \"r\") has the amount \"five\", not an integer"), 1) << listing();
  EXPECT_EQ(report_.findings.size(), 2u) << listing();
  EXPECT_TRUE(replay_.money().credit_refs.empty());
}

TEST_F(AuditLogReplay, StepToAnIllegalStatusIsFound) {
  credit("fund-1", 100'000);
  accept(k_a);
  step(k_a, 2, "6", "5");  // 5 is no status at all
  EXPECT_EQ(count(k_a, "(step) moves from \"6\" to \"5\", which are not both statuses"), 1)
      << listing();
  accept(k_b);
  step(k_b, 2, "6", "2");  // both statuses, but not a transition of spec §4
  EXPECT_EQ(count(k_b, "(step): 6->2 is not an allowed transition (spec §4)"), 1) << listing();
  EXPECT_EQ(report_.findings.size(), 2u) << listing();
  EXPECT_EQ(order(k_a).status, std::nullopt);  // unknown from here: later entries not judged by it
  EXPECT_EQ(order(k_b).status, order_status::success);
}

TEST_F(AuditLogReplay, StepsThatAreAcceptsOrRefundsAreFound) {
  credit("fund-1", 100'000);
  accept(k_a);
  step(k_a, 2, "6", "3");
  step(k_a, 3, "3", "4");
  EXPECT_EQ(count(k_a, "3->4 as a step: only a refund entry, with its money, moves an order to 4"),
            1)
      << listing();
  accept(k_b);
  step(k_b, 2, "0", "6");
  EXPECT_EQ(count(k_b, "(step): 0->6 is the accepted entry's, not a step's"), 1) << listing();
  EXPECT_EQ(count(k_b, "0->6 but the log before it leaves the order in 6"), 1) << listing();
  EXPECT_EQ(report_.findings.size(), 3u) << listing();
}

TEST_F(AuditLogReplay, StepFromWhereTheOrderIsNotIsFound) {
  credit("fund-1", 100'000);
  accept(k_a);
  step(k_a, 2, "7", "1");
  EXPECT_EQ(count(k_a, "(step): 7->1 but the log before it leaves the order in 6"), 1) << listing();
  EXPECT_EQ(report_.findings.size(), 1u) << listing();
}

TEST_F(AuditLogReplay, SecondAcceptedEntryIsADoubleDebit) {
  credit("fund-1", 100'000);
  accept(k_a);
  accept(k_a);
  EXPECT_EQ(count(k_a, "is a second accepted entry of the order (a second debit)"), 1) << listing();
  EXPECT_EQ(report_.findings.size(), 1u) << listing();
  EXPECT_EQ(replay_.money().debits, 2 * k_cost_fen);
  EXPECT_EQ(order(k_a).version, 1);
}

TEST_F(AuditLogReplay, AcceptedIntoAnotherStatusIsFound) {
  credit("fund-1", 100'000);
  accept(k_a, "2");
  EXPECT_EQ(count(k_a, "moves the order from 0 to \"2\", not to 6 or 7"), 1) << listing();
  EXPECT_EQ(report_.findings.size(), 1u) << listing();
}

TEST_F(AuditLogReplay, AcceptedRecordThatDisagreesWithItsEntryIsFound) {
  credit("fund-1", 100'000);
  order_record r;
  r.order_number = "someone-else";
  r.order_no = "no-1";
  r.merchant_id = 7;
  r.mobile = "13800138000";
  r.money_yuan = 100;
  r.fingerprint = "fp-1";
  r.cost_fen = k_cost_fen + 1;
  r.status = order_status::matched;
  r.created_at_ms = 1'700'000'000'000;
  r.event_count = 2;
  r.refunded = true;
  bal_ -= k_cost_fen;
  apply({{"e", "accepted"},
         {"o", k_a},
         {"to", "6"},
         {"amount", fen(k_cost_fen)},
         {"bal", fen(bal_)},
         {"r", pack_order(r)}});
  for (const char* text :
       {"its record (r) is at version 2, not 1", "its record (r) is in status 7, not 6",
        "its record (r) costs 9951 fen but the entry debits 9950 fen",
        "its record (r) is already refunded", "its record (r) is of order \"someone-else\"",
        "its record (r) is of merchant 7"})
    EXPECT_EQ(count(k_a, text), 1) << text << "\n" << listing();
  EXPECT_EQ(report_.findings.size(), 6u) << listing();
  // What its projections must repeat.
  ASSERT_TRUE(order(k_a).facts);
  EXPECT_EQ(order(k_a).facts->order_no, "no-1");
  EXPECT_EQ(order(k_a).facts->fingerprint, "fp-1");
  EXPECT_EQ(order(k_a).facts->created_at_ms, 1'700'000'000'000);

  apply({{"e", "accepted"},
         {"o", k_b},
         {"to", "6"},
         {"amount", "0"},
         {"bal", fen(bal_)},
         {"r", "not a record"}});
  EXPECT_EQ(count(k_b, "its record (r) does not unpack"), 1) << listing();
}

TEST_F(AuditLogReplay, CallbackBeforeTheOrderIsFinalIsFound) {
  credit("fund-1", 100'000);
  accept(k_a);
  callback("cb", k_a, 2);
  callback("renotify", k_a, 3);
  EXPECT_EQ(count(k_a, "(cb) comes while the order is in 6, not final"), 1) << listing();
  EXPECT_EQ(count(k_a, "(renotify) comes while the order is in 6, not final"), 1) << listing();
  EXPECT_EQ(report_.findings.size(), 2u) << listing();
  EXPECT_TRUE(order(k_a).called_back);
}

// One break, one finding: the entries after a wrong bal are judged against what it recorded.
TEST_F(AuditLogReplay, WrongBalIsOneFinding) {
  credit("fund-1", 1000);
  apply({{"e", "credit"}, {"ref", "fund-2"}, {"amount", "500"}, {"bal", "1501"}});
  bal_ = 1501;
  credit("fund-3", 100);
  EXPECT_EQ(count("",
                  "(credit \"fund-2\") records bal 1501 fen but the log up to it adds up to "
                  "1500 fen"),
            1)
      << listing();
  EXPECT_EQ(report_.findings.size(), 1u) << listing();
}

TEST_F(AuditLogReplay, BalanceBelowZeroIsFound) {
  accept(k_a);
  EXPECT_EQ(count("", "of order \"A-order\" leaves the balance at -9950 fen, below 0"), 1)
      << listing();
  apply({{"e", "credit"}, {"ref", "neg"}, {"amount", "-5"}, {"bal", fen(bal_ - 5)}});
  EXPECT_EQ(count("", "(credit \"neg\") leaves the balance at -9955 fen, below 0"), 1) << listing();
  EXPECT_EQ(report_.findings.size(), 2u) << listing();
}

TEST_F(AuditLogReplay, NegativeDebitIsFound) {
  credit("fund-1", 1000);
  bal_ += 5;
  apply({{"e", "accepted"}, {"o", k_a}, {"to", "6"}, {"amount", "-5"}, {"bal", fen(bal_)}});
  EXPECT_EQ(count("", "(accepted) of order \"A-order\" moves -5 fen, below 0"), 1) << listing();
  EXPECT_EQ(report_.findings.size(), 1u) << listing();
}

TEST_F(AuditLogReplay, EntriesWithoutTypeOrOrderAreFound) {
  credit("fund-1", 100'000);
  apply({{"o", k_a}});
  apply({{"e", "teleport"}, {"o", k_a}});
  bal_ -= k_cost_fen;
  apply({{"e", "accepted"}, {"to", "6"}, {"amount", fen(k_cost_fen)}, {"bal", fen(bal_)}});
  EXPECT_EQ(count("", "log entry 2-0 has no type (e)"), 1) << listing();
  EXPECT_EQ(count("", "log entry 3-0 has the unknown type \"teleport\""), 1) << listing();
  EXPECT_EQ(count("", "log entry 4-0 (accepted) names no order (o)"), 1) << listing();
  EXPECT_EQ(report_.findings.size(), 3u) << listing();
  // The debit happened whether or not the entry names its order.
  EXPECT_EQ(replay_.money().debits, k_cost_fen);
  EXPECT_EQ(replay_.order_entries(), 1);
  EXPECT_TRUE(replay_.orders().empty());
}

TEST_F(AuditLogReplay, SumsThatOverflowAreNotCompared) {
  const fen_t max = std::numeric_limits<fen_t>::max();
  apply({{"e", "credit"}, {"ref", "a"}, {"amount", fen(max)}, {"bal", fen(max)}});
  apply({{"e", "credit"}, {"ref", "b"}, {"amount", "1"}, {"bal", fen(max)}});
  EXPECT_TRUE(replay_.money().overflow);
  check_account_against_log(account_totals{max, max, 0, 0}, replay_.money(), out_);
  EXPECT_EQ(count("", "the log's amounts overflow 64 bits; its sums cannot be compared"), 1)
      << listing();
}

// A trimmed log (engine/retention/log_trimmer) is replayed from its checkpoint: the money goes on
// from the checkpoint's totals, and an order whose first entries were trimmed (accepted before
// the checkpoint) starts where its first entry replayed starts, its versions still without gaps.
TEST_F(AuditLogReplay, SeededFromACheckpointTheMoneyGoesOnFromItsTotalsAndOrdersAcceptedBeforeIt) {
  log_checkpoint c;
  c.id = "1-0";
  c.credits_fen = 100'000;
  c.debits_fen = 2 * k_cost_fen;
  c.refunds_fen = 0;
  c.balance_fen = 100'000 - 2 * k_cost_fen;
  replay_.seed(c);
  bal_ = c.balance_fen;
  seq_ = 1;
  step(k_a, 4, "1", "3");  // k_a was accepted (and moved twice) before the checkpoint
  refund(k_a, 5);
  callback("cb", k_a, 6);
  accept(k_b);
  credit("fund-2", 5);

  EXPECT_TRUE(report_.findings.empty()) << listing();
  const money_replay& m = replay_.money();
  EXPECT_EQ(m.credits, 100'005);
  EXPECT_EQ(m.debits, 3 * k_cost_fen);
  EXPECT_EQ(m.refunds, k_cost_fen);
  EXPECT_EQ(m.running, 100'005 - 2 * k_cost_fen);
  EXPECT_FALSE(replay_.accepted(k_a));
  EXPECT_TRUE(order(k_a).before_checkpoint);
  EXPECT_EQ(order(k_a).version, 6);
  EXPECT_EQ(order(k_a).status, order_status::refunded);
  EXPECT_TRUE(replay_.accepted(k_b));
  EXPECT_FALSE(order(k_b).before_checkpoint);

  // Its versions still go up by one, and its accepted entry cannot come after them.
  callback("cb", k_a, 8);
  accept(k_a);
  EXPECT_EQ(count(k_a, "is version 8 of the order but the entry before it is version 6"), 1)
      << listing();
  EXPECT_EQ(count(k_a, "comes after entries of the order"), 1) << listing();
}

TEST_F(AuditLogReplay, WithoutACheckpointAnOrdersEntriesBeforeItsAcceptedOneAreFindings) {
  credit("fund-1", 100'000);
  step(k_a, 4, "1", "3");
  EXPECT_EQ(count(k_a, "comes before any accepted entry of the order"), 1) << listing();
  EXPECT_FALSE(order(k_a).before_checkpoint);
}

TEST_F(AuditLogReplay, SeededWithWrongTotalsTheFirstBalIsAFinding) {
  log_checkpoint c;
  c.id = "1-0";
  c.credits_fen = 1000;
  c.balance_fen = 999;  // says 999, but its money entries left 1000
  replay_.seed(c);
  bal_ = 1000;
  seq_ = 1;
  credit("fund-2", 5);
  EXPECT_EQ(count("", "records bal 1005 fen but the log up to it adds up to 1004 fen"), 1)
      << listing();
}

}  // namespace
}  // namespace topup::engine
