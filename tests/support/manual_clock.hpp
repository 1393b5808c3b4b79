#pragma once
// A clock a test sets by hand (engine/support/clock): what the services stamp is then known.
#include <atomic>
#include <chrono>
#include <cstdint>

#include "engine/support/clock.hpp"

namespace topup::test {

/// Stands still at the wall time it is given until a test moves it; the monotonic time moves
/// with it (from an arbitrary origin).
class manual_clock final : public engine::clock {
 public:
  explicit manual_clock(std::int64_t wall_ms) : wall_ms_(wall_ms) {}

  std::int64_t wall_ms() const noexcept override { return wall_ms_.load(); }
  std::chrono::steady_clock::time_point steady_now() const noexcept override {
    return std::chrono::steady_clock::time_point(std::chrono::milliseconds(wall_ms_.load()));
  }
  void advance(std::chrono::milliseconds by) noexcept { wall_ms_ += by.count(); }

 private:
  std::atomic<std::int64_t> wall_ms_;
};

}  // namespace topup::test
