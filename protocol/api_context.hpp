#pragma once
// What the HTTP endpoints of one shard work with. Every reference outlives the endpoints.
#include <atomic>
#include <functional>
#include <string>

#include "engine/callbacks/callback_store.hpp"
#include "engine/config/config.hpp"
#include "engine/routing/channel_adapter.hpp"
#include "engine/routing/channel_catalogue.hpp"
#include "engine/routing/channel_router.hpp"
#include "engine/runtime/figures.hpp"
#include "engine/runtime/metrics.hpp"
#include "engine/service/operations_service.hpp"
#include "engine/service/order_service.hpp"
#include "engine/service/supplier_results.hpp"
#include "engine/store/order_store.hpp"
#include "protocol/merchant_directory.hpp"

namespace topup::protocol {

/// The shard-local objects the endpoints call into, all given when the composition root builds
/// it (app/shard_services). Every business step is a call to `orders`, `operations` or
/// `supplier_results`; the other references are for reads (records, attempts, amounts, figures)
/// and for the channels' adapters, which parse and verify supplier callbacks.
struct api_context {
  const engine::config& cfg;
  const merchant_directory& merchants;
  engine::order_service& orders;
  engine::operations_service& operations;
  engine::order_store& store;
  const engine::channel_catalogue& catalogue;
  /// This shard's channels (their adapters check supplier callbacks).
  engine::channel_router& channels;
  /// Merchant callback deliveries of this shard's connection (the attempt log).
  engine::callback_store& callbacks;
  /// Every shard's figures, for GET /metrics.
  const engine::metrics_registry& metrics;
  unsigned shard = 0;
  unsigned shard_count = 1;
  /// Whether this shard's Redis connection is up and intake open (/readyz). A function because
  /// the answer combines objects protocol/ has no business knowing (the connection).
  std::function<bool()> storage_ready;
  /// Supplier callbacks, once the channel's adapter has parsed and verified them.
  engine::supplier_results& supplier_results;
  /// The instance's figures sampled every few seconds (shard 0 records), for GET /admin/summary.
  const engine::figures_history& history;
  /// How many instances run now (the takeover watch counts them): merchants' rate limits are
  /// shared among them.
  const std::atomic<unsigned>& live_instances;
};

}  // namespace topup::protocol
