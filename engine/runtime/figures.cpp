#include "engine/runtime/figures.hpp"

namespace topup::engine {

namespace {

using buckets_t = std::array<std::uint64_t, latency_histogram::k_bounds_ms.size() + 1>;

}  // namespace

double histogram_quantile_ms(const buckets_t& buckets, std::uint64_t count, double q) {
  if (count == 0) return 0;
  const auto& bounds = latency_histogram::k_bounds_ms;
  const double rank = q * static_cast<double>(count);
  std::uint64_t below = 0;
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    const std::uint64_t here = buckets[i];
    if (here > 0 && static_cast<double>(below + here) >= rank) {
      const double lower = i == 0 ? 0.0 : bounds[i - 1];
      const double share = (rank - static_cast<double>(below)) / static_cast<double>(here);
      return lower + (bounds[i] - lower) * std::max(0.0, share);
    }
    below += here;
  }
  return bounds.back();
}

figures collect_figures(const metrics_registry& registry, std::int64_t now_ms) {
  figures f;
  f.at_ms = now_ms;
  f.counts = registry.snapshot();
  buckets_t redis{};
  std::uint64_t redis_count = 0, redis_sum = 0;
  const std::size_t channels = registry.channel_ids().size();
  std::vector<buckets_t> latency(channels);
  std::vector<std::uint64_t> latency_sum(channels);
  f.latency.resize(channels);
  for (unsigned i = 0; i < registry.shard_count(); ++i) {
    const shard_metrics& s = registry.shard(i);
    s.redis_latency.add_to(redis, redis_count, redis_sum);
    for (std::size_t c = 0; c < channels && c < s.channels.size(); ++c)
      s.channels[c]->submit_latency.add_to(latency[c], f.latency[c].count, latency_sum[c]);
  }
  f.redis_p50_ms = histogram_quantile_ms(redis, redis_count, 0.5);
  f.redis_p99_ms = histogram_quantile_ms(redis, redis_count, 0.99);
  for (std::size_t c = 0; c < channels; ++c) {
    f.latency[c].p50_ms = histogram_quantile_ms(latency[c], f.latency[c].count, 0.5);
    f.latency[c].p99_ms = histogram_quantile_ms(latency[c], f.latency[c].count, 0.99);
  }
  return f;
}

void figures_history::record(const figures& f) {
  std::lock_guard lock(mutex_);
  samples_.push_back(figures_sample{f.at_ms, f.counts.orders_accepted, f.counts.orders_refused,
                                    f.counts.orders_succeeded, f.counts.orders_refunded});
  while (samples_.size() > capacity_) samples_.pop_front();
}

std::vector<figures_sample> figures_history::samples() const {
  std::lock_guard lock(mutex_);
  return {samples_.begin(), samples_.end()};
}

}  // namespace topup::engine
