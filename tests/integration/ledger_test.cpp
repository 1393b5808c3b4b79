// The ledger scripts and the order store against a real redis-server: money moves exactly once,
// every status change follows spec §4, and balance = credits - debits + refunds after every test.
#include <gtest/gtest.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <chrono>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "engine/errc.hpp"
#include "engine/ledger_scripts.hpp"
#include "engine/order_number.hpp"
#include "engine/order_record.hpp"
#include "engine/order_status.hpp"
#include "engine/order_store.hpp"
#include "engine/redis/connection.hpp"
#include "tests/support/io_run.hpp"
#include "tests/support/redis_server.hpp"

namespace topup::engine {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using std::chrono::steady_clock;

constexpr std::int64_t k_t0_ms = 1'700'000'000'000;
constexpr const char* k_prefix = "lt";
constexpr fen_t k_cost_fen = 9950;

// The statuses an order can rest in, and the transitions the transition script itself performs
// (spec §4 minus 0->6, which is accept's, and 3->4, which is fail_refund's).
constexpr int k_statuses[] = {0, 1, 2, 3, 4, 5, 6, 7};
const std::set<std::pair<int, int>> k_script_transitions = {{6, 7}, {7, 1}, {7, 6}, {1, 2},
                                                            {1, 6}, {1, 3}, {6, 3}, {7, 3}};

std::string word(const redis::reply& r) {
  if (r.type == redis::reply::kind::array && !r.elements.empty()) return r.elements[0].str;
  return "<" + r.str + ">";
}

class LedgerScripts : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = std::make_unique<test::redis_server>(); }
  static void TearDownTestSuite() { server_.reset(); }

  void SetUp() override {
    server_->flushall();
    conn_ = test::connect_to(io_, *server_);
    ASSERT_TRUE(conn_->connected());
    store_ = std::make_unique<order_store>(*conn_, k_prefix, fence_);
  }

  void TearDown() override {
    if (conn_->connected()) {
      for (auto m : merchants_) expect_ledger_consistent(m);
    }
    store_.reset();
    conn_->stop();
    io_.poll();
    conn_.reset();
  }

  void wait_connected() {
    drive([this] { return conn_->connected(); }, 10s);
  }

  // Runs the io_context until `done` or the deadline: the connection keeps it busy forever.
  template <class Done>
  void drive(Done done, std::chrono::milliseconds limit = 10s) {
    test::run_until(io_, done, limit);
  }

  template <class T>
  T run(asio::awaitable<T> op) {
    std::vector<asio::awaitable<T>> one;
    one.push_back(std::move(op));
    return std::move(run_all(std::move(one)).front());
  }

  // Starts every operation before any completes, so their commands are pipelined together.
  template <class T>
  std::vector<T> run_all(std::vector<asio::awaitable<T>> ops) {
    // Shared with the handlers: after a timeout they may still run from a later drive().
    struct state {
      std::vector<std::optional<T>> outs;
      std::exception_ptr failure;
      std::size_t done = 0;
    };
    auto st = std::make_shared<state>();
    st->outs.resize(ops.size());
    for (std::size_t i = 0; i < ops.size(); ++i) {
      asio::co_spawn(io_, std::move(ops[i]), [st, i](std::exception_ptr e, T v) {
        ++st->done;
        if (e)
          st->failure = e;
        else
          st->outs[i].emplace(std::move(v));
      });
    }
    drive([&] { return st->done == ops.size(); });
    if (st->failure) std::rethrow_exception(st->failure);
    if (st->done != ops.size()) throw std::runtime_error("operations did not finish in time");
    std::vector<T> results;
    for (auto& o : st->outs) results.push_back(std::move(*o));
    return results;
  }

  redis::reply raw(std::vector<std::string> args) {
    auto r = run(conn_->command(std::move(args)));
    EXPECT_TRUE(r.has_value());
    return r ? *r : redis::reply{};
  }

  redis::reply call_script(const redis::script& script, ledger_scripts::call c) {
    auto r = run(script.run(*conn_, std::move(c.keys), std::move(c.args)));
    EXPECT_TRUE(r.has_value());
    return r ? *r : redis::reply{};
  }

  std::int64_t dbsize() { return raw({"DBSIZE"}).integer; }

  void fund(std::int64_t m, fen_t amount_fen) {
    merchants_.insert(m);
    auto r = run(store_->credit(m, "fund-" + std::to_string(++fund_seq_), amount_fen, k_t0_ms));
    ASSERT_TRUE(r) << r.error().message();
  }

  order_record make_order(std::int64_t m, std::string order_no, std::uint32_t seq,
                          std::string notify_url = "") {
    merchants_.insert(m);
    order_record r;
    r.order_number = make_order_number({static_cast<std::uint64_t>(k_t0_ms + seq), 1, 0, seq, m});
    r.order_no = std::move(order_no);
    r.merchant_id = m;
    r.store_id = "s1";
    r.mobile = "13800138000";
    r.carrier = carrier::cmcc;
    r.money_yuan = 100;
    r.recharge_type = 1;
    r.notify_url = std::move(notify_url);
    r.change = true;
    r.fingerprint = "fp-" + r.order_no;
    r.cost_fen = k_cost_fen;
    return r;
  }

  void step(std::int64_t m, const std::string& n, int from, int to, std::int64_t now_ms) {
    auto r =
        run(store_->transition(m, n, *status_from_int(from), *status_from_int(to), "", {}, now_ms));
    ASSERT_TRUE(r) << n << " " << from << "->" << to << ": " << r.error().message();
    EXPECT_EQ(to_int(r->status), to);
  }

  // A new order of merchant m driven to `target` along the normal path.
  std::string order_in(std::int64_t m, std::uint32_t seq, int target, std::string notify_url = "") {
    auto rec = make_order(m, "no-" + std::to_string(seq), seq, std::move(notify_url));
    const std::int64_t t = k_t0_ms + seq;
    auto accepted = run(store_->accept(rec, t));
    EXPECT_TRUE(accepted && !accepted->duplicate);
    const std::string n = rec.order_number;
    switch (target) {
      case 6:
        break;
      case 7:
        step(m, n, 6, 7, t + 1);
        break;
      case 1:
        step(m, n, 6, 7, t + 1);
        step(m, n, 7, 1, t + 2);
        break;
      case 2:
        step(m, n, 6, 7, t + 1);
        step(m, n, 7, 1, t + 2);
        step(m, n, 1, 2, t + 3);
        break;
      case 3:
        step(m, n, 6, 3, t + 1);
        break;
      case 4: {
        auto r = run(store_->fail_refund(m, n, order_status::waiting, "gone", t + 1));
        EXPECT_TRUE(r);
        break;
      }
      default:
        ADD_FAILURE() << "no path to status " << target;
    }
    return n;
  }

  order_record get(std::int64_t m, const std::string& n) {
    auto r = run(store_->get(m, n));
    EXPECT_TRUE(r) << n << ": " << (r ? "" : r.error().message());
    return r ? *r : order_record{};
  }

  fen_t balance(std::int64_t m) {
    auto a = run(store_->account(m));
    EXPECT_TRUE(a);
    return a ? a->balance : -1;
  }

  bool in_zset(const std::string& key, const std::string& member) {
    return !raw({"ZSCORE", key, member}).is_nil();
  }

  // The audit: the acct hash obeys the invariant, the ledger stream replays to it entry by entry,
  // every order was debited exactly once and refunded exactly when it is in 4, and each order is
  // in exactly the indexes its status calls for.
  void expect_ledger_consistent(std::int64_t m) {
    SCOPED_TRACE("ledger audit of merchant " + std::to_string(m));
    auto acct = run(store_->account(m));
    ASSERT_TRUE(acct);
    EXPECT_EQ(acct->balance, acct->credits - acct->debits + acct->refunds);
    EXPECT_GE(acct->balance, 0);

    fen_t running = 0, credits = 0, debits = 0, refunds = 0;
    std::map<std::string, int> debited, refunded;
    std::string after;
    for (;;) {
      auto page = run(store_->ledger(m, after, 7));  // small pages: paging is exercised too
      ASSERT_TRUE(page);
      if (page->empty()) break;
      for (const auto& e : *page) {
        if (e.type == "credit") {
          running += e.amount_fen;
          credits += e.amount_fen;
          EXPECT_FALSE(e.ref.empty());
        } else if (e.type == "debit") {
          running -= e.amount_fen;
          debits += e.amount_fen;
          ++debited[e.order_number];
        } else if (e.type == "refund") {
          running += e.amount_fen;
          refunds += e.amount_fen;
          ++refunded[e.order_number];
        } else {
          ADD_FAILURE() << "ledger entry of type " << e.type;
        }
        EXPECT_EQ(e.balance_fen, running) << "entry " << e.id;
        EXPECT_GE(running, 0) << "entry " << e.id;
        after = e.id;
      }
    }
    EXPECT_EQ(running, acct->balance);
    EXPECT_EQ(credits, acct->credits);
    EXPECT_EQ(debits, acct->debits);
    EXPECT_EQ(refunds, acct->refunds);

    const merchant_keys keys(k_prefix, m);
    const auto all = raw({"ZRANGE", keys.all(), "0", "-1"});
    fen_t order_debits = 0, order_refunds = 0;
    std::int64_t non_terminal = 0;
    for (const auto& member : all.elements) {
      const std::string& n = member.str;
      const auto order = get(m, n);
      EXPECT_EQ(debited[n], 1) << n;
      order_debits += order.cost_fen;
      const bool in4 = order.status == order_status::refunded;
      EXPECT_EQ(order.refunded, in4) << n;
      EXPECT_EQ(refunded.count(n) ? refunded[n] : 0, in4 ? 1 : 0) << n;
      if (in4) order_refunds += order.cost_fen;
      for (int s : k_statuses)
        EXPECT_EQ(in_zset(keys.by_status(s), n), s == to_int(order.status)) << n << " st:" << s;
      const bool active = raw({"SISMEMBER", keys.active(), n}).integer == 1;
      EXPECT_EQ(active, !is_terminal(order.status)) << n;
      non_terminal += active ? 1 : 0;
      EXPECT_EQ(raw({"XLEN", keys.events(n)}).integer, order.event_count) << n;
      EXPECT_EQ(raw({"HGET", keys.ono(), order.order_no}).str, n + ":" + order.fingerprint);
    }
    EXPECT_EQ(debited.size(), all.elements.size()) << "a debit names no stored order";
    EXPECT_EQ(order_debits, debits);
    EXPECT_EQ(order_refunds, refunds);
    EXPECT_EQ(raw({"SCARD", keys.active()}).integer, non_terminal);
    EXPECT_EQ(raw({"HLEN", keys.ono()}).integer, static_cast<std::int64_t>(all.elements.size()));
  }

  static std::unique_ptr<test::redis_server> server_;
  asio::io_context io_{1};
  std::unique_ptr<redis::connection> conn_;
  const fence_token fence_{"0", 1};
  std::unique_ptr<order_store> store_;
  std::set<std::int64_t> merchants_;
  int fund_seq_ = 0;
};

std::unique_ptr<test::redis_server> LedgerScripts::server_;

TEST_F(LedgerScripts, AcceptDebitsExactlyCostAndWritesRecordEventsLedgerIndexes) {
  const std::int64_t m = 1001;
  fund(m, 100'000);
  auto rec = make_order(m, "A-1", 1, "http://merchant.example/cb");
  const std::int64_t now = k_t0_ms + 5;
  auto r = run(store_->accept(rec, now));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(r->duplicate);
  EXPECT_EQ(r->order_number, rec.order_number);
  EXPECT_EQ(r->balance_fen, 100'000 - k_cost_fen);

  const auto a = run(store_->account(m));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->balance, 100'000 - k_cost_fen);
  EXPECT_EQ(a->credits, 100'000);
  EXPECT_EQ(a->debits, k_cost_fen);
  EXPECT_EQ(a->refunds, 0);

  const auto o = get(m, rec.order_number);
  EXPECT_EQ(o.order_number, rec.order_number);
  EXPECT_EQ(o.order_no, "A-1");
  EXPECT_EQ(o.merchant_id, m);
  EXPECT_EQ(o.store_id, "s1");
  EXPECT_EQ(o.mobile, "13800138000");
  EXPECT_EQ(o.carrier, carrier::cmcc);
  EXPECT_EQ(o.money_yuan, 100);
  EXPECT_EQ(o.recharge_type, 1);
  EXPECT_EQ(o.notify_url, "http://merchant.example/cb");
  EXPECT_TRUE(o.change);
  EXPECT_EQ(o.source, "");
  EXPECT_EQ(o.fingerprint, "fp-A-1");
  EXPECT_EQ(o.cost_fen, k_cost_fen);
  EXPECT_EQ(o.status, order_status::waiting);
  EXPECT_EQ(o.created_at_ms, now);
  EXPECT_EQ(o.updated_at_ms, now);
  EXPECT_EQ(o.finished_at_ms, 0);
  EXPECT_EQ(o.event_count, 1);
  EXPECT_FALSE(o.refunded);
  EXPECT_TRUE(o.extra.empty());

  // One event for the step, 0->6, carrying every field the record was created with.
  auto events = run(store_->events(m, rec.order_number));
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].field("type"), "accepted");
  EXPECT_EQ((*events)[0].field("from"), "0");
  EXPECT_EQ((*events)[0].field("to"), "6");
  EXPECT_EQ((*events)[0].field("at"), std::to_string(now));
  EXPECT_EQ((*events)[0].field("order_number"), rec.order_number);
  EXPECT_EQ((*events)[0].field("order_no"), "A-1");
  EXPECT_EQ((*events)[0].field("cost"), "9950");
  EXPECT_EQ((*events)[0].field("mobile"), "13800138000");
  EXPECT_EQ((*events)[0].field("notify_url"), "http://merchant.example/cb");
  EXPECT_EQ((*events)[0].field("fingerprint"), "fp-A-1");

  auto ledger = run(store_->ledger(m, "", 100));
  ASSERT_TRUE(ledger);
  ASSERT_EQ(ledger->size(), 2u);
  EXPECT_EQ((*ledger)[1].type, "debit");
  EXPECT_EQ((*ledger)[1].amount_fen, k_cost_fen);
  EXPECT_EQ((*ledger)[1].balance_fen, 100'000 - k_cost_fen);
  EXPECT_EQ((*ledger)[1].order_number, rec.order_number);
  EXPECT_EQ((*ledger)[1].at_ms, now);

  const merchant_keys keys(k_prefix, m);
  EXPECT_EQ(raw({"ZSCORE", keys.all(), rec.order_number}).str, std::to_string(now));
  EXPECT_EQ(raw({"ZSCORE", keys.by_status(6), rec.order_number}).str, std::to_string(now));
  EXPECT_EQ(raw({"SISMEMBER", keys.active(), rec.order_number}).integer, 1);
  auto active = run(store_->active_orders(m));
  ASSERT_TRUE(active);
  EXPECT_EQ(*active, std::vector<std::string>{rec.order_number});
  EXPECT_EQ(raw({"ZCARD", keys.cbdue()}).integer, 0);

  auto by_no = run(store_->find_by_order_no(m, "A-1"));
  ASSERT_TRUE(by_no);
  EXPECT_EQ(by_no->order_number, rec.order_number);
  EXPECT_EQ(run(store_->find_by_order_no(m, "A-2")).error(), errc::order_not_found);
  EXPECT_EQ(run(store_->get(m, "T0M1")).error(), errc::order_not_found);
  // Given the first attempt's fields, the same step goes on to 7: still one event, 0->7, which
  // carries them too.
  auto matched = make_order(m, "A-2", 2, "");
  field_pairs attempt;
  attempt.emplace_back("channel", "sim1");
  attempt.emplace_back("attempt_id", matched.order_number + "-1");
  ASSERT_TRUE(run(store_->accept(matched, now, attempt)));
  const auto o7 = get(m, matched.order_number);
  EXPECT_EQ(o7.status, order_status::matched);
  EXPECT_EQ(o7.event_count, 1);
  EXPECT_EQ(o7.extra_field("channel"), "sim1");
  EXPECT_TRUE(in_zset(keys.by_status(7), matched.order_number));
  EXPECT_FALSE(in_zset(keys.by_status(6), matched.order_number));
  auto events7 = run(store_->events(m, matched.order_number));
  ASSERT_TRUE(events7);
  ASSERT_EQ(events7->size(), 1u);
  EXPECT_EQ((*events7)[0].field("from"), "0");
  EXPECT_EQ((*events7)[0].field("to"), "7");
  EXPECT_EQ((*events7)[0].field("channel"), "sim1");
  EXPECT_EQ((*events7)[0].field("mobile"), "13800138000");
}

TEST_F(LedgerScripts, IdenticalRepeatIsDuplicateWithoutSecondDebit) {
  const std::int64_t m = 1002;
  fund(m, 50'000);
  auto rec = make_order(m, "dup-1", 1);
  auto first = run(store_->accept(rec, k_t0_ms));
  ASSERT_TRUE(first);
  // A retry gets a fresh order number from the service; the stored one must come back.
  auto retry = rec;
  retry.order_number = make_order_number({static_cast<std::uint64_t>(k_t0_ms + 99), 1, 0, 99, m});
  auto second = run(store_->accept(retry, k_t0_ms + 99));
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_TRUE(second->duplicate);
  EXPECT_EQ(second->order_number, rec.order_number);
  EXPECT_EQ(second->balance_fen, 50'000 - k_cost_fen);
  EXPECT_EQ(balance(m), 50'000 - k_cost_fen);
  EXPECT_EQ(run(store_->get(m, retry.order_number)).error(), errc::order_not_found);
}

TEST_F(LedgerScripts, SameOrderNoOtherParametersConflicts) {
  const std::int64_t m = 1003;
  fund(m, 50'000);
  auto rec = make_order(m, "c-1", 1);
  ASSERT_TRUE(run(store_->accept(rec, k_t0_ms)));
  const auto keys_before = dbsize();
  auto other = make_order(m, "c-1", 2);
  other.money_yuan = 50;
  other.fingerprint = "another-fingerprint";
  auto r = run(store_->accept(other, k_t0_ms + 2));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::order_no_conflict);
  EXPECT_EQ(balance(m), 50'000 - k_cost_fen);
  EXPECT_EQ(dbsize(), keys_before);
}

TEST_F(LedgerScripts, InsufficientBalanceWritesNothing) {
  const std::int64_t m = 1004;
  fund(m, k_cost_fen - 1);
  const auto keys_before = dbsize();
  const auto stream_before = raw({"XLEN", merchant_keys(k_prefix, m).ledger()}).integer;
  auto r = run(store_->accept(make_order(m, "poor-1", 1), k_t0_ms));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::insufficient_balance);
  EXPECT_EQ(dbsize(), keys_before);
  EXPECT_EQ(balance(m), k_cost_fen - 1);
  EXPECT_EQ(raw({"XLEN", merchant_keys(k_prefix, m).ledger()}).integer, stream_before);

  // A merchant that was never credited has no account at all, and gets none from a refusal.
  const std::int64_t never = 1005;
  auto r2 = run(store_->accept(make_order(never, "poor-2", 2), k_t0_ms));
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error(), errc::insufficient_balance);
  EXPECT_EQ(dbsize(), keys_before);
  auto a = run(store_->account(never));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->balance, 0);
  EXPECT_EQ(a->credits, 0);

  // The exact balance is enough.
  fund(m, 1);
  auto r3 = run(store_->accept(make_order(m, "poor-1", 1), k_t0_ms + 1));
  ASSERT_TRUE(r3);
  EXPECT_EQ(r3->balance_fen, 0);
}

TEST_F(LedgerScripts, OrderNumberCollisionIsRefusedWithoutDebit) {
  const std::int64_t m = 1006;
  fund(m, 50'000);
  auto rec = make_order(m, "n-1", 7);
  ASSERT_TRUE(run(store_->accept(rec, k_t0_ms)));
  auto clash = make_order(m, "n-2", 7);  // same sequence and time: same order number
  ASSERT_EQ(clash.order_number, rec.order_number);
  const auto keys_before = dbsize();
  auto r = run(store_->accept(clash, k_t0_ms));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::order_number_taken);
  EXPECT_EQ(balance(m), 50'000 - k_cost_fen);
  EXPECT_EQ(dbsize(), keys_before);
  EXPECT_EQ(run(store_->find_by_order_no(m, "n-2")).error(), errc::order_not_found);
}

TEST_F(LedgerScripts, ConcurrentAcceptsOfOneOrderNoCreateOneOrderAndOneDebit) {
  const std::int64_t m = 1007;
  fund(m, 1'000'000);
  std::vector<asio::awaitable<boost::system::result<accept_result>>> ops;
  for (std::uint32_t i = 0; i < 16; ++i) {
    auto rec = make_order(m, "same", 100 + i);  // each try has its own order number
    ops.push_back(store_->accept(rec, k_t0_ms + i));
  }
  auto results = run_all(std::move(ops));
  int fresh = 0;
  std::set<std::string> numbers;
  for (const auto& r : results) {
    ASSERT_TRUE(r) << r.error().message();
    fresh += r->duplicate ? 0 : 1;
    numbers.insert(r->order_number);
  }
  EXPECT_EQ(fresh, 1);
  EXPECT_EQ(numbers.size(), 1u);
  EXPECT_EQ(balance(m), 1'000'000 - k_cost_fen);
  EXPECT_EQ(raw({"ZCARD", merchant_keys(k_prefix, m).all()}).integer, 1);
}

TEST_F(LedgerScripts, ConcurrentAcceptsNeverOverdraw) {
  const std::int64_t m = 1008;
  fund(m, 5 * k_cost_fen + 100);
  std::vector<asio::awaitable<boost::system::result<accept_result>>> ops;
  for (std::uint32_t i = 0; i < 16; ++i)
    ops.push_back(store_->accept(make_order(m, "o-" + std::to_string(i), i), k_t0_ms + i));
  auto results = run_all(std::move(ops));
  int ok = 0, refused = 0;
  for (const auto& r : results) {
    if (r)
      ++ok;
    else if (r.error() == errc::insufficient_balance)
      ++refused;
  }
  EXPECT_EQ(ok, 5);
  EXPECT_EQ(refused, 11);
  EXPECT_EQ(balance(m), 100);
}

TEST_F(LedgerScripts, EveryAllowedTransitionWorks) {
  const std::int64_t m = 1010;
  fund(m, 1'000'000);
  const merchant_keys keys(k_prefix, m);
  // Each script transition from its own order; 3->4 is fail_refund's and 0->6 accept's.
  std::uint32_t seq = 0;
  for (auto [from, to] : k_script_transitions) {
    SCOPED_TRACE(std::to_string(from) + "->" + std::to_string(to));
    const auto n = order_in(m, ++seq, from);
    const auto before = get(m, n);
    const std::int64_t now = k_t0_ms + 500'000 + seq;
    auto r = run(store_->transition(m, n, *status_from_int(from), *status_from_int(to),
                                    "why " + std::to_string(to), {}, now));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(to_int(r->status), to);
    EXPECT_EQ(r->reason, "why " + std::to_string(to));
    EXPECT_EQ(r->updated_at_ms, now);
    EXPECT_EQ(r->event_count, before.event_count + 1);
    EXPECT_EQ(r->finished_at_ms, to == 2 ? now : 0);
    EXPECT_FALSE(in_zset(keys.by_status(from), n));
    EXPECT_EQ(raw({"ZSCORE", keys.by_status(to), n}).str, std::to_string(before.created_at_ms));
    EXPECT_EQ(raw({"SISMEMBER", keys.active(), n}).integer, to == 2 ? 0 : 1);
    auto events = run(store_->events(m, n));
    ASSERT_TRUE(events);
    ASSERT_FALSE(events->empty());
    const auto& last = events->back();
    EXPECT_EQ(last.field("type"), "transition");
    EXPECT_EQ(last.field("from"), std::to_string(from));
    EXPECT_EQ(last.field("to"), std::to_string(to));
    EXPECT_EQ(last.field("reason"), "why " + std::to_string(to));
    EXPECT_EQ(last.field("at"), std::to_string(now));
    EXPECT_EQ(get(m, n).status, r->status);  // the returned projection is what is stored
  }
  // 3->4.
  const auto n = order_in(m, ++seq, 3);
  auto r = run(store_->fail_refund(m, n, order_status::failed, "", k_t0_ms + 900'000));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, order_status::refunded);
}

TEST_F(LedgerScripts, ScriptRejectsEveryDisallowedTransition) {
  const std::int64_t m = 1011;
  fund(m, 1'000'000);
  // One order resting in each reachable status; 0 and 5 are never stored, so those are asked of
  // an order in 6.
  std::map<int, std::string> in;
  std::uint32_t seq = 0;
  for (int s : {1, 2, 3, 4, 6, 7}) in[s] = order_in(m, ++seq, s);
  in[0] = in[6];
  in[5] = in[6];
  const merchant_keys keys(k_prefix, m);
  int rejected = 0;
  for (int from : k_statuses) {
    for (int to : k_statuses) {
      if (k_script_transitions.count({from, to})) continue;
      SCOPED_TRACE(std::to_string(from) + "->" + std::to_string(to));
      const auto& n = in[from];
      const auto before = get(m, n);
      // Straight to the script, past every C++ check.
      auto answer = call_script(
          ledger_scripts::transition(),
          ledger_scripts::transition_call(keys, n, from, to, "x", {}, k_t0_ms + 1'000'000));
      EXPECT_EQ(word(answer), "illegal");
      const auto after = get(m, n);
      EXPECT_EQ(after.status, before.status);
      EXPECT_EQ(after.event_count, before.event_count);
      EXPECT_EQ(after.updated_at_ms, before.updated_at_ms);
      ++rejected;
      // And the store refuses it before asking Redis.
      auto from_s = status_from_int(from);
      auto to_s = status_from_int(to);
      if (from_s && to_s) {
        auto r = run(store_->transition(m, n, *from_s, *to_s, "x", {}, k_t0_ms + 1'000'000));
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error(), errc::illegal_transition);
      }
    }
  }
  EXPECT_EQ(rejected, 64 - 8);
  // Statuses that are not single digits never match a listed move, even spliced from two of
  // them ("6>7 7" + ">" + "1" reads "6>7 7>1").
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"6>7 7", "1"}, {"6", "7 7>1"}, {"", "7"}, {"6", ""}, {"06", "7"}}) {
    auto c = ledger_scripts::transition_call(keys, in[6], 6, 7, "x", {}, k_t0_ms + 1'000'000);
    c.args[1] = from;
    c.args[2] = to;
    EXPECT_EQ(word(call_script(ledger_scripts::transition(), std::move(c))), "illegal")
        << from << " -> " << to;
  }
  EXPECT_EQ(get(m, in[6]).status, order_status::waiting);
  // fail_refund only starts from 1, 6, 7 or 3.
  for (int from : {0, 2, 4, 5}) {
    auto answer = call_script(
        ledger_scripts::fail_refund(),
        ledger_scripts::fail_refund_call(keys, in[from], from, "x", k_t0_ms + 1'000'000));
    EXPECT_EQ(word(answer), "illegal") << from;
  }
  EXPECT_EQ(run(store_->fail_refund(m, in[2], order_status::success, "x", k_t0_ms)).error(),
            errc::illegal_transition);
}

TEST_F(LedgerScripts, CompareAndSetLosesWhenTheStatusMoved) {
  const std::int64_t m = 1012;
  fund(m, 1'000'000);
  const auto n = order_in(m, 1, 7);
  const auto before = get(m, n);
  auto r = run(
      store_->transition(m, n, order_status::waiting, order_status::matched, "", {}, k_t0_ms + 10));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::stale_status);
  const auto after = get(m, n);
  EXPECT_EQ(after.status, order_status::matched);
  EXPECT_EQ(after.event_count, before.event_count);

  // Two movers race from 6: exactly one wins.
  const auto n2 = order_in(m, 2, 6);
  std::vector<asio::awaitable<boost::system::result<order_record>>> ops;
  ops.push_back(store_->transition(m, n2, order_status::waiting, order_status::matched, "", {},
                                   k_t0_ms + 20));
  ops.push_back(store_->transition(m, n2, order_status::waiting, order_status::failed, "timeout",
                                   {}, k_t0_ms + 20));
  ops.push_back(store_->fail_refund(m, n2, order_status::waiting, "cancel", k_t0_ms + 20));
  auto results = run_all(std::move(ops));
  int won = 0;
  for (const auto& x : results) {
    if (x)
      ++won;
    else
      EXPECT_EQ(x.error(), errc::stale_status);
  }
  EXPECT_EQ(won, 1);

  EXPECT_EQ(run(store_->transition(m, "T170000000099900100000001M1012", order_status::waiting,
                                   order_status::matched, "", {}, k_t0_ms))
                .error(),
            errc::order_not_found);
  EXPECT_EQ(run(store_->fail_refund(m, "T170000000099900100000001M1012", order_status::waiting, "",
                                    k_t0_ms))
                .error(),
            errc::order_not_found);
}

TEST_F(LedgerScripts, TransitionExtraFieldsLandInRecordAndEvent) {
  const std::int64_t m = 1013;
  fund(m, 1'000'000);
  const auto n = order_in(m, 1, 6);
  auto r = run(store_->transition(m, n, order_status::waiting, order_status::matched, "",
                                  {{"channel", "sim1"}, {"attempt", "1"}}, k_t0_ms + 10));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->extra_field("channel"), "sim1");
  EXPECT_EQ(r->extra_field("attempt"), "1");
  EXPECT_EQ(get(m, n).extra_field("channel"), "sim1");
  auto events = run(store_->events(m, n));
  ASSERT_TRUE(events);
  EXPECT_EQ(events->back().field("channel"), "sim1");
  EXPECT_EQ(events->back().field("attempt"), "1");

  // A core field may not be smuggled in as an extra: not by the store, not by the script.
  auto bad = run(store_->transition(m, n, order_status::matched, order_status::recharging, "",
                                    {{"cost", "0"}}, k_t0_ms + 20));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), errc::internal);
  auto answer = call_script(ledger_scripts::transition(),
                            ledger_scripts::transition_call(merchant_keys(k_prefix, m), n, 7, 1, "",
                                                            {{"cost", "0"}}, k_t0_ms + 20));
  EXPECT_TRUE(answer.is_error()) << word(answer);
  EXPECT_EQ(get(m, n).status, order_status::matched);
  EXPECT_EQ(get(m, n).cost_fen, k_cost_fen);
}

TEST_F(LedgerScripts, RefundOnlyOnceFromFailed) {
  const std::int64_t m = 1014;
  fund(m, 100'000);
  const auto n = order_in(m, 1, 3);
  EXPECT_EQ(balance(m), 100'000 - k_cost_fen);
  auto r = run(store_->fail_refund(m, n, order_status::failed, "recovered", k_t0_ms + 50));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, order_status::refunded);
  EXPECT_TRUE(r->refunded);
  EXPECT_EQ(r->finished_at_ms, k_t0_ms + 50);
  EXPECT_EQ(balance(m), 100'000);

  const auto stream_before = raw({"XLEN", merchant_keys(k_prefix, m).ledger()}).integer;
  auto again = run(store_->fail_refund(m, n, order_status::failed, "again", k_t0_ms + 60));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), errc::stale_status);
  // Straight to the script, claiming 4 is 3, or asking from 6: no money either way.
  auto answer = call_script(
      ledger_scripts::fail_refund(),
      ledger_scripts::fail_refund_call(merchant_keys(k_prefix, m), n, 6, "again", k_t0_ms + 70));
  EXPECT_EQ(word(answer), "stale");
  EXPECT_EQ(balance(m), 100'000);
  EXPECT_EQ(raw({"XLEN", merchant_keys(k_prefix, m).ledger()}).integer, stream_before);
}

TEST_F(LedgerScripts, FailRefundFromWaitingMatchedAndRecharging) {
  const std::int64_t m = 1015;
  fund(m, 100'000);
  std::uint32_t seq = 0;
  for (int from : {6, 7, 1}) {
    SCOPED_TRACE("from " + std::to_string(from));
    const auto n = order_in(m, ++seq, from);
    const auto before = get(m, n);
    const auto balance_before = balance(m);
    const std::int64_t now = k_t0_ms + 1000 + seq;
    auto r = run(store_->fail_refund(m, n, *status_from_int(from), "every channel failed", now));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, order_status::refunded);
    EXPECT_EQ(r->reason, "every channel failed");
    EXPECT_EQ(r->finished_at_ms, now);
    EXPECT_EQ(r->event_count, before.event_count + 2);
    EXPECT_EQ(balance(m), balance_before + k_cost_fen);
    auto events = run(store_->events(m, n));
    ASSERT_TRUE(events);
    ASSERT_GE(events->size(), 2u);
    const auto& to3 = (*events)[events->size() - 2];
    const auto& to4 = events->back();
    EXPECT_EQ(to3.field("from"), std::to_string(from));
    EXPECT_EQ(to3.field("to"), "3");
    EXPECT_EQ(to4.field("from"), "3");
    EXPECT_EQ(to4.field("to"), "4");
    EXPECT_EQ(to4.field("refund"), std::to_string(k_cost_fen));
    auto again = run(store_->fail_refund(m, n, *status_from_int(from), "x", now + 1));
    EXPECT_EQ(again.error(), errc::stale_status);
    EXPECT_EQ(balance(m), balance_before + k_cost_fen);
  }
  EXPECT_EQ(balance(m), 100'000);
}

TEST_F(LedgerScripts, ConcurrentRefundsMoveMoneyOnce) {
  const std::int64_t m = 1016;
  fund(m, 100'000);
  const auto n = order_in(m, 1, 1);
  std::vector<asio::awaitable<boost::system::result<order_record>>> ops;
  for (int i = 0; i < 8; ++i)
    ops.push_back(store_->fail_refund(m, n, order_status::recharging, "x", k_t0_ms + 10 + i));
  auto results = run_all(std::move(ops));
  int ok = 0;
  for (const auto& r : results) ok += r ? 1 : 0;
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(balance(m), 100'000);
}

TEST_F(LedgerScripts, FinalStatusWithNotifyUrlSchedulesTheCallback) {
  const std::int64_t m = 1017;
  fund(m, 100'000);
  const merchant_keys keys(k_prefix, m);
  const auto n = order_in(m, 1, 1, "https://merchant.example/cb");
  const std::int64_t done_at = k_t0_ms + 5000;
  auto r = run(
      store_->transition(m, n, order_status::recharging, order_status::success, "", {}, done_at));
  ASSERT_TRUE(r);
  EXPECT_EQ(raw({"ZSCORE", keys.cbdue(), n}).str, std::to_string(done_at));
  EXPECT_EQ(r->extra_field("cb_status"), "pending");
  EXPECT_EQ(r->extra_field("cb_attempts"), "0");
  EXPECT_EQ(r->finished_at_ms, done_at);

  // No notify_url, no callback.
  const auto quiet = order_in(m, 2, 1);
  ASSERT_TRUE(run(store_->transition(m, quiet, order_status::recharging, order_status::success, "",
                                     {}, done_at)));
  EXPECT_FALSE(in_zset(keys.cbdue(), quiet));
  EXPECT_FALSE(get(m, quiet).extra_field("cb_status"));

  // A refund is final too; 3 alone is not.
  const auto failed = order_in(m, 3, 6, "https://merchant.example/cb");
  ASSERT_TRUE(run(store_->transition(m, failed, order_status::waiting, order_status::failed, "x",
                                     {}, done_at + 1)));
  EXPECT_FALSE(in_zset(keys.cbdue(), failed));
  ASSERT_TRUE(run(store_->fail_refund(m, failed, order_status::failed, "", done_at + 2)));
  EXPECT_EQ(raw({"ZSCORE", keys.cbdue(), failed}).str, std::to_string(done_at + 2));
  EXPECT_EQ(get(m, failed).reason, "x");  // the failure's reason survives the refund step

  auto due = run(store_->due_callbacks(m, done_at - 1, 10));
  ASSERT_TRUE(due);
  EXPECT_TRUE(due->empty());
  due = run(store_->due_callbacks(m, done_at + 2, 10));
  ASSERT_TRUE(due);
  EXPECT_EQ(*due, (std::vector<std::string>{n, failed}));
  due = run(store_->due_callbacks(m, done_at + 2, 1));
  ASSERT_TRUE(due);
  EXPECT_EQ(*due, std::vector<std::string>{n});
}

TEST_F(LedgerScripts, CreditRefIsAppliedOnce) {
  const std::int64_t m = 1018;
  merchants_.insert(m);
  auto first = run(store_->credit(m, "wire-1", 12'345, k_t0_ms));
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->repeat);
  EXPECT_EQ(first->balance_fen, 12'345);
  auto again = run(store_->credit(m, "wire-1", 12'345, k_t0_ms + 1));
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->repeat);
  EXPECT_EQ(again->balance_fen, 12'345);

  // Sixteen concurrent deliveries of one new ref.
  std::vector<asio::awaitable<boost::system::result<credit_result>>> ops;
  for (int i = 0; i < 16; ++i) ops.push_back(store_->credit(m, "wire-2", 500, k_t0_ms + 2));
  auto results = run_all(std::move(ops));
  int applied = 0;
  for (const auto& r : results) {
    ASSERT_TRUE(r);
    applied += r->repeat ? 0 : 1;
  }
  EXPECT_EQ(applied, 1);
  EXPECT_EQ(balance(m), 12'845);
  auto a = run(store_->account(m));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->credits, 12'845);
}

TEST_F(LedgerScripts, CreditRepeatedRefWithAnotherAmountIsConflict) {
  // Spec §7: a repeated ref with another amount is 2003, not a repeat; nothing moves.
  const std::int64_t m = 1024;
  merchants_.insert(m);
  auto first = run(store_->credit(m, "wire-9", 10'000, k_t0_ms));
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->repeat);
  const auto ledger_key = merchant_keys(k_prefix, m).ledger();
  const auto entries_before = raw({"XLEN", ledger_key}).integer;

  for (const fen_t other : {5'000, 10'001, -10'000}) {
    auto conflict = run(store_->credit(m, "wire-9", other, k_t0_ms + 1));
    ASSERT_FALSE(conflict) << other;
    EXPECT_EQ(conflict.error(), errc::order_no_conflict) << other;
  }
  EXPECT_EQ(balance(m), 10'000);
  EXPECT_EQ(raw({"XLEN", ledger_key}).integer, entries_before) << "a conflict was booked";
  EXPECT_EQ(raw({"HGET", merchant_keys(k_prefix, m).crefs(), "wire-9"}).str, "10000")
      << "the first amount of the ref was replaced";

  // The same amount is still a repeat, applied once.
  auto again = run(store_->credit(m, "wire-9", 10'000, k_t0_ms + 2));
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->repeat);
  EXPECT_EQ(again->balance_fen, 10'000);
}

TEST_F(LedgerScripts, NegativeCreditBelowZeroIsRejected) {
  const std::int64_t m = 1019;
  fund(m, 1000);
  const auto keys_before = dbsize();
  auto r = run(store_->credit(m, "fix-1", -1001, k_t0_ms));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::insufficient_balance);
  EXPECT_EQ(balance(m), 1000);
  EXPECT_EQ(dbsize(), keys_before);
  // The refused ref was not consumed.
  EXPECT_EQ(raw({"HEXISTS", merchant_keys(k_prefix, m).crefs(), "fix-1"}).integer, 0);

  auto to_zero = run(store_->credit(m, "fix-2", -1000, k_t0_ms + 1));
  ASSERT_TRUE(to_zero);
  EXPECT_EQ(to_zero->balance_fen, 0);
  auto repeat = run(store_->credit(m, "fix-2", -1000, k_t0_ms + 2));
  ASSERT_TRUE(repeat);
  EXPECT_TRUE(repeat->repeat);
  EXPECT_EQ(repeat->balance_fen, 0);
  auto a = run(store_->account(m));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->credits, 0);
}

TEST_F(LedgerScripts, ListPagesNewestFirstWithStatusAndTimeFilters) {
  const std::int64_t m = 1020;
  fund(m, 1'000'000);
  std::vector<std::string> n;  // n[i] created at k_t0 + i s
  for (std::uint32_t i = 0; i < 25; ++i) {
    auto rec = make_order(m, "L-" + std::to_string(i), i);
    ASSERT_TRUE(run(store_->accept(rec, k_t0_ms + i * 1000)));
    n.push_back(rec.order_number);
    if (i % 5 == 0) step(m, rec.order_number, 6, 7, k_t0_ms + 100'000);
  }
  auto numbers = [](const order_page& p) {
    std::vector<std::string> out;
    for (const auto& o : p.orders) out.push_back(o.order_number);
    return out;
  };
  const std::int64_t lo = k_t0_ms, hi = k_t0_ms + 24'000;

  auto p1 = run(store_->list(m, lo, hi, std::nullopt, 1, 10));
  ASSERT_TRUE(p1);
  EXPECT_EQ(p1->total, 25);
  ASSERT_EQ(p1->orders.size(), 10u);
  for (std::size_t i = 0; i < 10; ++i) EXPECT_EQ(p1->orders[i].order_number, n[24 - i]);
  EXPECT_EQ(p1->orders[0].order_no, "L-24");
  EXPECT_EQ(p1->orders[0].cost_fen, k_cost_fen);

  auto p3 = run(store_->list(m, lo, hi, std::nullopt, 3, 10));
  ASSERT_TRUE(p3);
  EXPECT_EQ(p3->total, 25);
  EXPECT_EQ(numbers(*p3), (std::vector<std::string>{n[4], n[3], n[2], n[1], n[0]}));

  auto p4 = run(store_->list(m, lo, hi, std::nullopt, 4, 10));
  ASSERT_TRUE(p4);
  EXPECT_EQ(p4->total, 25);
  EXPECT_TRUE(p4->orders.empty());

  auto matched = run(store_->list(m, lo, hi, order_status::matched, 1, 20));
  ASSERT_TRUE(matched);
  EXPECT_EQ(matched->total, 5);
  EXPECT_EQ(numbers(*matched), (std::vector<std::string>{n[20], n[15], n[10], n[5], n[0]}));
  for (const auto& o : matched->orders) EXPECT_EQ(o.status, order_status::matched);

  auto waiting = run(store_->list(m, lo, hi, order_status::waiting, 2, 15));
  ASSERT_TRUE(waiting);
  EXPECT_EQ(waiting->total, 20);
  EXPECT_EQ(waiting->orders.size(), 5u);

  // Both ends of the range are inclusive.
  auto range = run(store_->list(m, k_t0_ms + 5000, k_t0_ms + 9000, std::nullopt, 1, 20));
  ASSERT_TRUE(range);
  EXPECT_EQ(range->total, 5);
  EXPECT_EQ(numbers(*range), (std::vector<std::string>{n[9], n[8], n[7], n[6], n[5]}));
  auto range_matched =
      run(store_->list(m, k_t0_ms + 5000, k_t0_ms + 15'000, order_status::matched, 1, 20));
  ASSERT_TRUE(range_matched);
  EXPECT_EQ(numbers(*range_matched), (std::vector<std::string>{n[15], n[10], n[5]}));
  auto empty_range = run(store_->list(m, k_t0_ms + 500, k_t0_ms + 999, std::nullopt, 1, 20));
  ASSERT_TRUE(empty_range);
  EXPECT_EQ(empty_range->total, 0);
  EXPECT_TRUE(empty_range->orders.empty());

  auto none = run(store_->list(m + 1, lo, hi, std::nullopt, 1, 20));
  ASSERT_TRUE(none);
  EXPECT_EQ(none->total, 0);
  auto bad_page = run(store_->list(m, lo, hi, std::nullopt, 0, 20));
  ASSERT_TRUE(bad_page);
  EXPECT_EQ(bad_page->total, 25);
  EXPECT_TRUE(bad_page->orders.empty());
}

TEST_F(LedgerScripts, MalformedRecordIsStorageProtocolAndUnknownFieldsAreKept) {
  const std::int64_t m = 1021;  // written by hand below: not audited
  const merchant_keys keys(k_prefix, m);
  const std::string n = "T170000000000000100000001M1021";
  raw({"HSET",     keys.order(n), "order_number", n,
       "order_no", "h-1",         "merchant_id",  "1021",
       "mobile",   "13800138000", "carrier",      "cmcc",
       "money",    "100",         "cost",         "9950",
       "status",   "2",           "created_at",   "1700000000000",
       "channel",  "sim1",        "cb_attempts",  "3"});
  auto ok = run(store_->get(m, n));
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(ok->status, order_status::success);
  EXPECT_EQ(ok->extra, (field_pairs{{"channel", "sim1"}, {"cb_attempts", "3"}}));

  for (auto [field, value] :
       std::vector<std::pair<std::string, std::string>>{{"status", "5"},
                                                        {"status", "x"},
                                                        {"cost", "-1"},
                                                        {"cost", "99.5"},
                                                        {"carrier", "CMCC"},
                                                        {"change", "yes"},
                                                        {"created_at", ""},
                                                        {"merchant_id", "0"}}) {
    raw({"HSET", keys.order(n), field, value});
    auto bad = run(store_->get(m, n));
    ASSERT_FALSE(bad) << field << "=" << value;
    EXPECT_EQ(bad.error(), errc::storage_protocol) << field << "=" << value;
    raw({"HSET", keys.order(n), "status", "2", "cost", "9950", "carrier", "cmcc", "change", "1",
         "created_at", "1700000000000", "merchant_id", "1021"});
  }
  raw({"HDEL", keys.order(n), "mobile"});
  EXPECT_EQ(run(store_->get(m, n)).error(), errc::storage_protocol);

  // A corrupt account stops the accept script before it writes anything.
  raw({"HSET", keys.acct(), "balance", "lots"});
  const auto keys_before = dbsize();
  auto rec = make_order(m, "h-2", 2);
  merchants_.erase(m);
  auto r = run(store_->accept(rec, k_t0_ms));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::storage_protocol);
  EXPECT_EQ(dbsize(), keys_before);
}

TEST_F(LedgerScripts, ScriptsAreReloadedAfterTheCacheIsFlushed) {
  const std::int64_t m = 1022;
  fund(m, 100'000);
  raw({"SCRIPT", "FLUSH"});
  auto r = run(store_->accept(make_order(m, "f-1", 1), k_t0_ms));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->balance_fen, 100'000 - k_cost_fen);
}

TEST_F(LedgerScripts, RedisDownIsStorageUnavailableAndNothingIsLost) {
  const std::int64_t m = 1023;
  fund(m, 100'000);
  const auto n = order_in(m, 1, 6);
  server_->stop();
  // The first command may leave before the connection learns the server is gone: then its
  // outcome is unknown, not "not applied"; either way nothing moved.
  const auto down = [](const boost::system::error_code& ec) {
    return ec == errc::storage_unavailable || ec == errc::outcome_unknown;
  };
  auto r = run(store_->accept(make_order(m, "d-2", 2), k_t0_ms + 2));
  ASSERT_FALSE(r);
  EXPECT_TRUE(down(r.error())) << r.error().message();
  auto t = run(
      store_->transition(m, n, order_status::waiting, order_status::matched, "", {}, k_t0_ms + 3));
  ASSERT_FALSE(t);
  EXPECT_TRUE(down(t.error())) << t.error().message();
  server_->start();
  wait_connected();
  ASSERT_TRUE(conn_->connected());
  EXPECT_EQ(get(m, n).status, order_status::waiting);
  EXPECT_EQ(balance(m), 100'000 - k_cost_fen);
  EXPECT_EQ(run(store_->find_by_order_no(m, "d-2")).error(), errc::order_not_found);
}

}  // namespace
// advance() applies a step to the caller's copy instead of reading the record back: after every
// step of a long path (failover, extra fields overwritten, success with a callback), the copy
// must equal what Redis holds, field for field.
TEST_F(LedgerScripts, AdvanceProjectsEachStepExactlyAsTheScriptStoresIt) {
  const std::int64_t m = 1031;
  fund(m, 100'000);
  auto rec = make_order(m, "adv-1", 1, "https://merchant.example/cb");
  ASSERT_TRUE(run(store_->accept(rec, k_t0_ms)));
  order_record copy = get(m, rec.order_number);
  auto expect_same = [&](const order_record& mine) {
    const order_record stored = get(m, rec.order_number);
    EXPECT_EQ(mine.status, stored.status);
    EXPECT_EQ(mine.reason, stored.reason);
    EXPECT_EQ(mine.updated_at_ms, stored.updated_at_ms);
    EXPECT_EQ(mine.finished_at_ms, stored.finished_at_ms);
    EXPECT_EQ(mine.event_count, stored.event_count);
    auto sorted = [](field_pairs f) {
      std::sort(f.begin(), f.end());
      return f;
    };
    EXPECT_EQ(sorted(mine.extra), sorted(stored.extra));
  };
  struct move {
    order_status to;
    std::string reason;
    field_pairs extra;
  };
  const std::vector<move> path = {
      {order_status::matched, "", {{"channel", "A"}, {"attempts", "1"}}},
      {order_status::recharging, "", {{"submit", "accepted"}}},
      {order_status::waiting, "supplier failed", {{"last_outcome", "failed"}}},
      {order_status::matched, "", {{"channel", "B"}, {"attempts", "2"}}},
      {order_status::recharging, "", {{"submit", "unknown"}}},
      {order_status::success, "", {{"last_outcome", "succeeded"}}},
  };
  std::int64_t at = k_t0_ms;
  for (const auto& step : path) {
    auto moved = run(store_->advance(copy, step.to, step.reason, step.extra, ++at));
    ASSERT_TRUE(moved) << moved.error().message();
    expect_same(copy);
  }
  EXPECT_EQ(copy.extra_field("cb_status"), "pending");
  // A stale copy is refused, and the copy is not changed by the refusal.
  order_record stale = copy;
  stale.status = order_status::recharging;
  const std::int64_t events_before = stale.event_count;
  auto refused = run(store_->advance(stale, order_status::success, "", {}, ++at));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), errc::stale_status);
  EXPECT_EQ(stale.status, order_status::recharging);
  EXPECT_EQ(stale.event_count, events_before);
  EXPECT_EQ(stale.updated_at_ms, copy.updated_at_ms);
}

// A supplier whose answer to the submit is already final: 7->1 and 1->2 (or 1->6) go in one
// script, as two events, and the record (and the caller's copy) end where the second step leaves
// them. A path with a move spec §4 does not allow is refused whole, by the store and the script.
TEST_F(LedgerScripts, AdvanceThroughAStatusStoresBothStepsAtomically) {
  const std::int64_t m = 1032;
  fund(m, 1'000'000);
  const merchant_keys keys(k_prefix, m);
  const std::int64_t at = k_t0_ms + 100;
  for (const bool delivered : {true, false}) {
    SCOPED_TRACE(delivered ? "7->1->2" : "7->1->6");
    auto n = order_in(m, delivered ? 1 : 2, 7, "https://merchant.example/cb");
    order_record copy = get(m, n);
    const std::int64_t events_before = copy.event_count;
    order_store::hop through{order_status::recharging,
                             {{"submit", delivered ? "succeeded" : "failed"}, {"submitted_at", "9"}}};
    const order_status to = delivered ? order_status::success : order_status::waiting;
    field_pairs last;
    last.emplace_back("last_outcome", delivered ? "succeeded" : "failed");
    auto moved = run(store_->advance(copy, to, delivered ? "" : "supplier: no stock", last, at,
                                     std::move(through)));
    ASSERT_TRUE(moved) << moved.error().message();
    const order_record stored = get(m, n);
    EXPECT_EQ(stored.status, to);
    EXPECT_EQ(stored.event_count, events_before + 2);
    EXPECT_EQ(stored.extra_field("submit"), delivered ? "succeeded" : "failed");
    EXPECT_EQ(stored.extra_field("last_outcome"), delivered ? "succeeded" : "failed");
    EXPECT_EQ(stored.reason, delivered ? "" : "supplier: no stock");
    EXPECT_EQ(copy.status, stored.status);
    EXPECT_EQ(copy.event_count, stored.event_count);
    EXPECT_EQ(copy.extra_field("submit"), stored.extra_field("submit"));
    EXPECT_EQ(copy.extra_field("cb_status"), stored.extra_field("cb_status"));
    EXPECT_EQ(stored.extra_field("cb_status"),
              delivered ? std::optional<std::string_view>("pending") : std::nullopt);
    EXPECT_FALSE(in_zset(keys.by_status(1), n)) << "passed through, never rests in 1";
    EXPECT_FALSE(in_zset(keys.by_status(7), n));
    EXPECT_TRUE(in_zset(keys.by_status(to_int(to)), n));
    auto events = run(store_->events(m, n));
    ASSERT_TRUE(events && events->size() >= 2);
    const auto& first = (*events)[events->size() - 2];
    const auto& second = events->back();
    EXPECT_EQ(first.field("from"), "7");
    EXPECT_EQ(first.field("to"), "1");
    EXPECT_EQ(first.field("reason"), "");
    EXPECT_EQ(first.field("submitted_at"), "9");
    EXPECT_EQ(first.field("last_outcome"), std::nullopt);
    EXPECT_EQ(second.field("from"), "1");
    EXPECT_EQ(second.field("to"), delivered ? "2" : "6");
    EXPECT_EQ(second.field("submit"), std::nullopt);
  }

  // 6 -> 1 is not a move of spec §4: nothing of 6->1->2 is stored.
  auto n = order_in(m, 3, 6);
  order_record copy = get(m, n);
  const order_record before = copy;
  order_store::hop bad_hop{order_status::recharging, {{"submit", "succeeded"}}};
  auto refused = run(store_->advance(copy, order_status::success, "", {}, at, std::move(bad_hop)));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), errc::illegal_transition);
  EXPECT_EQ(copy.status, order_status::waiting);
  auto answer = call_script(ledger_scripts::transition(),
                            ledger_scripts::transition_call(keys, n, 6, 2, "", {}, at, false, 1,
                                                            {{"submit", "succeeded"}}));
  EXPECT_EQ(word(answer), "illegal");
  // Only 7->1->2 and 7->1->6 pass through a status, although 6->7->6 and 7->1->3 are two allowed
  // moves each: nothing else needs one step for two moves.
  answer = call_script(ledger_scripts::transition(),
                       ledger_scripts::transition_call(keys, n, 6, 6, "", {}, at, false, 7, {}));
  EXPECT_EQ(word(answer), "illegal");
  const auto in7 = order_in(m, 5, 7);
  answer = call_script(ledger_scripts::transition(),
                       ledger_scripts::transition_call(keys, in7, 7, 3, "", {}, at, false, 1, {}));
  EXPECT_EQ(word(answer), "illegal");
  order_record seven = get(m, in7);
  order_store::hop to_three{order_status::recharging, {}};
  auto via3 = run(store_->advance(seven, order_status::failed, "x", {}, at, std::move(to_three)));
  ASSERT_FALSE(via3);
  EXPECT_EQ(via3.error(), errc::illegal_transition);
  EXPECT_EQ(get(m, in7).status, order_status::matched);
  EXPECT_EQ(get(m, in7).event_count, seven.event_count);
  // Too few arguments for the script is a bad call, not a verdict on the move.
  auto short_call = ledger_scripts::transition_call(keys, in7, 7, 1, "", {}, at, false);
  short_call.args.resize(6);
  EXPECT_TRUE(call_script(ledger_scripts::transition(), short_call).is_error());
  // A core field in the first step's fields is refused too.
  n = order_in(m, 4, 7);
  answer = call_script(ledger_scripts::transition(),
                       ledger_scripts::transition_call(keys, n, 7, 2, "", {}, at, false, 1,
                                                       {{"cost", "0"}}));
  EXPECT_TRUE(answer.is_error()) << word(answer);
  order_record other = get(m, n);
  order_store::hop reserved{order_status::recharging, {{"status", "2"}}};
  auto internal = run(store_->advance(other, order_status::success, "", {}, at, std::move(reserved)));
  ASSERT_FALSE(internal);
  EXPECT_EQ(internal.error(), errc::internal);
  for (const auto& number : {before.order_number, n}) {
    const order_record now = get(m, number);
    EXPECT_TRUE(now.status == order_status::waiting || now.status == order_status::matched);
    EXPECT_EQ(now.extra_field("submit"), std::nullopt) << number;
  }
}

}  // namespace topup::engine
