#pragma once
// The Lua scripts that are the only writers of orders and balances (docs/STORAGE.md "Scripts"),
// the key names they work on, and the KEYS/ARGV of each call.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/money.hpp"
#include "engine/order_record.hpp"
#include "engine/redis/script.hpp"

namespace topup::engine {

/// The Redis key names of one merchant: `<prefix>:{m<id>}:<suffix>`. The hash tag puts every key
/// of a merchant in one Cluster slot, which is what lets one script touch all of them. A small
/// value, built per call on whichever shard needs it.
class merchant_keys {
 public:
  merchant_keys(std::string_view prefix, std::int64_t merchant_id);

  std::string acct() const { return base_ + "acct"; }
  std::string ledger() const { return base_ + "ledger"; }
  std::string crefs() const { return base_ + "crefs"; }
  std::string ono() const { return base_ + "ono"; }
  std::string all() const { return base_ + "all"; }
  std::string active() const { return base_ + "active"; }
  std::string cbdue() const { return base_ + "cbdue"; }
  /// Orders in 1 with no final supplier answer for their channel's unknown_max_s: order number
  /// -> since when (ms). For operators (the exception queue); nothing routes by it.
  std::string unresolved() const { return base_ + "unresolved"; }
  std::string by_status(int status) const { return base_ + "st:" + std::to_string(status); }
  std::string order(std::string_view order_number) const;
  std::string events(std::string_view order_number) const;
  /// `<prefix>:{m<id>}:o:`, from which list_page derives order keys.
  std::string order_prefix() const { return base_ + "o:"; }

 private:
  std::string base_;  // "<prefix>:{m<id>}:"
};

/// The scripts, as one immutable redis::script each (SHA1 computed once), shared by every shard.
/// Every write script checks all it relies on before its first write, because Redis does not roll
/// a script back, and answers an array whose first element says what happened:
///   accept      ok <order_number> <balance> | dup <order_number> <balance>  (dup: nothing written)
///               | conflict <order_number> | insufficient <balance> | collision
///   transition  ok <HGETALL of the order> (or just ok, asked so) | stale <status> | illegal
///               | notfound
///   fail_refund ok <HGETALL of the order> | stale <status> | illegal | notfound
///   credit      ok <balance> | repeat <balance> | conflict <amount> | insufficient <balance>
///   list_page   <total> <HGETALL of each order on the page>...
/// Numbers come back as decimal strings (list_page's total as an integer). A malformed argument or
/// a corrupt stored value is a Redis error reply (nothing written).
namespace ledger_scripts {

const redis::script& accept();
const redis::script& transition();
const redis::script& fail_refund();
const redis::script& credit();
const redis::script& list_page();

/// KEYS and ARGV of one script call.
struct call {
  std::vector<std::string> keys;
  std::vector<std::string> args;
};

/// `business` are the record's fields other than those the script owns (order_number, order_no,
/// fingerprint, cost, status, reason, created_at, updated_at, events): merchant_id, store_id,
/// mobile, carrier, money, recharge_type, notify_url, change, source. Non-empty `match` (the
/// first attempt's fields: channel, attempts, attempt_id, tried, matched_at) stores the order in
/// 7 in the same step, with its 6->7 event.
call accept_call(const merchant_keys& keys, std::string order_no, std::string order_number,
                 std::string fingerprint, fen_t cost_fen, std::int64_t now_ms,
                 const field_pairs& business, const field_pairs& match = {});

/// Statuses are plain ints so that a test can ask the script for anything, legal or not.
/// `extra` may not use a core order field name nor type/from/to/at (the script refuses).
/// `answer_record` false: the script answers just `ok` (the caller applies the step itself).
/// `via`: 1, passed through from 7 on the way to 2 or 6 (7->1->2, 7->1->6: two events in the
/// one step), the 7->1 event carrying `via_extra` (also stored on the record) and no reason.
/// The script refuses any other path as `illegal`.
call transition_call(const merchant_keys& keys, std::string order_number, int from, int to,
                     std::string reason, const field_pairs& extra, std::int64_t now_ms,
                     bool answer_record = true, std::optional<int> via = std::nullopt,
                     const field_pairs& via_extra = {});

call fail_refund_call(const merchant_keys& keys, std::string order_number, int from,
                      std::string reason, std::int64_t now_ms);

call credit_call(const merchant_keys& keys, std::string ref, fen_t amount_fen, std::int64_t now_ms);

/// created_at in [min_ms, max_ms], newest first, `count` records after skipping `offset`.
call list_page_call(const merchant_keys& keys, std::optional<int> status, std::int64_t min_ms,
                    std::int64_t max_ms, std::int64_t offset, std::int64_t count);

}  // namespace ledger_scripts
}  // namespace topup::engine
