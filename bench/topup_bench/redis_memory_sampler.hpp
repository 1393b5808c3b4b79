#pragma once
// The soak scenario's view of Redis: how much memory it uses while orders flow through topupd
// and retention takes the final ones out again (bench/README.md, "soak").
#include <boost/json/object.hpp>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace topup::bench {

/// One reading of the server.
struct redis_memory_sample {
  double t_s = 0;                 ///< since start()
  std::int64_t used_memory = 0;   ///< INFO memory's used_memory, bytes
  std::int64_t orders = 0;        ///< orders held: ZCARD of every merchant's time index `t`
  std::int64_t log_entries = 0;   ///< XLEN of every merchant's log stream
};

/// Reads a redis-server once a second on a thread and connection of its own (hiredis, blocking:
/// a few commands a second, pipelined, so it costs the server next to nothing) from start() to
/// stop(); stop() then adds what each key type of the merchants holds (MEMORY USAGE, exact), so a
/// report can say which part still grows. Not tied to any shard: a bench-side observer.
class redis_memory_sampler {
 public:
  /// Connects (throws std::runtime_error if it cannot). `prefix` is topupd's `redis.prefix`;
  /// keys are `<prefix>:{m<id>}:<kind>` (engine::merchant_keys).
  redis_memory_sampler(std::uint16_t redis_port, std::string prefix,
                       std::vector<std::int64_t> merchant_ids);
  ~redis_memory_sampler();
  redis_memory_sampler(const redis_memory_sampler&) = delete;
  redis_memory_sampler& operator=(const redis_memory_sampler&) = delete;

  /// Starts sampling, the first at once.
  void start();
  /// Stops sampling, reads the key-type split and returns everything as JSON:
  /// {"interval_s", "t_s": [...], "used_memory": [...], "orders": [...], "log_entries": [...],
  ///  "split": {"log": bytes, "o": bytes, ...}, "failed_samples"}.
  boost::json::object stop();

 private:
  struct connection;
  void sample_loop();

  std::string prefix_;
  std::vector<std::int64_t> merchant_ids_;
  std::vector<redis_memory_sample> samples_;  // written by the thread, read after join
  std::uint64_t failed_samples_ = 0;
  std::unique_ptr<connection> conn_;  // used by the thread while it runs, then by stop()
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // under mutex_
  std::int64_t start_ns_ = 0;
  std::thread thread_;
};

}  // namespace topup::bench
