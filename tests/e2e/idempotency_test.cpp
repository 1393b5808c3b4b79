// End-to-end: a merchant's retry of an accepted order gets that order back, whatever changed
// since (spec §3.1: idempotency comes before any check that depends on the configuration or on
// capacity), and an accept whose Redis answer was lost is answered 5002, never 5000 (spec §1:
// 5000 promises that nothing was accepted). Each test runs its own topupd against the suite's
// redis-server, restarting it with another configuration where the test needs one.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "tests/support/admin_order_view.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/merchant_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/reply_dropping_proxy.hpp"
#include "tests/support/topupd_process.hpp"

namespace topup::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

constexpr std::int64_t k_merchant = 1001;  // k1 / s3cret, store s1, rate 0.995
constexpr const char* k_mobile = "13800138000";
constexpr long long k_credit_fen = 100'000;  // 1000.00 yuan

long long cost_fen(int money) { return (static_cast<long long>(money) * 100 * 995 + 500) / 1000; }

class Idempotency : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { redis_ = std::make_unique<redis_server>(); }
  static void TearDownTestSuite() { redis_.reset(); }
  void SetUp() override { redis_->flushall(); }

  /// Starts (or restarts) `p` with the config `edit` makes of the default one.
  static int start(topupd_process& p, const std::function<void(topupd_config&)>& edit,
                   int redis_port = 0) {
    return start_on_free_port(p, [&](int port) {
      topupd_config cfg(port, redis_port ? redis_port : redis_->port(), 2);
      edit(cfg);
      return cfg;
    });
  }

  /// Credits merchant 1001 once (5000 until every shard's Redis connection is up: retried).
  static void credit(int port, const std::string& token) {
    http_client admin(port);
    api_answer a;
    const auto deadline = clock_type::now() + 5s;
    do {
      a = admin_credit(admin, token, k_merchant, "1000", "grant");
      if (a.code != "5000" && a.code != "5002") break;
      std::this_thread::sleep_for(20ms);
    } while (clock_type::now() < deadline);
    ASSERT_EQ(a.code, "0000") << a.raw;
  }

  /// pushOrder on a fresh connection (so it may land on either shard).
  static api_answer push(int port, const std::string& order_no, int money,
                         std::map<std::string, std::string> extra = {}) {
    merchant_client m(port, "k1", "s3cret");
    return m.push(order_no, k_mobile, money, std::move(extra));
  }

  /// push(), again while the answer is 5000 (a shard not connected to Redis yet, just after a
  /// start) for up to 5 s: the same order_no and parameters, so a repeat is harmless.
  static api_answer push_when_ready(int port, const std::string& order_no, int money,
                                    const std::map<std::string, std::string>& extra = {}) {
    api_answer a;
    const auto deadline = clock_type::now() + 5s;
    do {
      a = push(port, order_no, money, extra);
      if (a.code != "5000") break;
      std::this_thread::sleep_for(20ms);
    } while (clock_type::now() < deadline);
    return a;
  }

  static std::string number_of(const api_answer& a) { return json_text(a.data, "order_number"); }

  /// The balance in fen once the shard answering `m` reaches Redis (5000 until then).
  static long long balance_fen(merchant_client& m) {
    const auto deadline = clock_type::now() + 10s;
    for (;;) {
      try {
        return m.balance_fen();
      } catch (const std::exception&) {
        if (clock_type::now() >= deadline) throw;
      }
      std::this_thread::sleep_for(50ms);
    }
  }

  static inline std::unique_ptr<redis_server> redis_;
};

TEST_F(Idempotency, RetryAfterTheChannelWasDisabledGetsTheSameOrder) {
  topupd_process topupd;
  std::string token;
  const int port = start(topupd, [&](topupd_config& cfg) { token = cfg.admin_token(); });
  credit(port, token);
  const auto first = push_when_ready(port, "dis-1", 100);
  ASSERT_EQ(first.code, "0000") << first.raw;

  http_client admin(port);
  http_result off;
  const auto deadline = clock_type::now() + 5s;
  do {  // 503 while the answering shard is not connected to Redis yet
    off = admin.request(boost::beast::http::verb::post, "/admin/channels/sim1/disable", {},
                        "application/x-www-form-urlencoded", "Bearer " + token);
    if (off.status != 503) break;
    std::this_thread::sleep_for(20ms);
  } while (clock_type::now() < deadline);
  ASSERT_EQ(off.status, 200u) << off.body;

  // The only channel is out of routing: a new order cannot be served (2002: no enabled channel
  // serves 100), but the retry is the order accepted before, not a refusal the merchant would
  // read as "nothing placed" and place again.
  for (int i = 0; i < 4; ++i) {  // fresh connections: both shards answer it
    const auto again = push_when_ready(port, "dis-1", 100);
    EXPECT_EQ(again.code, "0000") << again.raw;
    EXPECT_EQ(number_of(again), number_of(first));
  }
  EXPECT_EQ(push_when_ready(port, "dis-2", 100).code, "2002");
  // The same order_no with other parameters is still a conflict, not a refusal of the amount.
  EXPECT_EQ(push_when_ready(port, "dis-1", 50).code, "2003");
  merchant_client m(port, "k1", "s3cret");
  EXPECT_EQ(balance_fen(m), k_credit_fen - cost_fen(100));
}

TEST_F(Idempotency, RetryAfterTheConfigurationChangedGetsTheSameOrder) {
  topupd_process topupd;
  std::string token;
  int port = start(topupd, [&](topupd_config& cfg) { token = cfg.admin_token(); });
  credit(port, token);
  const auto amount = push_when_ready(port, "cfg-amount", 100);
  // No `change`: the merchant's default.
  const auto dflt = push_when_ready(port, "cfg-default-change", 50);
  const auto pinned = push_when_ready(port, "cfg-source", 50, {{"source", "sim1"}});
  const auto store = push_when_ready(port, "cfg-store", 50);
  for (const auto* a : {&amount, &dflt, &pinned, &store}) ASSERT_EQ(a->code, "0000") << a->raw;
  ASSERT_EQ(topupd.stop_gracefully(), 0);

  // Since: 100 is off the catalogue, channel sim1 is gone (sim2 serves 50), the merchant's
  // default_change flipped and store s1 was withdrawn.
  port = start(topupd, [&](topupd_config& cfg) {
    auto& channels = cfg.json["channels"].as_array();
    auto sim2 = channels.at(0).as_object();
    sim2["id"] = "sim2";
    sim2["amounts"] = json::array{50};
    channels = json::array{sim2};
    auto& merchant = cfg.merchant(k_merchant);
    merchant["default_change"] = 0;
    merchant["store_ids"] = json::array{"s2"};
  });
  merchant_client m(port, "k1", "s3cret");
  struct retry {
    const char* order_no;
    int money;
    std::map<std::string, std::string> extra;
    const api_answer& first;
  };
  const retry retries[] = {{"cfg-amount", 100, {}, amount},
                           {"cfg-default-change", 50, {}, dflt},
                           {"cfg-source", 50, {{"source", "sim1"}}, pinned},
                           {"cfg-store", 50, {}, store}};
  for (const auto& r : retries) {
    const auto again = push_when_ready(port, r.order_no, r.money, r.extra);
    EXPECT_EQ(again.code, "0000") << r.order_no << ": " << again.raw;
    EXPECT_EQ(number_of(again), number_of(r.first)) << r.order_no;
  }
  // New orders meet today's configuration.
  EXPECT_EQ(push_when_ready(port, "new-amount", 100, {{"store_id", "s2"}}).code, "2002");
  EXPECT_EQ(push_when_ready(port, "new-source", 50, {{"source", "sim1"}, {"store_id", "s2"}}).code, "2005");
  EXPECT_EQ(push_when_ready(port, "new-store", 50).code, "1006");
  // An explicit change=1 is not what the first push sent (it left change to the default).
  EXPECT_EQ(push_when_ready(port, "cfg-default-change", 50, {{"change", "1"}}).code, "2003");
  EXPECT_EQ(balance_fen(m), k_credit_fen - cost_fen(100) - 3 * cost_fen(50));
}

TEST_F(Idempotency, LostAcceptReplyAnswers5002AndTheRetryFindsTheOrder) {
  reply_dropping_proxy proxy(redis_->port());
  topupd_process topupd;
  std::string token;
  const int port = start(
      topupd,
      [&](topupd_config& cfg) {
        token = cfg.admin_token();
        cfg.json["redis"].as_object()["command_timeout_ms"] = 400;
      },
      proxy.port());
  credit(port, token);
  // An order on every shard first: each shard's connection is up (a push to a shard not yet
  // connected would answer 5000, nothing sent), and the accept script is in Redis's script
  // cache (with replies dropped, a NOSCRIPT answer would be lost too and the script never run).
  std::set<int> ready_shards;
  for (int i = 0; i < 40 && ready_shards.size() < 2; ++i) {
    const auto warm = push_when_ready(port, "warm-up-" + std::to_string(i), 50);
    ASSERT_EQ(warm.code, "0000") << warm.raw;
    ready_shards.insert(order_number_shard(number_of(warm)));
  }
  ASSERT_EQ(ready_shards.size(), 2u);
  merchant_client m(port, "k1", "s3cret");
  const long long before = balance_fen(m);

  proxy.drop_replies(true);
  const auto lost = push(port, "lost-1", 100);
  proxy.drop_replies(false);
  EXPECT_EQ(lost.http_status, 503u) << lost.raw;
  EXPECT_EQ(lost.code, "5002") << lost.raw;
  EXPECT_GT(proxy.dropped_bytes(), 0u);

  // Redis applied it: the debit is there, and the retry finds the order instead of placing a
  // second one.
  api_answer again;
  const auto deadline = clock_type::now() + 10s;
  do {
    again = push(port, "lost-1", 100);
    if (again.code == "0000") break;
    std::this_thread::sleep_for(50ms);
  } while (clock_type::now() < deadline);
  ASSERT_EQ(again.code, "0000") << again.raw;
  EXPECT_EQ(balance_fen(m), before - cost_fen(100));
  const auto q = m.query_by_order_no("lost-1");
  EXPECT_EQ(q.code, "0000") << q.raw;
  EXPECT_EQ(json_text(q.data, "order_number"), number_of(again));
}

}  // namespace
}  // namespace topup::test
