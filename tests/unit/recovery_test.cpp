// Start-up recovery (engine/dispatch/order_recovery) over the in-memory order_log: the active set
// read a page at a time (order_log::active_orders, its cursor), each page's records in one read,
// and the same decisions per order whatever the paging: this shard's non-final orders resumed
// once, those in 3 refunded once, orders finishing or accepted between pages neither lost nor
// doubled, a failed read retried from its own page.
#include <gtest/gtest.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/config/config.hpp"
#include "engine/dispatch/order_recovery.hpp"
#include "engine/order/order_number.hpp"
#include "engine/order/order_record.hpp"
#include "engine/order/order_status.hpp"
#include "engine/support/errc.hpp"
#include "tests/support/io_run.hpp"
#include "tests/support/sample_merchant.hpp"
#include "tests/support/manual_clock.hpp"
#include "tests/support/memory_log.hpp"

namespace topup::engine {
namespace {

namespace asio = boost::asio;
using test::at_once;
using namespace std::chrono_literals;
using test::memory_log;

constexpr std::int64_t k_merchant = 3001;
constexpr std::int64_t k_other_merchant = 3002;
constexpr std::int64_t k_t0_ms = 1'700'000'000'000;

class recovery_fixture : public ::testing::Test {
 protected:
  recovery_fixture() {
    cfg.server.instance_id = 0;
    cfg.merchants = {test::sample_merchant(k_merchant), test::sample_merchant(k_other_merchant)};
    log.set_balance(k_merchant, 1'000'000'000);
    log.set_balance(k_other_merchant, 1'000'000'000);
  }

  /// A new order of merchant m accepted at `created_ms`, numbered as shard `shard` of instance
  /// `instance` numbers it; answers its number.
  std::string accept(std::int64_t created_ms, std::int64_t m = k_merchant, unsigned instance = 0,
                     unsigned shard = 0) {
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
    r.fingerprint = "fp-" + r.order_no;
    r.cost_fen = 9950;
    auto accepted = at_once(log.accept(r, created_ms));
    EXPECT_TRUE(accepted && !accepted->duplicate);
    return r.order_number;
  }

  /// Takes the stored order along spec §4 to `target` (7, 1, 2, 3 or 4).
  void move_to(const std::string& number, order_status target, std::int64_t m = k_merchant) {
    auto order = log.peek(m, number);
    ASSERT_TRUE(order);
    auto step = [&](order_status to) {
      auto r = at_once(log.advance(*order, to, to == order_status::failed ? "no channel" : "", {},
                                   order->created_at_ms + 1));
      ASSERT_TRUE(r) << r.error().message();
    };
    switch (target) {
      case order_status::matched:
        step(order_status::matched);
        break;
      case order_status::recharging:
        step(order_status::matched);
        step(order_status::recharging);
        break;
      case order_status::success:
        if (order->status == order_status::waiting) step(order_status::matched);
        if (order->status == order_status::matched) step(order_status::recharging);
        step(order_status::success);
        break;
      case order_status::failed:
        step(order_status::failed);
        break;
      case order_status::refunded: {
        auto r = at_once(log.fail_refund(*order, "no channel", order->created_at_ms + 1));
        ASSERT_TRUE(r);
        break;
      }
      default:
        FAIL() << "no path to " << to_int(target);
    }
  }

  /// `count` new orders of merchant m, `per_ms` of them created in each millisecond from
  /// `first_ms` on (orders of one ms tie in the active set's score).
  std::vector<std::string> accept_many(std::size_t count, std::int64_t first_ms, std::size_t per_ms,
                                       std::int64_t m = k_merchant) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < count; ++i)
      out.push_back(accept(first_ms + static_cast<std::int64_t>(i / per_ms), m));
    return out;
  }

  /// Every page of merchant m's active orders, `limit` at a time.
  std::vector<active_page> pages(std::int64_t limit, std::int64_t m = k_merchant) {
    std::vector<active_page> out;
    active_cursor cursor;
    for (int guard = 0; guard < 10'000; ++guard) {
      auto page = at_once(log.active_orders(m, cursor, limit));
      EXPECT_TRUE(page);
      if (!page) break;
      out.push_back(*page);
      if (page->end) return out;
      cursor = page->next;
    }
    ADD_FAILURE() << "the pages never ended";
    return out;
  }

  static std::vector<std::string> joined(const std::vector<active_page>& ps) {
    std::vector<std::string> out;
    for (const auto& p : ps) out.insert(out.end(), p.numbers.begin(), p.numbers.end());
    return out;
  }

  /// Runs recovery as shard `shard` of `shards`, counting what it hands over in resumed_.
  boost::system::result<recovery_stats> recover(
      unsigned shard = 0, unsigned shards = 1,
      std::function<bool(const std::string&)> driven = {}) {
    auto out = test::run(io_,
                         recover_orders(
                             cfg, log, shard, shards,
                             [this](const order_record& o) {
                               ++resumed_[o.order_number];
                               if (on_resume_) on_resume_(o);
                             },
                             [this] { return stopping_; }, std::move(driven)),
                         10s);
    if (!out) return errc::internal;
    return *out;
  }

  int refund_events(const std::string& number, std::int64_t m = k_merchant) {
    int n = 0;
    for (const auto& e : log.log(m)) n += e.order_number == number && e.type == "refund";
    return n;
  }

  test::manual_clock clock_;
  memory_log log{clock_};
  config cfg;
  asio::io_context io_;
  std::map<std::string, int> resumed_;
  std::function<void(const order_record&)> on_resume_;
  bool stopping_ = false;

 private:
  std::uint32_t seq_ = 0;
};

class MemoryLogActivePages : public recovery_fixture {};
class Recovery : public recovery_fixture {};

TEST_F(MemoryLogActivePages, AnEmptySetIsOneEmptyLastPage) {
  auto ps = pages(3);
  ASSERT_EQ(ps.size(), 1u);
  EXPECT_TRUE(ps[0].numbers.empty());
  EXPECT_TRUE(ps[0].end);
}

TEST_F(MemoryLogActivePages, ExactlyOnePageIsReadWhole) {
  auto numbers = accept_many(5, k_t0_ms, 1);  // oldest first
  accept(k_t0_ms + 100, k_other_merchant);
  auto ps = pages(5);
  EXPECT_EQ(joined(ps), numbers);
  EXPECT_TRUE(ps.back().end);
  EXPECT_LE(ps.size(), 2u);  // a last empty page is allowed, nothing more
}

TEST_F(MemoryLogActivePages, OrdersOfOneMsComeGreatestNumberFirstAndPagesNeitherSkipNorRepeat) {
  auto numbers = accept_many(7, k_t0_ms, 7);  // all in one ms
  const auto younger = accept(k_t0_ms + 1);
  auto ps = pages(3);
  ASSERT_EQ(ps.size(), 3u);
  std::vector<std::string> expected(numbers.rbegin(), numbers.rend());
  expected.push_back(younger);
  EXPECT_EQ(joined(ps), expected);
  EXPECT_EQ(ps[0].next.number, expected[2]);
  EXPECT_EQ(ps[0].next.score, -k_t0_ms);
  EXPECT_EQ(ps[0].next.at_score, 3);
  EXPECT_EQ(ps[1].next.at_score, 6);
  EXPECT_TRUE(ps[2].end);
}

TEST_F(MemoryLogActivePages, FinalOrdersAreNotListed) {
  auto numbers = accept_many(6, k_t0_ms, 2);
  move_to(numbers[1], order_status::success);
  move_to(numbers[2], order_status::refunded);
  move_to(numbers[3], order_status::failed);  // not final: its refund is due
  EXPECT_EQ(joined(pages(2)),
            (std::vector<std::string>{numbers[0], numbers[3], numbers[5], numbers[4]}));
}

TEST_F(Recovery, EachOwnedActiveOrderIsResumedOnceAndEachIn3RefundedOnceAcrossPages) {
  // 1,200 waiting orders, 300 per ms: ties cross the page boundaries.
  const auto waiting = accept_many(1'200, k_t0_ms, 300);
  std::vector<std::string> resumable = waiting, in_3, final_ones, not_ours;
  for (int i = 0; i < 20; ++i) {
    resumable.push_back(accept(k_t0_ms + 10 + i));
    move_to(resumable.back(), order_status::matched);
    resumable.push_back(accept(k_t0_ms + 10 + i));
    move_to(resumable.back(), order_status::recharging);
    in_3.push_back(accept(k_t0_ms + 10 + i));
    move_to(in_3.back(), order_status::failed);
    final_ones.push_back(accept(k_t0_ms + 10 + i));
    move_to(final_ones.back(), i % 2 ? order_status::success : order_status::refunded);
    not_ours.push_back(accept(k_t0_ms + 10 + i, k_merchant, 1, 0));  // another instance's
    not_ours.push_back(accept(k_t0_ms + 10 + i, k_merchant, 0, 1));  // shard 1's
  }
  for (int i = 0; i < 5; ++i) resumable.push_back(accept(k_t0_ms + i, k_other_merchant, 0, 2));
  int active_reads = 0;
  log.on_active_read([&](std::int64_t, const active_cursor&) { ++active_reads; });

  auto stats = recover(0, 2);
  ASSERT_TRUE(stats) << stats.error().message();
  EXPECT_EQ(resumed_.size(), resumable.size());
  for (const auto& n : resumable) EXPECT_EQ(resumed_[n], 1) << n;
  for (const auto& n : in_3) {
    EXPECT_EQ(log.peek(k_merchant, n)->status, order_status::refunded) << n;
    EXPECT_EQ(refund_events(n), 1) << n;
  }
  EXPECT_EQ(stats->resumed, resumable.size());
  EXPECT_EQ(stats->refunded, in_3.size());
  EXPECT_EQ(stats->loaded, resumable.size() + in_3.size());
  EXPECT_GE(active_reads, 3 + 1);  // 1,320 of the merchant's in pages of 500, the other's
  EXPECT_LE(log.most_records_read(), static_cast<std::size_t>(k_recovery_page_orders));
}

TEST_F(Recovery, OrdersAlreadyDrivenAreSkippedWithoutARead) {
  const auto waiting = accept_many(10, k_t0_ms, 1);
  const std::set<std::string> driven{waiting[2], waiting[7]};
  auto stats = recover(0, 1, [&](const std::string& n) { return driven.contains(n); });
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->resumed, 8u);
  EXPECT_EQ(resumed_.size(), 8u);
  for (const auto& n : driven) EXPECT_FALSE(resumed_.contains(n));
  EXPECT_EQ(log.most_records_read(), 8u);  // one read of the page's records, the two left out
}

TEST_F(Recovery, OrdersFinishingOrAcceptedBetweenPagesAreNeitherLostNorDoubled) {
  const auto waiting = accept_many(1'400, k_t0_ms, 250);
  // Accepted before the scan but only listed in the middle of it (as a lost-reply accept is
  // found later): entries older than the cursor then, and younger ones.
  std::vector<std::string> late;
  std::set<std::string> finished_unread, finished_read;
  std::vector<active_cursor> cursors;
  log.on_active_read([&](std::int64_t m, const active_cursor& after) {
    if (m != k_merchant) return;
    cursors.push_back(after);
    if (cursors.size() != 2) return;
    // Between the first page and the second: 200 of the orders read finish, and so do 100 not
    // read yet; new orders are accepted, some created in a ms the scan already passed.
    for (std::size_t i = 0; i < 200; ++i) {
      finished_read.insert(waiting[i * 2]);
      move_to(waiting[i * 2], order_status::success);
    }
    for (std::size_t i = 0; i < 100; ++i) {
      finished_unread.insert(waiting[1'399 - i * 3]);
      move_to(waiting[1'399 - i * 3], order_status::success);
    }
    for (int i = 0; i < 30; ++i) late.push_back(accept(k_t0_ms + i % 6));
  });

  auto stats = recover();
  ASSERT_TRUE(stats) << stats.error().message();
  ASSERT_GE(cursors.size(), 3u);
  for (const auto& [n, count] : resumed_) EXPECT_EQ(count, 1) << n << " resumed twice";
  for (const auto& n : waiting) {
    if (finished_read.contains(n) || finished_unread.contains(n)) continue;
    EXPECT_EQ(resumed_[n], 1) << n << ": active throughout, not resumed";
  }
  for (const auto& n : finished_read) EXPECT_EQ(resumed_[n], 1) << n;
  for (const auto& n : finished_unread) EXPECT_FALSE(resumed_.contains(n)) << n;
  for (const auto& n : late) EXPECT_LE(resumed_[n], 1) << n;
}

TEST_F(Recovery, AFailedPageReadIsRetriedFromThatPageNotTheFirst) {
  const auto waiting = accept_many(1'100, k_t0_ms, 100);
  std::vector<active_cursor> cursors;
  log.on_active_read([&](std::int64_t m, const active_cursor& after) {
    if (m != k_merchant) return;
    cursors.push_back(after);
    if (cursors.size() == 2) log.fail_reads(errc::storage_unavailable, 1);  // this read
    if (cursors.size() == 4) log.fail_reads(errc::outcome_unknown, 1, 1);   // its records
  });
  auto stats = recover();  // no already_driven: a page read twice would resume orders twice
  ASSERT_TRUE(stats) << stats.error().message();
  ASSERT_EQ(cursors.size(), 5u);  // 3 pages, the last two read twice
  EXPECT_TRUE(cursors[0].number.empty());
  EXPECT_FALSE(cursors[1].number.empty());
  EXPECT_EQ(cursors[2].number, cursors[1].number);
  EXPECT_EQ(cursors[2].score, cursors[1].score);
  EXPECT_NE(cursors[3].number, cursors[2].number);
  EXPECT_EQ(cursors[4].number, cursors[3].number);
  EXPECT_EQ(cursors[4].score, cursors[3].score);
  for (const auto& n : waiting) EXPECT_EQ(resumed_[n], 1) << n;
  EXPECT_EQ(stats->resumed, waiting.size());
}

// The pause before a failed read is retried runs on the clock seam (engine::timer): in simulated
// time it ends when the clock has moved 500 ms, and not before, whatever the wall clock does
// (tests/sim/FOUND.md, finding 1: on a steady_timer it never ended under the simulator).
TEST_F(Recovery, TheRetryPauseIsOnTheClockSeam) {
  const auto waiting = accept_many(3, k_t0_ms, 1);
  test::timers_on simulated(clock_);
  log.fail_reads(errc::storage_unavailable, 1);
  std::optional<boost::system::result<recovery_stats>> out;
  asio::co_spawn(io_,
                 recover_orders(
                     cfg, log, 0, 1, [this](const order_record& o) { ++resumed_[o.order_number]; },
                     [] { return false; }),
                 [&](std::exception_ptr e, boost::system::result<recovery_stats> r) {
                   if (!e) out = r;
                 });
  EXPECT_FALSE(test::advance_until(io_, clock_, [&] { return out.has_value(); }, 400ms, 10ms));
  EXPECT_TRUE(resumed_.empty()) << "still pausing after 400 ms of simulated time";
  ASSERT_TRUE(test::advance_until(io_, clock_, [&] { return out.has_value(); }, 200ms, 10ms));
  ASSERT_TRUE(*out) << out->error().message();
  for (const auto& n : waiting) EXPECT_EQ(resumed_[n], 1) << n;
}

TEST_F(Recovery, AnUnexpectedReadErrorEndsRecoveryWithIt) {
  accept_many(3, k_t0_ms, 1);
  log.fail_reads(errc::storage_protocol, 1);
  auto stats = recover();
  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error(), errc::storage_protocol);
  EXPECT_TRUE(resumed_.empty());
}

TEST_F(Recovery, AStopBetweenPagesEndsRecoveryThere) {
  accept_many(1'200, k_t0_ms, 1);
  on_resume_ = [this](const order_record&) { stopping_ = true; };
  auto stats = recover();
  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error(), errc::shutting_down);
  EXPECT_EQ(resumed_.size(), static_cast<std::size_t>(k_recovery_page_orders));
}

}  // namespace
}  // namespace topup::engine
