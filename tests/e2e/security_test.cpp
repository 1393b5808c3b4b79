// Security and observability behaviours of the running server: rate limits, secrets in logs,
// the admin token, and the metrics endpoint.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/merchant_client.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/topupd_process.hpp"

namespace {

using namespace topup::test;
using namespace std::chrono_literals;

constexpr const char* k_limited_secret = "limited-secret-0123456789";

class Security : public ::testing::Test {
 protected:
  static inline std::unique_ptr<redis_server> redis;
  static inline std::unique_ptr<topupd_process> server;
  static inline int port = 0;
  static inline std::string admin_token;

  static void SetUpTestSuite() {
    redis = std::make_unique<redis_server>();
    server = std::make_unique<topupd_process>();
    port = start_on_free_port(*server, [](int p) {
      topupd_config cfg(p, redis->port(), 1);
      cfg.json["server"].as_object()["log_level"] = "trace";  // secrets must not show even here
      auto& limited = cfg.add_merchant(4001, "limited", k_limited_secret, "s1", 1.0);
      limited["rate_limit_rps"] = 2;
      limited["rate_limit_burst"] = 3;
      admin_token = cfg.admin_token();
      return cfg;
    });
  }
  static void TearDownTestSuite() {
    server.reset();
    redis.reset();
  }
};

TEST_F(Security, RateLimitAnswers1008With429ThenRefills) {
  merchant_client m(port, "limited", k_limited_secret);
  int ok = 0, limited = 0;
  for (int i = 0; i < 10; ++i) {
    auto a = m.call("/rest/User/query", {});
    if (a.code == "0000") ++ok;
    if (a.code == "1008") {
      ++limited;
      EXPECT_EQ(a.http_status, 429u);
    }
  }
  EXPECT_EQ(ok, 3);  // the burst, on one shard
  EXPECT_EQ(limited, 7);
  std::this_thread::sleep_for(1100ms);  // 2 tokens per second come back
  EXPECT_EQ(m.call("/rest/User/query", {}).code, "0000");
}

TEST_F(Security, OtherMerchantsAreNotLimitedByOne) {
  merchant_client limited(port, "limited", k_limited_secret);
  for (int i = 0; i < 10; ++i) limited.call("/rest/User/query", {});
  merchant_client free_one(port, "k1", "s3cret");
  for (int i = 0; i < 20; ++i) EXPECT_EQ(free_one.call("/rest/User/query", {}).code, "0000");
}

TEST_F(Security, AdminTokenOfAnyLengthIsRefused) {
  http_client http(port);
  const std::vector<std::string> tokens = {"", "x", admin_token.substr(0, admin_token.size() - 1),
                                           admin_token + "x", std::string(4096, 'a')};
  for (const auto& token : tokens) {
    auto r = merchant_client::parse(http.request(http::verb::get, "/admin/orders/T1", "", "",
                                                 token.empty() ? "" : "Bearer " + token));
    EXPECT_EQ(r.http_status, 401u);
    EXPECT_EQ(r.code, "4001");
  }
  auto r = merchant_client::parse(
      http.request(http::verb::get, "/admin/orders/T1", "", "", "Basic " + admin_token));
  EXPECT_EQ(r.code, "4001");
}

TEST_F(Security, MetricsCountOrdersAndNameEveryFamily) {
  http_client admin(port);
  ASSERT_EQ(admin_credit(admin, admin_token, 1001, "1000", "metrics-credit").code, "0000");
  merchant_client m(port, "k1", "s3cret");
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(m.push("metrics-" + std::to_string(i), "13800138000", 50).code, "0000");
  ASSERT_EQ(m.push("metrics-0", "13800138000", 50).code, "0000");  // a duplicate
  auto metrics = http_client(port).get("/metrics");
  EXPECT_EQ(metrics.status, 200u);
  EXPECT_NE(metrics.headers[http::field::content_type].find("text/plain"), std::string::npos);
  const auto& text = metrics.body;
  auto value_of = [&](const std::string& line_start) {
    auto at = text.find("\n" + line_start + " ");
    if (at == std::string::npos) return -1.0;
    return std::stod(text.substr(at + line_start.size() + 2));
  };
  EXPECT_GE(value_of("topup_orders_accepted_total"), 5);
  EXPECT_GE(value_of("topup_orders_duplicate_total"), 1);
  EXPECT_GE(value_of("topup_redis_command_seconds_count"), 6);  // every push ran a script
  for (const char* family :
       {"# TYPE topup_orders_finished_total counter", "# TYPE topup_orders_in_flight gauge",
        "topup_channel_attempt_outcomes_total{channel=\"sim1\",outcome=\"succeeded\"}",
        "# TYPE topup_channel_submit_seconds histogram", "topup_callbacks_in_flight{shard=\"0\"}",
        "# TYPE topup_redis_command_seconds histogram"})
    EXPECT_NE(text.find(family), std::string::npos) << family;
}

TEST_F(Security, SecretsNeverReachTheLog) {
  // Exercise signing, admin auth, credits and orders at trace level, including failures.
  merchant_client good(port, "limited", k_limited_secret);
  good.call("/rest/User/query", {});
  merchant_client forged(port, "limited", "wrong-secret");
  EXPECT_EQ(forged.call("/rest/User/query", {}).code, "1002");
  http_client admin(port);
  admin_credit(admin, admin_token, 4001, "10", "log-check");
  admin_credit(admin, "not-the-token", 4001, "10", "log-check-2");
  merchant_client m(port, "k1", "s3cret");
  m.push("log-check-order", "13800138000", 50);
  std::this_thread::sleep_for(300ms);
  std::ifstream in(server->log_path());
  std::stringstream log;
  log << in.rdbuf();
  const std::string text = log.str();
  ASSERT_FALSE(text.empty());
  const std::vector<std::string> secrets = {k_limited_secret, "s3cret", admin_token};
  for (const auto& secret : secrets)
    EXPECT_EQ(text.find(secret), std::string::npos) << "secret in log: " << secret;
}

}  // namespace
