#include "engine/dispatch/order_recovery.hpp"

#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <string>
#include <vector>

#include "engine/support/assert.hpp"
#include "engine/support/clock.hpp"
#include "engine/support/errc.hpp"
#include "engine/support/log.hpp"
#include "engine/support/timer.hpp"
#include "engine/order/order_number.hpp"

namespace topup::engine {

bool owns_order(std::string_view order_number, std::uint32_t instance_id, unsigned shard,
                unsigned shard_count) {
  auto parts = parse_order_number(order_number);
  return parts && parts->instance == instance_id && parts->shard % shard_count == shard;
}

namespace {

/// Redis not reachable now, or a read's answer lost: worth reading again after a pause.
bool read_again_later(boost::system::error_code ec) {
  return ec == errc::storage_unavailable || ec == errc::outcome_unknown;
}

/// The numbers of a page whose records recovery reads: this shard's, not being driven already.
std::vector<std::string> numbers_to_load(const std::vector<std::string>& page,
                                         const std::function<bool(std::string_view)>& owns,
                                         const std::function<bool(const std::string&)>& driven) {
  std::vector<std::string> out;
  out.reserve(page.size());
  for (const auto& number : page) {
    if (!owns(number)) continue;
    if (driven && driven(number)) continue;
    out.push_back(number);
  }
  return out;
}

}  // namespace

boost::asio::awaitable<boost::system::result<recovery_stats>> recover_orders(
    const config& cfg, order_log& store, unsigned shard, unsigned shard_count,
    std::function<void(const order_record&)> resume, std::function<bool()> stopping,
    std::function<bool(const std::string&)> already_driven, const engine::clock& clock,
    std::function<bool(std::string_view)> owns) {
  auto log = logger("engine");
  if (!owns)
    owns = [instance = cfg.server.instance_id, shard, shard_count](std::string_view number) {
      return owns_order(number, instance, shard, shard_count);
    };
  recovery_stats stats;
  timer pause(co_await boost::asio::this_coro::executor);  // the clock seam (simulated time)
  for (const auto& merchant : cfg.merchants) {
    active_cursor cursor;  // advances only once a page is done: a retry reads the same page
    for (;;) {
      if (stopping && stopping()) co_return errc::shutting_down;
      auto page = co_await store.active_orders(merchant.id, cursor, k_recovery_page_orders);
      boost::system::error_code failed_read;
      if (!page) {
        failed_read = page.error();
      } else {
        const std::vector<std::string> numbers =
            numbers_to_load(page->numbers, owns, already_driven);
        std::vector<std::string> asked = numbers;
        auto loaded = co_await store.get_many(merchant.id, std::move(asked));
        if (!loaded) {
          failed_read = loaded.error();
        } else {
          TOPUP_ASSERT(loaded->size() == numbers.size());
          for (std::size_t i = 0; i < numbers.size(); ++i) {
            auto& order = (*loaded)[i];
            if (!order) {
              log->error("shard={} order={} recovery: cannot load: {}", shard, numbers[i],
                         order.error().message());
              continue;
            }
            if (is_terminal(order->status)) continue;  // finished since the page was read
            ++stats.loaded;
            if (order->status == order_status::failed) {
              auto refunded = co_await store.fail_refund(*order, order->reason, clock.wall_ms());
              if (refunded) ++stats.refunded;
              else
                log->error("shard={} order={} recovery: refund failed: {}", shard, numbers[i],
                           refunded.error().message());
              continue;
            }
            ++stats.resumed;
            if (resume) resume(*order);
          }
          if (page->end) break;
          cursor = page->next;
          continue;
        }
      }
      if (!read_again_later(failed_read)) co_return failed_read;
      if (stopping && stopping()) co_return errc::shutting_down;
      // Redis is not reachable yet: read this page again shortly rather than forget its orders.
      pause.expires_after(std::chrono::milliseconds(500));
      co_await pause.async_wait(boost::asio::use_awaitable);
    }
  }
  co_return stats;
}

}  // namespace topup::engine
