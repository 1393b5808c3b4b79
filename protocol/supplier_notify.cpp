#include "protocol/supplier_notify.hpp"

#include "engine/routing/channel_router.hpp"
#include "engine/support/log.hpp"
#include "engine/order/order_number.hpp"
#include "protocol/answers.hpp"
#include "protocol/errc.hpp"
#include "protocol/form.hpp"

namespace topup::protocol {

namespace {

http_response plain(std::string_view body, unsigned version, bool keep_alive) {
  return make_response(http::status::ok, std::string(body), "text/plain; charset=utf-8", version,
                       keep_alive);
}

}  // namespace

boost::asio::awaitable<http_response> handle_supplier_notify(api_context& ctx, http_request request,
                                                             std::string_view channel_id,
                                                             std::string_view query) {
  const unsigned version = request.message.version();
  const bool keep_alive = request.message.keep_alive();
  if (request.message.method() != http::verb::post)
    co_return error_answer(errc::method_not_allowed, version, keep_alive);
  auto log = logger("protocol");
  auto* channel = ctx.channels.find(channel_id);
  if (!channel || !channel->adapter) co_return error_answer(errc::not_found, version, keep_alive);

  auto params = decode_form(query, request.message.body());
  if (!params) co_return plain("fail", version, keep_alive);
  std::vector<std::pair<std::string, std::string>> pairs(params->begin(), params->end());
  auto callback = channel->adapter->parse_callback(pairs);
  if (!callback) {
    log->warn("supplier callback refused channel={} reason={}", channel_id,
              callback.error().message());
    co_return plain("fail", version, keep_alive);
  }
  // The attempt id is "<order_number>-<attempt>": the order number names merchant and shard.
  const std::string& attempt_id = callback->attempt_id;
  const auto dash = attempt_id.rfind('-');
  const std::string order_number = attempt_id.substr(0, dash);
  auto parts = engine::parse_order_number(order_number);
  if (dash == std::string::npos || !parts) co_return plain("fail", version, keep_alive);
  auto order = co_await ctx.store.get(parts->merchant_id, order_number);
  if (!order) {
    // Unknown order: fail. Storage down: fail too, so the supplier calls again later.
    co_return plain("fail", version, keep_alive);
  }
  // A result counts only from the channel that holds the attempt (spec §6): a callback on
  // /notify/B about an attempt placed at A is refused, whatever B's signature says.
  const std::string holder = engine::attempt_channel(*order, attempt_id);
  if (holder != channel_id) {
    log->warn("supplier callback refused channel={} attempt={} reason=\"attempt held by {}\"",
              channel_id, attempt_id, holder.empty() ? std::string("no channel") : holder);
    co_return plain("fail", version, keep_alive);
  }
  callback->channel_id = std::string(channel_id);
  ctx.deliver_callback(order_number, std::move(*callback));
  co_return plain("success", version, keep_alive);
}

}  // namespace topup::protocol
