#pragma once
// What the HTTP endpoints of one shard work with. Every reference outlives the endpoints.
#include <functional>
#include <string>

#include "engine/callbacks/callback_store.hpp"
#include "engine/routing/channel_adapter.hpp"
#include "engine/routing/channel_catalogue.hpp"
#include "engine/routing/channel_router.hpp"
#include "engine/config/config.hpp"
#include "engine/runtime/metrics.hpp"
#include "engine/service/order_service.hpp"
#include "engine/store/order_store.hpp"
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
  /// This shard's channels (their adapters check supplier callbacks).
  engine::channel_router* channels = nullptr;
  /// Merchant callback deliveries of this shard's connection (attempt log, re-notify).
  engine::callback_store* callbacks = nullptr;
  /// Asks the order's owning shard to deliver its merchant callback now.
  std::function<void(std::string order_number, std::int64_t merchant_id)> kick_callback;
  /// Every shard's figures, for GET /metrics.
  const engine::metrics_registry* metrics = nullptr;
  /// Hands a checked supplier callback to the shard that owns the order.
  std::function<void(std::string order_number, engine::supplier_callback)> deliver_callback;
};

}  // namespace topup::protocol
