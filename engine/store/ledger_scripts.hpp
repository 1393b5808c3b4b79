#pragma once
// The Lua scripts that are the only writers of orders, balances and the log (docs/STORAGE.md
// "Scripts"), the key names they work on, and the KEYS/ARGV of each call.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/store/fence.hpp"
#include "engine/store/log_checkpoint.hpp"
#include "engine/store/order_log.hpp"
#include "engine/order/money.hpp"
#include "engine/order/order_record.hpp"
#include "engine/redis/script.hpp"

namespace topup::engine {

/// The Redis key names of one merchant: `<prefix>:{m<id>}:<suffix>`. The hash tag puts every key
/// of a merchant in one Cluster slot, which is what lets one script touch all of them. A small
/// value, built per call on whichever shard needs it.
class merchant_keys {
 public:
  merchant_keys(std::string_view prefix, std::int64_t merchant_id);

  std::string fence() const { return base_ + "fence"; }
  std::string acct() const { return base_ + "acct"; }
  std::string crefs() const { return base_ + "crefs"; }
  /// The merchant's log: every event of its orders and balance.
  std::string log() const { return base_ + "log"; }
  /// Packed records by order number, and `#<order_no>` -> `<order_number>:<fingerprint>`.
  std::string orders() const { return base_ + "o"; }
  /// Order numbers by created_at: list.
  std::string by_time() const { return base_ + "t"; }
  /// Orders that need work: -created_at while not final, the callback's due ms after.
  std::string work() const { return base_ + "work"; }
  /// Orders in 1 with no final supplier answer for their channel's unknown_max_s: order number
  /// -> since when (ms). For operators (the exception queue); nothing routes by it.
  std::string unresolved() const { return base_ + "unresolved"; }
  /// The checkpoint of the trimmed log (engine/store/log_checkpoint): a hash.
  std::string checkpoint() const { return base_ + "ckpt"; }
  /// Final orders whose merchant callback used up its attempts: order number -> since when
  /// (ms). For operators (the exception queue).
  std::string cbfailed() const { return base_ + "cbfailed"; }
  /// The chain of the merchant's daily statements: the first day, the last made and its
  /// closing, the maker's lock (engine/retention/statement_chain).
  std::string statements() const { return base_ + "stmt"; }

 private:
  std::string base_;  // "<prefix>:{m<id>}:"
};

/// The `o` field of an order_no's idempotency entry.
std::string order_no_field(std::string_view order_no);

/// The scripts, as one immutable redis::script each (SHA1 computed once), shared by every shard.
/// Every one checks the fence first (`fenced`: nothing written) and everything else it relies on
/// before its first write, because Redis does not roll a script back. Answers:
///   accept  fenced, or per order: ok <balance> | dup <order_number> <balance>
///           | conflict <order_number> | insufficient <balance> | collision
///           | corrupt (its stored order_no entry is unreadable)
///   append  fenced, or per step: ok | stale <status> | notfound | corrupt (the stored record
///           is unreadable) | broken (the new record breaks the rules)
///   refund  ok <balance> | stale <status> | notfound | fenced
///   credit  ok <balance> | repeat <balance> | conflict <amount> | insufficient <balance> | fenced
///   retire  ok <removed> <kept> | fenced
///   trim    ok <entries trimmed> | moved | fenced
/// A malformed argument, a record that breaks the rules or a corrupt stored value is a Redis
/// error reply (nothing written).
namespace ledger_scripts {

const redis::script& accept();
const redis::script& append();
const redis::script& refund();
const redis::script& credit();
/// Removes final orders past retention from the projections (engine/retention/order_archiver),
/// once the archive file holding them is written: moves no money, appends nothing.
const redis::script& retire();
/// Trims the log's oldest entries behind the checkpoint (engine/retention/log_trimmer), in the
/// step that writes the checkpoint's new totals: moves no money.
const redis::script& trim();

/// KEYS and ARGV of one script call.
struct call {
  std::vector<std::string> keys;
  std::vector<std::string> args;
};

/// An accept call carries a batch of one merchant's new orders (engine/store/accept_batcher):
/// ARGV is instance, epoch, the number of orders, then k_accept_args_per_order per order. The
/// answer is `fenced` for the whole call, or one answer per order, in order.
constexpr std::size_t k_accept_head_args = 3;
constexpr std::size_t k_accept_args_per_order = 7;

/// The KEYS and ARGV head of an accept call with no order yet.
call accept_call(const merchant_keys& keys, const fence_token& fence);
/// Adds `order`, the record as accepted (version 1, status 6 or 7, created_at = now), to the call
/// `c` of its merchant; answers the bytes of ARGV it added.
std::size_t add_accept_order(call& c, const order_record& order);
/// A call carrying `orders`, in this order.
call accept_call(const merchant_keys& keys, const fence_token& fence,
                 std::span<const order_record> orders);

/// An append call carries a batch of steps of one merchant's orders (order_store, group_commit):
/// ARGV is instance, epoch, the number of steps, then each step's arguments. The answer is
/// `fenced` for the whole call, or one answer per step, in order.
constexpr std::size_t k_append_head_args = 3;

/// The KEYS and ARGV head of an append call with no step yet.
call append_call(const merchant_keys& keys, const fence_token& fence);
/// Adds one step of an order to the call `c` of its merchant: `events` (at least one) appended,
/// `after` stored (its version must be `expected_version` + the events), compare-and-set on
/// `expected_version`; answers the bytes of ARGV it added.
std::size_t add_append_step(call& c, std::int64_t expected_version, const order_record& after,
                            const std::vector<log_event>& events, work_change work);
/// A call carrying one step.
call append_call(const merchant_keys& keys, const fence_token& fence, std::int64_t expected_version,
                 const order_record& after, const std::vector<log_event>& events, work_change work);

/// From `from` (1, 6, 7 through 3, or 3) to 4 with the stored cost credited back; `after` is the
/// refunded record (status 4, refunded, version + 2, or + 1 from 3).
call refund_call(const merchant_keys& keys, const fence_token& fence, std::int64_t expected_version,
                 int from, const std::string& reason, const order_record& after, work_change work);

/// `by`: the operator who credited (the entry's `by`), or empty.
call credit_call(const merchant_keys& keys, const fence_token& fence, std::string ref,
                 fen_t amount_fen, std::string by = {});

/// One order retire() is asked to remove: only while its record is still at `version`.
struct retiring_order {
  std::string order_number;
  std::int64_t version = 0;
  std::string order_no;
};
call retire_call(const merchant_keys& keys, const fence_token& fence,
                 const std::vector<retiring_order>& orders);

/// The log's entries from `first_id` to `last_id` (its oldest, folded into `next`) trimmed, up to
/// `next.id` (exclusive), compare-and-set on the checkpoint's position `expected_id` ("0-0": no
/// checkpoint yet).
call trim_call(const merchant_keys& keys, const fence_token& fence, std::string expected_id,
               std::string first_id, std::string last_id, const log_checkpoint& next);

}  // namespace ledger_scripts
}  // namespace topup::engine
