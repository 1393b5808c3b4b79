#include "protocol/answers.hpp"

#include <boost/json/object.hpp>

#include <chrono>

#include "engine/order/failure_reason.hpp"
#include "engine/order/money.hpp"
#include "protocol/envelope.hpp"
#include "protocol/wire_codes.hpp"

namespace topup::protocol {

namespace {
constexpr std::string_view k_json = "application/json; charset=utf-8";

std::string seconds_text(std::int64_t ms) { return ms > 0 ? std::to_string(ms / 1000) : ""; }
}  // namespace

std::int64_t server_time_s() noexcept {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

http_response success_answer(std::string_view msg, boost::json::value data, unsigned version,
                             bool keep_alive) {
  return make_response(http::status::ok, make_envelope("0000", msg, server_time_s(), data), k_json,
                       version, keep_alive);
}

http_response error_answer(boost::system::error_code ec, unsigned version, bool keep_alive,
                           std::string_view msg_override) {
  const wire_answer wire = to_wire(ec);
  const std::string_view msg = msg_override.empty() ? wire.msg : msg_override;
  return make_response(static_cast<http::status>(wire.http_status),
                       make_envelope(wire.code, msg, server_time_s(), nullptr), k_json, version,
                       keep_alive);
}

boost::json::object order_json(const engine::order_record& order) {
  boost::json::object o;
  o["order_number"] = order.order_number;
  o["order_no"] = order.order_no;
  o["status"] = std::to_string(engine::to_int(order.status));
  o["mobile"] = order.mobile;
  o["amount"] = std::to_string(order.money_yuan);
  o["cost"] = engine::format_fen(order.cost_fen);
  o["created_at"] = seconds_text(order.created_at_ms);
  o["finished_at"] = seconds_text(order.finished_at_ms);
  o["reason"] = engine::merchant_reason(order);
  return o;
}

}  // namespace topup::protocol
