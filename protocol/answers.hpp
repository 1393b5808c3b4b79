#pragma once
// Building the JSON answers of the merchant and admin APIs.
#include <boost/json/value.hpp>
#include <boost/system/error_code.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/order/order_record.hpp"
#include "protocol/http_server.hpp"

namespace topup::protocol {

/// A "0000" answer with `msg` and `data`.
http_response success_answer(std::string_view msg, boost::json::value data, unsigned version,
                             bool keep_alive);
/// The answer for an error: code, HTTP status and msg from to_wire() (the one mapping);
/// `msg_override` replaces the default text (e.g. a 1001 naming its parameter).
http_response error_answer(boost::system::error_code ec, unsigned version, bool keep_alive,
                           std::string_view msg_override = {});

/// The order object of spec §3.2. The channel used is never disclosed.
boost::json::object order_json(const engine::order_record& order);

/// Server unix time in seconds, as put in every envelope.
std::int64_t server_time_s() noexcept;

}  // namespace topup::protocol
