#include "app/shard_links.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "app/shard_services.hpp"
#include "engine/order/order_number.hpp"
#include "engine/support/errc.hpp"

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

namespace {

using settle_answer = boost::system::result<engine::settle_outcome>;

/// Runs on the owning shard: its dispatcher settles, the answer is posted back to `back`.
template <class Handler>
void settle_here(std::shared_ptr<shard_registry> reg, unsigned owner, std::string number,
                 std::int64_t merchant_id, engine::manual_settlement s,
                 boost::asio::any_io_executor back, Handler handler) {
  auto reply = [back](Handler h, settle_answer a) {
    boost::asio::post(back, [h = std::move(h), a = std::move(a)]() mutable { h(std::move(a)); });
  };
  if (!reg->shards[owner]) {
    reply(std::move(handler), engine::errc::shutting_down);
    return;
  }
  boost::asio::co_spawn(
      reg->runtime.context(owner),
      reg->shards[owner]->dispatcher().settle(merchant_id, std::move(number), std::move(s)),
      [reply, h = std::move(handler)](std::exception_ptr e, settle_answer a) mutable {
        if (e) a = engine::errc::internal;
        reply(std::move(h), std::move(a));
      });
}

}  // namespace

boost::asio::awaitable<settle_answer> shard_links::settle_on_owner(std::string order_number,
                                                                   engine::manual_settlement s) {
  const auto owner = owner_of(order_number);
  const auto parts = engine::parse_order_number(order_number);
  if (!owner || !parts) co_return engine::errc::order_not_found;
  const std::int64_t merchant_id = parts->merchant_id;
  auto back = co_await boost::asio::this_coro::executor;
  auto initiate = [reg = registry_, owner = *owner, number = std::move(order_number), merchant_id,
                   s = std::move(s), back](auto handler) mutable {
    reg->runtime.invoke_on(owner, [reg, owner, number = std::move(number), merchant_id,
                                   s = std::move(s), back,
                                   handler = std::move(handler)]() mutable {
      settle_here(std::move(reg), owner, std::move(number), merchant_id, std::move(s),
                  std::move(back), std::move(handler));
    });
  };
  co_return co_await boost::asio::async_initiate<decltype(boost::asio::use_awaitable),
                                                 void(settle_answer)>(std::move(initiate),
                                                                      boost::asio::use_awaitable);
}

}  // namespace topup::app
