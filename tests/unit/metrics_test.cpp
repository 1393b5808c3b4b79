// The /metrics figures (engine/runtime/metrics): the gauges of the monitoring kit (issue 18) as
// Prometheus text and as the snapshot an admin endpoint reads.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/runtime/metrics.hpp"

namespace topup::engine {
namespace {

std::vector<channel_config> two_channels() {
  std::vector<channel_config> out(2);
  out[0].id = "fast";
  out[0].max_inflight = 40;
  out[1].id = "slow";
  out[1].max_inflight = 7;
  return out;
}

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

class Metrics : public ::testing::Test {
 protected:
  Metrics() : registry_(2, two_channels()) {
    registry_.shard(0).channels[0]->health.in_flight = 3;
    registry_.shard(1).channels[0]->health.in_flight = 2;
    registry_.shard(1).channels[1]->health.breaker_open = 1;
    registry_.shard(0).intake_errors[2] = 5;  // overloaded
    registry_.shard(1).intake_errors[2] = 1;
    registry_.shard(1).intake_errors[0] = 4;  // unavailable
    auto& instance = registry_.instance();
    instance.lease_held = 1;
    instance.callbacks_owed = 9;
    instance.callbacks_due = 2;
    instance.exceptions[static_cast<std::size_t>(exception_kind::callback_failed)] = 4;
    instance.exceptions[static_cast<std::size_t>(exception_kind::overdue)] = 1;
  }
  metrics_registry registry_;
};

TEST_F(Metrics, TheNewGaugesAreRenderedWithHelpAndType) {
  const std::string text = registry_.render();
  for (const char* name : {"topup_channel_in_flight", "topup_channel_max_inflight",
                           "topup_channel_breaker_open", "topup_callbacks_owed",
                           "topup_callbacks_due", "topup_exception_queue_size", "topup_lease_held"}) {
    EXPECT_NE(text.find(std::string("# HELP ") + name + " "), std::string::npos) << name;
    EXPECT_TRUE(has_line(text, std::string("# TYPE ") + name + " gauge")) << name;
  }
  EXPECT_TRUE(has_line(text, "# TYPE topup_intake_errors_total counter"));
  EXPECT_TRUE(has_line(text, "topup_channel_in_flight{channel=\"fast\"} 5"));
  EXPECT_TRUE(has_line(text, "topup_channel_in_flight{channel=\"slow\"} 0"));
  EXPECT_TRUE(has_line(text, "topup_channel_max_inflight{channel=\"fast\"} 40"));
  EXPECT_TRUE(has_line(text, "topup_channel_max_inflight{channel=\"slow\"} 7"));
  EXPECT_TRUE(has_line(text, "topup_channel_breaker_open{channel=\"slow\",shard=\"1\"} 1"));
  EXPECT_TRUE(has_line(text, "topup_channel_breaker_open{channel=\"slow\",shard=\"0\"} 0"));
  EXPECT_TRUE(has_line(text, "topup_channel_breaker_open{channel=\"fast\",shard=\"1\"} 0"));
  EXPECT_TRUE(has_line(text, "topup_intake_errors_total{reason=\"overloaded\"} 6"));
  EXPECT_TRUE(has_line(text, "topup_intake_errors_total{reason=\"unavailable\"} 4"));
  EXPECT_TRUE(has_line(text, "topup_intake_errors_total{reason=\"outcome_unknown\"} 0"));
  EXPECT_TRUE(has_line(text, "topup_callbacks_owed 9"));
  EXPECT_TRUE(has_line(text, "topup_callbacks_due 2"));
  EXPECT_TRUE(has_line(text, "topup_exception_queue_size{kind=\"callback_failed\"} 4"));
  EXPECT_TRUE(has_line(text, "topup_exception_queue_size{kind=\"overdue\"} 1"));
  EXPECT_TRUE(has_line(text, "topup_exception_queue_size{kind=\"unresolved\"} 0"));
  EXPECT_TRUE(has_line(text, "topup_exception_queue_size{kind=\"channel_removed\"} 0"));
  EXPECT_TRUE(has_line(text, "topup_lease_held 1"));
  registry_.instance().lease_held = 0;
  EXPECT_TRUE(has_line(registry_.render(), "topup_lease_held 0"));
}

TEST_F(Metrics, TheSnapshotSumsTheShards) {
  registry_.shard(0).orders_accepted = 10;
  registry_.shard(1).orders_accepted = 5;
  registry_.shard(1).orders_finished[2] = 8;
  registry_.shard(0).orders_finished[4] = 3;
  registry_.shard(0).channels[1]->submits = 11;
  const auto s = registry_.snapshot();
  EXPECT_EQ(s.orders_accepted, 15u);
  EXPECT_EQ(s.orders_succeeded, 8u);
  EXPECT_EQ(s.orders_refunded, 3u);
  EXPECT_EQ(s.intake_errors[2], 6u);
  EXPECT_EQ(s.intake_errors[0], 4u);
  EXPECT_TRUE(s.lease_held);
  EXPECT_EQ(s.callbacks_owed, 9);
  EXPECT_EQ(s.callbacks_due, 2);
  EXPECT_EQ(s.exceptions[static_cast<std::size_t>(exception_kind::callback_failed)], 4);
  ASSERT_EQ(s.channels.size(), 2u);
  EXPECT_EQ(s.channels[0].id, "fast");
  EXPECT_EQ(s.channels[0].in_flight, 5);
  EXPECT_EQ(s.channels[0].max_inflight, 40u);
  EXPECT_EQ(s.channels[0].breaker_open_shards, 0u);
  EXPECT_EQ(s.channels[1].breaker_open_shards, 1u);
  EXPECT_EQ(s.channels[1].submits, 11u);
}

}  // namespace
}  // namespace topup::engine
