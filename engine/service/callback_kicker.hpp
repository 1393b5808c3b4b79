#pragma once
// The services' way to have an order's merchant callback delivered now.
#include <cstdint>
#include <string>

namespace topup::engine {

/// Asks the shard that owns an order (the shard in its number) to deliver the order's merchant
/// callback now rather than at the scheduler's next scan. A request may land on any shard, so
/// the composition root implements this by posting to the owner (app/shard_links); a kick is a
/// hint, never the record: the due time is already in Redis, and the scan delivers it anyway.
class callback_kicker {
 public:
  virtual ~callback_kicker() = default;
  virtual void kick(std::string order_number, std::int64_t merchant_id) = 0;
};

}  // namespace topup::engine
