#pragma once
// What the HTTP endpoints of one shard work with. Every reference outlives the endpoints.
#include <functional>
#include <string>

#include "engine/channel_catalogue.hpp"
#include "engine/config.hpp"
#include "engine/order_service.hpp"
#include "engine/order_store.hpp"
#include "protocol/merchant_directory.hpp"

namespace topup::protocol {

/// The shard-local objects the endpoints call into, wired by the composition root.
struct api_context {
  const engine::config& cfg;
  const merchant_directory& merchants;
  engine::order_service& orders;
  engine::order_store& store;
  engine::channel_catalogue& catalogue;
  unsigned shard = 0;
  unsigned shard_count = 1;
  /// Whether this shard's Redis connection is up (/readyz).
  std::function<bool()> storage_ready;
  /// Enables or disables a channel on every shard (admin API).
  std::function<void(std::string channel_id, bool enabled)> set_channel_enabled;
};

}  // namespace topup::protocol
