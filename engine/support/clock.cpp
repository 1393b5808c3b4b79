#include "engine/support/clock.hpp"

namespace topup::engine {

namespace {

class system_clock_impl final : public clock {
 public:
  std::int64_t wall_ms() const noexcept override { return wall_clock_ms(); }
  std::chrono::steady_clock::time_point steady_now() const noexcept override {
    return std::chrono::steady_clock::now();
  }
};

}  // namespace

const clock& system_clock() noexcept {
  static const system_clock_impl instance;
  return instance;
}

}  // namespace topup::engine
