#pragma once
// One single-threaded reactor per core (DESIGN.md "Runtime").
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "engine/support/assert.hpp"

namespace topup::engine {

/// Owns N shards, each an io_context{1} run by exactly one thread. Nothing mutable is shared
/// between shards; work crosses shards only through invoke_on(), a post to the owner's
/// io_context. Created on the main thread; start() spawns the shard threads, join() waits for
/// them to run out of work after release() drops the work guards.
class shard_runtime {
 public:
  explicit shard_runtime(unsigned shard_count);
  ~shard_runtime();
  shard_runtime(const shard_runtime&) = delete;
  shard_runtime& operator=(const shard_runtime&) = delete;

  unsigned size() const noexcept { return static_cast<unsigned>(shards_.size()); }
  boost::asio::io_context& context(unsigned shard) {
    TOPUP_ASSERT(shard < shards_.size());
    return shards_[shard]->io;
  }

  /// Runs fn on the shard's thread (always posted, never inline). Its queue is bounded by rate,
  /// not by a count, on purpose: the main thread posts a fixed few per shard (build, start,
  /// stop), and a shard posts one per request it handles about another shard's order or for every
  /// shard (a supplier callback, a re-notify, a channel enabled or disabled) — O(1) work on the
  /// receiving shard next to the HTTP parsing and signature check that produced it on the
  /// sending one, so the receiver keeps up. Refusing a post instead would silently drop an
  /// operator's command; a lost supplier callback would only be found later by query.
  template <class Fn>
  void invoke_on(unsigned shard, Fn&& fn) {
    boost::asio::post(context(shard), std::forward<Fn>(fn));
  }

  /// The shard whose thread is calling, or nullopt on any other thread.
  static std::optional<unsigned> current_shard() noexcept;

  void start();
  /// Lets each io_context return once it has no more work (graceful shutdown).
  void release();
  /// Stops every io_context now, abandoning pending work.
  void stop();
  void join();
  /// After join(): destroys every handler the io_contexts still hold — coroutines abandoned by
  /// stop() or waiting on an I/O object — while the objects they refer to are still alive. Call
  /// it before destroying anything whose coroutines ran on the shards (app/server.cpp): a frame
  /// destroyed later, with its io_context, would run destructors into freed objects. The
  /// io_contexts run nothing afterwards; I/O objects may still be destroyed.
  void destroy_pending_handlers();

 private:
  /// An io_context whose handlers can be destroyed before the context itself (the protected
  /// execution_context::shutdown, which ~execution_context runs again, harmlessly).
  struct reactor : boost::asio::io_context {
    using boost::asio::io_context::io_context;
    void destroy_handlers() { shutdown(); }
  };
  struct shard {
    reactor io{1};
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard;
    std::thread thread;
  };
  std::vector<std::unique_ptr<shard>> shards_;
};

/// server.threads resolved: 0 means one shard per core.
unsigned resolve_shard_count(unsigned configured) noexcept;

}  // namespace topup::engine
