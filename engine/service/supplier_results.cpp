#include "engine/service/supplier_results.hpp"

#include <utility>

#include "engine/order/order_number.hpp"
#include "engine/routing/channel_router.hpp"
#include "engine/support/log.hpp"

namespace topup::engine {

supplier_results::supplier_results(order_log& log, hand_over deliver)
    : log_(log), deliver_(std::move(deliver)) {}

boost::asio::awaitable<supplier_receipt> supplier_results::receive(std::string channel_id,
                                                                   supplier_callback callback) {
  // The attempt id is "<order_number>-<attempt>": the order number names merchant and shard.
  const auto dash = callback.attempt_id.rfind('-');
  if (dash == std::string::npos) co_return supplier_receipt::malformed_attempt;
  std::string order_number = callback.attempt_id.substr(0, dash);
  const auto parts = parse_order_number(order_number);
  if (!parts) co_return supplier_receipt::malformed_attempt;
  auto order = co_await log_.get(parts->merchant_id, order_number);
  // Unknown order, or storage down: refused, so the supplier calls again later.
  if (!order) co_return supplier_receipt::unknown_order;
  // A result counts only from the channel that holds the attempt (spec §6): a callback on
  // /notify/B about an attempt placed at A is refused, whatever B's signature says.
  const std::string holder = attempt_channel(*order, callback.attempt_id);
  if (holder != channel_id) {
    logger("engine")->warn(
        "supplier callback refused channel={} attempt={} reason=\"attempt held by {}\"",
        channel_id, callback.attempt_id, holder.empty() ? std::string("no channel") : holder);
    co_return supplier_receipt::wrong_channel;
  }
  callback.channel_id = std::move(channel_id);
  deliver_(std::move(order_number), std::move(callback));
  co_return supplier_receipt::taken;
}

}  // namespace topup::engine
