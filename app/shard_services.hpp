#pragma once
// Everything one shard owns, built and used on that shard's thread only.
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include "engine/support/timer.hpp"

#include <functional>
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/callbacks/callback_scheduler.hpp"
#include "engine/callbacks/callback_store.hpp"
#include "engine/routing/channel_catalogue.hpp"
#include "engine/routing/channel_router.hpp"
#include "engine/runtime/figures.hpp"
#include "engine/store/order_ownership.hpp"
#include "engine/runtime/metrics.hpp"
#include "engine/dispatch/order_dispatcher.hpp"
#include "engine/config/config.hpp"
#include "engine/store/fence.hpp"
#include "engine/service/order_service.hpp"
#include "engine/store/order_store.hpp"
#include "engine/retention/log_trimmer.hpp"
#include "engine/retention/order_archiver.hpp"
#include "engine/retention/statement_maker.hpp"
#include "engine/redis/connection.hpp"
#include "engine/runtime/shard_runtime.hpp"
#include "engine/service/operations_service.hpp"
#include "engine/service/backlog_sampler.hpp"
#include "engine/service/supplier_results.hpp"
#include "app/shard_links.hpp"
#include "engine/runtime/shutdown_gate.hpp"
#include "protocol/api_context.hpp"
#include "protocol/api_router.hpp"
#include "protocol/callback_sender.hpp"
#include "protocol/http_server.hpp"
#include "protocol/merchant_directory.hpp"
#include "protocol/tls_server_context.hpp"

namespace topup::app {

class shard_services;

/// Lets one shard reach the others (always through invoke_on: a post to the owner's thread).
struct shard_registry {
  shard_registry(engine::shard_runtime& rt, std::vector<std::unique_ptr<shard_services>>& s,
                 const engine::config& cfg)
      : runtime(rt), shards(s), metrics(rt.size(), cfg.channels), ownership(cfg.server.instance_id) {}
  engine::shard_runtime& runtime;
  std::vector<std::unique_ptr<shard_services>>& shards;
  engine::metrics_registry metrics;
  /// The figures sampled every k_figures_interval by shard 0, for GET /admin/summary's chart.
  engine::figures_history history;
  /// Which orders this instance drives: its own, less those another instance took over while it
  /// was dead, plus those of dead instances it took over (app/takeover_watch).
  engine::order_ownership ownership;
  /// Live instances, as the takeover watch last counted them (rate limits are shared).
  std::atomic<unsigned> live_instances{1};
  /// Stops the whole instance with a non-zero exit, the reason logged once (app/server.cpp).
  /// Callable from any shard: it posts to the main thread. Set before the shards are built.
  std::function<void(std::string why)> stop_instance;
};

/// The objects of one shard: its Redis connection, order store, catalogue, order and operations
/// services, endpoints and HTTP listener. Constructed, used and shut down on the shard's own
/// thread. Each object gets what it uses through its constructor, in member order (see the
/// constructor for the few hooks set after).
class shard_services {
 public:
  /// `fence` is the instance's, shared by every shard: its epoch is set (engine/store/lease) before
  /// after_all_started, and it outlives the shard. `tls` (null: plain HTTP) is read during
  /// construction only: the merchant listener gets a TLS context of this shard's own.
  shard_services(boost::asio::io_context& io, unsigned shard,
                 std::shared_ptr<const engine::config> cfg,
                 std::shared_ptr<shard_registry> registry, const engine::fence_token& fence,
                 const protocol::server_tls_credentials* tls);
  ~shard_services();

  /// Connects Redis and starts listening; returns a one-line error, empty on success.
  std::string start();
  /// Runs once every shard listens and the instance holds its lease: Redis, then recovery of
  /// this shard's orders.
  void after_all_started();
  /// The instance's ownership changed (a takeover claimed, or another instance gave back this
  /// one's orders): a recovery pass over the orders this shard drives now, soon.
  void recover_soon();
  /// Stops accepting and closes this shard's gates: requests, order coroutines, deliveries.
  void begin_shutdown();
  /// After begin_shutdown: completes when no request is being handled, no order has a coroutine
  /// (a submit's answer or a result is persisted) and no callback delivery is out, or at
  /// `deadline`; true when drained. Orders left in 6/7/1 are fine: recovery resumes them.
  boost::asio::awaitable<bool> drained(std::chrono::steady_clock::time_point deadline);
  void finish_shutdown();

  /// How often each shard checks whether an orphan sweep is due (an accept left uncertain
  /// since the last one; see recovery_loop and recover_orders).
  static constexpr std::chrono::seconds k_orphan_sweep_interval{10};
  /// How often each shard asks whether the blacklist changed (one GET).
  static constexpr std::chrono::milliseconds k_blacklist_poll{500};
  /// 120 samples of it: the console's chart covers the last 10 minutes.
  static constexpr std::chrono::milliseconds k_figures_interval{5000};
  /// Relayed supplier callbacks: how often the inbox is read, and how many at a time.
  static constexpr std::chrono::milliseconds k_inbox_poll{200};
  static constexpr std::size_t k_inbox_batch = 200;

  engine::channel_catalogue& catalogue() { return catalogue_; }
  engine::order_dispatcher& dispatcher() { return dispatcher_; }
  engine::channel_router& channels() { return router_channels_; }
  engine::callback_scheduler& callbacks() { return scheduler_; }

 private:
  boost::asio::awaitable<void> load_disabled_channels();
  /// Reads the blacklist when its version moved (or was never read); false when Redis failed.
  boost::asio::awaitable<bool> refresh_blacklist();
  /// Every k_blacklist_poll, for as long as the shard runs: other instances' and other shards'
  /// changes reach this shard's copy within a second (spec §7).
  boost::asio::awaitable<void> blacklist_loop();
  boost::asio::awaitable<void> recovery_loop();
  /// Shard 0: a retention pass over every configured merchant every retention_interval(): its
  /// final orders past the window archived, then its log trimmed behind them.
  boost::asio::awaitable<void> retention_loop();
  /// A tenth of the retention window, within 1 s .. 60 s: an order leaves Redis at most that
  /// much after its window ended.
  std::chrono::milliseconds retention_interval() const;
  /// Shard 0: a statement pass over every configured merchant every statements_interval().
  boost::asio::awaitable<void> statements_loop();
  /// Shard 0: applies `P:channels:disabled` to every shard where it differs (other instances'
  /// switches).
  boost::asio::awaitable<void> refresh_channel_switches();
  /// A supplier callback checked by supplier_results: to this instance's dispatcher when it
  /// drives the order, else relayed to the instance that does (engine/store/instance_inbox).
  void hand_supplier_callback(std::string number, engine::supplier_callback cb);
  boost::asio::awaitable<void> relay_supplier_callback(std::string number,
                                                       engine::supplier_callback cb);
  /// Shard 0: hands the callbacks other instances relayed here to this instance's dispatchers,
  /// every k_inbox_poll.
  boost::asio::awaitable<void> inbox_loop();
  /// Shard 0: records the summed figures in the registry's history every k_figures_interval.
  boost::asio::awaitable<void> figures_loop();
  /// Half of statements.delay_s, within 1 s .. 60 s: a day's statement is made at most that
  /// long after its delay.
  std::chrono::milliseconds statements_interval() const;
  /// Shard 0: the backlog gauges (callbacks owed, the exception queue) every
  /// backlog_sampler::k_interval.
  boost::asio::awaitable<void> backlog_loop();
  /// Where the shard's blocking file work runs: files_, or (other shards: none) the shard.
  boost::asio::any_io_executor files_executor();
  /// What shard 0's retention steps (archiver, trimmer, statement maker) work with.
  engine::retention_context retention_context(const engine::fence_token& fence);
  /// The merchant listener's handler: the router's, inside requests_.
  boost::asio::awaitable<protocol::http_response> handle_request(protocol::http_request request);

  boost::asio::io_context& io_;
  unsigned shard_;
  bool stopping_ = false;
  bool recovery_asked_ = false;  // recover_soon(): the next recovery pass is due now
  std::shared_ptr<const engine::config> cfg_;
  std::shared_ptr<shard_registry> registry_;
  shard_links links_;
  engine::redis::connection redis_;
  engine::order_store store_;
  /// Shard 0's thread for blocking file work (archive and statement files, fsync), so the
  /// shard's reactor never waits for a disk; joined by finish_shutdown. Null on other shards.
  std::unique_ptr<boost::asio::thread_pool> files_;
  /// Retention passes (issue 16), run by shard 0 only: the archive is written from one thread.
  engine::order_archiver archiver_;
  engine::statement_maker statement_maker_;
  engine::log_trimmer trimmer_;
  engine::channel_catalogue catalogue_;
  engine::channel_router router_channels_;
  engine::order_dispatcher dispatcher_;
  engine::blacklist blacklist_;  // read by orders_: declared before it
  engine::redis_risk_counters risk_counters_;  // used by orders_ when a limit is configured
  engine::order_service orders_;
  engine::callback_store callback_store_;
  engine::operations_service operations_;
  protocol::callback_sender callback_sender_;
  engine::callback_scheduler scheduler_;
  protocol::merchant_directory merchants_;
  engine::supplier_results supplier_results_;
  engine::backlog_sampler backlog_;  // used by shard 0 only
  protocol::api_context ctx_;
  protocol::api_router router_;
  /// Requests being handled (an accept persisting its order). Only the handler is inside: the
  /// answer is written afterwards, while the shard's io_context runs down (app/server.cpp).
  engine::shutdown_gate requests_;
  protocol::http_server http_;
  /// The server.metrics_listen listener, on shard 0 only (one scrape renders every shard's
  /// figures); absent when the setting is empty.
  std::optional<protocol::http_server> metrics_http_;
  // On the clock seam, like the engine's own waits (engine/support/timer).
  engine::timer recovery_timer_;
  engine::timer blacklist_timer_;
  engine::timer retention_timer_;
  engine::timer statements_timer_;
  engine::timer figures_timer_;
  engine::timer inbox_timer_;
  engine::timer backlog_timer_;
  /// The retention and statement passes (shard 0): shutdown waits for the one running.
  engine::shutdown_gate file_work_;
};

}  // namespace topup::app
