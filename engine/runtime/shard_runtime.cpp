#include "engine/runtime/shard_runtime.hpp"

#include <pthread.h>
#include <signal.h>

#include <string>

#include "engine/support/log.hpp"

namespace topup::engine {
namespace {
thread_local std::optional<unsigned> this_shard;
}

shard_runtime::shard_runtime(unsigned shard_count) {
  TOPUP_ASSERT(shard_count > 0);
  for (unsigned i = 0; i < shard_count; ++i) {
    auto s = std::make_unique<shard>();
    s->guard.emplace(s->io.get_executor());
    shards_.push_back(std::move(s));
  }
}

shard_runtime::~shard_runtime() {
  stop();
  join();
}

std::optional<unsigned> shard_runtime::current_shard() noexcept { return this_shard; }

void shard_runtime::start() {
  // Shard threads never take process signals: the main thread owns them (graceful shutdown).
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &previous);
  for (unsigned i = 0; i < shards_.size(); ++i) {
    shard* s = shards_[i].get();
    s->thread = std::thread([s, i] {
      this_shard = i;
      pthread_setname_np(pthread_self(), ("topupd-shard" + std::to_string(i)).substr(0, 15).c_str());
      for (;;) {
        try {
          s->io.run();
          break;
        } catch (const std::exception& e) {
          // Exceptions are bugs (STYLE.md); coroutine sessions catch their own, so reaching here
          // means a handler escaped. Log and keep the shard serving.
          logger("engine")->error("shard={} unhandled exception: {}", i, e.what());
        }
      }
    });
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

void shard_runtime::release() {
  for (auto& s : shards_) boost::asio::post(s->io, [s = s.get()] { s->guard.reset(); });
}

void shard_runtime::stop() {
  for (auto& s : shards_) s->io.stop();
}

void shard_runtime::join() {
  for (auto& s : shards_)
    if (s->thread.joinable()) s->thread.join();
}

void shard_runtime::destroy_pending_handlers() {
  for (auto& s : shards_) {
    TOPUP_ASSERT(!s->thread.joinable());  // no thread may run a handler meanwhile
    s->io.destroy_handlers();
  }
}

unsigned resolve_shard_count(unsigned configured) noexcept {
  if (configured > 0) return configured;
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

}  // namespace topup::engine
