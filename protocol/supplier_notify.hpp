#pragma once
// POST /notify/<channel id>: upstream suppliers' result callbacks (spec §6).
#include <boost/asio/awaitable.hpp>

#include <string_view>

#include "protocol/api_context.hpp"
#include "protocol/http_server.hpp"

namespace topup::protocol {

/// Checks a supplier callback with the channel's adapter (signature with the channel's secret),
/// makes sure the order exists, and hands the result to the owning shard. Answers `success`
/// (also for a repeat of a callback already applied) or `fail` (bad signature, unknown order or
/// channel), HTTP 200 either way. The result is persisted by the owning shard's dispatcher; a
/// callback lost to a crash before that is recovered by querying the supplier.
boost::asio::awaitable<http_response> handle_supplier_notify(api_context& ctx, http_request request,
                                                             std::string_view channel_id,
                                                             std::string_view query);

}  // namespace topup::protocol
