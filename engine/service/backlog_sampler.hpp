#pragma once
// The backlogs waiting in Redis, sampled for /metrics (issue 18, the monitoring kit).
#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>

#include "engine/config/config.hpp"
#include "engine/runtime/metrics.hpp"
#include "engine/service/exception_queue.hpp"
#include "engine/store/order_store.hpp"

namespace topup::engine {

/// class backlog_sampler — a periodic look at what waits in Redis, for instance_metrics' gauges:
/// callbacks owed and due (order_store::callbacks_owed) and the exception queue by kind
/// (exception_queue::count_by_kind: the listing's reads and rules). Run every k_interval by
/// shard 0 (app/shard_services), never per scrape, so its cost does not grow with how often
/// Prometheus asks; per merchant it is two ZCOUNTs, two ZRANGEs of at most 1000, one range of
/// `work` of at most 500 and one HMGET of the records those name. The figures are of the whole
/// Redis (every instance's orders of the configured merchants). A sample that fails (Redis
/// down) leaves the gauges as they were. Lives on shard 0's thread, the gauges' only writer.
class backlog_sampler {
 public:
  static constexpr std::chrono::seconds k_interval{15};

  backlog_sampler(order_store& store, const config& cfg, instance_metrics& gauges);

  /// One sample of every configured merchant at `now_ms`; the gauges change only when all of it
  /// was read. Answers the storage error that stopped it, or none.
  boost::asio::awaitable<boost::system::error_code> sample(std::int64_t now_ms);

 private:
  order_store& store_;
  const config& cfg_;
  exception_queue exceptions_;
  instance_metrics& gauges_;
};

}  // namespace topup::engine
