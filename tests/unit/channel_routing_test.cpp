#include <gtest/gtest.h>

#include <map>

#include <boost/asio/io_context.hpp>

#include "engine/routing/channel_health.hpp"
#include "engine/support/errc.hpp"
#include "engine/routing/channel_router.hpp"

namespace {

using namespace topup::engine;
using namespace std::chrono_literals;

/// An adapter that is never called: routing only looks at configs and health.
class idle_adapter final : public channel_adapter {
 public:
  explicit idle_adapter(const channel_config& c) : config_(c) {}
  const channel_config& config() const noexcept override { return config_; }
  boost::asio::awaitable<attempt_result> submit(attempt_request) override { co_return attempt_result{}; }
  boost::asio::awaitable<attempt_result> query(attempt_request) override { co_return attempt_result{}; }
  boost::system::result<supplier_callback> parse_callback(
      const std::vector<std::pair<std::string, std::string>>&) override {
    return boost::system::error_code(errc::internal);
  }

 private:
  const channel_config& config_;
};

channel_config make_channel(std::string id, std::int64_t cost_ppm, int priority,
                            std::vector<std::int64_t> amounts = {50, 100},
                            std::vector<int> types = {0, 1}) {
  channel_config c;
  c.id = std::move(id);
  c.kind = "fake";
  c.carriers = {carrier::cmcc, carrier::cucc, carrier::ctcc};
  c.amounts = std::move(amounts);
  c.recharge_types = std::move(types);
  c.cost_rate_ppm = cost_ppm;
  c.priority = priority;
  c.max_inflight = 2;
  return c;
}

order_record make_order(std::int64_t money = 100, int type = 1, std::string source = {}) {
  order_record o;
  o.order_number = "T1";
  o.carrier = carrier::cmcc;
  o.money_yuan = money;
  o.recharge_type = type;
  o.source = std::move(source);
  return o;
}

struct routing : ::testing::Test {
  boost::asio::io_context io;
  std::vector<channel_config> configs;
  std::unique_ptr<channel_catalogue> catalogue;
  std::unique_ptr<channel_router> router;

  void build(unsigned shards = 1) {
    catalogue = std::make_unique<channel_catalogue>(configs);
    router = std::make_unique<channel_router>(
        configs, *catalogue,
        [](const channel_config& c, boost::asio::io_context&) {
          return std::make_unique<idle_adapter>(c);
        },
        io, shards);
  }
  std::string pick_id(const order_record& o, const std::vector<std::string>& tried = {}) {
    auto r = router->pick(o, tried, channel_health::clock::now());
    return r.chosen ? r.chosen->config->id : "";
  }
};

TEST_F(routing, CheapestFirstThenHighestPriority) {
  configs = {make_channel("pricey", 990000, 100), make_channel("cheap_low", 980000, 1),
             make_channel("cheap_high", 980000, 9)};
  build();
  EXPECT_EQ(pick_id(make_order()), "cheap_high");
  EXPECT_EQ(pick_id(make_order(), {"cheap_high"}), "cheap_low");
  EXPECT_EQ(pick_id(make_order(), {"cheap_high", "cheap_low"}), "pricey");
  auto r = router->pick(make_order(), {"cheap_high", "cheap_low", "pricey"},
                        channel_health::clock::now());
  EXPECT_EQ(r.what, channel_router::verdict::exhausted);
}

TEST_F(routing, TiesAreSpreadEvenly) {
  configs = {make_channel("a", 980000, 5), make_channel("b", 980000, 5), make_channel("c", 980000, 5)};
  build();
  std::map<std::string, int> counts;
  for (int i = 0; i < 300; ++i) ++counts[pick_id(make_order())];
  EXPECT_EQ(counts["a"], 100);
  EXPECT_EQ(counts["b"], 100);
  EXPECT_EQ(counts["c"], 100);
}

TEST_F(routing, OnlyChannelsServingAmountTypeAndSource) {
  configs = {make_channel("fast_only", 900000, 0, {100}, {1}),
             make_channel("slow_50", 950000, 0, {50}, {0}), make_channel("any", 990000, 0)};
  build();
  EXPECT_EQ(pick_id(make_order(100, 1)), "fast_only");
  EXPECT_EQ(pick_id(make_order(100, 0)), "any");
  EXPECT_EQ(pick_id(make_order(50, 0)), "slow_50");
  EXPECT_EQ(pick_id(make_order(100, 1, "any")), "any");
  auto r = router->pick(make_order(100, 1, "slow_50"), {}, channel_health::clock::now());
  EXPECT_EQ(r.what, channel_router::verdict::exhausted);  // source cannot serve it
}

TEST_F(routing, ASandboxOrderReachesOnlySimulatedChannels) {
  configs = {make_channel("real", 900000, 0), make_channel("sim_a", 990000, 0),
             make_channel("sim_b", 990000, 0)};
  configs[1].kind = configs[2].kind = "sim";
  build();
  order_record o = make_order();
  o.sandbox = true;
  EXPECT_EQ(pick_id(o, {"sim_a"}), "sim_b");  // the cheaper real channel is never picked
  auto r = router->pick(o, {"sim_a", "sim_b"}, channel_health::clock::now());
  EXPECT_EQ(r.what, channel_router::verdict::exhausted);  // failover never leaves the sims
  o.source = "real";
  EXPECT_EQ(router->pick(o, {}, channel_health::clock::now()).what,
            channel_router::verdict::exhausted);
  EXPECT_EQ(pick_id(make_order()), "real");  // other merchants' orders as before

  EXPECT_FALSE(catalogue->order_served(carrier::cmcc, 100, 1, "real", true));
  EXPECT_TRUE(catalogue->order_served(carrier::cmcc, 100, 1, "real", false));
  EXPECT_TRUE(catalogue->order_served(carrier::cmcc, 100, 1, "sim_b", true));
  configs[1].amounts = configs[2].amounts = {50};
  EXPECT_EQ(catalogue->amounts_for(carrier::cmcc, true), (std::vector<std::int64_t>{50}));
  EXPECT_EQ(catalogue->amounts_for(carrier::cmcc, false), (std::vector<std::int64_t>{50, 100}));
}

TEST_F(routing, DisabledChannelLeavesRouting) {
  configs = {make_channel("a", 900000, 0), make_channel("b", 990000, 0)};
  build();
  ASSERT_TRUE(catalogue->set_enabled("a", false));
  EXPECT_EQ(pick_id(make_order()), "b");
  catalogue->set_enabled("a", true);
  EXPECT_EQ(pick_id(make_order()), "a");
}

TEST_F(routing, FullChannelIsBusyNotExhausted) {
  configs = {make_channel("a", 900000, 0)};  // max_inflight 2
  build();
  auto& health = router->find("a")->health;
  auto now = channel_health::clock::now();
  health.started(now);
  health.started(now);
  auto r = router->pick(make_order(), {}, now);
  EXPECT_EQ(r.what, channel_router::verdict::busy);
  health.finished();
  EXPECT_EQ(pick_id(make_order()), "a");
}

TEST_F(routing, InflightBoundIsSharedAcrossShards) {
  configs = {make_channel("a", 900000, 0)};
  configs[0].max_inflight = 5;
  build(/*shards=*/2);  // ceil(5 / 2) = 3 per shard
  auto& health = router->find("a")->health;
  auto now = channel_health::clock::now();
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(health.available(now));
    health.started(now);
  }
  EXPECT_FALSE(health.available(now));
}

TEST_F(routing, InflightBoundIsSharedAcrossInstancesToo) {
  configs = {make_channel("a", 900000, 0)};
  configs[0].max_inflight = 10;
  build(/*shards=*/2);
  auto& health = router->find("a")->health;
  EXPECT_EQ(health.max_inflight(), 5u);
  router->share_among_instances(3);  // ceil(10 / (2 x 3)) = 2 per shard: 12 in all, not 30
  EXPECT_EQ(health.max_inflight(), 2u);
  auto now = channel_health::clock::now();
  health.started(now);
  health.started(now);
  EXPECT_FALSE(health.available(now));
  router->share_among_instances(1);  // the others died: this instance may use it all again
  EXPECT_EQ(health.max_inflight(), 5u);
  EXPECT_TRUE(health.available(now));
  router->share_among_instances(100);  // never below one per shard
  EXPECT_EQ(health.max_inflight(), 1u);
}

TEST(ChannelHealth, ConsecutiveFailuresTripThenProbeCloses) {
  channel_health h(100, 30s);
  auto t = channel_health::clock::now();
  for (std::uint32_t i = 0; i < channel_health::k_trip_consecutive; ++i) {
    EXPECT_FALSE(h.tripped(t));
    h.record(false, 10ms, t);
  }
  EXPECT_TRUE(h.tripped(t));
  EXPECT_FALSE(h.available(t + 29s));
  // Half-open after the cool-down: exactly one probe.
  auto later = t + 31s;
  EXPECT_TRUE(h.available(later));
  h.started(later);
  EXPECT_FALSE(h.available(later));
  h.finished();
  h.record(true, 10ms, later);
  EXPECT_FALSE(h.tripped(later));
  EXPECT_TRUE(h.available(later));
}

TEST(ChannelHealth, PublishesItsInFlightCountAndBreakerToItsGauges) {
  channel_health h(100, 30s);
  auto t = channel_health::clock::now();
  h.started(t);  // before the gauges are attached: publish_to starts from the current figures
  channel_health_gauges g;
  h.publish_to(&g);
  EXPECT_EQ(g.in_flight.load(), 1);
  h.started(t);
  EXPECT_EQ(g.in_flight.load(), 2);
  h.finished();
  h.finished();
  EXPECT_EQ(g.in_flight.load(), 0);
  EXPECT_EQ(g.breaker_open.load(), 0);
  for (std::uint32_t i = 0; i < channel_health::k_trip_consecutive; ++i) h.record(false, 1ms, t);
  EXPECT_EQ(g.breaker_open.load(), 1);
  // Past the cool-down it stays open (half-open) until a probe succeeds.
  auto later = t + 31s;
  h.started(later);
  EXPECT_EQ(g.breaker_open.load(), 1);
  h.finished();
  h.record(true, 1ms, later);
  EXPECT_EQ(g.breaker_open.load(), 0);
  EXPECT_EQ(g.in_flight.load(), 0);
}

TEST(ChannelHealth, FailedProbeTripsAgain) {
  channel_health h(100, 30s);
  auto t = channel_health::clock::now();
  for (std::uint32_t i = 0; i < channel_health::k_trip_consecutive; ++i) h.record(false, 1ms, t);
  auto later = t + 31s;
  h.started(later);
  h.finished();
  h.record(false, 1ms, later);
  EXPECT_TRUE(h.tripped(later + 1s));
  EXPECT_FALSE(h.available(later + 29s));
  EXPECT_TRUE(h.available(later + 31s));
}

TEST(ChannelHealth, FailureRatioTripsAfterMinimumSamples) {
  channel_health h(100, 30s);
  auto t = channel_health::clock::now();
  // Alternate so no run of consecutive failures trips it; 60% failures over 10 samples does.
  const bool pattern[] = {true, false, false, true, false, false, true, false, true, false};
  for (bool ok : pattern) {
    EXPECT_FALSE(h.tripped(t));
    h.record(ok, 1ms, t);
  }
  EXPECT_TRUE(h.tripped(t));
  EXPECT_NEAR(h.success_ratio(), 0.4, 1e-9);
}

TEST(ChannelHealth, TriedListRoundTrips) {
  EXPECT_EQ(split_ids("a,b,c"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(split_ids("").empty());
  EXPECT_EQ(join_ids({"x", "y"}), "x,y");
  EXPECT_EQ(join_ids(split_ids("up1,sim1")), "up1,sim1");
}

}  // namespace
