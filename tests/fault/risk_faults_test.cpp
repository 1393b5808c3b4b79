// The fault suite, risk control across instances (spec §3.8, "the counters are shared by every
// instance"): two topupd instances on one Redis, each with several shards, take a flood of new
// orders for one mobile number from many connections at once, from two merchants. However the
// claims interleave, no more orders are accepted than the limits allow (the tolerance of
// docs/DECISIONS.md is on the refusing side only), and every accepted order is one of them.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/merchant_client.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/topupd_process.hpp"

namespace topup::test {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

constexpr int k_orders_limit = 12;
constexpr int k_amount_limit = 1500;  // yuan: 15 orders of 100, so the order count binds first

topupd_config instance(int port, int redis_port, int id) {
  topupd_config cfg(port, redis_port, 2);
  cfg.json["server"].as_object()["instance_id"] = id;
  cfg.json["risk"] = json::object{{"per_mobile_orders", k_orders_limit},
                                  {"per_mobile_amount", k_amount_limit}};
  return cfg;
}

TEST(Fault, TwoInstancesFloodingOneNumberNeverPassItsLimits) {
  redis_server redis;
  topupd_process a, b;
  const int port_a = start_on_free_port(a, [&](int p) { return instance(p, redis.port(), 1); });
  const int port_b = start_on_free_port(b, [&](int p) { return instance(p, redis.port(), 2); });
  {
    // Intake opens once a shard has read what routing and risk need: 5000 until then, and
    // the same request again is harmless (a repeated ref is applied once).
    http_client admin(port_a);
    const auto token = instance(port_a, redis.port(), 1).admin_token();
    for (long long id : {1001, 1002}) {
      const auto credited =
          admin_credit_when_ready(admin, token, id, "100000", "flood-" + std::to_string(id));
      ASSERT_EQ(credited.code, "0000") << credited.raw;
    }
  }
  std::atomic<int> accepted{0}, refused{0}, other{0};
  std::vector<std::thread> senders;
  for (int t = 0; t < 8; ++t) {
    senders.emplace_back([&, t] {
      const int port = t % 2 == 0 ? port_a : port_b;
      const bool first = t % 4 < 2;
      for (int i = 0; i < 10; ++i) {
        // A fresh connection per order: the pushes land on every shard of both instances.
        merchant_client m(port, first ? "k1" : "k2", first ? "s3cret" : "other-secret");
        api_answer answer;
        for (int tries = 0; tries < 100; ++tries, std::this_thread::sleep_for(20ms)) {
          answer = m.push("flood-" + std::to_string(t) + "-" + std::to_string(i), "13955550000",
                          100, {{"store_id", first ? "s1" : "s2"}});
          if (answer.code != "5000") break;  // nothing accepted: the same order again
        }
        if (answer.code == "0000") ++accepted;
        else if (answer.code == "2008") ++refused;
        else ++other;
      }
    });
  }
  for (auto& s : senders) s.join();
  EXPECT_EQ(accepted.load(), k_orders_limit);  // the flood is 80: the limit is reached, not passed
  EXPECT_EQ(refused.load(), 80 - k_orders_limit);
  EXPECT_EQ(other.load(), 0);
  // The books agree: each merchant paid for exactly its accepted orders.
  merchant_client m1(port_a, "k1", "s3cret");
  merchant_client m2(port_b, "k2", "other-secret");
  const long long paid = (10'000'000 - m1.balance_fen()) + (10'000'000 - m2.balance_fen());
  // 1001 pays 99.5 a 100-yuan order, 1002 100: between 12 x 99.50 and 12 x 100.00.
  EXPECT_GE(paid, k_orders_limit * 9950LL);
  EXPECT_LE(paid, k_orders_limit * 10000LL);
  if (HasFailure()) ADD_FAILURE() << "a:\n" << a.log_tail() << "\nb:\n" << b.log_tail();
}

}  // namespace
}  // namespace topup::test
