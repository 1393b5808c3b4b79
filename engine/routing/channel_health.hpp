#pragma once
// Per-channel health on one shard: recent outcomes, latency, in-flight count, circuit breaker.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace topup::engine {

/// What /metrics shows of one channel_health (engine/runtime/metrics): written by its shard's
/// thread only, as the health changes; read by any shard's scrape (relaxed atomics).
struct channel_health_gauges {
  std::atomic<std::int64_t> in_flight{0};
  /// 1 while the breaker is tripped (open, or half-open waiting for its probe to succeed).
  std::atomic<std::int64_t> breaker_open{0};
};

/// Tracks one channel's recent definite outcomes in a sliding window, its latency, and its
/// orders in flight. A channel failing repeatedly is tripped (taken out of routing) for a
/// cool-down, then half-open: one probe order is let through, and its outcome closes or re-trips
/// the breaker. One per (shard, channel); shard-local, no locks.
class channel_health {
 public:
  using clock = std::chrono::steady_clock;
  static constexpr std::size_t k_window = 20;            // outcomes remembered
  static constexpr std::size_t k_min_samples = 10;       // before the failure ratio counts
  static constexpr std::uint32_t k_trip_consecutive = 5; // failures in a row trip at once
  static constexpr double k_trip_failure_ratio = 0.5;

  explicit channel_health(std::uint32_t max_inflight,
                          std::chrono::milliseconds cool_down = std::chrono::seconds(30))
      : max_inflight_(max_inflight ? max_inflight : 1), cool_down_(cool_down) {}

  /// Whether routing may send one more order now (not tripped, or the half-open probe slot is
  /// free; and under max_inflight).
  bool available(clock::time_point now) const;
  /// A submission starts / ends (every started one must end exactly once).
  void started(clock::time_point now);
  void finished();
  /// A definite outcome of an attempt on this channel: success or failure (refusals and
  /// failures count as failures; unknowns count once resolved).
  void record(bool success, std::chrono::milliseconds latency, clock::time_point now);

  bool tripped(clock::time_point now) const;
  /// A new bound (the instances sharing the channel changed); orders over it finish normally.
  void set_max_inflight(std::uint32_t max_inflight) noexcept {
    max_inflight_ = max_inflight ? max_inflight : 1;
  }
  std::uint32_t max_inflight() const noexcept { return max_inflight_; }
  /// Whether the breaker is tripped, whatever the time: open, or half-open until a probe
  /// succeeds (a channel nobody sends a probe to stays so).
  bool breaker_open() const noexcept { return trip_active_; }
  /// From now on every change of the in-flight count or the breaker is written to `gauges`
  /// (null: none), starting with the current figures. `gauges` must outlive this object.
  void publish_to(channel_health_gauges* gauges) noexcept;
  std::uint32_t inflight() const noexcept { return inflight_; }
  double success_ratio() const noexcept;
  double latency_ms_ewma() const noexcept { return latency_ms_ewma_; }

 private:
  std::uint32_t max_inflight_;
  std::chrono::milliseconds cool_down_;
  std::uint32_t inflight_ = 0;
  std::array<bool, k_window> window_{};
  std::size_t count_ = 0;  // samples in the window, up to k_window
  std::size_t next_ = 0;
  std::uint32_t consecutive_failures_ = 0;
  clock::time_point tripped_until_{};
  bool trip_active_ = false;
  bool probe_in_flight_ = false;
  double latency_ms_ewma_ = 0;
  channel_health_gauges* gauges_ = nullptr;

  void publish() const noexcept;
  /// record() before the gauges are published (its early returns stay simple).
  void record_outcome(bool success, std::chrono::milliseconds latency, clock::time_point now);
};

}  // namespace topup::engine
