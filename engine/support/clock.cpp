#include "engine/support/clock.hpp"

#include <atomic>

#include "engine/support/timer.hpp"

namespace topup::engine {

namespace {

class system_clock_impl final : public clock {
 public:
  std::int64_t wall_ms() const noexcept override { return wall_clock_ms(); }
  std::chrono::steady_clock::time_point steady_now() const noexcept override {
    return std::chrono::steady_clock::now();
  }
};

std::atomic<const clock*> g_timer_clock{nullptr};

}  // namespace

timer_clock::time_point timer_clock::now() noexcept {
  const clock* c = g_timer_clock.load(std::memory_order_acquire);
  const auto t = c ? c->steady_now() : std::chrono::steady_clock::now();
  return time_point(t.time_since_epoch());
}

timer_clock::duration timer_wait_traits::to_wait_duration(const timer_clock::duration& d) {
  // An installed clock moves only when its owner moves it: the reactor looks again at once.
  if (!g_timer_clock.load(std::memory_order_acquire)) return d;
  return timer_clock::duration::zero();
}

timer_clock::duration timer_wait_traits::to_wait_duration(const timer_clock::time_point& t) {
  return to_wait_duration(t - timer_clock::now());
}

void use_timer_clock(const clock* c) noexcept { g_timer_clock.store(c, std::memory_order_release); }

const clock& system_clock() noexcept {
  static const system_clock_impl instance;
  return instance;
}

}  // namespace topup::engine
