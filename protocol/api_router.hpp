#pragma once
// Dispatch of every HTTP path topupd serves.
#include <boost/asio/awaitable.hpp>

#include "protocol/admin_api.hpp"
#include "protocol/api_context.hpp"
#include "protocol/http_server.hpp"
#include "protocol/merchant_api.hpp"

namespace topup::protocol {

/// The http_handlers of one shard: health probes, the merchant API, the admin API and /metrics
/// on the main listener (404 for anything else); /metrics alone on the server.metrics_listen
/// listener when that is set, and then no longer on the main one.
class api_router {
 public:
  explicit api_router(api_context& ctx) : ctx_(ctx), merchant_(ctx), admin_(ctx) {}
  boost::asio::awaitable<http_response> handle(http_request request);
  /// The handler of the server.metrics_listen listener: GET /metrics, 404/405 envelopes else.
  boost::asio::awaitable<http_response> handle_metrics_listener(http_request request);

 private:
  api_context& ctx_;
  merchant_api merchant_;
  admin_api admin_;
};

}  // namespace topup::protocol
