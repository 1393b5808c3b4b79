// Several instances on one Redis (DESIGN.md "Scaling past one machine"): state an operator
// changes on one instance reaches the others — a channel switched off on instance 1 stops routing
// on instance 2 within a second, and back; and both instances answer for any order.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "tests/support/admin_order_view.hpp"
#include "tests/support/merchant_client.hpp"
#include "tests/support/topupd_suite.hpp"

namespace {

using namespace topup::test;
using namespace std::chrono_literals;
namespace http = boost::beast::http;

topupd_config instance(int port, int redis_port, int id) {
  topupd_config cfg(port, redis_port, 2);
  cfg.json["server"].as_object()["instance_id"] = id;
  return cfg;
}

class Instances : public shared_topupd_suite<Instances> {
 protected:
  static void SetUpTestSuite() {
    start_suite([](int port, int redis_port) { return instance(port, redis_port, 1); });
    second_ = std::make_unique<topupd_process>();
    second_port_ = start_on_free_port(*second_, [](int port) { return instance(port, redis_->port(), 2); });
    http_client admin(port_);
    ASSERT_EQ(admin_credit_when_ready(admin, "test-admin-token", 1001, "5000", "instances").code, "0000");
  }
  static void TearDownTestSuite() {
    second_.reset();
    shared_topupd_suite<Instances>::TearDownTestSuite();
  }
  /// A 50-yuan push naming sim1 on `port`: 0000 while sim1 routes, a refusal once it is off.
  static std::string push_to_sim1(int port, const std::string& order_no) {
    merchant_client m(port, "k1", "s3cret");
    return m.push(order_no, "13800138000", 50, {{"source", "sim1"}}).code;
  }
  static inline std::unique_ptr<topupd_process> second_;
  static inline int second_port_ = 0;
};

TEST_F(Instances, AChannelSwitchedOnOneInstanceSwitchesOnTheOthersWithinASecond) {
  ASSERT_EQ(push_to_sim1(second_port_, "inst-before"), "0000");
  ASSERT_EQ(admin_call(port_, http::verb::post, "/admin/channels/sim1/disable", "",
                       "test-admin-token").code, "0000");
  const auto off = std::chrono::steady_clock::now();
  std::string code;
  int n = 0;
  while (std::chrono::steady_clock::now() - off < 3s) {
    code = push_to_sim1(second_port_, "inst-off-" + std::to_string(++n));
    if (code != "0000") break;
    std::this_thread::sleep_for(50ms);
  }
  const auto took = std::chrono::steady_clock::now() - off;
  // sim1 is the only channel: off, it serves no amount (2002) — not routed, either way.
  EXPECT_TRUE(code == "2002" || code == "2005") << code;
  EXPECT_LT(took, 1s) << "instance 2 still routed to sim1 after "
                      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
  ASSERT_EQ(admin_call(port_, http::verb::post, "/admin/channels/sim1/enable", "",
                       "test-admin-token").code, "0000");
  for (int i = 0; i < 30 && code != "0000"; ++i) {
    std::this_thread::sleep_for(50ms);
    code = push_to_sim1(second_port_, "inst-on-" + std::to_string(i));
  }
  EXPECT_EQ(code, "0000");
}

TEST_F(Instances, EitherInstanceAnswersForAnyOrder) {
  merchant_client first(port_, "k1", "s3cret"), second(second_port_, "k1", "s3cret");
  const auto pushed = first.push("inst-any", "13800138000", 50);
  ASSERT_EQ(pushed.code, "0000") << pushed.raw;
  const std::string number = json_text(pushed.data, "order_number");
  EXPECT_EQ(json_text(second.query(number).data, "order_number"), number);
  // The repeat on the other instance is the same order (idempotency lives in Redis).
  const auto repeat = second.push("inst-any", "13800138000", 50);
  EXPECT_EQ(json_text(repeat.data, "order_number"), number) << repeat.raw;
}

TEST_F(Instances, ChannelBoundsAreSharedAmongTheLiveInstances) {
  // Both see two live instances within a takeover round or two (a third of the lease ttl each).
  auto sees_two = [](const topupd_process& p) {
    std::ifstream in(p.log_path());
    std::stringstream text;
    text << in.rdbuf();
    return text.str().find("live instances=2") != std::string::npos;
  };
  bool both = false;
  for (int i = 0; i < 100 && !both; ++i) {
    both = sees_two(*topupd_) && sees_two(*second_);
    if (!both) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(both) << topupd_->log_tail() << "\n---\n" << second_->log_tail();
}

}  // namespace
