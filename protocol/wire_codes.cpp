#include "protocol/wire_codes.hpp"

#include "engine/support/errc.hpp"
#include "protocol/errc.hpp"

namespace topup::protocol {
namespace {

constexpr wire_answer k_success{"0000", 200, "成功"};
constexpr wire_answer k_internal{"5001", 200, "internal error"};

wire_answer protocol_answer(errc e) noexcept {
  switch (e) {
    case errc::ok: return k_success;
    case errc::bad_param: return {"1001", 200, "参数错误"};
    case errc::bad_signature: return {"1002", 200, "签名错误"};
    case errc::missing_app_key: return {"1003", 200, "app_key不能为空"};
    case errc::timestamp_out_of_window: return {"1004", 200, "时间戳超出允许范围"};
    case errc::unknown_app_key: return {"1005", 200, "app_key无效或已停用"};
    case errc::store_not_allowed: return {"1006", 200, "store_id不可用"};
    case errc::ip_not_allowed: return {"1007", 200, "IP不在白名单内"};
    case errc::rate_limited: return {"1008", 429, "请求过于频繁"};
    case errc::invalid_notify_url: return {"2006", 200, "notify_url无效"};
    case errc::bad_admin_token: return {"4001", 401, "管理令牌无效"};
    case errc::forbidden: return {"4003", 403, "无此操作权限"};
    case errc::not_found: return {"4004", 404, "not found"};
    case errc::method_not_allowed: return {"4005", 405, "method not allowed"};
    case errc::body_too_large: return {"4013", 413, "请求体过大"};
    case errc::header_too_large: return {"4031", 431, "请求头过大"};
    case errc::bad_request: return {"4000", 400, "请求格式错误"};
  }
  return k_internal;
}

wire_answer engine_answer(engine::errc e) noexcept {
  using engine::errc;
  switch (e) {
    case errc::ok: return k_success;
    case errc::invalid_mobile: return {"2001", 200, "手机号码无效"};
    case errc::unsupported_amount: return {"2002", 200, "不支持的充值金额"};
    case errc::order_no_conflict: return {"2003", 200, "订单号已使用"};
    case errc::insufficient_balance: return {"2004", 200, "余额不足"};
    case errc::no_channel: return {"2005", 200, "无可用充值通道"};
    case errc::cannot_cancel: return {"2007", 200, "当前状态不可撤单"};
    case errc::order_not_found: return {"3001", 200, "订单不存在"};
    case errc::unknown_merchant: return {"1005", 200, "app_key无效或已停用"};
    // Nothing was accepted and the same request may be retried: the promise 5000 makes.
    case errc::storage_unavailable: return {"5000", 503, "存储不可用，请重试"};
    // A draining shard refuses before accepting anything, the same promise as 5000.
    case errc::shutting_down: return {"5000", 503, "服务暂不可用，请重试"};
    // A fenced instance writes nothing and stops: the same promise as 5000.
    case errc::fenced: return {"5000", 503, "服务暂不可用，请重试"};
    case errc::range_too_wide: return {"1001", 200, "时间范围内订单过多，请缩小时间范围"};
    // Which kind of rule, never its threshold (spec §3.8).
    case errc::risk_blacklisted: return {"2008", 200, "风控拒绝：号码在黑名单中"};
    case errc::risk_mobile_orders: return {"2008", 200, "风控拒绝：号码下单次数超限"};
    case errc::risk_mobile_amount: return {"2008", 200, "风控拒绝：号码充值金额超限"};
    case errc::risk_daily_amount: return {"2008", 200, "风控拒绝：商户当日充值金额超限"};
    case errc::overloaded: return {"1008", 429, "请求过于频繁"};
    // The accept may have been applied: the merchant learns its outcome by retrying the same
    // request (idempotent), never by placing a new one.
    case errc::outcome_unknown: return {"5002", 503, "结果未知，请用相同参数重试"};
    case errc::store_not_allowed: return {"1006", 200, "store_id不可用"};
    // These are handled (retried) inside the engine; one reaching the wire is a bug or an
    // unexpected store answer, and the merchant can only query to learn the outcome.
    case errc::illegal_transition:
    case errc::stale_status:
    case errc::order_number_taken:
    case errc::layout_mismatch:
    case errc::storage_protocol:
    case errc::internal: return k_internal;
  }
  return k_internal;
}

}  // namespace

wire_answer to_wire(boost::system::error_code ec) noexcept {
  if (!ec) return k_success;
  if (ec.category() == error_category()) return protocol_answer(static_cast<errc>(ec.value()));
  if (ec.category() == engine::error_category()) {
    return engine_answer(static_cast<engine::errc>(ec.value()));
  }
  return k_internal;
}

std::string bad_param_msg(std::string_view key) {
  std::string msg = "参数错误";
  if (!key.empty()) {
    msg.append(": ");
    msg.append(key);
  }
  return msg;
}

}  // namespace topup::protocol
