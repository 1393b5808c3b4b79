// What the operations console reads, on the real binary: its files (served without a token,
// with a policy that lets the page load nothing but them) and the summary endpoints
// (GET /admin/summary, GET /admin/merchants) whose figures must agree with what happened.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "tests/support/admin_order_view.hpp"
#include "tests/support/merchant_client.hpp"
#include "tests/support/topupd_process.hpp"
#include "tests/support/topupd_suite.hpp"

namespace {

using namespace topup::test;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace http = boost::beast::http;

class ConsoleApi : public shared_topupd_suite<ConsoleApi> {
 protected:
  static void SetUpTestSuite() {
    start_suite([](int port, int redis_port) {
      topupd_config cfg(port, redis_port, 2);
      cfg.json["admin"].as_object()["operators"] = json::array{
          json::object{{"name", "watcher"}, {"token", "tok-viewer"}, {"role", "viewer"}}};
      return cfg;
    });
  }
  static api_answer summary() {
    return admin_call(port_, http::verb::get, "/admin/summary", "", "tok-viewer");
  }
  static const json::object* channel(const api_answer& a, const std::string& id) {
    for (const auto& c : a.data.at("channels").as_array())
      if (json_text(c, "id") == id) return &c.as_object();
    return nullptr;
  }
};

TEST_F(ConsoleApi, FilesAreServedWithoutATokenUnderAStrictPolicy) {
  http_client http(port_);
  const auto index = http.get("/admin/");
  ASSERT_EQ(index.status, 200u) << index.body;
  EXPECT_EQ(index.headers[http::field::content_type], "text/html; charset=utf-8");
  EXPECT_NE(index.body.find("console.js"), std::string::npos);
  const std::string csp(index.headers["Content-Security-Policy"]);
  EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
  EXPECT_EQ(index.headers["X-Content-Type-Options"], "nosniff");

  const auto script = http.get("/admin/console.js");
  EXPECT_EQ(script.status, 200u);
  EXPECT_EQ(script.headers[http::field::content_type], "text/javascript; charset=utf-8");
  const auto chart = http.get("/admin/vendor/uPlot.iife.min.js");
  EXPECT_EQ(chart.status, 200u);
  EXPECT_GT(chart.body.size(), 10'000u);

  // Anything else under /admin/ is the API: unknown paths 404, data needs a token.
  EXPECT_EQ(http.get("/admin/nothing.js").status, 404u);
  EXPECT_EQ(http.get("/admin/summary").status, 401u);
  EXPECT_EQ(http.get("/admin/merchants").status, 401u);
  EXPECT_EQ(http.post("/admin/", "").status, 404u);  // a file is only ever read

  const auto short_address = http.get("/admin");
  EXPECT_EQ(short_address.status, 301u);
  EXPECT_EQ(short_address.headers[http::field::location], "/admin/");
}

TEST_F(ConsoleApi, SummaryCountsWhatHappened) {
  http_client admin(port_);
  ASSERT_EQ(admin_credit_when_ready(admin, "test-admin-token", 1001, "120", "console-api").code,
            "0000");
  const auto before = summary();
  ASSERT_EQ(before.code, "0000") << before.raw;
  const auto accepted0 = before.data.at("orders").at("accepted").to_number<std::uint64_t>();
  const auto refused0 = before.data.at("orders").at("refused").to_number<std::uint64_t>();
  const auto succeeded0 = before.data.at("orders").at("succeeded").to_number<std::uint64_t>();
  const auto* sim0 = channel(before, "sim1");
  ASSERT_TRUE(sim0) << before.raw;
  const auto submits0 = sim0->at("submits").to_number<std::uint64_t>();

  merchant_client m(port_, "k1", "s3cret");
  for (int i = 0; i < 2; ++i)
    ASSERT_EQ(m.push("console-sum-" + std::to_string(i), "13800138000", 50).code, "0000");
  ASSERT_EQ(m.push("console-sum-0", "13800138000", 50).code, "0000");  // a repeat: not accepted
  ASSERT_EQ(m.push("console-sum-big", "13800138000", 500).code, "2004");  // 120 yuan is short

  api_answer after;
  for (int i = 0; i < 100; ++i, std::this_thread::sleep_for(100ms)) {
    after = summary();
    if (after.data.at("orders").at("succeeded").to_number<std::uint64_t>() == succeeded0 + 2) break;
  }
  const auto& orders = after.data.at("orders");
  EXPECT_EQ(orders.at("accepted").to_number<std::uint64_t>(), accepted0 + 2) << after.raw;
  EXPECT_EQ(orders.at("refused").to_number<std::uint64_t>(), refused0 + 1) << after.raw;
  EXPECT_GE(orders.at("duplicate").to_number<std::uint64_t>(), 1u) << after.raw;
  EXPECT_EQ(orders.at("succeeded").to_number<std::uint64_t>(), succeeded0 + 2) << after.raw;
  const auto* sim = channel(after, "sim1");
  ASSERT_TRUE(sim);
  EXPECT_EQ(sim->at("submits").to_number<std::uint64_t>(), submits0 + 2);
  EXPECT_EQ(sim->at("enabled").as_bool(), true);
  EXPECT_EQ(json_text(*sim, "kind"), "sim");
  EXPECT_DOUBLE_EQ(sim->at("success_rate").to_number<double>(), 1.0) << after.raw;
  EXPECT_GT(sim->at("latency_p99_ms").to_number<double>(), 0.0);
  EXPECT_EQ(json_text(*sim, "breaker"), "closed");
  EXPECT_EQ(sim->at("in_flight").as_int64(), 0);  // sim answers at once: nothing held
  EXPECT_TRUE(after.data.at("lease_held").as_bool());
  EXPECT_EQ(after.data.at("live_instances").as_int64(), 1);
  EXPECT_TRUE(after.data.at("callbacks").as_object().contains("owed"));
  EXPECT_EQ(after.data.at("exceptions").at("total").as_int64(), 0);
  EXPECT_EQ(after.data.at("tz_offset_s").as_int64(), 8 * 3600);
  EXPECT_EQ(after.data.at("shards").as_int64(), 2);
  // The history: samples in time order, the first taken at start-up.
  const auto& history = after.data.at("history").as_array();
  ASSERT_FALSE(history.empty()) << after.raw;
  for (std::size_t i = 1; i < history.size(); ++i)
    EXPECT_LT(history[i - 1].at("at_ms").as_int64(), history[i].at("at_ms").as_int64());

  // A disabled channel shows as such (and back).
  ASSERT_EQ(admin_call(port_, http::verb::post, "/admin/channels/sim1/disable", "",
                       "test-admin-token").code, "0000");
  EXPECT_EQ(channel(summary(), "sim1")->at("enabled").as_bool(), false);
  ASSERT_EQ(admin_call(port_, http::verb::post, "/admin/channels/sim1/enable", "",
                       "test-admin-token").code, "0000");
  EXPECT_EQ(channel(summary(), "sim1")->at("enabled").as_bool(), true);
}

TEST_F(ConsoleApi, MerchantsShowTheLedgersBalance) {
  http_client admin(port_);
  ASSERT_EQ(admin_credit_when_ready(admin, "test-admin-token", 1002, "33.30", "console-m").code,
            "0000");
  const auto a = admin_call(port_, http::verb::get, "/admin/merchants", "", "tok-viewer");
  ASSERT_EQ(a.code, "0000") << a.raw;
  const auto& list = a.data.at("list").as_array();
  ASSERT_EQ(list.size(), 2u) << a.raw;
  merchant_client m1(port_, "k1", "s3cret"), m2(port_, "k2", "other-secret");
  for (const auto& entry : list) {
    const auto id = entry.at("id").as_int64();
    auto& client = id == 1001 ? m1 : m2;
    const long long fen = client.balance_fen();
    EXPECT_EQ(json_text(entry, "balance"),
              std::to_string(fen / 100) + "." + (fen % 100 < 10 ? "0" : "") + std::to_string(fen % 100))
        << a.raw;
  }
  EXPECT_EQ(json_text(list[1], "credits"), "33.30") << a.raw;
}

}  // namespace
