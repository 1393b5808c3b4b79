#pragma once
// An HDR-style latency histogram: log-linear buckets with a bounded relative error, so that
// p99.9 of a few million samples costs a 35 KiB array and no sorting.
#include <array>
#include <cstddef>
#include <cstdint>

namespace topup::bench {

/// Counts durations in nanoseconds into log-linear buckets: each power of two is split into
/// k_sub_buckets equal buckets, so a recorded value is known to within 1/128 (< 0.8%) of itself;
/// values below 256 ns are exact. The largest bucket ends above 2^41 ns (~36 min); longer values
/// are clamped into it (max() stays exact). Owned by one thread; merge() combines the histograms
/// of several threads after a run.
class latency_histogram {
 public:
  static constexpr int k_sub_bucket_bits = 7;
  static constexpr std::int64_t k_sub_buckets = std::int64_t{1} << k_sub_bucket_bits;  // 128
  static constexpr int k_magnitudes = 35;

  void record(std::int64_t value_ns) noexcept;
  void merge(const latency_histogram& other) noexcept;
  void reset() noexcept { *this = latency_histogram{}; }

  std::uint64_t count() const noexcept { return count_; }
  std::int64_t min_ns() const noexcept { return count_ ? min_ns_ : 0; }
  std::int64_t max_ns() const noexcept { return max_ns_; }
  double mean_ns() const noexcept {
    return count_ ? static_cast<double>(sum_ns_) / static_cast<double>(count_) : 0.0;
  }
  /// The value at `percentile` (0..100]: the middle of the bucket holding the sample of that
  /// rank (never above max_ns()); 0 when empty. percentile(100) is max_ns().
  std::int64_t percentile_ns(double percentile) const noexcept;

 private:
  static std::size_t index_of(std::int64_t value_ns) noexcept;
  static std::int64_t lowest_of(std::size_t index) noexcept;
  static std::int64_t width_of(std::size_t index) noexcept;

  static constexpr std::size_t k_buckets = (k_magnitudes + 1) * k_sub_buckets;
  std::array<std::uint64_t, k_buckets> counts_{};
  std::uint64_t count_ = 0;
  std::int64_t min_ns_ = 0;
  std::int64_t max_ns_ = 0;
  // Sum in ns: 2^63 ns is 292 years of accumulated latency, far beyond any run.
  std::int64_t sum_ns_ = 0;
};

}  // namespace topup::bench
