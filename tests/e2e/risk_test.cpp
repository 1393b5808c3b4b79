// Risk control (spec §3.8) end to end, one rule per row: the limit reached answers 2008 naming
// the kind of rule (never the threshold) and debits nothing; a repeat of an accepted order is
// never refused; the next window accepts again; each refusal is counted in /metrics.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/admin_order_view.hpp"
#include "tests/support/merchant_client.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/topupd_process.hpp"
#include "tests/support/topupd_suite.hpp"

namespace {

using namespace topup::test;
using namespace std::chrono_literals;
namespace json = boost::json;

constexpr int k_window_s = 3;

class Risk : public shared_topupd_suite<Risk> {
 protected:
  static void SetUpTestSuite() {
    start_suite([](int port, int redis_port) {
      topupd_config cfg(port, redis_port, 2);
      token_ = cfg.admin_token();
      cfg.json["risk"] = json::object{{"per_mobile_orders", 3},
                                      {"per_mobile_amount", 250},
                                      {"daily_amount", 0},
                                      {"window_s", k_window_s}};
      // Its own cap, used only by the daily test; 1001 and 1002 have none.
      cfg.add_merchant(1003, "k3", "s3-secret", "s3", 1.0)["daily_amount"] = 200;
      return cfg;
    });
    http_client admin(port_);
    for (long long id : {1001, 1002, 1003})
      EXPECT_EQ(
          admin_credit_when_ready(admin, token_, id, "100000", "risk-" + std::to_string(id)).code,
          "0000");
  }
  static merchant_client k1() { return merchant_client(port_, "k1", "s3cret"); }
  static merchant_client k2() { return merchant_client(port_, "k2", "other-secret"); }
  static merchant_client k3() { return merchant_client(port_, "k3", "s3-secret"); }

  static api_answer push(merchant_client& m, const std::string& order_no, const std::string& mobile,
                         int money, const std::string& store = "s1") {
    return m.push(order_no, mobile, money, {{"store_id", store}});
  }
  static double refusals(const std::string& rule) {
    const auto text = http_client(port_).get("/metrics").body;
    const std::string line = "topup_risk_refusals_total{rule=\"" + rule + "\"} ";
    const auto at = text.find(line);
    return at == std::string::npos ? -1 : std::stod(text.substr(at + line.size()));
  }

  static inline std::string token_;
};

struct row {
  const char* rule;        // as counted in /metrics
  const char* words;       // what msg must say (the kind of rule)
  std::string mobile;
  std::vector<int> taken;  // face values accepted before the limit
  int refused;             // the face value then refused
  bool second_merchant;    // merchant 1002 takes every other order (counted across merchants)
};

TEST_F(Risk, EachRuleRefusesAtItsLimitAndTheNextWindowAcceptsAgain) {
  const std::vector<row> rows = {
      {"per_mobile_orders", "下单次数", "13911110001", {50, 50, 50}, 50, false},
      {"per_mobile_amount", "充值金额", "13911110002", {100, 100}, 100, false},
      {"per_mobile_orders", "下单次数", "13911110003", {20, 20, 20}, 20, true},
  };
  auto m1 = k1();
  auto m2 = k2();
  for (const auto& r : rows) {
    SCOPED_TRACE(r.mobile);
    const double counted = refusals(r.rule);
    std::vector<api_answer> accepted;
    for (std::size_t i = 0; i < r.taken.size(); ++i) {
      const bool other = r.second_merchant && i % 2 == 1;
      auto a = push(other ? m2 : m1, r.mobile + "-" + std::to_string(i), r.mobile, r.taken[i],
                    other ? "s2" : "s1");
      ASSERT_EQ(a.code, "0000") << a.raw;
      accepted.push_back(a);
    }
    const auto balance = m1.balance_fen();
    auto refused = push(m1, r.mobile + "-over", r.mobile, r.refused);
    EXPECT_EQ(refused.code, "2008") << refused.raw;
    EXPECT_NE(refused.msg.find(r.words), std::string::npos) << refused.raw;
    EXPECT_EQ(refused.msg.find("250"), std::string::npos) << "a threshold in msg: " << refused.raw;
    EXPECT_EQ(m1.balance_fen(), balance);
    EXPECT_EQ(refusals(r.rule), counted + 1);
    // The first order again (a blind retry): its own order, never a refusal.
    auto repeat = push(m1, r.mobile + "-0", r.mobile, r.taken[0]);
    EXPECT_EQ(repeat.code, "0000") << repeat.raw;
    EXPECT_EQ(json_text(repeat.data, "order_number"), json_text(accepted[0].data, "order_number"));
  }
  // The window rolls: every number above may order again.
  std::this_thread::sleep_for(std::chrono::seconds(k_window_s) + 200ms);
  for (const auto& r : rows) {
    auto again = push(m1, r.mobile + "-next", r.mobile, r.refused);
    EXPECT_EQ(again.code, "0000") << r.mobile << ": " << again.raw;
  }
}

TEST_F(Risk, AMerchantsOwnDailyAmountCapsItAloneAndARefusalDebitsNothing) {
  const double counted = refusals("daily_amount");
  auto m = k3();
  const auto balance = m.balance_fen();
  ASSERT_EQ(push(m, "day-1", "13922220001", 100, "s3").code, "0000");
  ASSERT_EQ(push(m, "day-2", "13922220002", 100, "s3").code, "0000");
  auto over = push(m, "day-3", "13922220003", 10, "s3");
  EXPECT_EQ(over.code, "2008") << over.raw;
  EXPECT_NE(over.msg.find("当日"), std::string::npos) << over.raw;
  EXPECT_EQ(m.balance_fen(), balance - 20000);  // rate 1.0: the two accepted only
  EXPECT_EQ(refusals("daily_amount"), counted + 1);
  auto m1 = k1();
  EXPECT_EQ(push(m1, "day-k1", "13922220004", 200).code, "0000");  // 1001 has no cap
  EXPECT_EQ(push(m, "day-1", "13922220001", 100, "s3").code, "0000");  // a repeat
}

}  // namespace
