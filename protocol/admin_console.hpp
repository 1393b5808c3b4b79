#pragma once
// The operations console (spec §7 `GET /admin/`): its files, compiled into the binary, and the
// read-only summary endpoints it draws from (`GET /admin/summary`, `GET /admin/merchants`).
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/system/result.hpp>

#include <optional>
#include <string_view>

#include "protocol/api_context.hpp"
#include "protocol/http_server.hpp"

namespace topup::protocol {

/// The console's file at `name` ("" is index.html; "console.js", "vendor/uPlot.min.css", ...),
/// answered with its content type and a Content-Security-Policy that allows only the console's
/// own files; nullopt when there is no such file. The files hold no secret: they ask for a token
/// and send it with every API call.
std::optional<http_response> console_file_answer(std::string_view name, unsigned version,
                                                 bool keep_alive);

/// `GET /admin/summary`: this instance's counts (orders, channels, callbacks, Redis latency),
/// their history for the last minutes (one sample every few seconds) and the channels' state.
boost::json::object summary_json(const api_context& ctx);

/// `GET /admin/merchants`: every configured merchant with its balance and totals from Redis.
boost::asio::awaitable<boost::system::result<boost::json::object>> merchants_json(
    api_context& ctx);

}  // namespace topup::protocol
