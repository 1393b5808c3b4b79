// Composition root: the only place that sees protocol, engine and channels together. Builds
// each shard's objects on that shard's own thread and tears them down there. The main thread
// runs its own reactor: the signals and the instance's lease (engine/store/lease) on a Redis connection
// of its own.
#include "app/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <exception>
#include <functional>
#include <future>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/redis_options.hpp"
#include "app/shard_services.hpp"
#include "app/takeover_watch.hpp"
#include "engine/support/errc.hpp"
#include "engine/store/fence.hpp"
#include "engine/store/lease.hpp"
#include "engine/support/log.hpp"
#include "engine/redis/connection.hpp"
#include "engine/runtime/shard_runtime.hpp"

namespace topup::app {

namespace asio = boost::asio;

namespace {

/// How long a shard's stop waits for its requests, order steps and deliveries (DECISIONS.md).
constexpr std::chrono::seconds k_drain_timeout{15};

void warn_still_busy(unsigned shard) {
  logger("engine")->warn("shard={} still busy after {} s: stopping anyway (the next start resumes "
                         "its orders from Redis)",
                         shard, k_drain_timeout.count());
}

/// Per-shard graceful stop: stop accepting, wait on the shard's gates (bounded) for requests
/// being handled, order steps to reach a persisted state and deliveries to be recorded, then
/// close the shard's connections.
asio::awaitable<void> drain_shard(shard_services* services, unsigned shard) {
  services->begin_shutdown();
  const auto deadline = std::chrono::steady_clock::now() + k_drain_timeout;
  const bool drained = co_await services->drained(deadline);
  if (!drained) warn_still_busy(shard);
  services->finish_shutdown();
}

/// On the main thread once every shard drained: releases the lease (so that the next start
/// takes it at once) and closes the lease's connection.
asio::awaitable<void> release_lease(engine::lease_keeper* keeper,
                                    engine::redis::connection* conn) {
  const bool lapsed = keeper->lapsed();
  auto released = co_await keeper->release();
  if (!released && !lapsed)
    logger("engine")->warn("lease not released ({}): the next start waits for it to expire",
                           released.error().message());
  conn->stop();
}

/// What start-up found in Redis: the lease, or why this topupd may not run.
struct ownership {
  bool owned = false;
  int exit_code = 0;    // when not owned: 0 stopped by a signal, else refused
  std::string problem;  // when refused: the one line for stderr
  engine::lease_acquisition lease;
};

/// Before any shard touches Redis: the layout version, the instance's lease and the merchants'
/// fences (docs/STORAGE.md). Redis unreachable is waited out, as a running instance waits;
/// everything else that prevents owning the instance is one line and exit 1.
asio::awaitable<ownership> take_ownership(engine::redis::connection& conn,
                                          const engine::config& cfg, engine::lease_holder self,
                                          std::function<bool()> stopping) {
  auto log = logger("engine");
  const engine::lease_spec spec{cfg.redis.prefix, cfg.server.instance_id,
                                std::chrono::milliseconds(cfg.server.lease_ms)};
  const std::string instance = std::to_string(cfg.server.instance_id);
  std::vector<std::int64_t> merchant_ids;
  for (const auto& m : cfg.merchants) merchant_ids.push_back(m.id);
  const auto refused = [&](std::string line) { return ownership{false, 1, std::move(line), {}}; };

  asio::steady_timer pause(co_await asio::this_coro::executor);
  bool reported = false;
  while (!stopping()) {
    boost::system::error_code failed;
    auto layout = co_await engine::claim_layout(conn, cfg.redis.prefix);
    if (layout.error == engine::errc::layout_mismatch) {
      const bool plain = !layout.held.empty() && layout.held.size() <= 16 &&
                         std::all_of(layout.held.begin(), layout.held.end(),
                                     [](char c) { return c >= '0' && c <= '9'; });
      co_return refused("topupd: redis " + redis_address(cfg) + " holds storage layout v" +
                        (plain ? layout.held : engine::quote_for_message(layout.held)) +
                        "; this topupd writes layout v" + std::string(engine::k_layout_version));
    }
    failed = layout.error;
    if (!failed) {
      auto lease = co_await engine::acquire_lease(conn, spec, self, stopping);
      if (lease && !lease->acquired) {
        // A token topupd wrote is printable ASCII, shown as is; anything else is quoted, so
        // that the refusal stays one line.
        const auto& token = lease->other_token;
        const bool plain_token =
            !token.empty() && token.size() <= 512 &&
            std::all_of(token.begin(), token.end(), [](char c) { return c >= ' ' && c <= '~'; });
        const std::string holder = plain_token ? token : engine::quote_for_message(token);
        co_return refused("topupd: instance_id " + instance +
                          " is held by another running topupd (" + holder + ") on redis " +
                          redis_address(cfg));
      }
      if (lease) {
        auto fenced = co_await engine::write_fences(
            conn, cfg.redis.prefix, engine::fence_token{instance, lease->epoch}, merchant_ids);
        if (fenced) co_return ownership{true, 0, {}, std::move(*lease)};
        if (fenced.error() == engine::errc::fenced)
          co_return refused("topupd: instance_id " + instance +
                            " was taken over by a newer topupd while this one started, on redis " +
                            redis_address(cfg));
        failed = fenced.error();
      } else {
        failed = lease.error();
      }
    }
    if (failed == engine::errc::shutting_down) break;
    if (failed == engine::errc::storage_protocol)
      co_return refused("topupd: cannot take the lease of instance_id " + instance + " on redis " +
                        redis_address(cfg) +
                        ": Redis answered something unexpected (see the log line above)");
    // Unreachable or lost answers: a later attempt is safe (it finds its own lease token).
    if (!reported)
      log->warn("instance={} waiting for redis {} to take the instance lease: {}", instance,
                redis_address(cfg), failed.message());
    reported = true;
    pause.expires_after(std::chrono::milliseconds(200));
    co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  co_return ownership{};
}

/// Runs `work` on the main thread's io_context until it completes; the io_context's other work
/// (signals) runs meanwhile.
template <class T>
T run_to_end(asio::io_context& io, asio::awaitable<T> work) {
  std::optional<T> out;
  asio::co_spawn(io, std::move(work), [&out](std::exception_ptr e, T value) {
    if (e) std::rethrow_exception(e);  // a bug
    out.emplace(std::move(value));
  });
  while (!out && io.run_one() > 0) {
  }
  return std::move(*out);
}

/// run_to_end for work with no value.
void run_to_end(asio::io_context& io, asio::awaitable<void> work) {
  bool done = false;
  asio::co_spawn(io, std::move(work), [&done](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);  // a bug
    done = true;
  });
  while (!done && io.run_one() > 0) {
  }
}

const char* source_name(engine::lease_source s) {
  switch (s) {
    case engine::lease_source::free:
      return "free";
    case engine::lease_source::crashed_holder:
      return "taken over from a crashed process";
    case engine::lease_source::expired:
      return "taken after it expired";
  }
  return "?";
}

}  // namespace

int run_server(engine::config cfg, std::optional<protocol::server_tls_credentials> tls) {
  auto log = logger("engine");
  const auto shared_cfg = std::make_shared<const engine::config>(std::move(cfg));
  const engine::config& config = *shared_cfg;
  // The main thread's reactor (signals, the lease), declared first so that it outlives every
  // shard: a shard may post to it until the shard threads are joined.
  asio::io_context main_io{1};
  // The instance's write permission. Its epoch is set below, on this thread, before the shards'
  // Redis connections start (after_all_started); from then on the shards only read it.
  engine::fence_token fence{std::to_string(config.server.instance_id), 0};
  engine::shard_runtime runtime(engine::resolve_shard_count(config.server.threads));
  std::vector<std::unique_ptr<shard_services>> shards(runtime.size());
  auto registry = std::make_shared<shard_registry>(runtime, shards, config);

  // How the server stops: once, for the first of a signal (exit 0), the lease lapsing or a write
  // refused as fenced (exit 1). Main thread only.
  bool stop_begun = false;
  int exit_code = 0;
  std::function<void(int, std::string)> request_stop;
  registry->stop_instance = [&main_io, &request_stop](std::string why) {
    asio::post(main_io, [&request_stop, why = std::move(why)] { request_stop(1, why); });
  };

  // Build each shard's objects on its own thread; report a bind failure as one line.
  std::vector<std::promise<std::string>> built(runtime.size());
  runtime.start();
  for (unsigned i = 0; i < runtime.size(); ++i) {
    runtime.invoke_on(i, [&, i] {
      try {
        shards[i] = std::make_unique<shard_services>(runtime.context(i), i, shared_cfg, registry,
                                                     fence, tls ? &*tls : nullptr);
        built[i].set_value(shards[i]->start());
      } catch (const std::exception& e) {
        built[i].set_value(std::string("shard ") + std::to_string(i) + ": " + e.what());
      }
    });
  }
  // Once no shard thread runs: the handlers still queued or pending on the shards' io_contexts
  // are destroyed first — a coroutine frame among them may refer to a shard's objects (a
  // request's in-flight count, a gate, a connection) and would otherwise be destroyed later,
  // with the runtime, into freed memory — and only then the shards' objects.
  const auto destroy_shards = [&] {
    runtime.destroy_pending_handlers();
    shards.clear();
  };
  // Closes the shards that were built but never started (no Redis, no recovery).
  const auto abandon_shards = [&] {
    std::vector<std::promise<void>> closed(runtime.size());
    for (unsigned i = 0; i < runtime.size(); ++i)
      runtime.invoke_on(i, [&, i] {
        if (shards[i]) shards[i]->finish_shutdown();
        closed[i].set_value();
      });
    for (auto& d : closed) d.get_future().wait();
    runtime.stop();
    runtime.join();
    destroy_shards();
  };
  std::string failure;
  for (auto& b : built) {
    auto err = b.get_future().get();
    if (failure.empty() && !err.empty()) failure = err;
  }
  if (!failure.empty()) {
    std::cerr << failure << "\n";
    abandon_shards();
    return 1;
  }

  // The main thread owns the signals; shard threads have them blocked.
  asio::signal_set signals(main_io, SIGINT, SIGTERM);
  int caught = 0;
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    caught = sig;
    if (request_stop) request_stop(0, "signal " + std::to_string(sig) + " received");
  });

  // Own the instance before any shard writes or recovers: the lease, then the fences.
  auto lease_options = redis_options(config);
  lease_options.log_connected = false;  // a refusal below must be the one line printed
  engine::redis::connection lease_redis(main_io, lease_options);
  lease_redis.start();
  const auto self = engine::lease_holder::this_process();
  const engine::lease_spec spec{config.redis.prefix, config.server.instance_id,
                                std::chrono::milliseconds(config.server.lease_ms)};
  auto owned = run_to_end(
      main_io, take_ownership(lease_redis, config, self, [&caught] { return caught != 0; }));
  if (owned.owned && caught != 0) {
    // Stopped just as the lease was taken: give it back so the next start need not wait.
    (void)run_to_end(main_io, engine::release_lease(lease_redis, spec.lease_key(), self.token()));
    owned = ownership{};
  }
  if (!owned.owned) {
    if (!owned.problem.empty()) std::cerr << owned.problem << "\n";
    lease_redis.stop();
    abandon_shards();
    return owned.exit_code;
  }
  fence.epoch = owned.lease.epoch;

  engine::lease_keeper keeper(main_io, lease_redis, spec.lease_key(), self.token(), spec.ttl,
                              owned.lease.renewed_at, [&request_stop](std::string_view why) {
                                request_stop(1, "lease lapsed: " + std::string(why));
                              });
  // Main thread only: shards whose drain ended; the last one lets the lease go.
  unsigned drained = 0;
  const auto shard_drained = [&] {
    if (++drained < runtime.size()) return;
    asio::co_spawn(main_io, release_lease(&keeper, &lease_redis), asio::detached);
  };
  // Set once the takeover watch exists (below); a stop before that has nothing to stop.
  std::function<void()> takeovers_stop = [] {};
  request_stop = [&](int code, std::string why) {
    if (code != 0 && exit_code == 0) {  // logged once, however many writes are refused
      // Every shard stops driving orders now (drain below); what it still writes is refused by
      // the fences once another run holds the lease.
      log->error("instance={} epoch={} {}: this topupd stops driving orders and exits {}",
                 fence.instance, fence.epoch, why, code);
      exit_code = code;
    }
    if (stop_begun) return;
    stop_begun = true;
    takeovers_stop();
    if (code == 0) log->info("{}: draining", why);
    signals.cancel();
    // The lease keeps being renewed while the shards drain (their last writes need it); each
    // shard reports to this thread when done, and the last report lets the lease go.
    for (unsigned i = 0; i < runtime.size(); ++i)
      asio::co_spawn(runtime.context(i), drain_shard(shards[i].get(), i),
                     [&main_io, &shard_drained, i](std::exception_ptr e) {
                       if (e) logger("engine")->error("shard={} drain ended by exception", i);
                       asio::post(main_io, shard_drained);
                     });
  };
  keeper.publish_to(&registry->metrics.instance().lease_held);
  keeper.start();
  // Dead instances' orders taken over, and ours skipped while another instance drives them:
  // the first round before any shard recovers.
  takeover_watch takeovers(
      main_io, lease_redis, config, registry->ownership, self.token(),
      [&] {
        for (unsigned i = 0; i < runtime.size(); ++i)
          runtime.invoke_on(i, [&shards, i] {
            if (shards[i]) shards[i]->recover_soon();
          });
      },
      [&](unsigned live) {
        registry->live_instances.store(live, std::memory_order_relaxed);
        log->info("instance={} live instances={}: channel in-flight bounds and merchants' rate limits shared among them",
                  config.server.instance_id, live);
        for (unsigned i = 0; i < runtime.size(); ++i)
          runtime.invoke_on(i, [&shards, i, live] {
            if (shards[i]) shards[i]->channels().share_among_instances(live);
          });
      });
  takeovers_stop = [&takeovers] { takeovers.stop(); };
  run_to_end(main_io, takeovers.round());
  asio::co_spawn(main_io, takeovers.run(), asio::detached);

  log->info("topupd listening on {}:{} ({}) shards={} instance={} epoch={} lease={}",
            config.server.listen_host, config.server.listen_port, tls ? "TLS" : "plain HTTP",
            runtime.size(), config.server.instance_id, fence.epoch,
            source_name(owned.lease.source));
  for (unsigned i = 0; i < runtime.size(); ++i)
    runtime.invoke_on(i, [&, i] { shards[i]->after_all_started(); });

  // Until the stop above has drained every shard and released the lease.
  main_io.run();

  // Every I/O object is closed now; let each io_context run the aborted handlers to completion
  // with the services still alive (answers being written go out), then destroy what is left.
  runtime.release();
  auto joined = std::async(std::launch::async, [&] { runtime.join(); });
  if (joined.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    log->warn("shards did not wind down within 10s; stopping them");
    runtime.stop();
  }
  joined.wait();
  destroy_shards();
  log->info("topupd stopped");
  return exit_code;
}

}  // namespace topup::app
