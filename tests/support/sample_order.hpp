#pragma once
// An order of the usual shape for tests that write orders to Redis: a 100-yuan CMCC top-up of
// 13800138000 by store "s1", costing 9950 fen, order_no "no-<seq>".
#include <cstdint>
#include <string>

#include "engine/order/order_number.hpp"
#include "engine/order/order_record.hpp"

namespace topup::test {

/// Merchant `merchant_id`'s order number `seq` (instance 1, shard 0), made at `made_ms`.
inline engine::order_record sample_order(std::int64_t merchant_id, std::uint32_t seq,
                                         std::int64_t made_ms) {
  engine::order_record r;
  r.order_number =
      engine::make_order_number({static_cast<std::uint64_t>(made_ms), 1, 0, seq, merchant_id});
  r.order_no = "no-" + std::to_string(seq);
  r.merchant_id = merchant_id;
  r.store_id = "s1";
  r.mobile = "13800138000";
  r.carrier = engine::carrier::cmcc;
  r.money_yuan = 100;
  r.recharge_type = 1;
  r.change = true;
  r.fingerprint = "fp-" + r.order_no;
  r.cost_fen = 9950;
  return r;
}

}  // namespace topup::test
