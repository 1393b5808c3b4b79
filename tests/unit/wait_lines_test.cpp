// The dispatcher's wait lines without a reactor, Redis or a clock: first come first served per
// route, lines taking turns, deadlines, and stale entries skipped.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/dispatch/wait_lines.hpp"

namespace {

using namespace topup::engine;

order_record order(std::string number, std::int64_t money = 50, std::string source = "") {
  order_record o;
  o.order_number = std::move(number);
  o.merchant_id = 1001;
  o.carrier = carrier::cmcc;
  o.money_yuan = money;
  o.recharge_type = 0;
  o.source = std::move(source);
  o.status = order_status::waiting;
  return o;
}

/// Serves one round, letting at most `room[money]` orders of each amount leave; returns who left.
std::vector<std::string> serve(wait_lines& lines, std::map<std::int64_t, int> room) {
  std::vector<std::string> left;
  lines.serve(
      [&](const wait_lines::route& r) -> std::optional<int> {
        if (room[r.sample.money_yuan] == 0) return std::nullopt;
        --room[r.sample.money_yuan];
        return 1;
      },
      [&](wait_lines::parked p, int) { left.push_back(p.order_number); });
  return left;
}

TEST(WaitLines, OrdersOfOneRouteLeaveOldestFirst) {
  wait_lines lines;
  lines.park(order("a"), {}, 10'000);
  lines.park(order("b"), {}, 10'000);
  lines.park(order("c"), {}, 10'000);
  EXPECT_EQ(serve(lines, {{50, 2}}), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(lines.contains("c"));
  EXPECT_FALSE(lines.contains("a"));
  EXPECT_EQ(lines.size(), 1u);
}

TEST(WaitLines, ANewOrderQueuesBehindItsRouteOnly) {
  wait_lines lines;
  lines.park(order("a", 50), {}, 10'000);
  EXPECT_TRUE(lines.queue_ahead(order("new", 50), {}));
  EXPECT_FALSE(lines.queue_ahead(order("new", 100), {})) << "another amount: another line";
  EXPECT_FALSE(lines.queue_ahead(order("new", 50, "up1"), {})) << "a pinned source: another line";
  EXPECT_FALSE(lines.queue_ahead(order("new", 50), {"up1"})) << "other channels tried";
}

TEST(WaitLines, ABusyRouteDoesNotHoldBackTheOthers) {
  wait_lines lines;
  lines.park(order("fifty-1", 50), {}, 10'000);
  lines.park(order("hundred-1", 100), {}, 10'000);
  lines.park(order("fifty-2", 50), {}, 10'000);
  EXPECT_EQ(serve(lines, {{50, 0}, {100, 5}}), (std::vector<std::string>{"hundred-1"}));
  EXPECT_EQ(serve(lines, {{50, 5}}), (std::vector<std::string>{"fifty-1", "fifty-2"}));
  EXPECT_TRUE(lines.empty());
}

TEST(WaitLines, LinesTakeTurnsAtGoingFirst) {
  wait_lines lines;
  lines.park(order("fifty", 50), {}, 10'000);
  lines.park(order("hundred", 100), {}, 10'000);
  lines.park(order("fifty-2", 50), {}, 10'000);
  lines.park(order("hundred-2", 100), {}, 10'000);
  // One slot in all per round: the first line served gets it, and the first line rotates.
  auto one_slot = [&] {
    int slots = 1;
    std::vector<std::string> left;
    lines.serve(
        [&](const wait_lines::route&) -> std::optional<int> {
          if (slots == 0) return std::nullopt;
          --slots;
          return 1;
        },
        [&](wait_lines::parked p, int) { left.push_back(p.order_number); });
    return left;
  };
  EXPECT_EQ(one_slot(), (std::vector<std::string>{"fifty"}));
  EXPECT_EQ(one_slot(), (std::vector<std::string>{"hundred"}));
  EXPECT_EQ(one_slot(), (std::vector<std::string>{"fifty-2"}));
}

TEST(WaitLines, DeadlinesTakeOrdersOffAndTheirLineSkipsThem) {
  wait_lines lines;
  lines.park(order("early"), {}, 1'000);
  lines.park(order("late"), {}, 5'000);
  EXPECT_TRUE(lines.take_expired(999).empty());
  auto expired = lines.take_expired(1'000);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].order_number, "early");
  EXPECT_EQ(expired[0].merchant_id, 1001);
  // The stale entry at the front of the line is skipped, never handed out twice.
  EXPECT_EQ(serve(lines, {{50, 5}}), (std::vector<std::string>{"late"}));
}

TEST(WaitLines, DeadlineScansAreAtMostOncePerSecond) {
  wait_lines lines;
  lines.park(order("a"), {}, 1'000);
  lines.park(order("b"), {}, 1'200);
  EXPECT_EQ(lines.take_expired(1'000).size(), 1u);
  EXPECT_TRUE(lines.take_expired(1'500).empty()) << "a scan 500 ms after the last one";
  EXPECT_EQ(lines.take_expired(2'000).size(), 1u);
}

TEST(WaitLines, ParkingAgainMovesTheOrderToItsNewLine) {
  wait_lines lines;
  lines.park(order("a"), {}, 10'000);
  lines.park(order("a"), {"up1"}, 20'000);  // failed over on up1, waiting again
  EXPECT_EQ(lines.size(), 1u);
  std::vector<std::vector<std::string>> tried_seen;
  std::vector<std::string> left;
  lines.serve(
      [&](const wait_lines::route& r) -> std::optional<int> {
        tried_seen.push_back(r.tried);
        return 1;
      },
      [&](wait_lines::parked p, int) { left.push_back(p.order_number); });
  EXPECT_EQ(left, (std::vector<std::string>{"a"})) << "handed out once";
  EXPECT_EQ(tried_seen, (std::vector<std::vector<std::string>>{{"up1"}}))
      << "from its new line, never with the route it had before failing over";
  EXPECT_TRUE(lines.empty());
}

}  // namespace
