// Taking over a dead instance's orders against a real redis-server (engine/store/takeover): the
// claim (refused while the instance holds its lease or another live instance claims it), its
// fencing of the dead instance, renewal, release, the remaining-work check, and the spread of
// claims over the live instances.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <memory>
#include <set>
#include <thread>
#include <string>
#include <vector>

#include "engine/order/order_number.hpp"
#include "engine/store/lease.hpp"
#include "engine/store/takeover.hpp"
#include "tests/support/io_run.hpp"
#include "tests/support/redis_server.hpp"

namespace topup::engine {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

constexpr const char* k_prefix = "tk";
constexpr std::uint32_t k_dead = 7, k_me = 2, k_other = 3;
const std::vector<std::int64_t> k_merchants = {1001, 1002};

class Takeover : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = std::make_unique<test::redis_server>(); }
  static void TearDownTestSuite() { server_.reset(); }
  void SetUp() override {
    server_->flushall();
    conn_ = test::connect_to(io_, *server_);
    ASSERT_TRUE(conn_->connected());
  }
  void TearDown() override {
    conn_->stop();
    io_.poll();
  }
  template <class T>
  T run(asio::awaitable<T> work) {
    auto r = test::run(io_, std::move(work), 10s);
    if (!r) throw std::runtime_error("timed out");
    return std::move(*r);
  }
  claim_result claim(std::uint32_t self, milliseconds ttl = 5s) {
    auto r = run(claim_foster(*conn_, lease_spec{k_prefix, k_dead, ttl}, self,
                              "host=h pid=" + std::to_string(self) + " pidns=1 start_ms=1",
                              k_merchants, 2000ms));
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : claim_result{};
  }
  std::string redis(const std::vector<std::string>& args) { return server_->command(args); }
  std::int64_t redis_now_ms() {
    // TIME answers seconds and microseconds; the test's clock is close enough for bounds.
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  static inline std::unique_ptr<test::redis_server> server_;
  asio::io_context io_;
  std::unique_ptr<redis::connection> conn_;
};

TEST_F(Takeover, ALiveInstanceIsNotClaimed) {
  redis({"SET", "tk:lease:7", "host=x pid=1 pidns=1 start_ms=1", "PX", "5000"});
  EXPECT_EQ(claim(k_me).outcome, claim_outcome::alive);
  EXPECT_EQ(redis({"EXISTS", foster_key(k_prefix, k_dead)}), "0");
  EXPECT_EQ(redis({"GET", "tk:lease:7"}), "host=x pid=1 pidns=1 start_ms=1");  // untouched
}

TEST_F(Takeover, ADeadInstanceIsClaimedAndFencedOut) {
  redis({"SET", "tk:epoch:7", "4"});
  redis({"HSET", fence_key(k_prefix, 1001), "7", "4"});
  const auto before = redis_now_ms();
  const auto got = claim(k_me);
  ASSERT_EQ(got.outcome, claim_outcome::claimed);
  EXPECT_EQ(got.claim.instance, k_dead);
  EXPECT_EQ(got.claim.epoch, 5);
  EXPECT_GE(got.claim.cutoff_ms, before + 2000 - 1000);  // Redis's clock + the 2 s margin
  EXPECT_LE(got.claim.cutoff_ms, redis_now_ms() + 2000 + 1000);
  // The dead instance's fences are raised in every merchant: its old epoch writes nothing now.
  EXPECT_EQ(redis({"HGET", fence_key(k_prefix, 1001), "7"}), "5");
  EXPECT_EQ(redis({"HGET", fence_key(k_prefix, 1002), "7"}), "5");
  // The borrowed lease is given back: a restart of the dead instance may take it at once.
  EXPECT_EQ(redis({"EXISTS", "tk:lease:7"}), "0");
  auto read = run(read_foster(*conn_, k_prefix, k_dead));
  ASSERT_TRUE(read && *read);
  EXPECT_EQ((*read)->claimer, k_me);
  EXPECT_EQ((*read)->claim, got.claim);
  const auto ttl = std::stoll(redis({"PTTL", foster_key(k_prefix, k_dead)}));
  EXPECT_GT(ttl, 4000);
}

TEST_F(Takeover, AClaimHeldByAnotherIsRespectedAndOursIsExtended) {
  ASSERT_EQ(claim(k_other).outcome, claim_outcome::claimed);
  EXPECT_EQ(claim(k_me).outcome, claim_outcome::taken);
  // The holder claims again (the instance came back and died again): later cutoff, new epoch.
  const auto first = run(read_foster(*conn_, k_prefix, k_dead));
  std::this_thread::sleep_for(20ms);
  const auto again = claim(k_other);
  ASSERT_EQ(again.outcome, claim_outcome::claimed);
  EXPECT_GT(again.claim.cutoff_ms, (*first)->claim.cutoff_ms);
  EXPECT_EQ(again.claim.epoch, (*first)->claim.epoch + 1);
}

TEST_F(Takeover, ARestartThatRaisedItsFencesSupersedesTheClaim) {
  // The dead instance restarted meanwhile with a newer epoch than the claim will take.
  redis({"SET", "tk:epoch:7", "1"});
  redis({"HSET", fence_key(k_prefix, 1002), "7", "9"});
  EXPECT_EQ(claim(k_me).outcome, claim_outcome::superseded);
  EXPECT_EQ(redis({"EXISTS", foster_key(k_prefix, k_dead)}), "0");
  EXPECT_EQ(redis({"EXISTS", "tk:lease:7"}), "0");
}

TEST_F(Takeover, RenewAndReleaseOnlyTheirOwnClaim) {
  ASSERT_EQ(claim(k_me, 1s).outcome, claim_outcome::claimed);
  auto renewed = run(renew_foster(*conn_, k_prefix, k_dead, k_me, 9s));
  ASSERT_TRUE(renewed);
  EXPECT_TRUE(*renewed);
  EXPECT_GT(std::stoll(redis({"PTTL", foster_key(k_prefix, k_dead)})), 8000);
  auto theirs = run(renew_foster(*conn_, k_prefix, k_dead, k_other, 9s));
  ASSERT_TRUE(theirs);
  EXPECT_FALSE(*theirs);
  auto not_released = run(release_foster(*conn_, k_prefix, k_dead, k_other));
  ASSERT_TRUE(not_released);
  EXPECT_FALSE(*not_released);
  auto released = run(release_foster(*conn_, k_prefix, k_dead, k_me));
  ASSERT_TRUE(released);
  EXPECT_TRUE(*released);
  auto gone = run(read_foster(*conn_, k_prefix, k_dead));
  ASSERT_TRUE(gone);
  EXPECT_FALSE(gone->has_value());
}

TEST_F(Takeover, WorkLeftCountsOnlyTheClaimsOrders) {
  auto number = [](std::uint32_t instance, std::uint64_t ms) {
    order_number_parts p;
    p.unix_ms = ms;
    p.instance = instance;
    p.merchant_id = 1002;
    return make_order_number(p);
  };
  const foster_claim claim{k_dead, 1'700'000'000'500, 1};
  auto left = run(foster_work_left(*conn_, k_prefix, claim, k_merchants));
  ASSERT_TRUE(left);
  EXPECT_FALSE(*left);
  // Another instance's order, and the dead one's accepted after the cutoff: not the claim's.
  redis({"ZADD", "tk:{m1002}:work", "-1", number(k_other, 1'700'000'000'000)});
  redis({"ZADD", "tk:{m1002}:work", "-2", number(k_dead, 1'700'000'000'900)});
  left = run(foster_work_left(*conn_, k_prefix, claim, k_merchants));
  ASSERT_TRUE(left);
  EXPECT_FALSE(*left);
  // A final order of the claim with its callback still due counts.
  redis({"ZADD", "tk:{m1002}:work", "1700000009999", number(k_dead, 1'700'000'000'100)});
  left = run(foster_work_left(*conn_, k_prefix, claim, k_merchants));
  ASSERT_TRUE(left);
  EXPECT_TRUE(*left);
}

TEST_F(Takeover, TheRegistryListsEveryInstanceOnce) {
  for (std::uint32_t id : {5u, 2u, 5u, 11u}) ASSERT_TRUE(run(register_instance(*conn_, k_prefix, id)));
  auto ids = run(registered_instances(*conn_, k_prefix));
  ASSERT_TRUE(ids);
  EXPECT_EQ(*ids, (std::vector<std::uint32_t>{2, 5, 11}));
  redis({"SET", "tk:lease:5", "x", "PX", "5000"});
  auto held = run(lease_held(*conn_, k_prefix, 5));
  ASSERT_TRUE(held);
  EXPECT_TRUE(*held);
  held = run(lease_held(*conn_, k_prefix, 11));
  ASSERT_TRUE(held);
  EXPECT_FALSE(*held);
}

TEST(TakeoverSpread, EachDeadInstanceHasOneLiveClaimer) {
  const std::vector<std::uint32_t> live = {1, 4, 9};
  for (std::uint32_t dead : {2u, 3u, 5u, 6u, 7u, 8u}) {
    int claimers = 0;
    for (auto self : live) claimers += claim_is_mine(dead, self, live) ? 1 : 0;
    EXPECT_EQ(claimers, 1) << dead;
  }
  // Spread: the six dead go to all three live instances.
  std::set<std::uint32_t> used;
  for (std::uint32_t dead : {2u, 3u, 5u, 6u, 7u, 8u})
    for (auto self : live)
      if (claim_is_mine(dead, self, live)) used.insert(self);
  EXPECT_EQ(used.size(), 3u);
  EXPECT_FALSE(claim_is_mine(2, 1, {}));
}

}  // namespace
}  // namespace topup::engine
