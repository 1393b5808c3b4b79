// Start-up recovery (engine/dispatch/order_recovery) against a real redis-server: the active set
// (`work`) read in pages by score cursor (order_store::active_orders), each page's records in one
// HMGET, every owned non-final order resumed once and every order in 3 refunded once, however
// many there are and whatever finishes or arrives between the pages.
#include <gtest/gtest.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "engine/config/config.hpp"
#include "engine/dispatch/order_recovery.hpp"
#include "engine/order/order_number.hpp"
#include "engine/order/order_record.hpp"
#include "engine/order/order_status.hpp"
#include "engine/redis/connection.hpp"
#include "engine/store/ledger_scripts.hpp"
#include "engine/store/order_store.hpp"
#include "engine/support/errc.hpp"
#include "tests/support/fence.hpp"
#include "tests/support/io_run.hpp"
#include "tests/support/sample_merchant.hpp"
#include "tests/support/redis_server.hpp"

namespace topup::engine {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr const char* k_prefix = "rc";
constexpr std::int64_t k_merchant = 4001;
constexpr std::int64_t k_other_merchant = 4002;
constexpr std::int64_t k_t0_ms = 1'700'000'000'000;
constexpr fen_t k_cost_fen = 9950;
constexpr const char* k_notify = "https://merchant.example/cb";

/// A redis-server per suite; per test one connection, one store (instance 0, epoch 1) and two
/// funded merchants.
class recovery_fixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = std::make_unique<test::redis_server>(); }
  static void TearDownTestSuite() { server_.reset(); }

  void SetUp() override {
    server_->flushall();
    conn_ = test::connect_to(io_, *server_);
    ASSERT_TRUE(conn_->connected());
    store_ = std::make_unique<order_store>(*conn_, k_prefix, *fence_);
    cfg_.server.instance_id = 0;
    cfg_.merchants = {test::sample_merchant(k_merchant), test::sample_merchant(k_other_merchant)};
    test::grant_fence(*server_, k_prefix, {k_merchant, k_other_merchant});
    for (auto m : {k_merchant, k_other_merchant}) {
      auto r = run(store_->credit(m, "fund", 1'000'000'000, k_t0_ms));
      ASSERT_TRUE(r) << r.error().message();
    }
  }

  void TearDown() override {
    store_.reset();
    if (conn_) conn_->stop();
    io_.poll();
    conn_.reset();
  }

  template <class T>
  T run(asio::awaitable<T> op) {
    auto out = test::run(io_, std::move(op), 30s);
    if (!out) throw std::runtime_error("operation did not finish in time");
    return std::move(*out);
  }

  /// Runs every operation at once (a merchant's accepts of one turn leave as one script call)
  /// and answers their results in order.
  template <class T>
  std::vector<T> run_all(std::vector<asio::awaitable<T>> ops) {
    std::vector<std::shared_ptr<test::pending<T>>> started;
    for (auto& op : ops) started.push_back(test::spawn(io_, std::move(op)));
    const bool finished = test::run_until(
        io_,
        [&] {
          for (const auto& p : started)
            if (!p->done()) return false;
          return true;
        },
        60s);
    if (!finished) throw std::runtime_error("operations did not finish in time");
    std::vector<T> out;
    for (auto& p : started) out.push_back(std::move(*p->value));
    return out;
  }

  /// An order of merchant m numbered as shard `shard` of instance `instance` numbers it.
  order_record make_order(std::int64_t created_ms, std::int64_t m = k_merchant,
                          unsigned instance = 0, unsigned shard = 0, std::string notify = "") {
    order_record r;
    ++seq_;
    r.order_number =
        make_order_number({static_cast<std::uint64_t>(created_ms), instance, shard, seq_, m});
    r.order_no = "no-" + std::to_string(seq_);
    r.merchant_id = m;
    r.store_id = "s1";
    r.mobile = "13800138000";
    r.carrier = carrier::cmcc;
    r.money_yuan = 100;
    r.recharge_type = 1;
    r.notify_url = std::move(notify);
    r.fingerprint = "fp-" + r.order_no;
    r.cost_fen = k_cost_fen;
    return r;
  }

  /// Accepts every order, each at its number's time; answers the numbers.
  std::vector<std::string> accept_all(const std::vector<order_record>& orders) {
    std::vector<asio::awaitable<boost::system::result<accept_result>>> ops;
    std::vector<std::string> numbers;
    for (const auto& r : orders) {
      ops.push_back(store_->accept(
          r, static_cast<std::int64_t>(parse_order_number(r.order_number)->unix_ms)));
      numbers.push_back(r.order_number);
    }
    for (const auto& result : run_all(std::move(ops)))
      EXPECT_TRUE(result && !result->duplicate)
          << (result ? "duplicate" : result.error().message());
    return numbers;
  }

  /// `count` orders of merchant m accepted, `per_ms` of them in each ms from `first_ms` on.
  std::vector<std::string> accept_many(std::size_t count, std::int64_t first_ms, std::size_t per_ms,
                                       std::int64_t m = k_merchant) {
    std::vector<order_record> orders;
    for (std::size_t i = 0; i < count; ++i)
      orders.push_back(make_order(first_ms + static_cast<std::int64_t>(i / per_ms), m));
    return accept_all(orders);
  }

  order_record get(const std::string& number, std::int64_t m = k_merchant) {
    auto r = run(store_->get(m, number));
    EXPECT_TRUE(r) << number;
    return r ? *r : order_record{};
  }

  /// Takes each stored order one step along spec §4 to `to`, all at once.
  void step_all(const std::vector<std::string>& numbers, order_status to) {
    std::vector<order_record> copies;
    for (const auto& n : numbers) copies.push_back(get(n));
    std::vector<asio::awaitable<boost::system::result<void>>> ops;
    for (auto& o : copies)
      ops.push_back(store_->advance(o, to, to == order_status::failed ? "no channel" : "", {},
                                    o.created_at_ms + 1));
    for (const auto& r : run_all(std::move(ops))) EXPECT_TRUE(r) << r.error().message();
  }

  /// Calls of one command since the last CONFIG RESETSTAT.
  static std::int64_t calls(const std::string& command) {
    const std::string info = server_->command({"INFO", "commandstats"});
    const std::string key = "cmdstat_" + command + ":calls=";
    const auto at = info.find(key);
    return at == std::string::npos ? 0 : std::stoll(info.substr(at + key.size()));
  }

  std::string work_key(std::int64_t m = k_merchant) const {
    return merchant_keys(k_prefix, m).work();
  }

  /// Runs recovery as shard `shard` of `shards`, counting what it hands over in resumed_.
  boost::system::result<recovery_stats> recover(unsigned shard = 0, unsigned shards = 1) {
    return run(recover_orders(
        cfg_, *store_, shard, shards,
        [this](const order_record& o) {
          ++resumed_[o.order_number];
          if (on_resume_) on_resume_(o);
        },
        [] { return false; }));
  }

  static inline std::unique_ptr<test::redis_server> server_;
  asio::io_context io_;
  std::unique_ptr<redis::connection> conn_;
  std::unique_ptr<fence_token> fence_ = test::fence_token_for("0", 1);
  std::unique_ptr<order_store> store_;
  config cfg_;
  std::map<std::string, int> resumed_;
  std::function<void(const order_record&)> on_resume_;

 private:
  std::uint32_t seq_ = 0;
};

class RedisRecovery : public recovery_fixture {};
class RedisActivePages : public recovery_fixture {};

TEST_F(RedisRecovery, EachOwnedActiveOrderIsResumedOnceAndEachIn3RefundedOnceInPagedReads) {
  // 1,250 waiting, 300 per ms (ties cross the pages of 500), then the other statuses.
  const auto waiting = accept_many(1'250, k_t0_ms, 300);
  std::vector<order_record> more;
  for (int i = 0; i < 20; ++i) {
    const std::int64_t at = k_t0_ms + 10 + i;
    for (int j = 0; j < 5; ++j) more.push_back(make_order(at));  // 7, 1, 3, 2, 4
    more.push_back(make_order(at, k_merchant, 0, 0, k_notify));  // 2 with its callback due
    more.push_back(make_order(at, k_merchant, 1, 0));            // another instance's
    more.push_back(make_order(at, k_merchant, 0, 1));            // shard 1's
  }
  const auto numbers = accept_all(more);
  std::vector<std::string> in_7, in_1, in_3, to_2, to_4, not_ours;
  for (std::size_t i = 0; i < numbers.size(); i += 8) {
    in_7.push_back(numbers[i]);
    in_1.push_back(numbers[i + 1]);
    in_3.push_back(numbers[i + 2]);
    to_2.push_back(numbers[i + 3]);
    to_4.push_back(numbers[i + 4]);
    to_2.push_back(numbers[i + 5]);
    not_ours.push_back(numbers[i + 6]);
    not_ours.push_back(numbers[i + 7]);
  }
  std::vector<std::string> matched = in_7;
  matched.insert(matched.end(), in_1.begin(), in_1.end());
  matched.insert(matched.end(), to_2.begin(), to_2.end());
  step_all(matched, order_status::matched);
  std::vector<std::string> recharging = in_1;
  recharging.insert(recharging.end(), to_2.begin(), to_2.end());
  step_all(recharging, order_status::recharging);
  step_all(to_2, order_status::success);
  std::vector<std::string> failed = in_3;
  failed.insert(failed.end(), to_4.begin(), to_4.end());
  step_all(failed, order_status::failed);
  for (const auto& n : to_4)
    ASSERT_TRUE(run(store_->fail_refund(k_merchant, n, order_status::failed, "x", k_t0_ms + 100)));
  const auto other = accept_many(5, k_t0_ms, 5, k_other_merchant);
  std::vector<std::string> resumable = waiting;
  resumable.insert(resumable.end(), in_7.begin(), in_7.end());
  resumable.insert(resumable.end(), in_1.begin(), in_1.end());
  resumable.insert(resumable.end(), other.begin(), other.end());
  auto refunds_before =
      server_->command({"HGET", merchant_keys(k_prefix, k_merchant).acct(), "refunds"});

  server_->command({"CONFIG", "RESETSTAT"});
  auto stats = recover(0, 2);
  ASSERT_TRUE(stats) << stats.error().message();
  const auto hget = calls("hget"), hmget = calls("hmget"), pages = calls("zrevrangebyscore");

  EXPECT_EQ(resumed_.size(), resumable.size());
  for (const auto& n : resumable) EXPECT_EQ(resumed_[n], 1) << n;
  EXPECT_EQ(stats->resumed, resumable.size());
  EXPECT_EQ(stats->refunded, in_3.size());
  EXPECT_EQ(stats->loaded, resumable.size() + in_3.size());
  for (const auto& n : in_3) EXPECT_EQ(get(n).status, order_status::refunded) << n;
  const auto refunds_after =
      server_->command({"HGET", merchant_keys(k_prefix, k_merchant).acct(), "refunds"});
  EXPECT_EQ(std::stoll(refunds_after) - std::stoll(refunds_before),
            static_cast<std::int64_t>(in_3.size()) * k_cost_fen);
  // Bounded reads: pages of the active set and one HMGET per page, never one read per order.
  // The merchant's 1,350 active entries are 3 pages (the last may be followed by an empty one),
  // the other merchant's one. Commandstats count the scripts' own reads too: each refund reads
  // with two HGETs and one HMGET; recovery itself reads no record with HGET.
  const auto refunds = static_cast<std::int64_t>(in_3.size());
  EXPECT_LE(hget, 2 * refunds);
  EXPECT_GE(pages, 4);
  EXPECT_LE(pages, 5);
  EXPECT_LE(hmget - refunds, pages);
}

TEST_F(RedisRecovery, OrdersFinishedOrAddedBetweenPagesAreNeitherLostNorDoubled) {
  const auto waiting = accept_many(1'300, k_t0_ms, 250);
  // Orders whose entries appear in `work` only in the middle of the scan (as an order found
  // late): some in a ms the scan has passed by then, some ahead of it.
  const auto late = accept_many(30, k_t0_ms + 1, 6);
  std::map<std::string, std::string> late_scores;
  for (const auto& n : late) {
    late_scores[n] = server_->command({"ZSCORE", work_key(), n});
    server_->command({"ZREM", work_key(), n});
  }
  std::set<std::string> finished_unread;
  int resumes = 0;
  on_resume_ = [&](const order_record&) {
    if (++resumes != 100) return;
    // In the first page: 200 of the orders read so far leave `work` (as they finish), and so do
    // 100 of those not read yet; the late ones arrive. A scan by offset would now skip 200.
    for (std::size_t i = 0; i < 200; ++i) server_->command({"ZREM", work_key(), waiting[i]});
    for (std::size_t i = 0; i < 100; ++i) {
      finished_unread.insert(waiting[1'299 - i * 4]);
      server_->command({"ZREM", work_key(), waiting[1'299 - i * 4]});
    }
    for (const auto& [n, score] : late_scores) server_->command({"ZADD", work_key(), score, n});
  };

  auto stats = recover();
  ASSERT_TRUE(stats) << stats.error().message();
  for (const auto& [n, count] : resumed_) EXPECT_EQ(count, 1) << n << " resumed twice";
  for (const auto& n : waiting) {
    if (finished_unread.contains(n)) continue;
    EXPECT_EQ(resumed_.contains(n) ? resumed_.at(n) : 0, 1) << n << ": active, not resumed";
  }
  for (const auto& n : finished_unread) EXPECT_FALSE(resumed_.contains(n)) << n;
  int late_resumed = 0;
  for (const auto& n : late) late_resumed += resumed_.contains(n);
  // The late ones of the ms the scan had passed are not seen; those ahead of it are.
  EXPECT_GT(late_resumed, 0);
  EXPECT_LT(late_resumed, static_cast<int>(late.size()));
}

TEST_F(RedisActivePages, OrdersOfOneMsArePagedByNumberWhileSomeFinishAndOthersArrive) {
  const std::int64_t at = k_t0_ms + 5;
  std::vector<std::string> tied;  // greatest number first: the order of the scan
  for (std::uint32_t seq = 60; seq > 48; --seq)
    tied.push_back(make_order_number({static_cast<std::uint64_t>(at), 0, 0, seq, k_merchant}));
  std::vector<std::string> younger;
  for (std::uint32_t seq = 1; seq <= 3; ++seq)
    younger.push_back(
        make_order_number({static_cast<std::uint64_t>(at + 1), 0, 0, seq, k_merchant}));
  // Only the set is read here: entries without records are enough.
  for (const auto& n : tied) server_->command({"ZADD", work_key(), std::to_string(-at), n});
  for (const auto& n : younger)
    server_->command({"ZADD", work_key(), std::to_string(-(at + 1)), n});
  server_->command({"ZADD", work_key(), "5000", "T-final-with-a-callback-due"});

  std::vector<std::string> read;
  active_cursor cursor;
  int pages = 0, empty_not_last = 0;
  for (bool end = false; !end && pages < 100; ++pages) {
    auto page = run(store_->active_orders(k_merchant, cursor, 2));
    ASSERT_TRUE(page) << page.error().message();
    EXPECT_LE(page->numbers.size(), 2u);
    empty_not_last += page->numbers.empty() && !page->end;
    read.insert(read.end(), page->numbers.begin(), page->numbers.end());
    end = page->end;
    cursor = page->next;
    if (pages == 1) {
      // Four read: two of them finish, and five orders of the same ms arrive whose numbers come
      // before the cursor's (Redis lists them first): the next reads skip more than they asked.
      server_->command({"ZREM", work_key(), tied[0], tied[3]});
      for (std::uint32_t seq = 90; seq < 95; ++seq)
        server_->command(
            {"ZADD", work_key(), std::to_string(-at),
             make_order_number({static_cast<std::uint64_t>(at), 0, 0, seq, k_merchant})});
    }
  }
  ASSERT_LT(pages, 100);
  EXPECT_GT(empty_not_last, 0);  // a read that skipped only orders read before, then went on
  std::vector<std::string> expected = tied;
  expected.insert(expected.end(), younger.rbegin(), younger.rend());
  EXPECT_EQ(read, expected);
}

TEST_F(RedisActivePages, AnEmptySetIsOneEmptyLastPage) {
  auto page = run(store_->active_orders(k_merchant, {}, 500));
  ASSERT_TRUE(page);
  EXPECT_TRUE(page->numbers.empty());
  EXPECT_TRUE(page->end);
}

TEST_F(RedisActivePages, RecordsOfAPageAreOneReadWithEachAnswerItsOwn) {
  const auto numbers = accept_many(3, k_t0_ms, 1);
  server_->command({"HSET", merchant_keys(k_prefix, k_merchant).orders(), numbers[1], "garbage"});
  std::vector<std::string> asked = {numbers[0], numbers[1], "T-no-such-order", numbers[2]};
  server_->command({"CONFIG", "RESETSTAT"});
  auto reads = run(store_->get_many(k_merchant, asked));
  ASSERT_TRUE(reads) << reads.error().message();
  ASSERT_EQ(reads->size(), 4u);
  EXPECT_EQ(calls("hmget"), 1);
  ASSERT_TRUE((*reads)[0]);
  EXPECT_EQ((*reads)[0]->order_number, numbers[0]);
  EXPECT_EQ((*reads)[1].error(), errc::storage_protocol);
  EXPECT_EQ((*reads)[2].error(), errc::order_not_found);
  ASSERT_TRUE((*reads)[3]);
  EXPECT_EQ((*reads)[3]->order_number, numbers[2]);
}

}  // namespace
}  // namespace topup::engine
