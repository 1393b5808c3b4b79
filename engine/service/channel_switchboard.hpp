#pragma once
// The services' way to turn a channel on or off on every shard.
#include <string>

namespace topup::engine {

/// Applies an operator's channel switch to every shard's channel_catalogue (each on its own
/// thread). The composition root implements it by posting to each shard (app/shard_links); the
/// switch is stored in Redis first by whoever calls it (operations_service), so a restart keeps it.
class channel_switchboard {
 public:
  virtual ~channel_switchboard() = default;
  virtual void set_enabled_everywhere(std::string channel_id, bool enabled) = 0;
};

}  // namespace topup::engine
