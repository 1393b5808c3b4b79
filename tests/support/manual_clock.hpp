#pragma once
// A clock a test moves by hand (engine::clock), and the scope that makes every engine::timer run
// on it: services' waits pass in simulated time, with no wall time spent.
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>

#include "engine/support/clock.hpp"
#include "engine/support/timer.hpp"

namespace topup::test {

class manual_clock final : public engine::clock {
 public:
  explicit manual_clock(std::int64_t wall_ms = 1'700'000'000'000) : wall_ms_(wall_ms) {}
  std::int64_t wall_ms() const noexcept override { return wall_ms_.load(); }
  std::chrono::steady_clock::time_point steady_now() const noexcept override {
    return std::chrono::steady_clock::time_point(std::chrono::milliseconds(steady_ms_.load()));
  }
  void advance(std::chrono::milliseconds d) noexcept {
    wall_ms_ += d.count();
    steady_ms_ += d.count();
  }

 private:
  std::atomic<std::int64_t> wall_ms_;
  std::atomic<std::int64_t> steady_ms_{1'000'000};
};

/// While alive, every engine::timer runs on `clock`.
class timers_on {
 public:
  explicit timers_on(const engine::clock& clock) { engine::use_timer_clock(&clock); }
  ~timers_on() { engine::use_timer_clock(nullptr); }
  timers_on(const timers_on&) = delete;
  timers_on& operator=(const timers_on&) = delete;
};

/// Runs what is ready on `io`, then moves `clock` by `step`, until done() holds or `limit` of
/// simulated time has passed; returns done(). No wall time is waited for.
template <class Done>
bool advance_until(boost::asio::io_context& io, manual_clock& clock, Done done,
                   std::chrono::milliseconds limit,
                   std::chrono::milliseconds step = std::chrono::milliseconds(10)) {
  for (std::chrono::milliseconds passed{0}; passed <= limit; passed += step) {
    io.restart();
    io.poll();
    if (done()) return true;
    clock.advance(step);
  }
  io.restart();
  io.poll();
  return done();
}

}  // namespace topup::test
