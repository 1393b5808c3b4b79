#pragma once
#include <chrono>
#include <cstdint>

namespace topup::engine {

/// Wall-clock unix time in milliseconds: what is stored in records and events.
inline std::int64_t wall_clock_ms() noexcept {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace topup::engine
