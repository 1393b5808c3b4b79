#pragma once
// Supplier callbacks relayed between instances (DESIGN.md "Scaling past one machine": a supplier
// callback reaches the order wherever it is driven). A callback that lands on an instance not
// driving its order is pushed to the driving instance's inbox, `P:inbox:<instance>` (a list,
// newest 10,000 kept, gone 10 minutes after its last push); that instance pops it and hands it
// to its dispatcher like a callback of its own. The relay is a hint: the driver also asks the
// supplier (query_interval_ms), so a relay lost changes only how soon the order ends.
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/redis/connection.hpp"
#include "engine/routing/channel_adapter.hpp"

namespace topup::engine {

/// P:inbox:<instance>
std::string inbox_key(std::string_view prefix, std::uint32_t instance);

/// A relayed callback: the order it is about and the callback as received and checked.
struct relayed_callback {
  std::string order_number;
  supplier_callback callback;
};
/// One line: the fields joined by 0x1f (none of them holds it: numbers, ids, a short detail
/// with 0x1f removed).
std::string encode_relay(const relayed_callback& r);
std::optional<relayed_callback> decode_relay(std::string_view line);

/// Which instance drives `order_number` now: the claimer of its instance's foster claim when the
/// order falls under it, else the instance its number encodes; nullopt on a storage error or a
/// malformed number.
boost::asio::awaitable<std::optional<std::uint32_t>> driver_of(redis::connection& conn,
                                                               std::string prefix,
                                                               std::string order_number);

/// Appends to `instance`'s inbox (RPUSH, LTRIM to the newest 10,000, PEXPIRE 10 min).
boost::asio::awaitable<boost::system::result<void>> relay_to(redis::connection& conn,
                                                             std::string prefix,
                                                             std::uint32_t instance,
                                                             relayed_callback r);

/// Takes up to `max` relays from this instance's inbox (LPOP with a count), oldest first; lines
/// that do not decode are dropped (logged).
boost::asio::awaitable<boost::system::result<std::vector<relayed_callback>>> take_relays(
    redis::connection& conn, std::string prefix, std::uint32_t instance, std::size_t max);

}  // namespace topup::engine
