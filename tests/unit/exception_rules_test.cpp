// Which orders the exception queue lists, of which kind and since when, and which of them an
// operator may settle (engine/dispatch/exception_rules): pure, over typed orders and a config.
#include <gtest/gtest.h>

#include "engine/dispatch/exception_rules.hpp"

namespace {

using namespace topup::engine;

constexpr std::int64_t k_t0 = 1'700'000'000'000;

class ExceptionRules : public ::testing::Test {
 protected:
  void SetUp() override {
    merchant_config m;
    m.id = 1001;
    m.fast_deadline_s = 60;
    m.slow_deadline_s = 3600;
    cfg.merchants = {m};
    channel_config a;
    a.id = "A";
    a.unknown_max_s = 600;
    cfg.channels = {a};
  }
  /// An order of merchant 1001 created at k_t0, in `status`, its attempt at `channel` since
  /// k_t0 + 1 s.
  order_record order(order_status status, std::string channel = "A") {
    order_record o;
    o.order_number = "T1";
    o.merchant_id = 1001;
    o.status = status;
    o.created_at_ms = k_t0;
    if (status != order_status::waiting) {
      o.attempt.channel = std::move(channel);
      o.attempt.id = "T1-1";
      o.attempt.matched_at_ms = k_t0 + 1000;
    }
    return o;
  }
  std::optional<exception_kind> kind_at(const order_record& o, std::int64_t now_ms) {
    auto e = classify_exception(o, cfg, now_ms);
    return e ? std::optional<exception_kind>(e->kind) : std::nullopt;
  }
  config cfg;
};

TEST_F(ExceptionRules, RechargingIsUnresolvedOnlyAfterItsChannelsUnknownMax) {
  auto o = order(order_status::recharging);
  o.attempt.submitted_at_ms = k_t0 + 2000;  // the attempt's age counts from the submit's end
  EXPECT_EQ(kind_at(o, k_t0 + 2000 + 599'999), std::nullopt);
  auto e = classify_exception(o, cfg, k_t0 + 2000 + 600'000);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, exception_kind::unresolved);
  EXPECT_EQ(e->since_ms, k_t0 + 2000);
  EXPECT_TRUE(settleable(e->kind));
}

TEST_F(ExceptionRules, AttemptOnAChannelNoLongerConfiguredIsChannelRemovedAtOnce) {
  for (auto s : {order_status::matched, order_status::recharging}) {
    auto o = order(s, "gone");
    auto e = classify_exception(o, cfg, k_t0 + 1001);
    ASSERT_TRUE(e) << to_int(s);
    EXPECT_EQ(e->kind, exception_kind::channel_removed);
    EXPECT_NE(e->detail.find("gone"), std::string::npos);
    EXPECT_TRUE(settleable(e->kind));
  }
  // Matched on a configured channel: the engine is submitting, nothing for a person.
  EXPECT_EQ(kind_at(order(order_status::matched), k_t0 + 86'400'000), std::nullopt);
}

TEST_F(ExceptionRules, WaitingPastItsDeadlineAndTheGraceIsOverdue) {
  auto fast = order(order_status::waiting);
  EXPECT_EQ(kind_at(fast, k_t0 + 60'000 + k_overdue_grace_ms - 1), std::nullopt);
  auto e = classify_exception(fast, cfg, k_t0 + 60'000 + k_overdue_grace_ms);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, exception_kind::overdue);
  EXPECT_EQ(e->since_ms, k_t0 + 60'000);
  auto slow = order(order_status::waiting);
  slow.recharge_type = 0;  // the merchant's slow deadline: an hour
  EXPECT_EQ(kind_at(slow, k_t0 + 3'600'000), std::nullopt);
  EXPECT_EQ(kind_at(slow, k_t0 + 3'600'000 + k_overdue_grace_ms), exception_kind::overdue);
}

TEST_F(ExceptionRules, FinalOrderIsListedOnlyWhenItsCallbackFailed) {
  for (auto s : {order_status::success, order_status::refunded}) {
    auto o = order(s);
    o.callback.status = callback_status::delivered;
    EXPECT_EQ(kind_at(o, k_t0 + 999'999'999), std::nullopt);
    o.callback.status = callback_status::failed;
    o.callback.attempts = 6;
    o.callback.last_at_ms = k_t0 + 5000;
    auto e = classify_exception(o, cfg, k_t0 + 6000);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->kind, exception_kind::callback_failed);
    EXPECT_EQ(e->since_ms, k_t0 + 5000);
    EXPECT_FALSE(settleable(e->kind));
  }
  // Failed, refund in progress: the engine's, not a person's.
  EXPECT_EQ(kind_at(order(order_status::failed), k_t0 + 999'999'999), std::nullopt);
}

TEST_F(ExceptionRules, SettleCheckRefusesFinalUnlistedAndSuccessOfANeverSubmittedOrder) {
  const std::int64_t late = k_t0 + 999'999'999;
  EXPECT_EQ(settle_check(order(order_status::success), cfg, late, false),
            settle_refusal::final_already);
  EXPECT_EQ(settle_check(order(order_status::refunded), cfg, late, true),
            settle_refusal::final_already);
  EXPECT_EQ(settle_check(order(order_status::recharging), cfg, k_t0 + 2000, false),
            settle_refusal::not_listed);
  EXPECT_EQ(settle_check(order(order_status::failed), cfg, late, false),
            settle_refusal::not_listed);
  EXPECT_EQ(settle_check(order(order_status::recharging), cfg, late, true), settle_refusal::none);
  EXPECT_EQ(settle_check(order(order_status::recharging), cfg, late, false), settle_refusal::none);
  EXPECT_EQ(settle_check(order(order_status::waiting), cfg, late, false), settle_refusal::none);
  EXPECT_EQ(settle_check(order(order_status::waiting), cfg, late, true),
            settle_refusal::never_submitted);
}

TEST_F(ExceptionRules, KindNamesRoundTrip) {
  for (auto k : {exception_kind::unresolved, exception_kind::callback_failed,
                 exception_kind::channel_removed, exception_kind::overdue})
    EXPECT_EQ(parse_exception_kind(exception_kind_name(k)), k);
  EXPECT_EQ(parse_exception_kind("stuck"), std::nullopt);
}

}  // namespace
