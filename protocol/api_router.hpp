#pragma once
// Dispatch of every HTTP path topupd serves.
#include <boost/asio/awaitable.hpp>

#include "protocol/admin_api.hpp"
#include "protocol/api_context.hpp"
#include "protocol/http_server.hpp"
#include "protocol/merchant_api.hpp"

namespace topup::protocol {

/// The http_handler of one shard: health probes, the merchant API, the admin API; 404 for
/// anything else.
class api_router {
 public:
  explicit api_router(api_context& ctx) : ctx_(ctx), merchant_(ctx), admin_(ctx) {}
  boost::asio::awaitable<http_response> handle(http_request request);

 private:
  api_context& ctx_;
  merchant_api merchant_;
  admin_api admin_;
};

}  // namespace topup::protocol
