#include "engine/runtime/figures.hpp"

namespace topup::engine {

namespace {

using buckets_t = std::array<std::uint64_t, latency_histogram::k_bounds_ms.size() + 1>;

std::uint64_t load(const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); }

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
  buckets_t redis{};
  std::uint64_t redis_count = 0, redis_sum = 0;
  const auto& ids = registry.channel_ids();
  f.channels.resize(ids.size());
  std::vector<buckets_t> latency(ids.size());
  std::vector<std::uint64_t> latency_sum(ids.size());
  for (unsigned i = 0; i < registry.shard_count(); ++i) {
    const shard_metrics& s = registry.shard(i);
    f.accepted += load(s.orders_accepted);
    f.duplicate += load(s.orders_duplicate);
    f.refused += load(s.orders_refused);
    f.succeeded += load(s.orders_finished[2]);
    f.refunded += load(s.orders_finished[4]);
    f.callbacks_delivered += load(s.callbacks_delivered);
    f.callbacks_failed_attempts += load(s.callbacks_failed_attempts);
    f.callbacks_given_up += load(s.callbacks_given_up);
    f.orders_in_flight += s.orders_in_flight.load(std::memory_order_relaxed);
    f.callbacks_in_flight += s.callbacks_in_flight.load(std::memory_order_relaxed);
    s.redis_latency.add_to(redis, redis_count, redis_sum);
    for (std::size_t c = 0; c < ids.size() && c < s.channels.size(); ++c) {
      const channel_metrics& m = *s.channels[c];
      channel_figures& out = f.channels[c];
      out.submits += load(m.submits);
      for (std::size_t o = 0; o < out.outcomes.size(); ++o) out.outcomes[o] += load(m.outcomes[o]);
      m.submit_latency.add_to(latency[c], out.latency_count, latency_sum[c]);
    }
  }
  f.redis_p50_ms = histogram_quantile_ms(redis, redis_count, 0.5);
  f.redis_p99_ms = histogram_quantile_ms(redis, redis_count, 0.99);
  for (std::size_t c = 0; c < ids.size(); ++c) {
    f.channels[c].id = ids[c];
    f.channels[c].latency_p50_ms = histogram_quantile_ms(latency[c], f.channels[c].latency_count, 0.5);
    f.channels[c].latency_p99_ms = histogram_quantile_ms(latency[c], f.channels[c].latency_count, 0.99);
  }
  return f;
}

void figures_history::record(const figures& f) {
  std::lock_guard lock(mutex_);
  samples_.push_back(figures_sample{f.at_ms, f.accepted, f.refused, f.succeeded, f.refunded});
  while (samples_.size() > capacity_) samples_.pop_front();
}

std::vector<figures_sample> figures_history::samples() const {
  std::lock_guard lock(mutex_);
  return {samples_.begin(), samples_.end()};
}

}  // namespace topup::engine
