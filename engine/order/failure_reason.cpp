#include "engine/order/failure_reason.hpp"

namespace topup::engine {

std::string_view merchant_reason(const order_record& order) noexcept {
  if (order.status != order_status::failed && order.status != order_status::refunded) return {};
  const std::string_view why = order.reason;
  if (why == failure_reason::cancelled) return "商户撤单";
  if (why == failure_reason::deadline) return "超时未到账";
  if (why == failure_reason::no_channel) return "无可用通道";
  // The supplier's own "invalid mobile" (spec §1 code 2001, as the wikeyun adapter words it): a
  // number ported to another carrier, or one the carrier does not know.
  if (why.starts_with("supplier code 2001")) return "号码异常";
  return "充值失败";
}

}  // namespace topup::engine
