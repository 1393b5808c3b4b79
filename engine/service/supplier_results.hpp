#pragma once
// A supplier's word about an attempt, checked against the order before anything acts on it.
#include <boost/asio/awaitable.hpp>

#include <functional>
#include <string>

#include "engine/routing/channel_adapter.hpp"
#include "engine/store/order_log.hpp"

namespace topup::engine {

/// What became of a supplier callback. Only `taken` is answered "success": the supplier calls
/// again after any other answer, which is what a storage outage needs, and harmless otherwise.
enum class supplier_receipt {
  taken,                ///< handed to the shard that drives the order
  malformed_attempt,    ///< the attempt id names no order ("<order_number>-<attempt>")
  unknown_order,        ///< no such order, or it could not be read (Redis down): ask again later
  wrong_channel,        ///< the attempt is held by another channel, or by none (spec §6)
};

/// class supplier_results — the engine's step for a supplier callback that the channel's adapter
/// has already parsed and verified (its signature): finds the order the attempt id names, checks
/// that the channel it came in on holds that attempt, and hands it to the driving shard, whose
/// dispatcher checks again against the order as it drives it (an older attempt, an intermediate
/// status) before settling on it.
class supplier_results {
 public:
  /// Hands a checked callback to the shard that owns the order (app/shard_links).
  using hand_over = std::function<void(std::string order_number, supplier_callback callback)>;

  supplier_results(order_log& log, hand_over deliver);

  boost::asio::awaitable<supplier_receipt> receive(std::string channel_id,
                                                   supplier_callback callback);

 private:
  order_log& log_;
  hand_over deliver_;
};

}  // namespace topup::engine
