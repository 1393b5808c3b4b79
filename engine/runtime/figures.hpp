#pragma once
// The figures of GET /admin/summary: the metrics every shard counts, summed, and a short
// history of them for the console's "orders per second" chart.
#include <array>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "engine/runtime/metrics.hpp"

namespace topup::engine {

/// One channel's submit latency, from the shards' histograms together.
struct channel_latency {
  std::uint64_t count = 0;
  double p50_ms = 0;
  double p99_ms = 0;
};

/// The instance's figures at one moment: the registry's snapshot (counts summed over shards,
/// gauges) and the quantiles of its latency histograms.
struct figures {
  std::int64_t at_ms = 0;
  metrics_snapshot counts;
  double redis_p50_ms = 0;
  double redis_p99_ms = 0;
  std::vector<channel_latency> latency;  // by channel, in config order
};

/// The registry's snapshot and quantiles (relaxed reads: each figure is exact, the set is not
/// one instant).
figures collect_figures(const metrics_registry& registry, std::int64_t now_ms);

/// The `q` quantile (0..1) of a fixed-bucket histogram, in ms, interpolated linearly inside its
/// bucket (Prometheus' histogram_quantile); 0 when empty. The last bucket has no upper bound:
/// a quantile landing there answers the highest bound.
double histogram_quantile_ms(
    const std::array<std::uint64_t, latency_histogram::k_bounds_ms.size() + 1>& buckets,
    std::uint64_t count, double q);

/// The order counters of one sample of the history.
struct figures_sample {
  std::int64_t at_ms = 0;
  std::uint64_t accepted = 0;
  std::uint64_t refused = 0;
  std::uint64_t succeeded = 0;
  std::uint64_t refunded = 0;
};

/// The last `capacity` samples, one taken every few seconds by shard 0 (app/shard_services),
/// read by any shard's admin endpoint: a mutex, taken once per sample and once per summary.
class figures_history {
 public:
  explicit figures_history(std::size_t capacity = 120) : capacity_(capacity ? capacity : 1) {}
  void record(const figures& f);
  std::vector<figures_sample> samples() const;

 private:
  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::deque<figures_sample> samples_;
};

}  // namespace topup::engine
