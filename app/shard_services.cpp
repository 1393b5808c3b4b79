#include "app/shard_services.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <utility>

#include "engine/support/errc.hpp"
#include "engine/store/ledger_scripts.hpp"
#include "engine/redis/command.hpp"
#include "engine/store/instance_inbox.hpp"

#include "app/redis_options.hpp"
#include "channels/registry.hpp"
#include "engine/support/assert.hpp"
#include "engine/support/log.hpp"
#include "engine/dispatch/order_recovery.hpp"

namespace topup::app {

namespace asio = boost::asio;

namespace {

protocol::http_server_options http_options(const engine::config& cfg) {
  protocol::http_server_options o;
  o.host = cfg.server.listen_host;
  o.port = cfg.server.listen_port;
  o.max_body_bytes = cfg.server.max_body_bytes;
  o.max_header_bytes = cfg.server.max_header_bytes;
  o.read_timeout = std::chrono::milliseconds(cfg.server.read_timeout_ms);
  o.idle_timeout = std::chrono::milliseconds(cfg.server.idle_timeout_ms);
  return o;
}

/// The merchant listener: server.listen, over TLS when server.tls is set.
protocol::http_server_options merchant_options(const engine::config& cfg,
                                               const protocol::server_tls_credentials* tls) {
  protocol::http_server_options o = http_options(cfg);
  if (tls) o.tls = protocol::make_server_tls_context(*tls);
  return o;
}

/// The server.metrics_listen listener: the main listener's limits, on its own address, always
/// plain HTTP (docs/DECISIONS.md: scrapers stay on a private interface).
protocol::http_server_options metrics_options(const engine::config& cfg) {
  protocol::http_server_options o = http_options(cfg);
  const auto address = engine::parse_listen_address(cfg.server.metrics_listen);
  TOPUP_ASSERT(address.has_value());  // checked by the config parser
  o.host = address->host;
  o.port = address->port;
  return o;
}

/// The shard's connection: the config's options, each round trip timed into the shard's figures.
engine::redis::connection_options shard_redis_options(const engine::config& cfg,
                                                      engine::shard_metrics& figures) {
  engine::redis::connection_options o = redis_options(cfg);
  o.latency_observer = [&figures](std::chrono::microseconds d) { figures.redis_latency.observe(d); };
  return o;
}

}  // namespace

shard_services::shard_services(asio::io_context& io, unsigned shard,
                               std::shared_ptr<const engine::config> cfg,
                               std::shared_ptr<shard_registry> registry,
                               const engine::fence_token& fence,
                               const protocol::server_tls_credentials* tls)
    : io_(io),
      shard_(shard),
      cfg_(std::move(cfg)),
      registry_(std::move(registry)),
      links_(registry_),
      redis_(io, shard_redis_options(*cfg_, registry_->metrics.shard(shard))),
      store_(redis_, cfg_->redis.prefix, fence),
      files_(shard == 0 ? std::make_unique<asio::thread_pool>(1) : nullptr),
      archiver_(retention_context(fence)),
      statement_maker_(retention_context(fence)),
      trimmer_(retention_context(fence)),
      catalogue_(cfg_->channels),
      router_channels_(cfg_->channels, catalogue_,
                       channels::make_channel_factory(cfg_->server.public_url, shard), io,
                       registry_->runtime.size()),
      dispatcher_(io, *cfg_, store_, router_channels_, shard),
      risk_counters_(redis_, cfg_->redis.prefix, *cfg_),
      orders_(*cfg_, store_, catalogue_, &dispatcher_, links_, &registry_->metrics.shard(shard),
              shard, engine::system_clock(), &blacklist_,
              engine::redis_risk_counters::any_limit(*cfg_) ? &risk_counters_ : nullptr),
      callback_store_(store_),
      operations_(*cfg_, store_, callback_store_, catalogue_, links_, links_, links_,
                  engine::system_clock()),
      callback_sender_(io, cfg_->callbacks),
      scheduler_(io, *cfg_, store_, callback_store_, callback_sender_.as_engine_sender(),
                 &registry_->metrics.shard(shard), shard, registry_->runtime.size()),
      merchants_(cfg_->merchants),
      supplier_results_(store_,
                        [this](std::string number, engine::supplier_callback cb) {
                          hand_supplier_callback(std::move(number), std::move(cb));
                        }),
      backlog_(store_, *cfg_, registry_->metrics.instance()),
      ctx_{*cfg_,
           merchants_,
           orders_,
           operations_,
           store_,
           catalogue_,
           router_channels_,
           callback_store_,
           registry_->metrics,
           shard,
           registry_->runtime.size(),
           [this] { return redis_.connected() && orders_.intake_open(); },
           supplier_results_,
           registry_->history,
           registry_->live_instances},
      router_(ctx_),
      requests_(io),
      http_(io, shard, merchant_options(*cfg_, tls),
            [this](protocol::http_request r) { return handle_request(std::move(r)); }),
      recovery_timer_(io),
      blacklist_timer_(io),
      retention_timer_(io),
      statements_timer_(io),
      figures_timer_(io),
      inbox_timer_(io),
      backlog_timer_(io),
      file_work_(io) {
  if (shard_ == 0 && !cfg_->server.metrics_listen.empty()) {
    metrics_http_.emplace(io, shard, metrics_options(*cfg_), [this](protocol::http_request r) {
      return router_.handle_metrics_listener(std::move(r));
    });
  }
  orders_.set_intake_open(false);  // until disabled channels and blacklist are read (recovery_loop)
  // The hooks still set after construction, each for a reason:
  // - the store's fenced hook stops the whole instance (another run holds the lease); the
  //   store is built by tests in many places that have no instance to stop;
  // - the dispatcher's final-order hook and metrics: engine/dispatch has not moved to
  //   constructor injection yet (docs/DECISIONS.md, "constructor injection").
  store_.on_fenced([reg = registry_, shard] {
    reg->stop_instance("shard=" + std::to_string(shard) + " a store write was refused as fenced");
  });
  dispatcher_.on_final([this](const engine::order_record& order) {
    if (!order.notify_url.empty()) scheduler_.kick(order);
  });
  dispatcher_.set_metrics(&registry_->metrics.shard(shard), &registry_->metrics);
  dispatcher_.set_ownership(&registry_->ownership);
  store_.require_replicas(cfg_->redis.min_replicas_acked,
                          std::chrono::milliseconds(cfg_->redis.replica_wait_ms));
  scheduler_.set_ownership(&registry_->ownership);
}

shard_services::~shard_services() = default;

std::string shard_services::start() {
  // Listen first: a start-up failure is then one line, with no storage noise around it.
  if (auto ec = http_.listen())
    return "server.listen: cannot listen on " + cfg_->server.listen_host + ":" +
           std::to_string(cfg_->server.listen_port) + ": " + ec.message();
  if (metrics_http_) {
    if (auto ec = metrics_http_->listen())
      return "server.metrics_listen: cannot listen on " + cfg_->server.metrics_listen + ": " +
             ec.message();
  }
  return {};
}

void shard_services::after_all_started() {
  redis_.start();
  scheduler_.start();
  asio::co_spawn(io_, recovery_loop(), [shard = shard_](std::exception_ptr e) {
    if (e) logger("engine")->error("shard={} recovery loop ended by exception", shard);
  });
  asio::co_spawn(io_, blacklist_loop(), [shard = shard_](std::exception_ptr e) {
    if (e) logger("engine")->error("shard={} blacklist loop ended by exception", shard);
  });
  if (shard_ == 0) {
    asio::co_spawn(io_, retention_loop(), [](std::exception_ptr e) {
      if (e) logger("engine")->error("shard=0 retention loop ended by exception");
    });
    asio::co_spawn(io_, statements_loop(), [](std::exception_ptr e) {
      if (e) logger("engine")->error("shard=0 statements loop ended by exception");
    });
    asio::co_spawn(io_, figures_loop(), [](std::exception_ptr e) {
      if (e) logger("engine")->error("shard=0 figures loop ended by exception");
    });
    asio::co_spawn(io_, inbox_loop(), [](std::exception_ptr e) {
      if (e) logger("engine")->error("shard=0 inbox loop ended by exception");
    });
    asio::co_spawn(io_, backlog_loop(), [](std::exception_ptr e) {
      if (e) logger("engine")->error("shard=0 backlog loop ended by exception");
    });
  }
}

std::chrono::milliseconds shard_services::retention_interval() const {
  const auto tenth = std::chrono::milliseconds(cfg_->storage.retention_ms / 10);
  return std::clamp(tenth, std::chrono::milliseconds(1000), std::chrono::milliseconds(60'000));
}

namespace {

/// One merchant's pass, with an exception it throws (bad_alloc on a huge day, ...) logged and
/// answered as errc::internal: one merchant's bad day never ends the loop serving every merchant.
template <class T>
asio::awaitable<boost::system::result<T>> caught(std::string_view loop, std::int64_t merchant_id,
                                                 asio::awaitable<boost::system::result<T>> pass) {
  try {
    co_return co_await std::move(pass);
  } catch (const std::exception& e) {
    logger("engine")->error("{} merchant={} pass ended by an exception: {}", loop, merchant_id,
                            e.what());
  }
  co_return engine::errc::internal;
}

}  // namespace

asio::awaitable<void> shard_services::retention_loop() {
  auto log = logger("engine");
  while (!stopping_) {
    retention_timer_.expires_after(retention_interval());
    co_await retention_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    for (const auto& m : cfg_->merchants) {
      if (stopping_) break;
      const auto inside = file_work_.enter();
      auto pass = co_await caught("retention", m.id, archiver_.run_once(m.id));
      // Redis down or an archive file not written: the orders stay, the next pass tries again.
      if (!pass && pass.error() != engine::errc::storage_unavailable)
        log->warn("retention merchant={} pass failed: {}", m.id, pass.error().message());
      if (pass && pass->archived > 0) registry_->metrics.shard(0).orders_archived += pass->archived;
      // Then the log behind the orders that left (docs/STORAGE.md "Trimming the log").
      if (stopping_) break;
      auto trim = co_await caught("trim", m.id, trimmer_.run_once(m.id));
      if (!trim && trim.error() != engine::errc::storage_unavailable)
        log->warn("retention merchant={} log trim failed: {}", m.id, trim.error().message());
      if (trim && trim->trimmed > 0)
        registry_->metrics.shard(0).log_entries_trimmed += static_cast<std::uint64_t>(trim->trimmed);
    }
  }
}

engine::retention_context shard_services::retention_context(const engine::fence_token& fence) {
  return {redis_, store_, cfg_->redis.prefix, fence, *cfg_, engine::system_clock(),
          files_executor()};
}

asio::any_io_executor shard_services::files_executor() {
  if (files_) return files_->get_executor();
  return io_.get_executor();
}

std::chrono::milliseconds shard_services::statements_interval() const {
  const auto half = std::chrono::milliseconds(cfg_->statements.delay_s * 500);
  return std::clamp(half, std::chrono::milliseconds(1000), std::chrono::milliseconds(60'000));
}

asio::awaitable<void> shard_services::statements_loop() {
  auto log = logger("engine");
  while (!stopping_) {
    statements_timer_.expires_after(statements_interval());
    co_await statements_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    for (const auto& m : cfg_->merchants) {
      if (stopping_) break;
      const auto inside = file_work_.enter();
      auto pass = co_await caught("statements", m.id, statement_maker_.run_once(m));
      auto& metrics = registry_->metrics.shard(0);
      if (pass) metrics.statements_made += pass->made;
      // Redis down: the next pass goes on. Data that does not add up was logged by the maker.
      if (!pass && pass.error() == engine::errc::internal) ++metrics.statements_failed;
      if (!pass && pass.error() != engine::errc::storage_unavailable &&
          pass.error() != engine::errc::internal)
        log->warn("statements merchant={} pass failed: {}", m.id, pass.error().message());
    }
  }
}

void shard_services::hand_supplier_callback(std::string number, engine::supplier_callback cb) {
  if (registry_->ownership.drives(number)) {
    links_.deliver_supplier_callback(std::move(number), std::move(cb));
    return;
  }
  // Another instance drives it (it accepted it, or took it over): relayed through Redis.
  asio::co_spawn(io_, relay_supplier_callback(std::move(number), std::move(cb)),
                 [](std::exception_ptr e) {
                   if (e) logger("engine")->error("supplier callback relay ended by exception");
                 });
}

asio::awaitable<void> shard_services::relay_supplier_callback(std::string number,
                                                              engine::supplier_callback cb) {
  auto log = logger("engine");
  auto driver = co_await engine::driver_of(redis_, cfg_->redis.prefix, number);
  if (!driver) {
    log->warn("supplier callback order={} not relayed (storage); its driver will ask the supplier",
              number);
    co_return;
  }
  if (*driver == cfg_->server.instance_id) {  // ours after all (a claim not yet seen here)
    links_.deliver_supplier_callback(std::move(number), std::move(cb));
    co_return;
  }
  engine::relayed_callback relay{number, std::move(cb)};
  auto relayed = co_await engine::relay_to(redis_, cfg_->redis.prefix, *driver, std::move(relay));
  if (!relayed)
    log->warn("supplier callback order={} not relayed to instance={}: {}; its driver will ask "
              "the supplier",
              number, *driver, relayed.error().message());
}

asio::awaitable<void> shard_services::inbox_loop() {
  while (!stopping_) {
    inbox_timer_.expires_after(k_inbox_poll);
    co_await inbox_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (stopping_) break;
    auto taken = co_await engine::take_relays(redis_, cfg_->redis.prefix, cfg_->server.instance_id,
                                              k_inbox_batch);
    if (!taken) continue;
    for (auto& r : *taken)
      links_.deliver_supplier_callback(std::move(r.order_number), std::move(r.callback));
  }
}

void shard_services::recover_soon() {
  recovery_asked_ = true;
  recovery_timer_.cancel();
}

asio::awaitable<void> shard_services::figures_loop() {
  while (!stopping_) {
    registry_->history.record(engine::collect_figures(registry_->metrics, engine::wall_clock_ms()));
    figures_timer_.expires_after(k_figures_interval);
    co_await figures_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

asio::awaitable<void> shard_services::backlog_loop() {
  while (!stopping_) {
    // Redis down: the gauges keep their last figures until a sample succeeds.
    const std::int64_t now_ms = engine::system_clock().wall_ms();
    const auto failed = co_await backlog_.sample(now_ms);
    (void)failed;
    backlog_timer_.expires_after(engine::backlog_sampler::k_interval);
    co_await backlog_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

asio::awaitable<bool> shard_services::refresh_blacklist() {
  auto version = co_await store_.blacklist_version();
  if (!version) co_return false;
  if (!blacklist_.stale(*version)) co_return true;
  auto read = co_await store_.blacklist();
  if (!read) co_return false;
  blacklist_.replace(read->version, read->mobiles);
  co_return true;
}

asio::awaitable<void> shard_services::refresh_channel_switches() {
  auto disabled = co_await store_.disabled_channels();
  if (!disabled) co_return;  // the last copy holds until Redis answers
  for (const auto& c : cfg_->channels) {
    const bool enabled = std::find(disabled->begin(), disabled->end(), c.id) == disabled->end();
    if (catalogue_.enabled(c.id) == enabled) continue;
    logger("engine")->info("channel={} {} (switched on another instance)", c.id,
                           enabled ? "enabled" : "disabled");
    links_.set_enabled_everywhere(c.id, enabled);
  }
}

asio::awaitable<void> shard_services::blacklist_loop() {
  while (!stopping_) {
    // A failed read keeps the last copy (Redis down refuses new orders anyway: 5000).
    co_await refresh_blacklist();
    // Channel switches made on other instances reach this one within a poll (shard 0 reads
    // them for every shard of the instance).
    if (shard_ == 0) co_await refresh_channel_switches();
    blacklist_timer_.expires_after(k_blacklist_poll);
    co_await blacklist_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

asio::awaitable<void> shard_services::load_disabled_channels() {
  auto log = logger("engine");
  engine::timer pause(io_);
  while (!stopping_) {
    auto disabled = co_await store_.disabled_channels();
    if (disabled) {
      for (const auto& id : *disabled) {
        if (catalogue_.set_enabled(id, false))
          log->info("shard={} channel={} stays disabled (admin API, stored)", shard_, id);
      }
      co_return;
    }
    pause.expires_after(std::chrono::milliseconds(200));  // Redis not reachable yet
    co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

asio::awaitable<void> shard_services::recovery_loop() {
  auto log = logger("engine");
  // Routing (new orders and recovered ones) must know which channels an operator disabled.
  co_await load_disabled_channels();
  // Nor may an order reach the accept before the blacklist was read once (risk control).
  for (engine::timer pause(io_); !stopping_;) {
    const bool read = co_await refresh_blacklist();
    if (read) break;
    pause.expires_after(std::chrono::milliseconds(200));
    co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  orders_.set_intake_open(true);
  for (bool first = true; !stopping_;) {
    // At start-up: crash recovery. Later: only after an accept whose outcome Redis did not
    // confirm (its order may exist with nobody driving it).
    const bool asked = std::exchange(recovery_asked_, false);
    if (first || orders_.take_uncertain_accept() || asked) {
      const unsigned shard_count = registry_->runtime.size();
      auto stats = co_await engine::recover_orders(
          *cfg_, store_, shard_, shard_count,
          [this](const engine::order_record& order) { dispatcher_.adopt(order); },
          [this] { return stopping_; },
          [this](const std::string& number) { return dispatcher_.driving(number); },
          engine::system_clock(),
          [this, shard_count](std::string_view number) {
            return registry_->ownership.drives(number, shard_, shard_count);
          });
      if (!stats) {
        if (stats.error() != engine::errc::shutting_down)
          log->error("shard={} recovery failed: {}", shard_, stats.error().message());
      } else if (stats->loaded > 0) {
        log->info("shard={} {} orders={} refunded={} resumed={}", shard_,
                  first ? "recovered" : asked ? "took over" : "adopted orphaned", stats->loaded,
                  stats->refunded, stats->resumed);
      }
      first = false;
    }
    recovery_timer_.expires_after(k_orphan_sweep_interval);
    co_await recovery_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

asio::awaitable<protocol::http_response> shard_services::handle_request(
    protocol::http_request request) {
  auto in_gate = requests_.enter();
  co_return co_await router_.handle(std::move(request));
}

void shard_services::begin_shutdown() {
  stopping_ = true;
  requests_.close();
  recovery_timer_.cancel();
  blacklist_timer_.cancel();
  retention_timer_.cancel();
  statements_timer_.cancel();
  figures_timer_.cancel();
  inbox_timer_.cancel();
  backlog_timer_.cancel();
  archiver_.stop();
  trimmer_.stop();
  statement_maker_.stop();
  file_work_.close();
  http_.shutdown();
  if (metrics_http_) metrics_http_->shutdown();
  dispatcher_.begin_shutdown();
  scheduler_.begin_shutdown();
  // Submits still waiting for a supplier end now as unknown; the dispatcher persists 7->1 and
  // the next start asks the supplier (never re-sends), exactly as after a crash.
  router_channels_.close_all();
  callback_sender_.close();
}

asio::awaitable<bool> shard_services::drained(std::chrono::steady_clock::time_point deadline) {
  // An accept still being answered is an order service step (order_service::inflight) inside a
  // request; a submit waiting for its supplier ends as unknown (close_all above) and its
  // coroutine persists 7->1 before leaving. Metrics scrapes change nothing: not waited for.
  std::vector<engine::shutdown_gate*> gates{&requests_, &dispatcher_.coroutines(),
                                            &scheduler_.deliveries(), &file_work_};
  return engine::all_drained(std::move(gates), deadline);
}

void shard_services::finish_shutdown() {
  http_.shutdown();
  if (metrics_http_) metrics_http_->shutdown();
  dispatcher_.begin_shutdown();
  scheduler_.begin_shutdown();
  router_channels_.close_all();
  callback_sender_.close();
  // Passes stop between steps (drained() waited for them); a file step still running past the
  // deadline finishes here. What a pass did not do, the next start does.
  if (files_) files_->join();
  redis_.stop();
}

}  // namespace topup::app
