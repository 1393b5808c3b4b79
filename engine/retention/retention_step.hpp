#pragma once
// What shard 0's retention steps share (order_archiver, log_trimmer, statement_maker): the
// shard's Redis connection and order store, the key prefix, the instance's fence, the
// configuration, the clock, and the executor their blocking file work runs on; and the flag
// that stops their passes between steps at shutdown.
#include <boost/asio/any_io_executor.hpp>

#include <string>
#include <utility>

#include "engine/config/config.hpp"
#include "engine/redis/connection.hpp"
#include "engine/store/fence.hpp"
#include "engine/store/order_log.hpp"
#include "engine/support/clock.hpp"

namespace topup::engine {

/// The context of a retention step. References must outlive the step.
struct retention_context {
  redis::connection& conn;             // runs index reads and the fenced scripts
  order_log& store;                    // reads the orders' records
  std::string prefix;                  // redis.prefix
  const fence_token& fence;            // the instance's fence: every script is fenced
  const config& cfg;
  const engine::clock& time;           // the clock seam
  boost::asio::any_io_executor files;  // blocking file work (fsync), off the shard's reactor
};

/// The base of the retention steps: the context as members, and stop().
class retention_step {
 public:
  /// From now on passes stop before their next step: a page, a chunk, a day (shutdown).
  void stop() noexcept { stopping_ = true; }

 protected:
  explicit retention_step(retention_context ctx)
      : conn_(ctx.conn),
        store_(ctx.store),
        prefix_(std::move(ctx.prefix)),
        fence_(ctx.fence),
        cfg_(ctx.cfg),
        clock_(ctx.time),
        files_(std::move(ctx.files)) {}

  redis::connection& conn_;
  order_log& store_;
  std::string prefix_;
  const fence_token& fence_;
  const config& cfg_;
  const clock& clock_;
  boost::asio::any_io_executor files_;
  bool stopping_ = false;
};

}  // namespace topup::engine
