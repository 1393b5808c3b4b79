#pragma once
// A merchant's configuration for tests that need one in engine::config: key "k<id>", secret "s",
// store "s1", charged at face value.
#include <cstdint>
#include <string>

#include "engine/config/config.hpp"

namespace topup::test {

inline engine::merchant_config sample_merchant(std::int64_t id) {
  engine::merchant_config m;
  m.id = id;
  m.app_key = "k" + std::to_string(id);
  m.app_secret = "s";
  m.store_ids = {"s1"};
  m.price_rate_ppm = 1'000'000;
  return m;
}

}  // namespace topup::test
