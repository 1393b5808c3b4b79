#include "bench/topup_bench/latency_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace topup::bench {

// Bucket index = magnitude * 128 + (value >> magnitude), where magnitude is how far the value's
// top bit lies above bit 7: (value >> magnitude) is then in [128, 256) for every magnitude > 0,
// and magnitude 0 covers [0, 256) exactly, so the ranges of consecutive magnitudes tile.
std::size_t latency_histogram::index_of(std::int64_t value_ns) noexcept {
  const auto v = static_cast<std::uint64_t>(std::max<std::int64_t>(value_ns, 0));
  const int top_bit = 63 - std::countl_zero(v | 1);
  const int magnitude = std::max(0, top_bit - k_sub_bucket_bits);
  if (magnitude > k_magnitudes - 1) return k_buckets - 1;  // clamped into the last bucket
  return static_cast<std::size_t>(magnitude) * k_sub_buckets + (v >> magnitude);
}

// Inverse of index_of: indices below 256 are the exact values of magnitude 0; above, magnitude
// m occupies indices [(m + 1) * 128, (m + 2) * 128) and index - m * 128 is (value >> m).
std::int64_t latency_histogram::lowest_of(std::size_t index) noexcept {
  if (index < 2 * k_sub_buckets) return static_cast<std::int64_t>(index);
  const auto magnitude = static_cast<int>(index / k_sub_buckets) - 1;
  const auto sub = static_cast<std::int64_t>(index) - magnitude * k_sub_buckets;
  return sub << magnitude;
}

std::int64_t latency_histogram::width_of(std::size_t index) noexcept {
  if (index < 2 * k_sub_buckets) return 1;
  return std::int64_t{1} << (static_cast<int>(index / k_sub_buckets) - 1);
}

void latency_histogram::record(std::int64_t value_ns) noexcept {
  value_ns = std::max<std::int64_t>(value_ns, 0);
  ++counts_[index_of(value_ns)];
  if (count_ == 0 || value_ns < min_ns_) min_ns_ = value_ns;
  max_ns_ = std::max(max_ns_, value_ns);
  sum_ns_ += value_ns;
  ++count_;
}

void latency_histogram::merge(const latency_histogram& other) noexcept {
  if (other.count_ == 0) return;
  for (std::size_t i = 0; i < k_buckets; ++i) counts_[i] += other.counts_[i];
  min_ns_ = count_ == 0 ? other.min_ns_ : std::min(min_ns_, other.min_ns_);
  max_ns_ = std::max(max_ns_, other.max_ns_);
  sum_ns_ += other.sum_ns_;
  count_ += other.count_;
}

std::int64_t latency_histogram::percentile_ns(double percentile) const noexcept {
  if (count_ == 0) return 0;
  if (percentile >= 100.0) return max_ns_;
  const double wanted = std::ceil(percentile / 100.0 * static_cast<double>(count_));
  const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(wanted));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < k_buckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const std::int64_t middle = lowest_of(i) + width_of(i) / 2;
      return std::clamp(middle, min_ns_, max_ns_);
    }
  }
  return max_ns_;
}

}  // namespace topup::bench
