#pragma once
// Everything one shard owns, built and used on that shard's thread only.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/callback_scheduler.hpp"
#include "engine/callback_store.hpp"
#include "engine/channel_catalogue.hpp"
#include "engine/channel_router.hpp"
#include "engine/metrics.hpp"
#include "engine/order_dispatcher.hpp"
#include "engine/config.hpp"
#include "engine/order_service.hpp"
#include "engine/order_store.hpp"
#include "engine/redis/connection.hpp"
#include "engine/shard_runtime.hpp"
#include "protocol/api_context.hpp"
#include "protocol/api_router.hpp"
#include "protocol/callback_sender.hpp"
#include "protocol/http_server.hpp"
#include "protocol/merchant_directory.hpp"

namespace topup::app {

class shard_services;

/// Lets one shard reach the others (always through invoke_on: a post to the owner's thread).
struct shard_registry {
  shard_registry(engine::shard_runtime& rt, std::vector<std::unique_ptr<shard_services>>& s,
                 const engine::config& cfg)
      : runtime(rt), shards(s), metrics(rt.size(), cfg.channels) {
    fence.instance = std::to_string(cfg.server.instance_id);
  }
  engine::shard_runtime& runtime;
  std::vector<std::unique_ptr<shard_services>>& shards;
  engine::metrics_registry metrics;
  /// This instance's write permission (engine/fence.hpp); the epoch is set by shard 0.
  engine::fence_token fence;
};

/// The objects of one shard: its Redis connection, order store, catalogue, order service,
/// endpoints and HTTP listener. Constructed, used and shut down on the shard's own thread.
class shard_services {
 public:
  shard_services(boost::asio::io_context& io, unsigned shard,
                 std::shared_ptr<const engine::config> cfg,
                 std::shared_ptr<shard_registry> registry);
  ~shard_services();

  /// Connects Redis and starts listening; returns a one-line error, empty on success.
  std::string start();
  /// Runs once every shard listens: recovery of this shard's orders.
  void after_all_started();
  void begin_shutdown();
  /// No request being handled and no order operation in flight.
  bool idle() const;
  void finish_shutdown();

  /// How often each shard checks whether an orphan sweep is due (an accept left uncertain
  /// since the last one; see recovery_loop and recover_orders).
  static constexpr std::chrono::seconds k_orphan_sweep_interval{10};

  engine::channel_catalogue& catalogue() { return catalogue_; }
  engine::order_dispatcher& dispatcher() { return dispatcher_; }
  engine::callback_scheduler& callbacks() { return scheduler_; }

 private:
  boost::asio::awaitable<void> load_disabled_channels();
  boost::asio::awaitable<void> recovery_loop();
  /// Until engine/lease: shard 0 takes the next epoch and writes the fences; every shard waits.
  boost::asio::awaitable<void> claim_fence();

  boost::asio::io_context& io_;
  unsigned shard_;
  bool stopping_ = false;
  std::shared_ptr<const engine::config> cfg_;
  std::shared_ptr<shard_registry> registry_;
  engine::redis::connection redis_;
  engine::order_store store_;
  engine::channel_catalogue catalogue_;
  engine::channel_router router_channels_;
  engine::order_dispatcher dispatcher_;
  engine::order_service orders_;
  engine::callback_store callback_store_;
  protocol::callback_sender callback_sender_;
  engine::callback_scheduler scheduler_;
  protocol::merchant_directory merchants_;
  protocol::api_context ctx_;
  protocol::api_router router_;
  protocol::http_server http_;
  /// The server.metrics_listen listener, on shard 0 only (one scrape renders every shard's
  /// figures); absent when the setting is empty.
  std::optional<protocol::http_server> metrics_http_;
  boost::asio::steady_timer recovery_timer_;
};

}  // namespace topup::app
