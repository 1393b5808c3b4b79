#pragma once
// The operations endpoints of spec §7: /admin/...
#include <boost/asio/awaitable.hpp>

#include <string_view>

#include "protocol/api_context.hpp"
#include "protocol/http_server.hpp"

namespace topup::protocol {

/// Bearer-token guarded operations: merchant credits, full order records, channel switches.
/// One per shard.
class admin_api {
 public:
  explicit admin_api(api_context& ctx);

  boost::asio::awaitable<http_response> handle(http_request request, std::string_view path,
                                               std::string_view query);

 private:
  bool authorized(const http_request& request) const;
  api_context& ctx_;
};

}  // namespace topup::protocol
