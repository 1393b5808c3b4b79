#pragma once
// The merchants the bench configures in topupd and signs requests for: one definition, used by
// both the config writer and the request builder, so the two cannot disagree.
#include <cstdint>
#include <string>
#include <vector>

namespace topup::bench {

struct bench_merchant {
  std::int64_t id = 0;
  std::string app_key;
  std::string app_secret;
  std::string store_id;
};

/// `count` merchants: ids 2001.., app keys "bench1".., secrets "bench-secret-<n>-…", store "s1".
std::vector<bench_merchant> merchant_roster(unsigned count);

}  // namespace topup::bench
