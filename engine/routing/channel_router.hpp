#pragma once
// Channel choice for one order (spec §8 "Channel choice", DESIGN.md "Routing").
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/routing/channel_adapter.hpp"
#include "engine/routing/channel_catalogue.hpp"
#include "engine/routing/channel_health.hpp"
#include "engine/order/order_record.hpp"

namespace topup::engine {

/// The channels of one shard with their adapters and health. pick() returns the best eligible
/// channel for an order: enabled, serving its carrier, amount and recharge type, not tried
/// already, `source` respected, healthy and under its in-flight bound; lowest cost_rate first,
/// then highest priority, ties spread evenly (round robin). Shard-local.
class channel_router {
 public:
  struct channel {
    const channel_config* config;
    std::unique_ptr<channel_adapter> adapter;
    channel_health health;
  };

  channel_router(const std::vector<channel_config>& configs, channel_catalogue& catalogue,
                 const channel_adapter_factory& factory, boost::asio::io_context& io,
                 unsigned shard_count);

  enum class verdict {
    chosen,       // `chosen` is set
    busy,         // some channel could serve it but none is available right now (health/limits)
    exhausted,    // no untried channel can ever serve it
  };
  struct pick_result {
    verdict what;
    channel* chosen = nullptr;
  };
  pick_result pick(const order_record& order, const std::vector<std::string>& tried,
                   channel_health::clock::time_point now);

  channel* find(std::string_view id);
  /// Shares every channel's max_inflight among `instances` live instances as well as this
  /// instance's shards (rounding up): the bound holds across instances instead of multiplying.
  void share_among_instances(unsigned instances);
  std::vector<channel>& channels() { return channels_; }
  void close_all();

 private:
  channel_catalogue& catalogue_;
  unsigned shard_count_;
  std::vector<channel> channels_;  // sorted: cost_rate asc, priority desc
  std::uint64_t round_robin_ = 0;
};

/// The channel that holds attempt `attempt_id` ("<order_number>-<n>") of `order`: the n-th of
/// its tried channels (each attempt goes to a channel not tried before, in order). Empty when
/// the id names another order or an attempt the order never made.
std::string attempt_channel(const order_record& order, std::string_view attempt_id);

}  // namespace topup::engine
