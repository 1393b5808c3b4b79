// Composition root: the only place that sees protocol, engine and channels together. Builds
// each shard's objects on that shard's own thread and tears them down there.
#include "app/server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <future>
#include <iostream>
#include <memory>
#include <vector>

#include "app/shard_services.hpp"
#include "engine/log.hpp"
#include "engine/shard_runtime.hpp"

namespace topup::app {

namespace asio = boost::asio;

namespace {

/// Per-shard graceful stop: stop accepting, wait (bounded) for requests in flight to be
/// answered and order flows to reach a persisted state, then drop the shard's objects.
asio::awaitable<void> drain_shard(shard_services* services, std::promise<void>* done) {
  services->begin_shutdown();
  asio::steady_timer poll(co_await asio::this_coro::executor);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (!services->idle() && std::chrono::steady_clock::now() < deadline) {
    poll.expires_after(std::chrono::milliseconds(10));
    co_await poll.async_wait(asio::use_awaitable);
  }
  services->finish_shutdown();
  done->set_value();
}

}  // namespace

int run_server(engine::config cfg) {
  auto log = logger("engine");
  const auto shared_cfg = std::make_shared<const engine::config>(std::move(cfg));
  engine::shard_runtime runtime(engine::resolve_shard_count(shared_cfg->server.threads));
  std::vector<std::unique_ptr<shard_services>> shards(runtime.size());
  auto registry = std::make_shared<shard_registry>(runtime, shards, *shared_cfg);

  // Build each shard's objects on its own thread; report a bind failure as one line.
  std::vector<std::promise<std::string>> built(runtime.size());
  runtime.start();
  for (unsigned i = 0; i < runtime.size(); ++i) {
    runtime.invoke_on(i, [&, i] {
      try {
        shards[i] = std::make_unique<shard_services>(runtime.context(i), i, shared_cfg, registry);
        built[i].set_value(shards[i]->start());
      } catch (const std::exception& e) {
        built[i].set_value(std::string("shard ") + std::to_string(i) + ": " + e.what());
      }
    });
  }
  std::string failure;
  for (auto& b : built) {
    auto err = b.get_future().get();
    if (failure.empty() && !err.empty()) failure = err;
  }
  if (!failure.empty()) {
    std::cerr << failure << "\n";
    std::vector<std::promise<void>> closed(runtime.size());
    for (unsigned i = 0; i < runtime.size(); ++i)
      runtime.invoke_on(i, [&, i] {
        if (shards[i]) shards[i]->finish_shutdown();
        closed[i].set_value();
      });
    for (auto& d : closed) d.get_future().wait();
    runtime.stop();
    runtime.join();
    shards.clear();
    return 1;
  }
  log->info("topupd listening on {}:{} shards={} instance={}", shared_cfg->server.listen_host,
            shared_cfg->server.listen_port, runtime.size(), shared_cfg->server.instance_id);
  for (unsigned i = 0; i < runtime.size(); ++i)
    runtime.invoke_on(i, [&, i] { shards[i]->after_all_started(); });

  // The main thread owns the signals; shard threads have them blocked.
  asio::io_context main_io;
  asio::signal_set signals(main_io, SIGINT, SIGTERM);
  int caught = 0;
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (!ec) caught = sig;
  });
  main_io.run();
  log->info("signal {} received: draining", caught);

  std::vector<std::promise<void>> drained(runtime.size());
  for (unsigned i = 0; i < runtime.size(); ++i)
    asio::co_spawn(runtime.context(i), drain_shard(shards[i].get(), &drained[i]), asio::detached);
  for (auto& d : drained) d.get_future().wait();
  // Every I/O object is closed now; let each io_context run the aborted handlers to completion
  // with the services still alive, then destroy the services once no thread runs.
  runtime.release();
  auto joined = std::async(std::launch::async, [&] { runtime.join(); });
  if (joined.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    log->warn("shards did not wind down within 10s; stopping them");
    runtime.stop();
  }
  joined.wait();
  shards.clear();
  log->info("topupd stopped");
  return 0;
}

}  // namespace topup::app
