// The books audit (engine/audit/audit.hpp, `topupd audit`) against a real redis-server, layout v2: books
// written by the real order store (its ledger scripts) are clean, and each kind of corruption made
// by hand in the raw keys is named, with the merchant and the order it concerns.
#include <gtest/gtest.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <exception>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "engine/audit/audit.hpp"
#include "engine/callbacks/callback_store.hpp"
#include "engine/store/fence.hpp"
#include "engine/store/ledger_scripts.hpp"
#include "engine/order/order_number.hpp"
#include "engine/order/order_record.hpp"
#include "engine/order/order_status.hpp"
#include "engine/store/order_store.hpp"
#include "engine/redis/connection.hpp"
#include "tests/support/io_run.hpp"
#include "tests/support/process.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/topupd_process.hpp"

namespace topup::engine {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr std::int64_t k_t0_ms = 1'700'000'000'000;
constexpr const char* k_prefix = "au";
constexpr std::int64_t k_m1 = 1001;
constexpr std::int64_t k_m2 = 1002;
constexpr fen_t k_cost_fen = 9950;
constexpr const char* k_instance = "3";
constexpr std::int64_t k_epoch = 7;

class AuditBooks : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = std::make_unique<test::redis_server>(); }
  static void TearDownTestSuite() { server_.reset(); }

  void SetUp() override {
    server_->flushall();
    conn_ = test::connect_to(io_, *server_, 20s);
    ASSERT_TRUE(conn_->connected());
    // The store writes only where this instance's epoch is the merchant's fence.
    fence_.instance = k_instance;
    fence_.epoch = k_epoch;
    for (std::int64_t m : {k_m1, k_m2})
      raw({"HSET", merchant_keys(k_prefix, m).fence(), k_instance, std::to_string(k_epoch)});
    store_ = std::make_unique<order_store>(*conn_, k_prefix, fence_);
    callbacks_ = std::make_unique<callback_store>(*store_);
  }

  void TearDown() override {
    callbacks_.reset();
    store_.reset();
    conn_->stop();
    io_.poll();
    conn_.reset();
  }

  // Runs the io_context until `done` or the deadline: the connection keeps it busy forever.
  template <class Done>
  void drive(Done done, std::chrono::milliseconds limit = 20s) {
    test::run_until(io_, done, limit);
  }

  template <class T>
  T run(asio::awaitable<T> op) {
    auto out = test::run(io_, std::move(op), 20s);
    if (!out) throw std::runtime_error("operation did not finish in time");
    return std::move(*out);
  }

  redis::reply raw(std::vector<std::string> args) {
    auto r = run(conn_->command(std::move(args)));
    EXPECT_TRUE(r.has_value());
    EXPECT_FALSE(r && r->is_error()) << r->str;
    return r ? *r : redis::reply{};
  }

  audit_report audit(std::vector<std::int64_t> merchants = {k_m1, k_m2}) {
    auto r = run(audit_merchants(*conn_, k_prefix, std::move(merchants)));
    EXPECT_TRUE(r) << r.error().message();
    return r ? std::move(*r) : audit_report{};
  }

  void fund(std::int64_t m, fen_t amount_fen) {
    auto r = run(store_->credit(m, "fund-" + std::to_string(++fund_seq_), amount_fen, k_t0_ms));
    ASSERT_TRUE(r) << r.error().message();
  }

  static order_record make_order(std::int64_t m, std::uint32_t seq, bool notify) {
    order_record r;
    r.order_number = make_order_number({static_cast<std::uint64_t>(k_t0_ms + seq), 1, 0, seq, m});
    r.order_no = "no-" + std::to_string(seq);
    r.merchant_id = m;
    r.store_id = "s1";
    r.mobile = "13800138000";
    r.carrier = carrier::cmcc;
    r.money_yuan = 100;
    r.recharge_type = 1;
    r.notify_url = notify ? "http://merchant.example/cb" : "";
    r.change = true;
    r.fingerprint = "fp-" + r.order_no;
    r.cost_fen = k_cost_fen;
    return r;
  }

  order_record get(std::int64_t m, const std::string& n) {
    auto r = run(store_->get(m, n));
    EXPECT_TRUE(r) << n << ": " << r.error().message();
    return r ? *r : order_record{};
  }

  void step(std::int64_t m, const std::string& n, int from, int to, std::int64_t now_ms) {
    auto r =
        run(store_->transition(m, n, *status_from_int(from), *status_from_int(to), "", {}, now_ms));
    ASSERT_TRUE(r) << n << " " << from << "->" << to << ": " << r.error().message();
  }

  void refund(std::int64_t m, const std::string& n, int from, std::int64_t now_ms) {
    auto r = run(store_->fail_refund(m, n, *status_from_int(from), "failed", now_ms));
    ASSERT_TRUE(r) << n << " refund from " << from << ": " << r.error().message();
  }

  // How an order is driven through the real store.
  enum class path {
    waiting,        // accepted in 6
    matched,        // accepted straight into 7 (with the first attempt's fields)
    recharging,     // 6 -> 7 -> 1
    success,        // 6 -> 7, then 7 -> 1 -> 2 in one step (the submit's answer was final)
    delivered,      // success, its callback delivered, then re-notified by an operator
    failed,         // 6 -> 3
    refunded,       // refunded from 6 (6 -> 3 and the refund in one step)
    refunded_via_3  // 6 -> 7 -> 1 -> 3, then the refund from 3
  };

  std::string order_in(std::int64_t m, std::uint32_t seq, path p, bool notify) {
    const auto rec = make_order(m, seq, notify);
    const std::int64_t t = k_t0_ms + seq;
    field_pairs match;
    if (p == path::matched) match.emplace_back("channel", "sim-a");
    auto accepted = run(store_->accept(rec, t, match));
    EXPECT_TRUE(accepted && !accepted->duplicate);
    const std::string& n = rec.order_number;
    switch (p) {
      case path::waiting:
      case path::matched:
        break;
      case path::recharging:
        step(m, n, 6, 7, t + 1);
        step(m, n, 7, 1, t + 2);
        break;
      case path::success:
      case path::delivered: {
        step(m, n, 6, 7, t + 1);
        auto order = get(m, n);
        auto done = run(store_->advance(order, order_status::success, "", {}, t + 2,
                                        order_log::hop{order_status::recharging, {}}));
        EXPECT_TRUE(done) << done.error().message();
        if (p == path::delivered) {
          callback_attempt a;
          a.attempt = 1;
          a.at_ms = t + 3;
          a.http_status = 200;
          a.delivered = true;
          auto sent = run(callbacks_->record_attempt(m, n, a, 0));
          EXPECT_TRUE(sent) << sent.error().message();
          auto again = run(callbacks_->renotify(m, n, t + 4));
          EXPECT_TRUE(again) << again.error().message();
        }
        break;
      }
      case path::failed:
        step(m, n, 6, 3, t + 1);
        break;
      case path::refunded:
        refund(m, n, 6, t + 1);
        break;
      case path::refunded_via_3:
        step(m, n, 6, 7, t + 1);
        step(m, n, 7, 1, t + 2);
        step(m, n, 1, 3, t + 3);
        refund(m, n, 3, t + 4);
        break;
    }
    return n;
  }

  struct books {
    std::string waiting, matched, recharging, success, delivered, failed, refunded, refunded_via_3,
        other;
  };

  // Credits (one a negative correction) and orders in every status, with and without a callback,
  // for two merchants. 4 credits, 9 accepted entries, 2 refunds; 29 entries of orders.
  books make_books() {
    fund(k_m1, 100'000);
    fund(k_m1, 50'000);
    fund(k_m1, -1'000);
    fund(k_m2, 20'000);
    books b;
    b.waiting = order_in(k_m1, 1, path::waiting, true);                 // 1 entry
    b.matched = order_in(k_m1, 2, path::matched, false);                // 1
    b.recharging = order_in(k_m1, 3, path::recharging, true);           // 3
    b.success = order_in(k_m1, 4, path::success, false);                // 4
    b.delivered = order_in(k_m1, 5, path::delivered, true);             // 6: + cb, renotify
    b.failed = order_in(k_m1, 6, path::failed, false);                  // 2
    b.refunded = order_in(k_m1, 7, path::refunded, true);               // 3, callback pending
    b.refunded_via_3 = order_in(k_m1, 8, path::refunded_via_3, false);  // 5
    b.other = order_in(k_m2, 9, path::success, false);                  // 4
    return b;
  }

  // --- Editing the raw keys, as a person with redis-cli could ---

  void edit_record(std::int64_t m, const std::string& n,
                   const std::function<void(order_record&)>& edit) {
    const merchant_keys keys(k_prefix, m);
    auto record = unpack_order(raw({"HGET", keys.orders(), n}).str);
    ASSERT_TRUE(record) << n;
    edit(*record);
    raw({"HSET", keys.orders(), n, pack_order(*record)});
  }

  std::vector<order_event> log_of(std::int64_t m) {
    auto entries =
        order_events_from_reply(raw({"XRANGE", merchant_keys(k_prefix, m).log(), "-", "+"}));
    EXPECT_TRUE(entries);
    return entries ? *entries : std::vector<order_event>{};
  }

  // The merchant's log entry of type `type` naming order `n` (the last such, if several).
  order_event entry_of(std::int64_t m, const std::string& n, const std::string& type) {
    order_event found;
    for (auto& e : log_of(m))
      if (e.field("e") == std::optional<std::string_view>(type) &&
          e.field("o") == std::optional<std::string_view>(n))
        found = e;
    EXPECT_FALSE(found.id.empty()) << type << " of " << n;
    return found;
  }

  void xadd(std::int64_t m, const field_pairs& fields) {
    std::vector<std::string> command = {"XADD", merchant_keys(k_prefix, m).log(), "*"};
    for (const auto& [name, value] : fields) {
      command.push_back(name);
      command.push_back(value);
    }
    raw(std::move(command));
  }

  // Moves the merchant's acct as a script would (the same field), answering the new value.
  std::int64_t acct_add(std::int64_t m, const std::string& field, std::int64_t by) {
    return raw({"HINCRBY", merchant_keys(k_prefix, m).acct(), field, std::to_string(by)}).integer;
  }

  // The findings about `order` ("" = the merchant's own) that contain `text`.
  static int count(const audit_report& r, const std::string& order, const std::string& text) {
    int n = 0;
    for (const auto& f : r.findings)
      if (f.order_number == order && f.problem.find(text) != std::string::npos) ++n;
    return n;
  }

  static std::string listing(const audit_report& r) {
    std::string s;
    for (const auto& f : r.findings) s += to_string(f) + "\n";
    return s;
  }

  // Every finding is about merchant `m` and order `order` ("" = the merchant's own).
  static void expect_only_about(const audit_report& r, std::int64_t m, const std::string& order) {
    for (const auto& f : r.findings) {
      EXPECT_EQ(f.merchant_id, m) << listing(r);
      EXPECT_EQ(f.order_number, order) << listing(r);
    }
  }

  static std::unique_ptr<test::redis_server> server_;
  asio::io_context io_{1};
  std::unique_ptr<redis::connection> conn_;
  fence_token fence_;
  std::unique_ptr<order_store> store_;
  std::unique_ptr<callback_store> callbacks_;
  int fund_seq_ = 0;
};

std::unique_ptr<test::redis_server> AuditBooks::server_;

TEST_F(AuditBooks, CleanBooksHaveNoFindings) {
  make_books();
  const auto r = audit();
  EXPECT_TRUE(r.clean()) << listing(r);
  EXPECT_EQ(r.merchants, 2);
  EXPECT_EQ(r.orders, 9);
  EXPECT_EQ(r.ledger_entries, 4 + 9 + 2);
  EXPECT_EQ(r.events, 1 + 1 + 3 + 4 + 6 + 2 + 3 + 5 + 4);
}

TEST_F(AuditBooks, EmptyBooksAreClean) {
  const auto r = audit({k_m1});
  EXPECT_TRUE(r.clean()) << listing(r);
  EXPECT_EQ(r.orders, 0);
  EXPECT_EQ(r.ledger_entries, 0);
  EXPECT_EQ(r.events, 0);
}

TEST_F(AuditBooks, BalanceOffByOneFenIsFound) {
  make_books();
  acct_add(k_m1, "balance", 1);
  const auto r = audit();
  EXPECT_EQ(count(r, "", "but the log adds up to"), 1) << listing(r);
  EXPECT_EQ(count(r, "", "is not credits"), 1) << listing(r);
  EXPECT_EQ(r.findings.size(), 2u) << listing(r);
  expect_only_about(r, k_m1, "");
  EXPECT_EQ(to_string(r.findings.front()).find("merchant 1001: "), 0u) << listing(r);
}

TEST_F(AuditBooks, DuplicatedRefundEntryIsFound) {
  const auto b = make_books();
  const auto refund_entry = entry_of(k_m1, b.refunded, "refund");
  xadd(k_m1, refund_entry.fields);  // the same entry once more: v, amount, bal and all

  const auto r = audit();
  EXPECT_EQ(count(r, b.refunded, "refunds the order a second time"), 1) << listing(r);
  EXPECT_EQ(count(r, b.refunded, "is version 3 of the order but the entry before it is version 3"),
            1)
      << listing(r);
  EXPECT_EQ(count(r, "", "records bal"), 1) << listing(r);
  EXPECT_EQ(count(r, "", "acct refunds are"), 1) << listing(r);
  EXPECT_EQ(count(r, "", "acct balance is"), 1) << listing(r);
  EXPECT_EQ(r.findings.size(), 5u) << listing(r);
  for (const auto& f : r.findings) EXPECT_EQ(f.merchant_id, k_m1) << listing(r);
}

// The step and its record written as a script would, only the transition is not one of spec §4.
TEST_F(AuditBooks, IllegalTransitionIsFound) {
  const auto b = make_books();
  const auto created = get(k_m1, b.success).created_at_ms;
  xadd(k_m1, {{"e", "step"}, {"o", b.success}, {"v", "5"}, {"f", "2"}, {"t", "6"}});
  edit_record(k_m1, b.success, [](order_record& o) {
    o.event_count = 5;
    o.status = order_status::waiting;
    o.finished_at_ms = 0;
  });
  raw({"ZADD", merchant_keys(k_prefix, k_m1).work(), std::to_string(-created), b.success});

  const auto r = audit();
  EXPECT_EQ(count(r, b.success, "(step): 2->6 is not an allowed transition (spec §4)"), 1)
      << listing(r);
  EXPECT_EQ(r.findings.size(), 1u) << listing(r);
  expect_only_about(r, k_m1, b.success);
}

TEST_F(AuditBooks, StepToFourWithoutARefundIsFound) {
  const auto b = make_books();
  xadd(k_m1, {{"e", "step"}, {"o", b.failed}, {"v", "3"}, {"f", "3"}, {"t", "4"}});
  const auto r = audit();
  EXPECT_EQ(count(r, b.failed, "3->4 as a step: only a refund entry"), 1) << listing(r);
  expect_only_about(r, k_m1, b.failed);
}

TEST_F(AuditBooks, GapInVersionsIsFound) {
  const auto b = make_books();
  // The success order's entries: accepted (1), 6->7 (2), 7->1 (3), 1->2 (4). Lose the third.
  std::string lost;
  for (const auto& e : log_of(k_m1))
    if (e.field("o") == std::optional<std::string_view>(b.success) &&
        e.field("v") == std::optional<std::string_view>("3"))
      lost = e.id;
  ASSERT_FALSE(lost.empty());
  raw({"XDEL", merchant_keys(k_prefix, k_m1).log(), lost});

  const auto r = audit();
  EXPECT_EQ(count(r, b.success, "is version 4 of the order but the entry before it is version 2"),
            1)
      << listing(r);
  // And the 1->2 now starts where the order never got to.
  EXPECT_EQ(count(r, b.success, "(step): 1->2 but the log before it leaves the order in 7"), 1)
      << listing(r);
  EXPECT_EQ(r.findings.size(), 2u) << listing(r);
  expect_only_about(r, k_m1, b.success);
}

TEST_F(AuditBooks, RecordWhoseStatusDisagreesWithTheLogIsFound) {
  const auto b = make_books();
  edit_record(k_m1, b.recharging, [](order_record& o) { o.status = order_status::success; });
  const auto r = audit();
  EXPECT_EQ(count(r, b.recharging, "its record is in status 2 but the log leaves it in 1"), 1)
      << listing(r);
  EXPECT_EQ(r.findings.size(), 1u) << listing(r);
  expect_only_about(r, k_m1, b.recharging);
}

// The last entry of an order lost: its record is ahead of the log, and no later entry explains it.
TEST_F(AuditBooks, RecordAheadOfTheLogIsFound) {
  const auto b = make_books();
  raw({"XDEL", merchant_keys(k_prefix, k_m1).log(), entry_of(k_m1, b.delivered, "renotify").id});
  const auto r = audit();
  EXPECT_EQ(count(r, b.delivered, "its record is at version 6 but the log has 5 entries"), 1)
      << listing(r);
  EXPECT_EQ(count(r, b.delivered, "kept moving"), 0) << listing(r);
  expect_only_about(r, k_m1, b.delivered);
}

TEST_F(AuditBooks, MissingTimeIndexEntryIsFound) {
  const auto b = make_books();
  raw({"ZREM", merchant_keys(k_prefix, k_m1).by_time(), b.waiting});
  const auto r = audit();
  EXPECT_EQ(count(r, b.waiting, "not in t"), 1) << listing(r);
  EXPECT_EQ(r.findings.size(), 1u) << listing(r);
  expect_only_about(r, k_m1, b.waiting);
}

TEST_F(AuditBooks, NonFinalOrderMissingFromWorkIsFound) {
  const auto b = make_books();
  raw({"ZREM", merchant_keys(k_prefix, k_m1).work(), b.matched});
  const auto r = audit();
  EXPECT_EQ(count(r, b.matched, "in 7 (not final) but not in work"), 1) << listing(r);
  EXPECT_EQ(r.findings.size(), 1u) << listing(r);
  expect_only_about(r, k_m1, b.matched);
}

TEST_F(AuditBooks, WorkEntriesOfFinalOrdersAreChecked) {
  const auto b = make_books();
  const merchant_keys keys(k_prefix, k_m1);
  // A pending callback that nothing would send, a final order without one still listed, and a
  // final order listed as unfinished.
  raw({"ZREM", keys.work(), b.refunded});
  raw({"ZADD", keys.work(), "123", b.success});
  raw({"ZADD", keys.work(), "-5", b.refunded_via_3});
  const auto r = audit({k_m1});
  EXPECT_EQ(count(r, b.refunded, "with its callback pending but not in work"), 1) << listing(r);
  EXPECT_EQ(count(r, b.success, "with no callback pending but still in work"), 1) << listing(r);
  EXPECT_EQ(count(r, b.refunded_via_3, "as an order still to finish"), 1) << listing(r);
  EXPECT_EQ(r.findings.size(), 3u) << listing(r);
}

// A credit written as the script would, except its bal: off by one fen.
TEST_F(AuditBooks, CreditWithAWrongBalIsFound) {
  make_books();
  const auto balance = acct_add(k_m1, "balance", 500);
  acct_add(k_m1, "credits", 500);
  raw({"HSET", merchant_keys(k_prefix, k_m1).crefs(), "fix-1", "500"});
  xadd(
      k_m1,
      {{"e", "credit"}, {"ref", "fix-1"}, {"amount", "500"}, {"bal", std::to_string(balance + 1)}});
  const auto r = audit();
  EXPECT_EQ(count(r, "",
                  "(credit \"fix-1\") records bal " + std::to_string(balance + 1) +
                      " fen but the log up to it adds up to " + std::to_string(balance)),
            1)
      << listing(r);
  EXPECT_EQ(r.findings.size(), 1u) << listing(r);
  expect_only_about(r, k_m1, "");
}

TEST_F(AuditBooks, CreditRefsThatDisagreeWithTheLogAreFound) {
  make_books();
  const merchant_keys keys(k_prefix, k_m1);
  raw({"HSET", keys.crefs(), "fund-1", "999"});
  raw({"HSET", keys.crefs(), "never-credited", "5"});
  const auto r = audit({k_m1});
  EXPECT_EQ(count(r, "", "crefs holds \"999\" for ref \"fund-1\" but the log credited 100000 fen"),
            1)
      << listing(r);
  EXPECT_EQ(count(r, "", "crefs holds 4 refs but the log credits 3"), 1) << listing(r);
  EXPECT_EQ(r.findings.size(), 2u) << listing(r);
}

// An accepted entry debiting the account as the script would, but no record, order_no entry,
// `t` or `work` entry: the order was never stored.
TEST_F(AuditBooks, DebitWithoutItsOrderRecordIsFound) {
  make_books();
  auto ghost = make_order(k_m2, 77, false);
  ghost.status = order_status::waiting;
  ghost.created_at_ms = ghost.updated_at_ms = k_t0_ms + 77;
  ghost.event_count = 1;
  const auto balance = acct_add(k_m2, "balance", -k_cost_fen);
  acct_add(k_m2, "debits", k_cost_fen);
  xadd(k_m2, {{"e", "accepted"},
              {"o", ghost.order_number},
              {"to", "6"},
              {"amount", std::to_string(k_cost_fen)},
              {"bal", std::to_string(balance)},
              {"r", pack_order(ghost)}});

  const auto r = audit({k_m2});
  EXPECT_EQ(count(r, ghost.order_number, "the log accepted the order but o has no record of it"), 1)
      << listing(r);
  EXPECT_EQ(count(r, ghost.order_number, "o has no entry \"#no-77\""), 1) << listing(r);
  EXPECT_EQ(count(r, ghost.order_number, "not in t"), 1) << listing(r);
  EXPECT_EQ(count(r, ghost.order_number, "in 6 (not final) but not in work"), 1) << listing(r);
  EXPECT_EQ(r.findings.size(), 4u) << listing(r);
  expect_only_about(r, k_m2, ghost.order_number);
}

TEST_F(AuditBooks, ProjectionsOfAnOrderTheLogNeverAcceptedAreFound) {
  make_books();
  const merchant_keys keys(k_prefix, k_m2);
  auto ghost = make_order(k_m2, 78, false);
  ghost.status = order_status::waiting;
  ghost.created_at_ms = k_t0_ms + 78;
  ghost.event_count = 1;
  raw({"HSET", keys.orders(), ghost.order_number, pack_order(ghost)});
  raw({"HSET", keys.orders(), "#no-78", ghost.order_number + ":" + ghost.fingerprint});
  raw({"ZADD", keys.by_time(), std::to_string(k_t0_ms + 78), ghost.order_number});
  raw({"ZADD", keys.work(), std::to_string(-(k_t0_ms + 78)), ghost.order_number});
  const auto r = audit({k_m2});
  EXPECT_EQ(count(r, ghost.order_number, "but the log has no accepted entry of the order"), 1)
      << listing(r);
  for (const auto* where : {"o,", "o's entry \"#no-78\"", " t", "work"})
    EXPECT_EQ(count(r, ghost.order_number, where), 1) << where << "\n" << listing(r);
  EXPECT_EQ(r.findings.size(), 1u) << listing(r);
}

// A second accepted entry of an order, debiting as the script would: a double debit.
TEST_F(AuditBooks, SecondAcceptedEntryIsFound) {
  const auto b = make_books();
  auto again = entry_of(k_m1, b.waiting, "accepted");
  const auto balance = acct_add(k_m1, "balance", -k_cost_fen);
  acct_add(k_m1, "debits", k_cost_fen);
  for (auto& [name, value] : again.fields)
    if (name == "bal") value = std::to_string(balance);
  xadd(k_m1, again.fields);
  const auto r = audit({k_m1});
  EXPECT_EQ(count(r, b.waiting, "is a second accepted entry of the order (a second debit)"), 1)
      << listing(r);
  EXPECT_EQ(r.findings.size(), 1u) << listing(r);
}

// The failed order refunded as the script would, but crediting back a fen less than it cost.
TEST_F(AuditBooks, RefundOfAnotherAmountIsFound) {
  const auto b = make_books();
  const fen_t back = k_cost_fen - 1;
  const auto balance = acct_add(k_m1, "balance", back);
  acct_add(k_m1, "refunds", back);
  xadd(k_m1, {{"e", "refund"},
              {"o", b.failed},
              {"v", "3"},
              {"f", "3"},
              {"t", "4"},
              {"why", "failed"},
              {"amount", std::to_string(back)},
              {"bal", std::to_string(balance)}});
  edit_record(k_m1, b.failed, [](order_record& o) {
    o.event_count = 3;
    o.status = order_status::refunded;
    o.refunded = true;
    o.finished_at_ms = k_t0_ms + 50;
  });
  raw({"ZREM", merchant_keys(k_prefix, k_m1).work(), b.failed});
  const auto r = audit({k_m1});
  EXPECT_EQ(count(r, b.failed, "credits back 9949 fen but the order was debited 9950 fen"), 1)
      << listing(r);
  EXPECT_EQ(r.findings.size(), 1u) << listing(r);
}

TEST_F(AuditBooks, RefundBeforeTheOrderFailedIsFound) {
  const auto b = make_books();
  const auto balance = acct_add(k_m1, "balance", k_cost_fen);
  acct_add(k_m1, "refunds", k_cost_fen);
  xadd(k_m1, {{"e", "refund"},
              {"o", b.recharging},
              {"v", "4"},
              {"f", "3"},
              {"t", "4"},
              {"why", "x"},
              {"amount", std::to_string(k_cost_fen)},
              {"bal", std::to_string(balance)}});
  const auto r = audit({k_m1});
  EXPECT_EQ(count(r, b.recharging, "refunds the order in 1, not after ->3"), 1) << listing(r);
  expect_only_about(r, k_m1, b.recharging);
}

// A callback attempt recorded (entry and record, as the append script would) for an order in 1.
TEST_F(AuditBooks, CallbackBeforeTheOrderIsFinalIsFound) {
  const auto b = make_books();
  xadd(k_m1, {{"e", "cb"}, {"o", b.recharging}, {"v", "4"}, {"n", "1"}, {"ok", "1"}});
  edit_record(k_m1, b.recharging, [](order_record& o) { o.event_count = 4; });
  const auto r = audit({k_m1});
  EXPECT_EQ(count(r, b.recharging, "(cb) comes while the order is in 1, not final"), 1)
      << listing(r);
  EXPECT_EQ(r.findings.size(), 1u) << listing(r);
}

TEST_F(AuditBooks, CallbackOfAnOrderWithoutNotifyUrlIsFound) {
  const auto b = make_books();
  xadd(k_m1, {{"e", "renotify"}, {"o", b.success}, {"v", "5"}});
  edit_record(k_m1, b.success, [](order_record& o) { o.event_count = 5; });
  const auto r = audit({k_m1});
  EXPECT_EQ(
      count(r, b.success, "the log has callback entries of the order but it has no notify_url"), 1)
      << listing(r);
  EXPECT_EQ(r.findings.size(), 1u) << listing(r);
}

TEST_F(AuditBooks, OrderNoEntryPointingElsewhereIsFound) {
  const auto b = make_books();
  const auto other = get(k_m1, b.matched);
  raw({"HSET", merchant_keys(k_prefix, k_m1).orders(), "#no-1",
       b.matched + ":" + other.fingerprint});
  const auto r = audit({k_m1});
  EXPECT_EQ(count(r, b.waiting,
                  "o's entry \"#no-1\" is \"" + b.matched + ":fp-no-2\", not \"" + b.waiting +
                      ":fp-no-1\""),
            1)
      << listing(r);
  EXPECT_EQ(count(r, b.matched, "o's entry \"#no-1\" names it but its order_no is \"no-2\""), 1)
      << listing(r);
  EXPECT_EQ(r.findings.size(), 2u) << listing(r);
}

// An accepted entry may carry only the money and the status, not the record (`r`) as well: the
// record in `o` is then the only word on the order's order_no, fingerprint and created_at.
TEST_F(AuditBooks, AcceptedEntriesWithoutTheirRecordAreCheckedAgainstTheRecord) {
  const auto b = make_books();
  const std::string log = merchant_keys(k_prefix, k_m1).log();
  const auto entries = log_of(k_m1);
  raw({"DEL", log});
  for (const auto& e : entries) {
    std::vector<std::string> command = {"XADD", log, e.id};
    for (const auto& [name, value] : e.fields) {
      if (name == "r") continue;
      command.push_back(name);
      command.push_back(value);
    }
    raw(std::move(command));
  }
  auto r = audit();
  EXPECT_TRUE(r.clean()) << listing(r);
  EXPECT_EQ(r.orders, 9);

  const auto other = get(k_m1, b.matched);
  raw({"HSET", merchant_keys(k_prefix, k_m1).orders(), "#no-1",
       b.matched + ":" + other.fingerprint});
  raw({"ZADD", merchant_keys(k_prefix, k_m1).by_time(), "5", b.failed});
  r = audit({k_m1});
  EXPECT_EQ(count(r, b.waiting, "o's entry \"#no-1\" is \"" + b.matched + ":fp-no-2\""), 1)
      << listing(r);
  EXPECT_EQ(count(r, b.matched, "o's entry \"#no-1\" names it but its order_no is \"no-2\""), 1)
      << listing(r);
  EXPECT_EQ(count(r, b.failed, "t holds it at \"5\", not at its created_at"), 1) << listing(r);
  EXPECT_EQ(r.findings.size(), 3u) << listing(r);
}

TEST_F(AuditBooks, UnreadableKeysAreFindingsNotErrors) {
  make_books();
  const merchant_keys keys(k_prefix, k_m2);
  raw({"DEL", keys.by_time()});
  raw({"SET", keys.by_time(), "not a zset"});
  const auto r = audit({k_m2});
  EXPECT_EQ(count(r, "", "t is unreadable"), 1) << listing(r);
  EXPECT_GE(count(r, make_order(k_m2, 9, false).order_number, "t is unreadable"), 1) << listing(r);

  raw({"DEL", keys.log()});
  raw({"SET", keys.log(), "not a stream"});
  const auto r2 = audit({k_m2});
  EXPECT_EQ(count(r2, "", "the log is unreadable"), 1) << listing(r2);
  EXPECT_EQ(r2.findings.size(), 1u) << listing(r2);
}

// Books corrupted wholesale: findings are kept up to the bound and the rest counted.
TEST_F(AuditBooks, FindingsAreBounded) {
  make_books();
  std::vector<std::string> command = {"ZADD", merchant_keys(k_prefix, k_m2).by_time()};
  const std::size_t ghosts = k_audit_findings_max + 5;
  for (std::size_t i = 0; i < ghosts; ++i) {
    command.push_back("1");
    command.push_back("ghost" + std::to_string(i));
  }
  raw(std::move(command));
  const auto r = audit({k_m2});
  EXPECT_EQ(r.findings.size(), k_audit_findings_max);
  EXPECT_EQ(r.findings_not_listed, 5);
  EXPECT_FALSE(r.clean());
}

TEST_F(AuditBooks, OnlyTheNamedMerchantIsAudited) {
  make_books();
  acct_add(k_m1, "balance", 1);
  const auto r = audit({k_m2});
  EXPECT_TRUE(r.clean()) << listing(r);
  EXPECT_EQ(r.merchants, 1);
  EXPECT_EQ(r.orders, 1);
}

// Orders accepted, moved and refunded while the audit runs on the same connection (their commands
// interleave with the audit's at every await): the live books are consistent at every instant,
// so the audit must not report anything.
asio::awaitable<int> churn(order_store& store, std::vector<order_record> orders) {
  int done = 0;
  for (auto& rec : orders) {
    const std::int64_t m = rec.merchant_id;
    const std::string n = rec.order_number;
    const std::int64_t t = rec.created_at_ms;
    if (!co_await store.accept(rec, t)) co_return done;
    // (No braced lists or string literals here: GCC 12 and initializer lists in coroutines.)
    if (!co_await store.transition(m, n, order_status::waiting, order_status::matched,
                                   std::string(), field_pairs(), t))
      co_return done;
    if (!co_await store.fail_refund(m, n, order_status::matched, std::string(), t + 1))
      co_return done;
    ++done;
  }
  co_return done;
}

TEST_F(AuditBooks, LiveBooksChangingDuringTheAuditAreClean) {
  make_books();
  fund(k_m1, 10'000'000);
  for (std::uint32_t i = 0; i < 40; ++i)
    order_in(k_m1, 100 + i, i % 2 ? path::delivered : path::recharging, true);
  std::vector<order_record> moving;
  for (std::uint32_t i = 0; i < 60; ++i) {
    auto rec = make_order(k_m1, 1000 + i, i % 2 == 0);
    rec.created_at_ms = k_t0_ms + 1000 + i;
    moving.push_back(std::move(rec));
  }
  auto done = std::make_shared<int>(0);
  auto churned = std::make_shared<int>(-1);
  auto report = std::make_shared<std::optional<boost::system::result<audit_report>>>();
  asio::co_spawn(io_, churn(*store_, moving), [done, churned](std::exception_ptr, int n) {
    *churned = n;
    ++*done;
  });
  asio::co_spawn(io_, audit_merchants(*conn_, k_prefix, {k_m1}),
                 [done, report](std::exception_ptr, boost::system::result<audit_report> r) {
                   report->emplace(std::move(r));
                   ++*done;
                 });
  drive([&] { return *done == 2; }, 60s);
  ASSERT_EQ(*done, 2);
  EXPECT_EQ(*churned, 60);
  ASSERT_TRUE(report->has_value() && (*report)->has_value());
  const auto& r = ***report;
  EXPECT_TRUE(r.clean()) << listing(r);
  EXPECT_GE(r.orders, 48);
  // And once quiet, everything is there and still clean.
  const auto after = audit({k_m1});
  EXPECT_TRUE(after.clean()) << listing(after);
  EXPECT_EQ(after.orders, 8 + 40 + 60);
}

// The built binary: `topupd audit --config FILE` exits 0 on clean books, 1 on corrupt ones.
class AuditCommand : public AuditBooks {
 protected:
  std::string write_config(int redis_port) {
    namespace json = boost::json;
    json::object merchant1{{"id", k_m1},
                           {"app_key", "k1"},
                           {"app_secret", "s3cret"},
                           {"store_ids", json::array{"s1"}},
                           {"price_rate", 0.995}};
    json::object merchant2{{"id", k_m2},
                           {"app_key", "k2"},
                           {"app_secret", "other-secret"},
                           {"store_ids", json::array{"s2"}},
                           {"price_rate", 1.0}};
    json::object cfg{
        {"server",
         json::object{{"listen", "127.0.0.1:18080"}, {"public_url", "http://127.0.0.1:18080"}}},
        {"redis", json::object{{"host", "127.0.0.1"},
                               {"port", redis_port},
                               {"prefix", k_prefix},
                               {"connect_timeout_ms", 300}}},
        {"admin", json::object{{"token", "audit-test"}}},
        {"merchants", json::array{merchant1, merchant2}},
    };
    const std::string path = test::make_temp_dir("audit") + "/topupd.json";
    std::ofstream(path) << json::serialize(cfg);
    return path;
  }
};

TEST_F(AuditCommand, ExitsZeroOnCleanBooksAndOneOnCorruptOnes) {
  const auto b = make_books();
  const std::string config = write_config(server_->port());

  auto [clean_status, clean_output] = test::run_topupd({"audit", "--config", config});
  EXPECT_EQ(clean_status, 0) << clean_output;
  EXPECT_EQ(
      clean_output.rfind("audit clean: 2 merchants, 9 orders (0 archived), 15 ledger entries, 29 events", 0), 0u)
      << clean_output;

  edit_record(k_m1, b.recharging, [](order_record& o) { o.status = order_status::success; });
  auto [bad_status, bad_output] = test::run_topupd({"audit", "--config", config});
  EXPECT_EQ(bad_status, 1) << bad_output;
  EXPECT_NE(bad_output.find("merchant 1001 order \"" + b.recharging +
                            "\": its record is in status 2 but the log leaves it in 1\n"),
            std::string::npos)
      << bad_output;
  EXPECT_NE(bad_output.find("audit FAILED: 1 findings"), std::string::npos) << bad_output;

  // Limited to the other merchant: clean again.
  auto [m2_status, m2_output] =
      test::run_topupd({"audit", "--config", config, "--merchant", "1002"});
  EXPECT_EQ(m2_status, 0) << m2_output;
  EXPECT_NE(m2_output.find("audit clean: 1 merchants, 1 orders"), std::string::npos) << m2_output;

  // A money corruption fails it too.
  acct_add(k_m2, "balance", 1);
  auto [money_status, money_output] =
      test::run_topupd({"audit", "--config", config, "--merchant", "1002"});
  EXPECT_EQ(money_status, 1) << money_output;
  EXPECT_NE(money_output.find("merchant 1002: acct balance is"), std::string::npos) << money_output;

  // A merchant that is not configured, and a Redis that is not there: could not audit.
  auto [unknown_status, unknown_output] =
      test::run_topupd({"audit", "--config", config, "--merchant", "4242"});
  EXPECT_EQ(unknown_status, 2) << unknown_output;
  const std::string nowhere = write_config(test::free_loopback_port());
  auto [down_status, down_output] = test::run_topupd({"audit", "--config", nowhere});
  EXPECT_EQ(down_status, 2) << down_output;
  EXPECT_NE(down_output.find("cannot reach redis"), std::string::npos) << down_output;

  // The top-level options work as before; audit without --config is a usage error.
  auto [check_status, check_output] = test::run_topupd({"--check-config", config});
  EXPECT_EQ(check_status, 0) << check_output;
  auto [usage_status, usage_output] = test::run_topupd({"audit"});
  EXPECT_NE(usage_status, 0) << usage_output;
}

}  // namespace
}  // namespace topup::engine
