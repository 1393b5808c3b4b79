#pragma once
// The services' way to have an operator's settlement applied by the shard that drives the order.
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include <string>

#include "engine/dispatch/exception_rules.hpp"

namespace topup::engine {

/// Applies a settlement on the shard that owns the order (the shard in its number), where its
/// dispatcher drives it (order_dispatcher::settle), and answers on the caller's shard. A request
/// may land on any shard, so the composition root implements this by posting there and back
/// (app/shard_links).
class order_settler {
 public:
  virtual ~order_settler() = default;
  /// Errors: order_not_found (also for a malformed number), shutting_down, storage's.
  virtual boost::asio::awaitable<boost::system::result<settle_outcome>> settle_on_owner(
      std::string order_number, manual_settlement s) = 0;
};

}  // namespace topup::engine
