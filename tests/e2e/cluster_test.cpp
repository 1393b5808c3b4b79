// The real topupd on a local Redis Cluster of three masters (`redis.cluster: true`,
// `redis.nodes`): merchants whose hash tags land on different masters push orders, the orders
// reach their final status, balances move, and `topupd audit` (also in cluster mode) finds the
// books clean.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "engine/redis/cluster_slots.hpp"
#include "tests/support/admin_order_view.hpp"
#include "tests/support/merchant_client.hpp"
#include "tests/support/redis_cluster.hpp"
#include "tests/support/topupd_process.hpp"

namespace topup::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

// m1001, m1003 and m1002 hash to slots 1209, 9467 and 13530: one on each master.
struct cluster_merchant {
  std::int64_t id;
  const char* key;
  const char* secret;
  const char* store;
};
constexpr cluster_merchant k_merchants[] = {
    {1001, "k1", "s3cret", "s1"}, {1003, "k3", "third-secret", "s3"},
    {1002, "k2", "other-secret", "s2"}};

TEST(Cluster, OrdersOfMerchantsOnEveryMasterReachTheirFinalStatusAndTheAuditIsClean) {
  redis_cluster cluster;
  for (std::size_t i = 0; i < 3; ++i)
    ASSERT_EQ(cluster.owner_of(engine::redis::key_slot("m" + std::to_string(k_merchants[i].id))),
              i);
  topupd_process topupd;
  const int port = start_on_free_port(topupd, [&](int p) {
    topupd_config cfg(p, 1, 2);
    json::object redis{{"cluster", true}, {"prefix", "t"}};
    json::array nodes;
    for (const auto& seed : cluster.seeds()) nodes.emplace_back(seed);
    redis["nodes"] = std::move(nodes);
    cfg.json["redis"] = std::move(redis);
    cfg.add_merchant(1003, "k3", "third-secret", "s3", 1.0);
    return cfg;
  });

  http_client admin(port);
  for (const auto& m : k_merchants) {
    const auto credited = admin_credit_when_ready(admin, "test-admin-token", m.id, "1000",
                                                  "grant-" + std::to_string(m.id));
    ASSERT_EQ(credited.code, "0000") << credited.raw;
  }
  std::vector<std::pair<const cluster_merchant*, std::string>> orders;
  for (const auto& m : k_merchants) {
    merchant_client client(port, m.key, m.secret);
    for (int i = 0; i < 5; ++i) {
      auto a = client.push("cl-" + std::to_string(m.id) + "-" + std::to_string(i), "13800138000",
                           50, {{"store_id", m.store}});
      ASSERT_EQ(a.code, "0000") << a.raw;
      orders.emplace_back(&m, json_text(a.data, "order_number"));
    }
  }
  // Every order reaches 2 (sim1 succeeds every order).
  for (const auto& [m, number] : orders) {
    merchant_client client(port, m->key, m->secret);
    std::string status;
    for (int i = 0; i < 200 && status != "2"; ++i, std::this_thread::sleep_for(50ms))
      status = json_text(client.query(number).data, "status");
    EXPECT_EQ(status, "2") << number << "\n" << topupd.log_tail();
  }
  // Each master holds its merchant's keys and only those.
  for (std::size_t i = 0; i < 3; ++i) {
    const std::string acct = "t:{m" + std::to_string(k_merchants[i].id) + "}:acct";
    EXPECT_EQ(cluster.node(i).command({"EXISTS", acct}), "1") << acct;
  }

  auto [status, output] = run_topupd({"audit", "--config", topupd.config_path()});
  EXPECT_EQ(status, 0) << output;
  EXPECT_NE(output.find("audit clean: 3 merchants, "), std::string::npos) << output;
  EXPECT_NE(output.find("15 orders"), std::string::npos) << output;
  EXPECT_EQ(topupd.stop_gracefully(), 0) << topupd.log_tail();
}

}  // namespace
}  // namespace topup::test
