#pragma once
// Per-merchant token buckets (1008 / HTTP 429).
#include <chrono>
#include <cstdint>
#include <unordered_map>

namespace topup::protocol {

/// A token bucket per merchant, one limiter per shard. A merchant's configured rate is split
/// evenly across shards, since SO_REUSEPORT spreads connections evenly, and across the live
/// instances, since a load balancer spreads them evenly too; the burst too, never below one
/// request.
class rate_limiter {
 public:
  explicit rate_limiter(unsigned shard_count) : shard_count_(shard_count ? shard_count : 1) {}

  /// Takes one token for `merchant_id`; false when the bucket is empty. rps == 0: unlimited.
  /// `instances`: how many instances share the merchant's rate now (at least 1).
  bool try_acquire(std::int64_t merchant_id, std::uint32_t rps, std::uint32_t burst,
                   std::chrono::steady_clock::time_point now, unsigned instances = 1);

 private:
  struct bucket {
    double tokens = 0;
    std::chrono::steady_clock::time_point refilled{};
    bool initialized = false;
  };
  unsigned shard_count_;
  std::unordered_map<std::int64_t, bucket> buckets_;
};

}  // namespace topup::protocol
