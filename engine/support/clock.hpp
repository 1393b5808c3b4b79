#pragma once
// The engine's time: a seam, so that tests (and the simulator) can set the time the order
// service, the dispatcher and the callback scheduler see.
#include <chrono>
#include <cstdint>

namespace topup::engine {

/// Wall-clock unix time in milliseconds: what is stored in records and events.
inline std::int64_t wall_clock_ms() noexcept {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// Where the engine's services read the time. Used from any thread: implementations are
/// thread-safe. Their timers (engine::timer, engine/support/timer.hpp) follow the clock a test
/// installs there.
class clock {
 public:
  virtual ~clock() = default;
  /// Unix time in ms: created_at, deadlines, callback due times.
  virtual std::int64_t wall_ms() const noexcept = 0;
  /// Monotonic time: attempt latencies, health windows, circuit breakers.
  virtual std::chrono::steady_clock::time_point steady_now() const noexcept = 0;
};

/// The system's clocks (the default everywhere outside tests).
const clock& system_clock() noexcept;

}  // namespace topup::engine
