#pragma once
// Counters and histograms for GET /metrics (Prometheus text format).
#include <array>
#include <string_view>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/routing/channel_adapter.hpp"
#include "engine/routing/channel_health.hpp"
#include "engine/config/config.hpp"
#include "engine/dispatch/exception_rules.hpp"

namespace topup::engine {

/// A latency histogram with fixed millisecond buckets. One writer (its shard), any reader:
/// relaxed atomics, so a scrape on another shard needs no lock and no post.
class latency_histogram {
 public:
  static constexpr std::array<double, 14> k_bounds_ms = {0.5, 1,   2,    5,    10,   25,   50,
                                                         100, 250, 500, 1000, 2500, 5000, 10000};
  void observe(std::chrono::microseconds d) noexcept;
  /// Appends the `_bucket`, `_sum` and `_count` lines of this histogram (seconds).
  void render(std::string& out, const std::string& name, const std::string& labels) const;
  void add_to(std::array<std::uint64_t, k_bounds_ms.size() + 1>& buckets, std::uint64_t& count,
              std::uint64_t& sum_us) const noexcept;

 private:
  std::array<std::atomic<std::uint64_t>, k_bounds_ms.size() + 1> buckets_{};
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_us_{0};
};

inline void bump(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) noexcept {
  c.fetch_add(n, std::memory_order_relaxed);
}

/// One channel's figures on one shard.
struct channel_metrics {
  std::array<std::atomic<std::uint64_t>, 7> outcomes{};  // by attempt_outcome
  std::atomic<std::uint64_t> submits{0};
  latency_histogram submit_latency;
  channel_health_gauges health;  // written by the shard's channel_health of this channel
};

/// The risk rules a refusal (2008) is counted under, by index (`risk_refusals`).
inline constexpr std::array<std::string_view, 4> k_risk_rules = {
    "blacklist", "per_mobile_orders", "per_mobile_amount", "daily_amount"};
inline constexpr std::size_t k_risk_blacklist = 0;  // the counted rules: their risk_verdict

/// pushOrder answers that are topupd's failure rather than the merchant's, by reason
/// (`intake_errors`): 5000 (Redis unavailable, intake not open yet, shutting down), 5002 (an
/// accept's answer lost), 1008 (over a shard's bounds), 5001 (anything else).
inline constexpr std::array<std::string_view, 4> k_intake_error_reasons = {
    "unavailable", "outcome_unknown", "overloaded", "internal"};

/// Figures of the whole instance rather than of a shard, each with one writer: `lease_held` the
/// main thread's lease_keeper, the rest shard 0's backlog_sampler (engine/service).
struct instance_metrics {
  std::atomic<std::int64_t> lease_held{0};  // 1 while this run holds its instance's lease
  std::atomic<std::int64_t> callbacks_owed{0};  // final orders whose callback is pending
  std::atomic<std::int64_t> callbacks_due{0};   // of those, due already at the last sample
  std::array<std::atomic<std::int64_t>, k_exception_kind_count> exceptions{};  // by kind
};

/// Everything one shard counts; written only by that shard's thread.
struct shard_metrics {
  explicit shard_metrics(std::size_t channel_count);
  std::atomic<std::uint64_t> orders_accepted{0};
  std::atomic<std::uint64_t> orders_duplicate{0};
  std::atomic<std::uint64_t> orders_archived{0};  // left Redis for the archive (retention)
  std::atomic<std::uint64_t> statements_made{0};   // daily statement files written (shard 0)
  std::atomic<std::uint64_t> statements_failed{0};  // passes stopped by data that did not add up
  std::atomic<std::uint64_t> log_entries_trimmed{0};  // left the log behind its checkpoint
  std::atomic<std::uint64_t> orders_refused{0};  // push answered with a business error
  std::array<std::atomic<std::uint64_t>, k_intake_error_reasons.size()> intake_errors{};
  std::array<std::atomic<std::uint64_t>, k_risk_rules.size()> risk_refusals{};  // 2008, by rule
  std::array<std::atomic<std::uint64_t>, 8> orders_finished{};  // by final status (2, 4)
  std::atomic<std::uint64_t> callbacks_delivered{0};
  std::atomic<std::uint64_t> callbacks_failed_attempts{0};
  std::atomic<std::uint64_t> callbacks_given_up{0};
  std::atomic<std::int64_t> callbacks_in_flight{0};
  std::atomic<std::int64_t> orders_in_flight{0};  // orders the dispatcher drives now
  latency_histogram redis_latency;
  std::vector<std::unique_ptr<channel_metrics>> channels;  // in config order
};

/// The operational figures of the whole instance at one moment, summed over shards, as values:
/// what metrics_registry::snapshot() answers, for endpoints that show them as data (the admin
/// summary) rather than as Prometheus text. Counters count since start.
struct metrics_snapshot {
  struct channel_figures {
    std::string id;
    std::int64_t in_flight = 0;         // attempts on it now, all shards
    std::uint32_t max_inflight = 0;     // its configured bound (all shards together)
    unsigned breaker_open_shards = 0;   // shards on which its breaker is tripped
    std::uint64_t submits = 0;
    std::array<std::uint64_t, 7> outcomes{};  // by attempt_outcome
  };
  std::uint64_t orders_accepted = 0;
  std::uint64_t orders_duplicate = 0;
  std::uint64_t orders_refused = 0;
  std::array<std::uint64_t, k_intake_error_reasons.size()> intake_errors{};
  std::uint64_t orders_succeeded = 0;  // finished in 2
  std::uint64_t orders_refunded = 0;   // finished in 4
  std::int64_t orders_in_flight = 0;
  std::uint64_t callbacks_delivered = 0;
  std::uint64_t callbacks_given_up = 0;
  std::int64_t callbacks_in_flight = 0;
  std::int64_t callbacks_owed = 0;  // backlog_sampler's last look (every few seconds)
  std::int64_t callbacks_due = 0;
  std::array<std::int64_t, k_exception_kind_count> exceptions{};  // by exception_kind, ditto
  bool lease_held = false;
  std::vector<channel_figures> channels;  // in config order
};

/// All shards' metrics; built once at start-up, read by any shard's /metrics handler.
class metrics_registry {
 public:
  metrics_registry(unsigned shard_count, const std::vector<channel_config>& channels);
  shard_metrics& shard(unsigned i) { return *shards_.at(i); }
  const shard_metrics& shard(unsigned i) const { return *shards_.at(i); }
  unsigned shard_count() const noexcept { return static_cast<unsigned>(shards_.size()); }
  const std::vector<std::string>& channel_ids() const noexcept { return channel_ids_; }
  instance_metrics& instance() noexcept { return instance_; }
  /// The Prometheus text exposition of every figure, summed over shards where that is the
  /// meaningful view, per shard where it is not (in-flight gauges, breakers).
  std::string render() const;
  /// The same figures as values, summed over shards (any thread; each figure is read once,
  /// relaxed, so figures of one snapshot may be a few instructions apart).
  metrics_snapshot snapshot() const;
  /// Index of a channel id in config order, or -1.
  int channel_index(std::string_view id) const;

 private:
  std::vector<std::unique_ptr<shard_metrics>> shards_;
  std::vector<std::string> channel_ids_;
  std::vector<std::uint32_t> channel_max_inflight_;
  instance_metrics instance_;
};

}  // namespace topup::engine
