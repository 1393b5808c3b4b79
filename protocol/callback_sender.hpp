#pragma once
// The merchant callback POST of spec §5.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <string>
#include <utility>
#include <vector>

#include "engine/callbacks/callback_scheduler.hpp"
#include "engine/config/config.hpp"
#include "protocol/http_client.hpp"

namespace topup::protocol {

/// Signs and POSTs one callback form (with `sign_type` when the method is not MD5) to the
/// notify_url as given, query string kept, with its own http_client (keep-alive per merchant host,
/// a bound on concurrent deliveries per host so one slow merchant cannot starve the others,
/// callbacks.timeout_ms, TLS verification, and the SSRF guard unless
/// callbacks.allow_private_targets). One per shard.
class callback_sender {
 public:
  callback_sender(boost::asio::io_context& io, const engine::callbacks_config& cfg);

  boost::asio::awaitable<engine::callback_delivery> send(
      std::string url, std::vector<std::pair<std::string, std::string>> params,
      std::string secret, engine::sign_method method);

  /// The engine's view of this sender.
  engine::callback_sender as_engine_sender();
  void close() { client_.close(); }

 private:
  std::chrono::milliseconds timeout_;
  http_client client_;
};

/// Whether a merchant's answer acknowledges the callback: HTTP 200 and the body `success`,
/// surrounding whitespace ignored.
bool acknowledges(unsigned http_status, std::string_view body) noexcept;

}  // namespace topup::protocol
