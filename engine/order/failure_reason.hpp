#pragma once
// Why an order failed: the engine's own words for operators, a fixed set for merchants (spec §3.2).
#include <string_view>

#include "engine/order/order_record.hpp"

namespace topup::engine {

/// The reasons the engine itself gives when it fails an order (stored on the record and its
/// events; operators see them, with the supplier's code and message when a supplier said no).
namespace failure_reason {
inline constexpr std::string_view cancelled = "cancelled by merchant";
inline constexpr std::string_view no_channel = "no channel can serve this order";
inline constexpr std::string_view every_channel_failed = "every allowed channel failed";
inline constexpr std::string_view deadline = "no channel available before the deadline";
inline constexpr std::string_view never_placed = "never placed at the supplier";
inline constexpr std::string_view settled_failed = "settled as failed by an operator";
}  // namespace failure_reason

/// The `reason` a merchant sees for an order (query, list, statements): empty unless the order
/// failed (3 or 4), else one of a fixed set of topupd's own short texts — 商户撤单, 超时未到账,
/// 无可用通道, 号码异常, 充值失败. A supplier's codes and messages never reach merchants: they may
/// name the supplier, leak its internals, or be anything at all.
std::string_view merchant_reason(const order_record& order) noexcept;

}  // namespace topup::engine
