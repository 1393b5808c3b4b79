#include "engine/dispatch/order_recovery.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "engine/support/clock.hpp"
#include "engine/support/errc.hpp"
#include "engine/support/log.hpp"
#include "engine/order/order_number.hpp"

namespace topup::engine {

bool owns_order(std::string_view order_number, std::uint32_t instance_id, unsigned shard,
                unsigned shard_count) {
  auto parts = parse_order_number(order_number);
  return parts && parts->instance == instance_id && parts->shard % shard_count == shard;
}

boost::asio::awaitable<boost::system::result<recovery_stats>> recover_orders(
    const config& cfg, order_log& store, unsigned shard, unsigned shard_count,
    std::function<void(const order_record&)> resume, std::function<bool()> stopping,
    std::function<bool(const std::string&)> already_driven) {
  auto log = logger("engine");
  recovery_stats stats;
  boost::asio::steady_timer pause(co_await boost::asio::this_coro::executor);
  for (const auto& merchant : cfg.merchants) {
    for (;;) {
      auto active = co_await store.active_orders(merchant.id);
      if (active) {
        for (const auto& number : *active) {
          if (!owns_order(number, cfg.server.instance_id, shard, shard_count)) continue;
          if (already_driven && already_driven(number)) continue;
          auto order = co_await store.get(merchant.id, number);
          if (!order) {
            log->error("shard={} order={} recovery: cannot load: {}", shard, number,
                       order.error().message());
            continue;
          }
          if (is_terminal(order->status)) continue;  // finished since the set was read
          ++stats.loaded;
          if (order->status == order_status::failed) {
            auto refunded = co_await store.fail_refund(*order, order->reason, wall_clock_ms());
            if (refunded) ++stats.refunded;
            else
              log->error("shard={} order={} recovery: refund failed: {}", shard, number,
                         refunded.error().message());
            continue;
          }
          ++stats.resumed;
          if (resume) resume(*order);
        }
        break;
      }
      if (active.error() != errc::storage_unavailable && active.error() != errc::outcome_unknown)
        co_return active.error();
      if (stopping()) co_return errc::shutting_down;
      // Redis is not reachable yet: try again shortly rather than forget these orders.
      pause.expires_after(std::chrono::milliseconds(500));
      co_await pause.async_wait(boost::asio::use_awaitable);
    }
  }
  co_return stats;
}

}  // namespace topup::engine
