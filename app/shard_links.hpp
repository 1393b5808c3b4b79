#pragma once
// How one shard's services reach the other shards.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "engine/routing/channel_adapter.hpp"
#include "engine/service/callback_kicker.hpp"
#include "engine/service/channel_switchboard.hpp"
#include "engine/service/order_settler.hpp"

namespace topup::app {

struct shard_registry;

/// The engine's cross-shard seams, implemented by posting to the shard concerned
/// (shard_runtime::invoke_on): an order's owner is the shard in its number; a channel switch goes
/// to every shard. One per shard, called on that shard's thread; what it posts runs on the other
/// shard's thread, which may be this one. A shard gone (shutting down) is skipped: what it would
/// have done is in Redis, and the next start picks it up.
class shard_links final : public engine::callback_kicker,
                          public engine::channel_switchboard,
                          public engine::order_settler {
 public:
  explicit shard_links(std::shared_ptr<shard_registry> registry);

  /// The owner's callback scheduler delivers the order's callback now.
  void kick(std::string order_number, std::int64_t merchant_id) override;
  /// Every shard's channel catalogue enables or disables the channel.
  void set_enabled_everywhere(std::string channel_id, bool enabled) override;
  /// The owner's dispatcher applies a supplier callback (checked by the channel's adapter).
  void deliver_supplier_callback(std::string order_number, engine::supplier_callback callback);
  /// The owner's dispatcher settles the order (order_dispatcher::settle); the answer comes back
  /// to the calling shard. A shard gone or going (shutting down) answers shutting_down.
  boost::asio::awaitable<boost::system::result<engine::settle_outcome>> settle_on_owner(
      std::string order_number, engine::manual_settlement s) override;

 private:
  /// The shard that owns `order_number`; nullopt for a number that does not parse.
  std::optional<unsigned> owner_of(const std::string& order_number) const;

  std::shared_ptr<shard_registry> registry_;
};

}  // namespace topup::app
