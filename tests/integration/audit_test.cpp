// The books audit (engine/audit.hpp, `topupd audit`) against a real redis-server: books written by
// the real ledger scripts are clean, and each kind of corruption made by hand is named.
#include <gtest/gtest.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <exception>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "engine/audit.hpp"
#include "engine/ledger_scripts.hpp"
#include "engine/order_number.hpp"
#include "engine/order_record.hpp"
#include "engine/order_status.hpp"
#include "engine/order_store.hpp"
#include "engine/redis/connection.hpp"
#include "tests/support/io_run.hpp"
#include "tests/support/process.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/topupd_process.hpp"

namespace topup::engine {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using std::chrono::steady_clock;

constexpr std::int64_t k_t0_ms = 1'700'000'000'000;
constexpr const char* k_prefix = "au";
constexpr std::int64_t k_m1 = 1001;
constexpr std::int64_t k_m2 = 1002;
constexpr fen_t k_cost_fen = 9950;

class AuditBooks : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = std::make_unique<test::redis_server>(); }
  static void TearDownTestSuite() { server_.reset(); }

  void SetUp() override {
    server_->flushall();
    conn_ = test::connect_to(io_, *server_, 20s);
    ASSERT_TRUE(conn_->connected());
    store_ = std::make_unique<order_store>(*conn_, k_prefix, fence_);
  }

  void TearDown() override {
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

  static order_record make_order(std::int64_t m, std::uint32_t seq) {
    order_record r;
    r.order_number = make_order_number({static_cast<std::uint64_t>(k_t0_ms + seq), 1, 0, seq, m});
    r.order_no = "no-" + std::to_string(seq);
    r.merchant_id = m;
    r.store_id = "s1";
    r.mobile = "13800138000";
    r.carrier = carrier::cmcc;
    r.money_yuan = 100;
    r.recharge_type = 1;
    r.notify_url = seq % 2 ? "http://merchant.example/cb" : "";
    r.change = true;
    r.fingerprint = "fp-" + r.order_no;
    r.cost_fen = k_cost_fen;
    return r;
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

  // A new order of merchant m driven to `target` through the real scripts. Two ways reach 4:
  // fail_refund straight from 6 (target 4) and 1 -> 3 by transition, then fail_refund from 3
  // (target 43).
  std::string order_in(std::int64_t m, std::uint32_t seq, int target) {
    const auto rec = make_order(m, seq);
    const std::int64_t t = k_t0_ms + seq;
    auto accepted = run(store_->accept(rec, t));
    EXPECT_TRUE(accepted && !accepted->duplicate);
    const std::string& n = rec.order_number;
    if (target == 7 || target == 1 || target == 2 || target == 43) step(m, n, 6, 7, t + 1);
    if (target == 1 || target == 2 || target == 43) step(m, n, 7, 1, t + 2);
    if (target == 2) step(m, n, 1, 2, t + 3);
    if (target == 3) step(m, n, 6, 3, t + 1);
    if (target == 4) refund(m, n, 6, t + 1);
    if (target == 43) {
      step(m, n, 1, 3, t + 3);
      refund(m, n, 3, t + 4);
    }
    return n;
  }

  struct books {
    std::string waiting, matched, recharging, success, failed, refunded, refunded_via_3, other;
  };

  // Credits (one a negative correction) and orders in every status, for two merchants.
  books make_books() {
    fund(k_m1, 100'000);
    fund(k_m1, 50'000);
    fund(k_m1, -1'000);
    fund(k_m2, 20'000);
    books b;
    b.waiting = order_in(k_m1, 1, 6);
    b.matched = order_in(k_m1, 2, 7);
    b.recharging = order_in(k_m1, 3, 1);
    b.success = order_in(k_m1, 4, 2);
    b.failed = order_in(k_m1, 5, 3);
    b.refunded = order_in(k_m1, 6, 4);
    b.refunded_via_3 = order_in(k_m1, 7, 43);
    b.other = order_in(k_m2, 8, 2);
    return b;
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

  static std::unique_ptr<test::redis_server> server_;
  asio::io_context io_{1};
  std::unique_ptr<redis::connection> conn_;
  const fence_token fence_{"0", 1};
  std::unique_ptr<order_store> store_;
  int fund_seq_ = 0;
};

std::unique_ptr<test::redis_server> AuditBooks::server_;

TEST_F(AuditBooks, CleanBooksHaveNoFindings) {
  make_books();
  const auto r = audit();
  EXPECT_TRUE(r.clean()) << listing(r);
  EXPECT_EQ(r.merchants, 2);
  EXPECT_EQ(r.orders, 8);
  // 4 credits + 8 debits + 2 refunds.
  EXPECT_EQ(r.ledger_entries, 14);
  // accepted (0->6) each, then: 0, 1, 2, 3, 1, 2 (6->3->4), 4 (7, 1, 3, 4), 3 (m2: 7, 1, 2).
  EXPECT_EQ(r.events, 8 * 1 + 0 + 1 + 2 + 3 + 1 + 2 + 4 + 3);
}

TEST_F(AuditBooks, EmptyBooksAreClean) {
  const auto r = audit({k_m1});
  EXPECT_TRUE(r.clean()) << listing(r);
  EXPECT_EQ(r.orders, 0);
  EXPECT_EQ(r.ledger_entries, 0);
}

TEST_F(AuditBooks, BalanceNudgedByOneFenIsFound) {
  make_books();
  const merchant_keys keys(k_prefix, k_m1);
  raw({"HINCRBY", keys.acct(), "balance", "1"});
  const auto r = audit();
  EXPECT_EQ(count(r, "", "but the ledger adds up to"), 1) << listing(r);
  EXPECT_EQ(count(r, "", "is not credits"), 1) << listing(r);
  for (const auto& f : r.findings) {
    EXPECT_EQ(f.merchant_id, k_m1) << listing(r);
    EXPECT_EQ(f.order_number, "") << listing(r);
  }
  EXPECT_EQ(to_string(r.findings.front()).find("merchant 1001: "), 0u) << listing(r);
}

TEST_F(AuditBooks, DeletedRefundEntryIsFound) {
  const auto b = make_books();
  // One more move after the refund, so the replayed chain of balances breaks too.
  order_in(k_m1, 9, 6);
  const merchant_keys keys(k_prefix, k_m1);
  const auto ledger = raw({"XRANGE", keys.ledger(), "-", "+"});
  std::string refund_id;
  for (const auto& entry : ledger.elements) {
    const auto& f = entry.elements[1].elements;
    bool is_refund = false, of_order = false;
    for (std::size_t i = 0; i + 1 < f.size(); i += 2) {
      is_refund |= f[i].str == "type" && f[i + 1].str == "refund";
      of_order |= f[i].str == "order" && f[i + 1].str == b.refunded;
    }
    if (is_refund && of_order) refund_id = entry.elements[0].str;
  }
  ASSERT_FALSE(refund_id.empty());
  raw({"XDEL", keys.ledger(), refund_id});

  const auto r = audit();
  EXPECT_EQ(count(r, b.refunded, "status 4 (refunded) but no refund in the ledger"), 1)
      << listing(r);
  EXPECT_EQ(count(r, "", "acct refunds are"), 1) << listing(r);
  EXPECT_EQ(count(r, "", "acct balance is"), 1) << listing(r);
  EXPECT_EQ(count(r, "", "records the balance"), 1) << listing(r);
  EXPECT_EQ(count(r, b.refunded_via_3, ""), 0) << listing(r);
}

TEST_F(AuditBooks, StatusSetWithoutEventIsFound) {
  const auto b = make_books();
  const merchant_keys keys(k_prefix, k_m1);
  raw({"HSET", keys.order(b.recharging), "status", "2"});
  const auto r = audit();
  EXPECT_EQ(count(r, b.recharging, "status 2 but its events end in 1"), 1) << listing(r);
  // The indexes still say 1: the projection and the indexes disagree too.
  EXPECT_EQ(count(r, b.recharging, "listed in st:1 but status is 2"), 1) << listing(r);
  EXPECT_EQ(count(r, b.recharging, "status 2 but not listed in st:2"), 1) << listing(r);
  EXPECT_EQ(count(r, b.recharging, "final but the order is in active"), 1) << listing(r);
  for (const auto& f : r.findings) EXPECT_EQ(f.order_number, b.recharging) << listing(r);
}

TEST_F(AuditBooks, BogusEventIsFound) {
  const auto b = make_books();
  const merchant_keys keys(k_prefix, k_m1);
  raw({"XADD", keys.events(b.success), "*", "type", "transition", "from", "2", "to", "6", "reason",
       "", "at", std::to_string(k_t0_ms + 99)});
  const auto r = audit();
  EXPECT_EQ(count(r, b.success, "2->6 is not an allowed transition"), 1) << listing(r);
  EXPECT_EQ(count(r, b.success, "status 2 but its events end in 6"), 1) << listing(r);
  EXPECT_EQ(count(r, b.success, "the record counts 4 events but the stream has 5"), 1)
      << listing(r);
  for (const auto& f : r.findings) EXPECT_EQ(f.order_number, b.success) << listing(r);
}

// Orders accepted before accept took one event had `accepted` (status 0) and then 0->6: such a
// history still reads as clean. An accepted event that moves anywhere but 0->6/7 is a finding.
TEST_F(AuditBooks, AcceptedEventInTheEarlierTwoEventFormReadsAndABadOneIsFound) {
  const auto b = make_books();
  const merchant_keys keys(k_prefix, k_m1);
  const std::string at = std::to_string(k_t0_ms + 1);
  raw({"DEL", keys.events(b.waiting)});
  raw({"XADD", keys.events(b.waiting), "*", "type", "accepted", "status", "0", "at", at,
       "order_no", "o-1", "mobile", "13800138000"});
  raw({"XADD", keys.events(b.waiting), "*", "type", "transition", "from", "0", "to", "6",
       "reason", "", "at", at});
  raw({"HSET", keys.order(b.waiting), "events", "2"});
  auto r = audit();
  EXPECT_TRUE(r.clean()) << listing(r);

  raw({"DEL", keys.events(b.matched)});
  raw({"XADD", keys.events(b.matched), "*", "type", "accepted", "from", "0", "to", "2",
       "reason", "", "at", at});
  r = audit();
  EXPECT_EQ(count(r, b.matched, "(accepted) moves from \"0\" to \"2\", not from 0 to 6 or 7"),
            1)
      << listing(r);
  for (const auto& f : r.findings) EXPECT_EQ(f.order_number, b.matched) << listing(r);
}

TEST_F(AuditBooks, LedgerAndIndexEntriesWithoutOrderAreFound) {
  make_books();
  const merchant_keys keys(k_prefix, k_m2);
  // A debit of an order that was never stored, and an index entry pointing nowhere.
  const auto ghost = make_order(k_m2, 77).order_number;
  raw({"ZADD", keys.by_status(6), "1", ghost});
  raw({"XADD", keys.ledger(), "*", "type", "debit", "amount", "0", "balance", "0", "order", ghost,
       "at", "1"});
  const auto r = audit({k_m2});
  EXPECT_EQ(count(r, ghost, "which does not exist"), 1) << listing(r);
  EXPECT_EQ(count(r, ghost, "listed in st:6 but not in the all index"), 1) << listing(r);
  // The entry's balance field (0) also breaks the chain of balances: a finding of the ledger.
  EXPECT_EQ(count(r, "", "of order \"" + ghost + "\" (debit of 0 fen) records the balance 0 fen"),
            1)
      << listing(r);
}

TEST_F(AuditBooks, DoubleDebitAndWrongRefundAmountAreFound) {
  const auto b = make_books();
  const merchant_keys keys(k_prefix, k_m1);
  // A second debit of the waiting order, written as the scripts would (acct and ledger agree),
  // so only the per-order checks can tell.
  const auto balance = raw({"HINCRBY", keys.acct(), "balance", "-100"}).integer;
  raw({"HINCRBY", keys.acct(), "debits", "100"});
  raw({"XADD", keys.ledger(), "*", "type", "debit", "amount", "100", "balance",
       std::to_string(balance), "order", b.waiting, "at", "1"});
  // The refunded order says it got 1 fen less back than its cost, in its event.
  const auto events = raw({"XRANGE", keys.events(b.refunded), "-", "+"});
  const std::string last_id = events.elements.back().elements[0].str;
  raw({"XDEL", keys.events(b.refunded), last_id});
  raw({"XADD", keys.events(b.refunded), "*", "type", "transition", "from", "3", "to", "4", "reason",
       "failed", "at", "1", "refund", std::to_string(k_cost_fen - 1)});

  const auto r = audit({k_m1});
  EXPECT_EQ(count(r, b.waiting, "2 debits in the ledger, exactly one expected"), 1) << listing(r);
  EXPECT_EQ(count(r, b.refunded, "(3->4) carries refund"), 1) << listing(r);
  EXPECT_EQ(r.findings.size(), 2u) << listing(r);
}

TEST_F(AuditBooks, OnlyTheNamedMerchantIsAudited) {
  make_books();
  raw({"HINCRBY", merchant_keys(k_prefix, k_m1).acct(), "balance", "1"});
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
  for (std::uint32_t i = 0; i < 40; ++i) order_in(k_m1, 100 + i, i % 2 ? 2 : 1);
  std::vector<order_record> moving;
  for (std::uint32_t i = 0; i < 60; ++i) {
    auto rec = make_order(k_m1, 1000 + i);
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
  EXPECT_GE(r.orders, 47);
  // And once quiet, everything is there and still clean.
  const auto after = audit({k_m1});
  EXPECT_TRUE(after.clean()) << listing(after);
  EXPECT_EQ(after.orders, 7 + 40 + 60);
}

// The built binary: `topupd audit --config FILE` exits 0 on clean books, non-zero otherwise.
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

TEST_F(AuditCommand, ExitsZeroOnCleanBooksAndNonZeroOnCorruptOnes) {
  const auto b = make_books();
  const std::string config = write_config(server_->port());

  auto [clean_status, clean_output] = test::run_topupd({"audit", "--config", config});
  EXPECT_EQ(clean_status, 0) << clean_output;
  EXPECT_EQ(clean_output.rfind("audit clean: 2 merchants, 8 orders, 14 ledger entries", 0), 0u)
      << clean_output;

  raw({"HSET", merchant_keys(k_prefix, k_m1).order(b.recharging), "status", "2"});
  auto [bad_status, bad_output] = test::run_topupd({"audit", "--config", config});
  EXPECT_EQ(bad_status, 1) << bad_output;
  EXPECT_NE(bad_output.find("merchant 1001 order \"" + b.recharging +
                            "\": status 2 but its events end in 1\n"),
            std::string::npos)
      << bad_output;
  EXPECT_NE(bad_output.find("audit FAILED: "), std::string::npos) << bad_output;

  // Limited to the other merchant: clean again.
  auto [m2_status, m2_output] =
      test::run_topupd({"audit", "--config", config, "--merchant", "1002"});
  EXPECT_EQ(m2_status, 0) << m2_output;
  EXPECT_NE(m2_output.find("audit clean: 1 merchants, 1 orders"), std::string::npos) << m2_output;

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
