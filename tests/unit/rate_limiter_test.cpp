// protocol/rate_limiter: a merchant's rate and burst shared out over shards and live instances.
#include <gtest/gtest.h>

#include <chrono>

#include "protocol/rate_limiter.hpp"

namespace {

using topup::protocol::rate_limiter;
using namespace std::chrono_literals;

int burst_taken(rate_limiter& limiter, unsigned instances, std::chrono::steady_clock::time_point at) {
  int taken = 0;
  while (taken < 1000 && limiter.try_acquire(1001, 40, 40, at, instances)) ++taken;
  return taken;
}

TEST(RateLimiter, TheBurstIsSharedOverShardsAndInstances) {
  const auto t = std::chrono::steady_clock::now();
  rate_limiter alone(2);
  EXPECT_EQ(burst_taken(alone, 1, t), 20);  // 40 over 2 shards
  rate_limiter shared(2);
  EXPECT_EQ(burst_taken(shared, 4, t), 5);  // 40 over 2 shards x 4 instances
  // Refill at the shared rate: 40 / 8 = 5 per second.
  EXPECT_EQ(burst_taken(shared, 4, t + 1s), 5);
  rate_limiter unlimited(2);
  EXPECT_TRUE(unlimited.try_acquire(1001, 0, 0, t, 4));
  rate_limiter tiny(2);
  EXPECT_EQ(burst_taken(tiny, 100, t), 1);  // never below one request
}

}  // namespace
