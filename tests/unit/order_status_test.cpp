#include <gtest/gtest.h>

#include <array>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "engine/order/order_status.hpp"

namespace {

using topup::engine::is_terminal;
using topup::engine::order_status;
using topup::engine::status_from_int;
using topup::engine::status_name;
using topup::engine::to_int;
using topup::engine::transition_allowed;

constexpr std::array k_all = {
    order_status::pending_payment, order_status::recharging, order_status::success,
    order_status::failed,          order_status::refunded,   order_status::waiting,
    order_status::matched,
};

// Spec §4, written as the wire numbers so it can be compared with the document at a glance.
const std::set<std::pair<int, int>> k_spec_table = {
    {0, 6}, {6, 7}, {7, 1}, {7, 6}, {1, 2}, {1, 6}, {1, 3}, {6, 3}, {7, 3}, {3, 4},
};

TEST(OrderStateMachine, EveryPairMatchesSpecTable) {
  int allowed = 0;
  for (const order_status from : k_all) {
    for (const order_status to : k_all) {
      const bool expected = k_spec_table.contains({to_int(from), to_int(to)});
      EXPECT_EQ(transition_allowed(from, to), expected) << to_int(from) << "->" << to_int(to);
      allowed += transition_allowed(from, to) ? 1 : 0;
    }
  }
  EXPECT_EQ(allowed, 10);
}

TEST(OrderStateMachine, NoSelfLoops) {
  for (const order_status s : k_all) EXPECT_FALSE(transition_allowed(s, s)) << to_int(s);
}

TEST(OrderStateMachine, NothingLeavesSuccessOrRefunded) {
  for (const order_status to : k_all) {
    EXPECT_FALSE(transition_allowed(order_status::success, to)) << to_int(to);
    EXPECT_FALSE(transition_allowed(order_status::refunded, to)) << to_int(to);
  }
}

TEST(OrderStateMachine, RefundOnlyFromFailed) {
  for (const order_status from : k_all) {
    EXPECT_EQ(transition_allowed(from, order_status::refunded), from == order_status::failed)
        << to_int(from);
  }
}

TEST(OrderStateMachine, FailedOnlyLeadsToRefunded) {
  for (const order_status to : k_all) {
    EXPECT_EQ(transition_allowed(order_status::failed, to), to == order_status::refunded)
        << to_int(to);
  }
}

TEST(OrderStateMachine, SuccessOnlyFromRecharging) {
  // A top-up is delivered only by a channel that was actually submitted to.
  for (const order_status from : k_all) {
    EXPECT_EQ(transition_allowed(from, order_status::success), from == order_status::recharging)
        << to_int(from);
  }
}

TEST(OrderStateMachine, PendingPaymentOnlyToWaiting) {
  for (const order_status to : k_all) {
    EXPECT_EQ(transition_allowed(order_status::pending_payment, to), to == order_status::waiting)
        << to_int(to);
  }
  // And nothing goes back to "not yet debited".
  for (const order_status from : k_all) {
    EXPECT_FALSE(transition_allowed(from, order_status::pending_payment)) << to_int(from);
  }
}

TEST(OrderStateMachine, FailoverPathsBackToWaiting) {
  EXPECT_TRUE(transition_allowed(order_status::matched, order_status::waiting));  // refused
  EXPECT_TRUE(
      transition_allowed(order_status::recharging, order_status::waiting));  // failed, change
  EXPECT_FALSE(transition_allowed(order_status::success, order_status::waiting));
  EXPECT_FALSE(transition_allowed(order_status::failed, order_status::waiting));
  EXPECT_FALSE(transition_allowed(order_status::refunded, order_status::waiting));
}

TEST(OrderStateMachine, WaitingCannotSkipMatching) {
  EXPECT_FALSE(transition_allowed(order_status::waiting, order_status::recharging));
  EXPECT_FALSE(transition_allowed(order_status::waiting, order_status::success));
  EXPECT_FALSE(transition_allowed(order_status::matched, order_status::success));
}

TEST(OrderStateMachine, CancelPathIsWaitingFailedRefunded) {
  // spec §3.5: cancel moves 6 -> 3 -> 4.
  EXPECT_TRUE(transition_allowed(order_status::waiting, order_status::failed));
  EXPECT_TRUE(transition_allowed(order_status::failed, order_status::refunded));
}

TEST(OrderStateMachine, HappyPathIsConnected) {
  const std::array path = {order_status::pending_payment, order_status::waiting,
                           order_status::matched, order_status::recharging, order_status::success};
  for (std::size_t i = 0; i + 1 < path.size(); ++i) {
    EXPECT_TRUE(transition_allowed(path[i], path[i + 1])) << i;
  }
}

TEST(OrderStateMachine, ValuesOutsideTheEnumAreNeverAllowed) {
  // A status read from storage without status_from_int must not slip through.
  for (const int raw : {5, 8, 9, 42, 255}) {
    const auto bogus = static_cast<order_status>(raw);
    for (const order_status s : k_all) {
      EXPECT_FALSE(transition_allowed(bogus, s)) << raw << "->" << to_int(s);
      EXPECT_FALSE(transition_allowed(s, bogus)) << to_int(s) << "->" << raw;
    }
    EXPECT_FALSE(transition_allowed(bogus, bogus)) << raw;
    EXPECT_FALSE(is_terminal(bogus)) << raw;
  }
}

TEST(OrderStatus, TerminalAreSuccessAndRefunded) {
  for (const order_status s : k_all) {
    EXPECT_EQ(is_terminal(s), s == order_status::success || s == order_status::refunded)
        << to_int(s);
  }
}

TEST(OrderStatus, TerminalMeansNoOutgoingTransition) {
  for (const order_status from : k_all) {
    bool has_exit = false;
    for (const order_status to : k_all) has_exit = has_exit || transition_allowed(from, to);
    EXPECT_EQ(is_terminal(from), !has_exit) << to_int(from);
  }
}

TEST(OrderStatus, FromIntAcceptsTheSevenWireCodes) {
  for (const order_status s : k_all) {
    const auto parsed = status_from_int(to_int(s));
    ASSERT_TRUE(parsed.has_value()) << to_int(s);
    EXPECT_EQ(*parsed, s);
  }
  EXPECT_EQ(to_int(order_status::pending_payment), 0);
  EXPECT_EQ(to_int(order_status::recharging), 1);
  EXPECT_EQ(to_int(order_status::success), 2);
  EXPECT_EQ(to_int(order_status::failed), 3);
  EXPECT_EQ(to_int(order_status::refunded), 4);
  EXPECT_EQ(to_int(order_status::waiting), 6);
  EXPECT_EQ(to_int(order_status::matched), 7);
}

TEST(OrderStatus, FromIntRejectsEverythingElse) {
  for (const int bad :
       {-1, -2, 5, 8, 9, 10, 16, 100, 255, 256, 262, 1 << 20, INT32_MIN, INT32_MAX}) {
    EXPECT_EQ(status_from_int(bad), std::nullopt) << bad;
  }
  // Values that would alias a valid status once truncated to uint8_t must not.
  EXPECT_EQ(status_from_int(256 + 2), std::nullopt);
  EXPECT_EQ(status_from_int(-256 + 6), std::nullopt);
}

TEST(OrderStatus, NamesFollowSpec) {
  EXPECT_EQ(status_name(order_status::pending_payment), "待支付");
  EXPECT_EQ(status_name(order_status::recharging), "已付 充值中");
  EXPECT_EQ(status_name(order_status::success), "充值成功");
  EXPECT_EQ(status_name(order_status::failed), "充值失败");
  EXPECT_EQ(status_name(order_status::refunded), "退款成功");
  EXPECT_EQ(status_name(order_status::waiting), "待充值");
  EXPECT_EQ(status_name(order_status::matched), "已匹配");
  std::set<std::string_view> distinct;
  for (const order_status s : k_all) distinct.insert(status_name(s));
  EXPECT_EQ(distinct.size(), k_all.size());
}

}  // namespace
