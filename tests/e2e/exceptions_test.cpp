// The exception queue and manual settlement (spec §6 unknown_max_s, §7) on the real binary: a
// `wikeyun` channel whose supplier never answers (nothing listens at its URL: every push and
// query is a transport error, an unknown outcome) with unknown_max_s 1 lists its orders in
// GET /admin/exceptions; an operator settles them with evidence; the money moves exactly once,
// the merchant is called back, and nothing is settled twice.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "tests/support/admin_order_view.hpp"
#include "tests/support/callback_receiver.hpp"
#include "tests/support/merchant_client.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/topupd_process.hpp"
#include "tests/support/topupd_suite.hpp"

namespace {

using namespace topup::test;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace http = boost::beast::http;

constexpr long long k_cost_fen = 4975;  // 50 yuan at merchant 1001's 0.995

class Exceptions : public shared_topupd_suite<Exceptions> {
 protected:
  static void SetUpTestSuite() {
    receiver_ = std::make_unique<callback_receiver>();
    start_suite([](int port, int redis_port) {
      topupd_config cfg(port, redis_port, 2);
      cfg.json["admin"].as_object()["operators"] = json::array{
          json::object{{"name", "watcher"}, {"token", "tok-viewer"}, {"role", "viewer"}},
          json::object{{"name", "ops1"}, {"token", "tok-operator"}, {"role", "operator"}}};
      cfg.json["callbacks"] = json::object{{"allow_private_targets", true}};
      cfg.add_unanswered_channel("dead1", 1);
      cfg.add_unanswered_channel("dead2", 3600);
      return cfg;
    });
    http_client admin(port_);
    const auto credited =
        admin_credit_when_ready(admin, "test-admin-token", 1001, "1000", "exceptions-grant");
    ASSERT_EQ(credited.code, "0000") << credited.raw;
  }
  static void TearDownTestSuite() {
    shared_topupd_suite<Exceptions>::TearDownTestSuite();
    receiver_.reset();
  }

  static api_answer call(http::verb method, const std::string& target, const std::string& body,
                         const std::string& token) {
    return admin_call(port_, method, target, body, token);
  }
  static api_answer settle(const std::string& number, const std::string& body,
                           const std::string& token = "tok-operator") {
    return call(http::verb::post, "/admin/orders/" + number + "/settle", body, token);
  }
  static api_answer exceptions(const std::string& query = "") {
    return call(http::verb::get, "/admin/exceptions" + query, "", "tok-viewer");
  }
  /// The queue's entry for `number`, or null.
  static const json::object* entry_of(const api_answer& a, const std::string& number) {
    if (!a.data.is_object()) return nullptr;
    for (const auto& e : a.data.at("list").as_array())
      if (json_text(e, "order_number") == number) return &e.as_object();
    return nullptr;
  }
  /// Pushes a 50-yuan order of merchant 1001 to `channel`, called back at the receiver's `tag`.
  static std::string push(const std::string& order_no, const std::string& channel,
                          const std::string& tag) {
    merchant_client m(port_, "k1", "s3cret");
    auto a = m.push(order_no, "13800138000", 50,
                    {{"source", channel}, {"notify_url", receiver_->url(tag)}});
    EXPECT_EQ(a.code, "0000") << a.raw;
    return json_text(a.data, "order_number");
  }
  /// Waits until the queue lists `number` (unknown_max_s 1 and a query or two later).
  static api_answer wait_listed(const std::string& number) {
    api_answer a;
    for (int i = 0; i < 100; ++i, std::this_thread::sleep_for(100ms)) {
      a = exceptions();
      if (entry_of(a, number)) break;
    }
    return a;
  }
  static std::string status_of(const std::string& number) {
    merchant_client m(port_, "k1", "s3cret");
    return json_text(m.query(number).data, "status");
  }

  static inline std::unique_ptr<callback_receiver> receiver_;
};

TEST_F(Exceptions, UnresolvedOrderIsSettledFailedWithEvidenceAndRefundedOnce) {
  merchant_client m(port_, "k1", "s3cret");
  const long long start = m.balance_fen();
  const auto number = push("exc-failed", "dead1", "failed");
  const auto listed = wait_listed(number);
  ASSERT_EQ(listed.code, "0000") << listed.raw;
  const auto* e = entry_of(listed, number);
  ASSERT_TRUE(e) << listed.raw;
  EXPECT_EQ(json_text(*e, "kind"), "unresolved");
  EXPECT_EQ(json_text(*e, "channel"), "dead1");
  EXPECT_EQ(e->at("merchant_id").as_int64(), 1001);
  EXPECT_EQ(e->at("status").as_int64(), 1);
  EXPECT_GT(e->at("since_ms").as_int64(), 0);
  EXPECT_EQ(json_text(*e, "since").size(), 19u) << listed.raw;  // YYYY-MM-DD HH:MM:SS
  EXPECT_FALSE(json_text(*e, "detail").empty());
  EXPECT_EQ(m.balance_fen(), start - k_cost_fen);

  // Filters.
  EXPECT_TRUE(entry_of(exceptions("?kind=unresolved&merchant=1001&channel=dead1"), number));
  EXPECT_FALSE(entry_of(exceptions("?merchant=1002"), number));
  EXPECT_FALSE(entry_of(exceptions("?channel=sim1"), number));
  EXPECT_FALSE(entry_of(exceptions("?kind=overdue"), number));
  EXPECT_EQ(exceptions("?kind=stuck").code, "1001");
  EXPECT_EQ(exceptions("?page_size=101").code, "1001");

  // Refused, nothing changed: a viewer, no token, no or too long evidence, no result.
  const auto viewer = settle(number, "result=failed&evidence=portal", "tok-viewer");
  EXPECT_EQ(viewer.http_status, 403u) << viewer.raw;
  EXPECT_EQ(viewer.code, "4003");
  const auto nobody = settle(number, "result=failed&evidence=portal", "");
  EXPECT_EQ(nobody.http_status, 401u) << nobody.raw;
  EXPECT_EQ(nobody.code, "4001");
  EXPECT_EQ(settle(number, "result=failed").code, "1001");
  EXPECT_EQ(settle(number, "result=failed&evidence=").code, "1001");
  EXPECT_EQ(settle(number, "result=failed&evidence=" + std::string(501, 'x')).code, "1001");
  EXPECT_EQ(settle(number, "result=maybe&evidence=portal").code, "1001");
  EXPECT_EQ(status_of(number), "1");
  EXPECT_EQ(m.balance_fen(), start - k_cost_fen);

  const auto settled = settle(number, "result=failed&evidence=supplier+portal+shows+failed");
  ASSERT_EQ(settled.code, "0000") << settled.raw;
  EXPECT_EQ(json_text(settled.data, "status"), "4");
  EXPECT_EQ(status_of(number), "4");
  EXPECT_EQ(m.balance_fen(), start);  // refunded
  ASSERT_EQ(receiver_->wait_for("failed", 1, 10s), 1u);
  const auto cb = receiver_->deliveries("failed").front();
  EXPECT_EQ(cb.param("status").value_or(""), "4");
  EXPECT_EQ(cb.param("order_number").value_or(""), number);
  EXPECT_FALSE(entry_of(exceptions(), number));  // off the queue

  // Never twice.
  const auto again = settle(number, "result=failed&evidence=again");
  EXPECT_EQ(again.code, "2007") << again.raw;
  EXPECT_EQ(settle(number, "result=success&evidence=again").code, "2007");
  EXPECT_EQ(m.balance_fen(), start);

  // The step records who and why; the log line names the operator.
  const auto view = call(http::verb::get, "/admin/orders/" + number, "", "tok-viewer");
  EXPECT_NE(view.raw.find(R"("by":"ops1")"), std::string::npos) << view.raw;
  EXPECT_NE(view.raw.find(R"("evidence":"supplier portal shows failed")"), std::string::npos)
      << view.raw;
  std::this_thread::sleep_for(100ms);
  EXPECT_NE(topupd_->log_tail(1 << 20).find("settle operator=ops1 order=" + number),
            std::string::npos);
}

TEST_F(Exceptions, UnresolvedOrderSettledSuccessIsNotRefunded) {
  merchant_client m(port_, "k1", "s3cret");
  const long long start = m.balance_fen();
  const auto number = push("exc-success", "dead1", "success");
  ASSERT_TRUE(entry_of(wait_listed(number), number));
  const auto settled = settle(number, "result=success&evidence=carrier+confirms+top-up");
  ASSERT_EQ(settled.code, "0000") << settled.raw;
  EXPECT_EQ(status_of(number), "2");
  ASSERT_EQ(receiver_->wait_for("success", 1, 10s), 1u);
  EXPECT_EQ(receiver_->deliveries("success").front().param("status").value_or(""), "2");
  EXPECT_EQ(m.balance_fen(), start - k_cost_fen);
  EXPECT_EQ(settle(number, "result=failed&evidence=changed+my+mind").code, "2007");
  EXPECT_EQ(m.balance_fen(), start - k_cost_fen);
}

TEST_F(Exceptions, OrderNotInTheQueueIsRefused) {
  merchant_client m(port_, "k1", "s3cret");
  // dead2 lists nothing for an hour: the engine is still asking, not a person's to decide.
  const auto number = push("exc-young", "dead2", "young");
  for (int i = 0; i < 50 && status_of(number) != "1"; ++i) std::this_thread::sleep_for(20ms);
  ASSERT_EQ(status_of(number), "1");
  EXPECT_FALSE(entry_of(exceptions(), number));
  const long long before = m.balance_fen();
  const auto refused = settle(number, "result=failed&evidence=impatient");
  EXPECT_EQ(refused.code, "2007") << refused.raw;
  EXPECT_EQ(status_of(number), "1");
  EXPECT_EQ(m.balance_fen(), before);
  // An unknown order: 3001.
  EXPECT_EQ(settle("T0000000000000000000000000000001001", "result=failed&evidence=x").code,
            "3001");
}

TEST_F(Exceptions, AuditAcceptsSettledOrders) {
  const auto number = push("exc-audit", "dead1", "audit");
  ASSERT_TRUE(entry_of(wait_listed(number), number));
  ASSERT_EQ(settle(number, "result=failed&evidence=audit").code, "0000");
  const auto [status, out] = run_topupd({"audit", "--config", topupd_->config_path()});
  EXPECT_EQ(status, 0) << out;
}

}  // namespace
