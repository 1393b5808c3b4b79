#pragma once
// The instance's write permission on merchants' keys (docs/STORAGE.md "fence", engine/store/lease).
#include <atomic>
#include <cstdint>
#include <string>
#include <utility>

namespace topup::engine {

/// Who writes: every write script first checks `HGET P:{m<id>}:fence <instance>` == epoch and
/// refuses (errc::fenced) otherwise. Shared by the shards of one instance: `instance` is fixed,
/// `epoch` is set once the instance holds its lease and has written its fences (0 until then:
/// the store refuses every write as storage_unavailable without sending it).
struct fence_token {
  std::string instance;  // server.instance_id in decimal
  std::atomic<std::int64_t> epoch{0};

  fence_token() = default;
  fence_token(std::string instance_id, std::int64_t epoch_value)
      : instance(std::move(instance_id)), epoch(epoch_value) {}
  /// A copy is a snapshot of the epoch (e.g. the value written to the fences).
  fence_token(const fence_token& other) : instance(other.instance), epoch(other.epoch.load()) {}
  fence_token& operator=(const fence_token& other) {
    instance = other.instance;
    epoch = other.epoch.load();
    return *this;
  }
};

}  // namespace topup::engine
