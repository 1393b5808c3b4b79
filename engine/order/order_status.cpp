#include "engine/order/order_status.hpp"

namespace topup::engine {

bool transition_allowed(order_status from, order_status to) noexcept {
  using s = order_status;
  // Spelled out pair by pair so the table reads exactly like spec §4; a value outside the
  // enum (cast from an unchecked integer) falls through to false.
  switch (from) {
    case s::pending_payment:
      return to == s::waiting;
    case s::waiting:
      return to == s::matched || to == s::failed;
    case s::matched:
      return to == s::recharging || to == s::waiting || to == s::failed;
    case s::recharging:
      return to == s::success || to == s::waiting || to == s::failed;
    case s::failed:
      return to == s::refunded;
    case s::success:
    case s::refunded:
      return false;
  }
  return false;
}

bool is_terminal(order_status s) noexcept {
  return s == order_status::success || s == order_status::refunded;
}

std::optional<order_status> status_from_int(int value) noexcept {
  switch (value) {
    case 0:
      return order_status::pending_payment;
    case 1:
      return order_status::recharging;
    case 2:
      return order_status::success;
    case 3:
      return order_status::failed;
    case 4:
      return order_status::refunded;
    case 6:
      return order_status::waiting;
    case 7:
      return order_status::matched;
    default:
      return std::nullopt;
  }
}

std::string_view status_name(order_status s) noexcept {
  switch (s) {
    case order_status::pending_payment:
      return "待支付";
    case order_status::recharging:
      return "已付 充值中";
    case order_status::success:
      return "充值成功";
    case order_status::failed:
      return "充值失败";
    case order_status::refunded:
      return "退款成功";
    case order_status::waiting:
      return "待充值";
    case order_status::matched:
      return "已匹配";
  }
  return "未知";
}

}  // namespace topup::engine
