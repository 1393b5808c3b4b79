#include "bench/topup_bench/merchant_roster.hpp"

namespace topup::bench {

std::vector<bench_merchant> merchant_roster(unsigned count) {
  std::vector<bench_merchant> roster;
  roster.reserve(count);
  for (unsigned n = 1; n <= count; ++n) {
    bench_merchant m;
    m.id = 2000 + n;
    m.app_key = "bench" + std::to_string(n);
    m.app_secret = "bench-secret-" + std::to_string(n) + "-5f0c2a9d";
    m.store_id = "s1";
    roster.push_back(std::move(m));
  }
  return roster;
}

}  // namespace topup::bench
