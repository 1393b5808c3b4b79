#include "engine/routing/channel_health.hpp"

#include "engine/support/assert.hpp"

namespace topup::engine {

bool channel_health::tripped(clock::time_point now) const {
  return trip_active_ && now < tripped_until_;
}

bool channel_health::available(clock::time_point now) const {
  if (inflight_ >= max_inflight_) return false;
  if (!trip_active_) return true;
  if (now < tripped_until_) return false;
  return !probe_in_flight_;  // half-open: exactly one probe at a time
}

void channel_health::started(clock::time_point now) {
  ++inflight_;
  if (trip_active_ && now >= tripped_until_) probe_in_flight_ = true;
  publish();
}

void channel_health::finished() {
  TOPUP_ASSERT(inflight_ > 0);
  --inflight_;
  publish();
}

void channel_health::publish_to(channel_health_gauges* gauges) noexcept {
  gauges_ = gauges;
  publish();
}

void channel_health::publish() const noexcept {
  if (!gauges_) return;
  gauges_->in_flight.store(inflight_, std::memory_order_relaxed);
  gauges_->breaker_open.store(trip_active_ ? 1 : 0, std::memory_order_relaxed);
}

double channel_health::success_ratio() const noexcept {
  if (count_ == 0) return 1.0;
  std::size_t ok = 0;
  for (std::size_t i = 0; i < count_; ++i) ok += window_[i] ? 1 : 0;
  return static_cast<double>(ok) / static_cast<double>(count_);
}

void channel_health::record(bool success, std::chrono::milliseconds latency,
                            clock::time_point now) {
  record_outcome(success, latency, now);
  publish();
}

void channel_health::record_outcome(bool success, std::chrono::milliseconds latency,
                                    clock::time_point now) {
  window_[next_] = success;
  next_ = (next_ + 1) % k_window;
  if (count_ < k_window) ++count_;
  const double ms = static_cast<double>(latency.count());
  latency_ms_ewma_ = latency_ms_ewma_ == 0 ? ms : 0.8 * latency_ms_ewma_ + 0.2 * ms;
  consecutive_failures_ = success ? 0 : consecutive_failures_ + 1;

  if (trip_active_ && probe_in_flight_) {
    // The half-open probe decides: success closes the breaker, failure re-trips it.
    probe_in_flight_ = false;
    if (success) {
      trip_active_ = false;
      count_ = 0;
      next_ = 0;
      consecutive_failures_ = 0;
    } else {
      tripped_until_ = now + cool_down_;
    }
    return;
  }
  if (trip_active_) return;
  const bool ratio_bad = count_ >= k_min_samples && success_ratio() < 1.0 - k_trip_failure_ratio;
  if (consecutive_failures_ >= k_trip_consecutive || ratio_bad) {
    trip_active_ = true;
    tripped_until_ = now + cool_down_;
  }
}

}  // namespace topup::engine
