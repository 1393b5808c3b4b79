// The counted risk rules on a real redis-server (engine/risk/risk_counters): per number over a
// rolling window across merchants, per merchant per business day; a claim counts once, a
// release takes back only its own claim, and racing claims never pass a limit.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <memory>
#include <string>
#include <vector>

#include "engine/risk/risk_counters.hpp"
#include "tests/support/io_run.hpp"
#include "tests/support/redis_server.hpp"

namespace {

using namespace topup::engine;
namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr std::int64_t k_t0 = 1'764'720'000'000;  // 2025-12-03 00:00:00 UTC = 08:00 at +08:00

class RiskCounters : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = std::make_unique<topup::test::redis_server>(); }
  static void TearDownTestSuite() { server_.reset(); }

  void SetUp() override {
    server_->flushall();
    merchant_config m;
    m.id = 1001;
    merchant_config own = m;
    own.id = 1002;
    own.daily_amount = 300;
    cfg.merchants = {m, own};
    conn = topup::test::connect_to(io, *server_);
    ASSERT_TRUE(conn->connected());
    counters = std::make_unique<redis_risk_counters>(*conn, "rk", cfg);
  }
  void TearDown() override {
    counters.reset();
    if (conn) conn->stop();
    io.poll();
  }

  risk_claim claim(std::string number, std::int64_t yuan, std::int64_t at_ms,
                   std::string mobile = "13800138000", std::int64_t merchant = 1001) {
    return risk_claim{std::move(mobile), merchant, std::move(number), yuan, at_ms};
  }
  risk_verdict verdict(risk_claim c) {
    auto v = topup::test::run(io, counters->claim(std::move(c)));
    EXPECT_TRUE(v && *v) << (v && !*v ? v->error().message() : "no answer");
    return v && *v ? **v : risk_verdict::allowed;
  }
  asio::awaitable<bool> released(risk_claim c) {
    co_await counters->release(std::move(c));
    co_return true;
  }
  void release(risk_claim c) { EXPECT_TRUE(topup::test::run(io, released(std::move(c)))); }

  static inline std::unique_ptr<topup::test::redis_server> server_;
  asio::io_context io;
  config cfg;
  std::unique_ptr<redis::connection> conn;
  std::unique_ptr<redis_risk_counters> counters;
};

TEST_F(RiskCounters, ANumbersOrdersAreCountedAcrossMerchantsOverTheRollingWindow) {
  cfg.risk.per_mobile_orders = 3;
  cfg.risk.window_s = 100;
  EXPECT_EQ(verdict(claim("N1", 50, k_t0)), risk_verdict::allowed);
  EXPECT_EQ(verdict(claim("N2", 50, k_t0 + 10'000, "13800138000", 1002)), risk_verdict::allowed);
  EXPECT_EQ(verdict(claim("N3", 50, k_t0 + 20'000)), risk_verdict::allowed);
  EXPECT_EQ(verdict(claim("N4", 50, k_t0 + 30'000)), risk_verdict::per_mobile_orders);
  EXPECT_EQ(verdict(claim("N4", 50, k_t0 + 30'000, "13800138001")), risk_verdict::allowed);
  EXPECT_EQ(verdict(claim("N2", 50, k_t0 + 40'000, "13800138000", 1002)), risk_verdict::allowed)
      << "a claim made again counts once";
  // N1 leaves the window 100 s after it was made; N2 and N3 still count.
  EXPECT_EQ(verdict(claim("N5", 50, k_t0 + 99'999)), risk_verdict::per_mobile_orders);
  EXPECT_EQ(verdict(claim("N5", 50, k_t0 + 100'000)), risk_verdict::allowed);
  EXPECT_EQ(verdict(claim("N6", 50, k_t0 + 100'001)), risk_verdict::per_mobile_orders);
  release(claim("N5", 50, k_t0 + 100'000));  // its accept did not take it
  EXPECT_EQ(verdict(claim("N6", 50, k_t0 + 100'002)), risk_verdict::allowed);
}

TEST_F(RiskCounters, ANumbersFaceValueIsCappedAndARefusedClaimCountsNothing) {
  cfg.risk.per_mobile_amount = 200;
  EXPECT_EQ(verdict(claim("A1", 100, k_t0)), risk_verdict::allowed);
  EXPECT_EQ(verdict(claim("A2", 150, k_t0 + 1)), risk_verdict::per_mobile_amount);
  EXPECT_EQ(verdict(claim("A3", 100, k_t0 + 2)), risk_verdict::allowed);  // 200: at the cap
  EXPECT_EQ(verdict(claim("A4", 1, k_t0 + 3)), risk_verdict::per_mobile_amount);
  release(claim("A3", 100, k_t0 + 2));
  release(claim("nobody", 100, k_t0 + 2));  // not claimed: nothing to take back
  EXPECT_EQ(verdict(claim("A5", 100, k_t0 + 4)), risk_verdict::allowed);
}

TEST_F(RiskCounters, AMerchantsDayIsCappedAtItsOwnLimitOrTheGlobalOneAndEndsAtLocalMidnight) {
  cfg.risk.daily_amount = 150;  // merchant 1002 has its own 300
  const std::int64_t before_midnight = k_t0 + 16 * 3600'000 - 1;  // 23:59:59.999 at +08:00
  EXPECT_EQ(counters->business_day(k_t0), "20251203");
  EXPECT_EQ(counters->business_day(before_midnight), "20251203");
  EXPECT_EQ(counters->business_day(before_midnight + 1), "20251204");
  EXPECT_EQ(verdict(claim("D1", 100, k_t0, "13900000001")), risk_verdict::allowed);
  EXPECT_EQ(verdict(claim("D2", 100, k_t0, "13900000002")), risk_verdict::daily_amount);
  EXPECT_EQ(verdict(claim("D3", 100, k_t0, "13900000003", 1002)), risk_verdict::allowed);
  EXPECT_EQ(verdict(claim("D4", 200, k_t0, "13900000004", 1002)), risk_verdict::allowed);
  EXPECT_EQ(verdict(claim("D5", 1, k_t0, "13900000005", 1002)), risk_verdict::daily_amount);
  EXPECT_EQ(verdict(claim("D2", 100, before_midnight + 1, "13900000002")), risk_verdict::allowed)
      << "the next business day starts at midnight +08:00";
  release(claim("D1", 100, k_t0, "13900000001"));
  EXPECT_EQ(verdict(claim("D6", 150, k_t0, "13900000006")), risk_verdict::allowed);
}

TEST_F(RiskCounters, AClaimRefusedByTheDayLeavesNothingCountedForTheNumber) {
  cfg.risk.per_mobile_orders = 1;
  cfg.risk.daily_amount = 50;
  EXPECT_EQ(verdict(claim("X1", 100, k_t0)), risk_verdict::daily_amount);
  EXPECT_EQ(verdict(claim("X2", 50, k_t0 + 1)), risk_verdict::allowed)
      << "the number's claim of the refused order was taken back";
}

// Two connections (two instances) racing for one number: the check and the count are one step
// per counter, so never more than the limit passes.
TEST_F(RiskCounters, RacingClaimsFromTwoConnectionsNeverPassTheLimit) {
  cfg.risk.per_mobile_orders = 5;
  auto other_conn = topup::test::connect_to(io, *server_);
  ASSERT_TRUE(other_conn->connected());
  redis_risk_counters other(*other_conn, "rk", cfg);
  int allowed = 0, answered = 0;
  for (int i = 0; i < 40; ++i) {
    auto& side = i % 2 == 0 ? *counters : other;
    asio::co_spawn(io, side.claim(claim("R" + std::to_string(i), 10, k_t0 + i)),
                   [&](std::exception_ptr, boost::system::result<risk_verdict> v) {
                     ++answered;
                     if (v && *v == risk_verdict::allowed) ++allowed;
                   });
  }
  topup::test::run_until(io, [&] { return answered == 40; }, 10s);
  EXPECT_EQ(answered, 40);
  EXPECT_EQ(allowed, 5);
  other_conn->stop();
  io.poll();
}

}  // namespace
