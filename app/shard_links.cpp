#include "app/shard_links.hpp"

#include "app/shard_services.hpp"
#include "engine/order/order_number.hpp"

namespace topup::app {

shard_links::shard_links(std::shared_ptr<shard_registry> registry)
    : registry_(std::move(registry)) {}

std::optional<unsigned> shard_links::owner_of(const std::string& order_number) const {
  auto parts = engine::parse_order_number(order_number);
  if (!parts) return std::nullopt;
  return parts->shard % registry_->runtime.size();
}

void shard_links::kick(std::string order_number, std::int64_t merchant_id) {
  const auto owner = owner_of(order_number);
  if (!owner) return;
  registry_->runtime.invoke_on(
      *owner, [reg = registry_, owner = *owner, number = std::move(order_number), merchant_id]() mutable {
        if (reg->shards[owner]) reg->shards[owner]->callbacks().kick(std::move(number), merchant_id);
      });
}

void shard_links::set_enabled_everywhere(std::string channel_id, bool enabled) {
  for (unsigned i = 0; i < registry_->runtime.size(); ++i)
    registry_->runtime.invoke_on(i, [reg = registry_, i, channel_id, enabled] {
      if (reg->shards[i]) reg->shards[i]->catalogue().set_enabled(channel_id, enabled);
    });
}

void shard_links::deliver_supplier_callback(std::string order_number,
                                            engine::supplier_callback callback) {
  const auto owner = owner_of(order_number);
  if (!owner) return;
  registry_->runtime.invoke_on(*owner, [reg = registry_, owner = *owner,
                                        number = std::move(order_number),
                                        cb = std::move(callback)]() mutable {
    if (reg->shards[owner]) reg->shards[owner]->dispatcher().deliver(number, std::move(cb));
  });
}

}  // namespace topup::app
