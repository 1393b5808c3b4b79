// redis.min_replicas_acked (spec §8): with a replica required, an order is acknowledged only once
// the replica has it; with the replica gone, the merchant hears 5002 (the order may exist on the
// master and could be lost to a failover), and the same push once the replica is back answers
// with that order — accepted once, debited once.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "tests/support/admin_order_view.hpp"
#include "tests/support/merchant_client.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/topupd_process.hpp"

namespace {

using namespace topup::test;
using namespace std::chrono_literals;

bool replica_in_sync(const redis_server& master) {
  const auto info = master.command({"INFO", "replication"});
  return info.find("connected_slaves:1") != std::string::npos &&
         info.find("state=online") != std::string::npos;
}

TEST(Replicas, AnAcknowledgementWaitsForTheReplica) {
  // No 5-s wait before a replica's (diskless) full sync.
  redis_server master(redis_server_options{"everysec", "", {"--repl-diskless-sync-delay", "0"}});
  redis_server_options replica_options;
  replica_options.extra_args = {"--replicaof", "127.0.0.1", std::to_string(master.port())};
  auto replica = std::make_unique<redis_server>(replica_options);
  for (int i = 0; i < 300 && !replica_in_sync(master); ++i) std::this_thread::sleep_for(50ms);
  ASSERT_TRUE(replica_in_sync(master)) << master.command({"INFO", "replication"});

  topupd_process topupd;
  const int port = start_on_free_port(topupd, [&](int p) {
    topupd_config cfg(p, master.port(), 2);
    auto& redis = cfg.json["redis"].as_object();
    redis["min_replicas_acked"] = 1;
    redis["replica_wait_ms"] = 300;
    return cfg;
  });
  http_client admin(port);
  ASSERT_EQ(admin_credit_when_ready(admin, "test-admin-token", 1001, "100", "replicas").code, "0000");
  merchant_client m(port, "k1", "s3cret");
  const auto first = m.push("rep-1", "13800138000", 50);
  EXPECT_EQ(first.code, "0000") << first.raw;

  replica.reset();  // the only replica gone
  const auto t0 = std::chrono::steady_clock::now();
  const auto unconfirmed = m.push("rep-2", "13800138000", 50);
  EXPECT_EQ(unconfirmed.code, "5002") << unconfirmed.raw;
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 300ms);  // WAIT's timeout, then the answer
  // A credit is confirmed the same way.
  const auto credit = admin_credit(admin, "test-admin-token", 1001, "1", "replicas-2");
  EXPECT_EQ(credit.code, "5002") << credit.raw;

  replica = std::make_unique<redis_server>(replica_options);
  for (int i = 0; i < 300 && !replica_in_sync(master); ++i) std::this_thread::sleep_for(50ms);
  ASSERT_TRUE(replica_in_sync(master));
  // The retry learns the outcome: the order the script stored, once.
  const auto retried = m.push("rep-2", "13800138000", 50);
  ASSERT_EQ(retried.code, "0000") << retried.raw;
  EXPECT_EQ(m.balance_fen(), 10000 + 100 - 2 * 4975);  // 100 + 1 yuan credited, two orders
  EXPECT_EQ(admin_credit(admin, "test-admin-token", 1001, "1", "replicas-2").code, "0000");
  EXPECT_EQ(m.balance_fen(), 10000 + 100 - 2 * 4975);  // the credit's repeat: applied once
}

}  // namespace
