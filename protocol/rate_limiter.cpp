#include "protocol/rate_limiter.hpp"

#include <algorithm>

namespace topup::protocol {

bool rate_limiter::try_acquire(std::int64_t merchant_id, std::uint32_t rps, std::uint32_t burst,
                               std::chrono::steady_clock::time_point now, unsigned instances) {
  if (rps == 0) return true;
  const double parts = static_cast<double>(shard_count_) * std::max(1u, instances);
  const double rate = static_cast<double>(rps) / parts;
  const double capacity = std::max(1.0, static_cast<double>(burst ? burst : rps) / parts);
  auto& b = buckets_[merchant_id];
  if (!b.initialized) {
    b.tokens = capacity;
    b.refilled = now;
    b.initialized = true;
  }
  const double elapsed_s = std::chrono::duration<double>(now - b.refilled).count();
  b.tokens = std::min(capacity, b.tokens + elapsed_s * rate);
  b.refilled = now;
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

}  // namespace topup::protocol
