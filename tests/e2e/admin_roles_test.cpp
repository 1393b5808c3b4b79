// Operators and roles (spec §7): every endpoint of the operations API against every role. Every
// operator reads; `operator` also re-notifies, settles, switches channels and changes the blacklist;
// `finance` also credits; the single admin.token is `admin` with every role. A role that does
// not allow an action gets 403 4003 and changes nothing; no token or an unknown one 401 4001.
// Every change is recorded with the operator's name.
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
namespace http = boost::beast::http;

class AdminRoles : public shared_topupd_suite<AdminRoles> {
 protected:
  static void SetUpTestSuite() {
    start_suite([](int port, int redis_port) {
      topupd_config cfg(port, redis_port, 2);
      cfg.json["admin"].as_object()["operators"] =
          json::array{json::object{{"name", "watcher"}, {"token", "tok-viewer"}, {"role", "viewer"}},
                      json::object{{"name", "ops1"}, {"token", "tok-operator"}, {"role", "operator"}},
                      json::object{{"name", "fin1"}, {"token", "tok-finance"}, {"role", "finance"}}};
      admin_token_ = cfg.admin_token();
      return cfg;
    });
    // A final order with a notify_url, for the order endpoints.
    http_client admin(port_);
    const auto credited = admin_credit_when_ready(admin, admin_token_, 1001, "1000", "roles-grant");
    ASSERT_EQ(credited.code, "0000") << credited.raw;
    merchant_client m(port_, "k1", "s3cret");
    auto pushed = m.push("roles-order", "13800138000", 50,
                         {{"notify_url", "http://127.0.0.1:9/cb"}});
    ASSERT_EQ(pushed.code, "0000") << pushed.raw;
    order_ = json_text(pushed.data, "order_number");
    for (int i = 0; i < 200; ++i, std::this_thread::sleep_for(10ms))
      if (json_text(m.query(order_).data, "status") == "2") break;
  }
  static api_answer call(http::verb method, const std::string& target, const std::string& body,
                         const std::string& token) {
    return admin_call(port_, method, target, body, token);
  }

  static inline std::string admin_token_;
  static inline std::string order_;
};

struct endpoint {
  const char* name;
  http::verb method;
  std::string target;
  std::string body;
  bool viewer, operator_, finance;  // who may
  const char* allowed_code = "0000";  // what a role that may gets
};

TEST_F(AdminRoles, EveryEndpointAgainstEveryRole) {
  const std::vector<endpoint> endpoints = {
      {"order view", http::verb::get, "/admin/orders/" + order_, "", true, true, true},
      {"re-notify", http::verb::post, "/admin/orders/" + order_ + "/notify", "", false, true, false},
      {"credit", http::verb::post, "/admin/merchants/1001/credit", "amount=1&ref=", false, false,
       true},
      {"disable", http::verb::post, "/admin/channels/sim1/disable", "", false, true, false},
      {"enable", http::verb::post, "/admin/channels/sim1/enable", "", false, true, false},
      {"blacklist view", http::verb::get, "/admin/risk/blacklist", "", true, true, true},
      {"blacklist change", http::verb::post, "/admin/risk/blacklist",
       "mobile=13700000000&action=add", false, true, false},
      {"exceptions", http::verb::get, "/admin/exceptions?page_size=100", "", true, true, true},
      {"summary", http::verb::get, "/admin/summary", "", true, true, true},
      {"merchants", http::verb::get, "/admin/merchants", "", true, true, true},
      // No statement is made in this suite: every role reads the same "not found".
      {"statement", http::verb::get, "/admin/merchants/1001/statements/20260101", "", true, true,
       true, "3001"},
      // The order is final: a role that may settle is refused by the order's state, not its role.
      {"settle", http::verb::post, "/admin/orders/" + order_ + "/settle",
       "result=failed&evidence=roles", false, true, false, "2007"},
  };
  struct who {
    const char* token;
    bool endpoint::*may;  // null: admin.token, every role
  };
  const std::map<std::string, who> roles = {{"viewer", {"tok-viewer", &endpoint::viewer}},
                                            {"operator", {"tok-operator", &endpoint::operator_}},
                                            {"finance", {"tok-finance", &endpoint::finance}},
                                            {"admin", {"", nullptr}}};
  int credits = 0;
  for (const auto& e : endpoints) {
    for (const auto& [role, w] : roles) {
      SCOPED_TRACE(std::string(e.name) + " as " + role);
      const std::string token = w.may ? w.token : admin_token_;
      std::string body = e.body;
      if (std::string(e.name) == "credit") body += "roles-" + std::to_string(++credits);
      const auto a = call(e.method, e.target, body, token);
      const bool may = w.may ? e.*(w.may) : true;
      if (may) {
        EXPECT_NE(a.code, "4003") << a.raw;
        EXPECT_NE(a.code, "4001") << a.raw;
        EXPECT_EQ(a.code, e.allowed_code) << a.raw;
      } else {
        EXPECT_EQ(a.http_status, 403u) << a.raw;
        EXPECT_EQ(a.code, "4003") << a.raw;
      }
    }
    const auto none = call(e.method, e.target, e.body, "");
    EXPECT_EQ(none.http_status, 401u) << e.name << ": " << none.raw;
    const auto unknown = call(e.method, e.target, e.body, "tok-nobody");
    EXPECT_EQ(unknown.code, "4001") << e.name << ": " << unknown.raw;
  }
  // Only the two roles allowed to credit did: finance and admin, 1 yuan each.
  merchant_client m(port_, "k1", "s3cret");
  EXPECT_EQ(m.balance_fen(), 100000 - 4975 + 200);
}

TEST_F(AdminRoles, EveryChangeIsRecordedWithTheOperatorsName) {
  ASSERT_EQ(call(http::verb::post, "/admin/orders/" + order_ + "/notify", "", "tok-operator").code,
            "0000");
  ASSERT_EQ(call(http::verb::post, "/admin/merchants/1001/credit", "amount=2&ref=by-fin1",
                 "tok-finance")
                .code,
            "0000");
  const auto view = call(http::verb::get, "/admin/orders/" + order_, "", "tok-viewer");
  ASSERT_EQ(view.code, "0000") << view.raw;
  EXPECT_NE(view.raw.find(R"("type":"renotify")"), std::string::npos) << view.raw;
  EXPECT_NE(view.raw.find(R"("by":"ops1")"), std::string::npos) << view.raw;
  std::this_thread::sleep_for(100ms);
  const std::string log = topupd_->log_tail(1 << 20);
  EXPECT_NE(log.find("admin operator=ops1 POST /admin/orders/" + order_ + "/notify"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("admin operator=fin1 POST /admin/merchants/1001/credit"), std::string::npos)
      << log;
}

}  // namespace
