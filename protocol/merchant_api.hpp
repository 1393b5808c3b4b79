#pragma once
// The merchant endpoints of spec §3: /rest/...
#include <boost/asio/awaitable.hpp>

#include <string_view>

#include "protocol/api_context.hpp"
#include "protocol/http_server.hpp"
#include "protocol/rate_limiter.hpp"

namespace topup::protocol {

/// Authenticates merchant requests (spec §2) and turns them into engine calls; the engine's
/// results become envelopes. No business rules here beyond the wire's shape. One per shard.
class merchant_api {
 public:
  explicit merchant_api(api_context& ctx);

  /// True when `path` is one of the merchant endpoints.
  static bool handles(std::string_view path);
  boost::asio::awaitable<http_response> handle(http_request request, std::string_view path,
                                               std::string_view query);

 private:
  api_context& ctx_;
  rate_limiter limiter_;
};

}  // namespace topup::protocol
