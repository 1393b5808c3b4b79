#pragma once
// The instance's write permission on merchants' keys (docs/STORAGE.md "fence", engine/lease).
#include <cstdint>
#include <string>

namespace topup::engine {

/// Who writes: every write script first checks `HGET P:{m<id>}:fence <instance>` == epoch and
/// refuses (errc::fenced) otherwise. The lease sets the epoch before any store writes; a plain
/// value, shared read-only by the shards of one instance.
struct fence_token {
  std::string instance;  // server.instance_id in decimal
  std::int64_t epoch = 0;
};

}  // namespace topup::engine
