#include "protocol/supplier_notify.hpp"

#include "engine/routing/channel_router.hpp"
#include "engine/service/supplier_results.hpp"
#include "engine/support/log.hpp"
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
  auto receipt =
      co_await ctx.supplier_results.receive(std::string(channel_id), std::move(*callback));
  if (receipt != engine::supplier_receipt::taken) co_return plain("fail", version, keep_alive);
  co_return plain("success", version, keep_alive);
}

}  // namespace topup::protocol
