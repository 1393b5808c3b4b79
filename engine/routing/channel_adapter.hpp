#pragma once
// The seam between the engine and supplier protocols: what the dispatcher asks of a channel.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/system/result.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/order/carrier.hpp"
#include "engine/config/config.hpp"

namespace topup::engine {

/// What one exchange with a supplier established about one attempt.
enum class attempt_outcome {
  accepted,   // the supplier took the order; the result comes later (callback or query)
  refused,    // definite: the supplier did not take it and will not charge (next channel ok)
  succeeded,  // definite: delivered
  failed,     // definite: not delivered (next channel ok)
  pending,    // query: the supplier has it and is still working
  not_found,  // query: the supplier has no such order (never placed, once past the grace)
  unknown,    // timeout, reset, 5xx, garbage: nothing is known, ask again later
};

std::string_view outcome_name(attempt_outcome o) noexcept;

/// One submission of one order to one channel. `attempt_id` is unique per (order, attempt):
/// `<order_number>-<n>`, what suppliers see as their order_no (spec §6).
struct attempt_request {
  std::string order_number;
  std::string attempt_id;
  std::string mobile;
  carrier carrier_of = carrier::cmcc;
  std::int64_t money_yuan = 0;
  int recharge_type = 1;
  std::int64_t submitted_at_ms = 0;  // when the first submit was sent (for queries)
};

struct attempt_result {
  attempt_outcome outcome = attempt_outcome::unknown;
  std::string detail;  // short reason for logs and the order's `reason` (never shown as channel)
};

/// A supplier's callback, once its signature checked out.
struct supplier_callback {
  std::string attempt_id;
  attempt_result result;
  /// The channel whose endpoint (and secret) it came through: it counts only for an attempt
  /// that this channel holds (spec §6).
  std::string channel_id;
};

/// One supplier channel as the dispatcher of one shard uses it. Each shard has its own adapter
/// objects (own connections, own state); they run on that shard's thread only.
class channel_adapter {
 public:
  virtual ~channel_adapter() = default;
  virtual const channel_config& config() const noexcept = 0;
  /// Sends the attempt. Must never report succeeded/failed/refused unless the supplier said so.
  virtual boost::asio::awaitable<attempt_result> submit(attempt_request request) = 0;
  /// Asks the supplier about an attempt submitted earlier.
  virtual boost::asio::awaitable<attempt_result> query(attempt_request request) = 0;
  /// Checks and decodes an inbound callback (form parameters of POST /notify/<channel id>);
  /// an error for a bad signature or a malformed callback.
  virtual boost::system::result<supplier_callback> parse_callback(
      const std::vector<std::pair<std::string, std::string>>& params) = 0;
  /// Stops background work (pools, timers) for shutdown.
  virtual void close() {}
};

/// Creates the adapters of one shard from the configured channels (the channels library's
/// registry of kinds provides it; the engine never names a kind).
using channel_adapter_factory = std::function<std::unique_ptr<channel_adapter>(
    const channel_config&, boost::asio::io_context&)>;

}  // namespace topup::engine
