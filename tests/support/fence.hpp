#pragma once
// A fence token allowed to write some merchants' keys, as the lease grants one at start-up
// (docs/STORAGE.md "fence"): for tests that drive the store without a topupd process.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/store/fence.hpp"
#include "tests/support/redis_server.hpp"

namespace topup::test {

/// Writes `epoch` as instance `instance`'s fence of each merchant under `prefix` on `server`.
inline void grant_fence(const redis_server& server, const std::string& prefix,
                        const std::vector<std::int64_t>& merchant_ids,
                        const std::string& instance = "0", std::int64_t epoch = 1) {
  for (auto id : merchant_ids)
    server.command({"HSET", prefix + ":{m" + std::to_string(id) + "}:fence", instance,
                    std::to_string(epoch)});
}

/// A token for instance `instance` at `epoch` (what the store checks against the fences).
inline std::unique_ptr<engine::fence_token> fence_token_for(const std::string& instance = "0",
                                                            std::int64_t epoch = 1) {
  auto token = std::make_unique<engine::fence_token>();
  token->instance = instance;
  token->epoch = epoch;
  return token;
}

}  // namespace topup::test
