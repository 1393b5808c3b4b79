#pragma once
// The operations endpoints of spec §7: /admin/...
#include <boost/asio/awaitable.hpp>

#include <array>
#include <string_view>
#include <vector>

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
  /// The operator whose token the request presents, or null. Every operator's token is compared
  /// (constant time, no early exit), so the time says nothing about which one, or how close.
  const engine::admin_operator* authenticate(const http_request& request) const;
  api_context& ctx_;
  std::vector<std::array<unsigned char, 32>> token_digests_;  // of ctx_.cfg.admin.operators
};

}  // namespace topup::protocol
