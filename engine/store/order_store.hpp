#pragma once
// Orders and merchant balances in Redis (docs/STORAGE.md), written only through the ledger scripts.
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/store/accept_batcher.hpp"
#include "engine/store/fence.hpp"
#include "engine/store/ledger_scripts.hpp"
#include "engine/order/money.hpp"
#include "engine/order/order_record.hpp"
#include "engine/order/order_status.hpp"
#include "engine/redis/connection.hpp"

namespace topup::engine {

struct accept_result {
  bool duplicate = false;    // the same order_no and parameters were accepted before: no debit
  std::string order_number;  // the new order's, or the earlier one's on a duplicate
  fen_t balance_fen = 0;     // after the debit (on a duplicate: the current balance; 0 when the
                             // repeat was recognised before the accept, order_service::push)
};

struct credit_result {
  bool repeat = false;  // the ref was applied before; nothing moved this time
  fen_t balance_fen = 0;
};

/// The merchant's `acct` hash; balance = credits - debits + refunds always holds.
struct account_totals {
  fen_t balance = 0;
  fen_t credits = 0;
  fen_t debits = 0;
  fen_t refunds = 0;
};

struct order_page {
  std::int64_t total = 0;  // orders matching the filter, all pages
  std::vector<order_record> orders;
};

/// One entry of the merchant's ledger stream: a balance move.
struct ledger_entry {
  std::string id;    // stream entry id
  std::string type;  // "credit", "debit" or "refund"
  fen_t amount_fen = 0;
  fen_t balance_fen = 0;     // after this move
  std::string order_number;  // debit and refund
  std::string ref;           // credit
  std::int64_t at_ms = 0;
};

/// class order_store — the persistence of orders, balances and the merchants' logs for one shard
/// (docs/STORAGE.md, layout v2). Every write is one atomic script (engine/store/ledger_scripts.hpp):
/// the money decisions (accept, refund, credit) and the fenced compare-and-set append of an
/// order's step; a crash or a lost reply never leaves money and orders disagreeing. Reads are
/// plain commands on the projections. Holds no state besides the connection, the key prefix and
/// the instance's fence token; lives on, and is used only from, its shard's thread, and must
/// outlive the coroutines it starts. Error values: storage_unavailable / overloaded from the
/// connection (nothing known to be written), outcome_unknown (a write's answer was lost),
/// fenced (this instance's epoch is no longer current: nothing written), storage_protocol when
/// Redis answers something unexpected (logged here, once), and the business errors named on
/// each method.
class order_store {
 public:
  /// `fence` must outlive the store; its epoch is final before the first write (engine/store/lease).
  order_store(redis::connection& conn, std::string prefix, const fence_token& fence);

  /// Runs on this shard whenever a write is refused as errc::fenced (another run of this
  /// instance took its lease over): app/ then stops the whole instance. Set before the first write.
  void on_fenced(std::function<void()> hook) { on_fenced_ = std::move(hook); }

  /// Stores a new order in status 6 and debits its cost_fen, or recognises a repeat. The
  /// merchant's accepts of one reactor turn go to Redis in one script call (accept_batcher),
  /// decided in the order they were made; a failure of that call is each one's.
  /// Uses order_number, order_no, merchant_id, fingerprint (required, non-empty), cost_fen and the
  /// business fields of `record`; status and timestamps are the script's (created_at = now_ms).
  /// Non-empty `match` (the first attempt's fields, no core field names) stores it in 7 instead,
  /// in the same atomic step. Either way one event, `accepted`, from 0 to 6 or 7.
  /// Errors: order_no_conflict (same order_no, other fingerprint), insufficient_balance,
  /// order_number_taken (the number exists already: take another).
  boost::asio::awaitable<boost::system::result<accept_result>> accept(order_record record,
                                                                      std::int64_t now_ms,
                                                                      field_pairs match = {});

  /// Compare-and-set from `from` to `to` (spec §4; 0->6 is accept's and 3->4 fail_refund's).
  /// `extra_fields` are stored on the record and in the event (names must not be core fields nor
  /// type/from/to/at). Reaching 2 with a notify_url schedules the callback (cbdue) atomically.
  /// Answers the updated record. Errors: stale_status, illegal_transition, order_not_found.
  boost::asio::awaitable<boost::system::result<order_record>> transition(
      std::int64_t merchant_id, std::string order_number, order_status from, order_status to,
      std::string reason, field_pairs extra_fields, std::int64_t now_ms);

  /// A status an advance passes through on its way, as its own event in the same script.
  struct hop {
    order_status status;
    field_pairs extra;  // on the event into `status`, and on the record
  };

  /// The same step from `order.status` to `to`, applied to the caller's copy of the order in
  /// place instead of reading the record back (the dispatcher's hot path: one reply element, not
  /// ~30 fields, and no copy of the record): once stored, `order` has the extra fields, reason,
  /// updated_at, event count, and on reaching 2 finished_at and the callback fields, as the
  /// script wrote them; on any error it is untouched. Same errors as transition. `order` must
  /// outlive the await (it is read and written after the round trip). With `via`, the order goes
  /// from 7 through 1 to 2 or 6 in one atomic step (two events): the supplier's answer to the
  /// submit was already final. Any other path with `via` is illegal_transition.
  boost::asio::awaitable<boost::system::result<void>> advance(
      order_record& order, order_status to, std::string reason, field_pairs extra_fields,
      std::int64_t now_ms, std::optional<hop> via = std::nullopt);

  /// From `expected_from` (1, 6, 7 or 3) to 4 through 3, crediting cost_fen back, at most once.
  /// Answers the refunded record. Errors: stale_status (the order is elsewhere, e.g. already
  /// refunded), illegal_transition (expected_from not one of those), order_not_found.
  boost::asio::awaitable<boost::system::result<order_record>> fail_refund(
      std::int64_t merchant_id, std::string order_number, order_status expected_from,
      std::string reason, std::int64_t now_ms);

  /// The same from the caller's copy of the order (its status is where the refund starts): one
  /// round trip, compare-and-set on its version. Answers the refunded record.
  boost::asio::awaitable<boost::system::result<order_record>> fail_refund(const order_record& order,
                                                                          std::string reason,
                                                                          std::int64_t now_ms);

  /// Stores one step of an order that moves no money: `events` appended to the merchant's log
  /// and `after` as its record, compare-and-set on `order`'s version (after.event_count must be
  /// it plus the events). On success `order` becomes `after`. Errors: stale_status (the order
  /// moved meanwhile: read it again), order_not_found, fenced.
  boost::asio::awaitable<boost::system::result<void>> commit(order_record& order,
                                                             order_record after,
                                                             std::vector<log_event> events,
                                                             work_change work);

  /// Applies a credit (negative: a correction) once per `ref`; a repeat of the same amount
  /// answers the balance (repeat). Errors: insufficient_balance, order_no_conflict (other amount).
  boost::asio::awaitable<boost::system::result<credit_result>> credit(std::int64_t merchant_id,
                                                                      std::string ref,
                                                                      fen_t amount_fen,
                                                                      std::int64_t now_ms);

  /// The merchant's totals; a merchant never credited has all zeros.
  boost::asio::awaitable<boost::system::result<account_totals>> account(std::int64_t merchant_id);

  /// Errors: order_not_found.
  boost::asio::awaitable<boost::system::result<order_record>> get(std::int64_t merchant_id,
                                                                  std::string order_number);
  /// Errors: order_not_found.
  boost::asio::awaitable<boost::system::result<order_record>> find_by_order_no(
      std::int64_t merchant_id, std::string order_no);

  /// What the order_no index holds for an order_no accepted before: one read.
  struct order_no_entry {
    std::string order_number;
    std::string fingerprint;
  };
  /// Errors: order_not_found (the order_no was never accepted).
  boost::asio::awaitable<boost::system::result<order_no_entry>> order_no_entry_of(
      std::int64_t merchant_id, std::string order_no);

  /// Orders created in [start_ms, end_ms] (both inclusive), in `status` if given, newest first;
  /// page counts from 1. page < 1 or page_size < 1 answer an empty page (with the total).
  boost::asio::awaitable<boost::system::result<order_page>> list(
      std::int64_t merchant_id, std::int64_t start_ms, std::int64_t end_ms,
      std::optional<order_status> status, std::int64_t page, std::int64_t page_size);

  /// Order numbers not yet in 2 or 4 (what recovery resumes), oldest first.
  boost::asio::awaitable<boost::system::result<std::vector<std::string>>> active_orders(
      std::int64_t merchant_id);

  /// Channels an operator disabled (admin API), kept in `<prefix>:channels:disabled` so that a
  /// restart does not route to them again.
  boost::asio::awaitable<boost::system::result<std::vector<std::string>>> disabled_channels();
  boost::asio::awaitable<boost::system::result<void>> set_channel_disabled(std::string channel_id,
                                                                           bool disabled);

  /// The order's events from the merchant's log, oldest first, each shown with `type from to
  /// reason at` (and, for `accepted`, the record's fields); empty for an unknown order. Scans
  /// the log from the order's creation, at most 100,000 entries.
  boost::asio::awaitable<boost::system::result<std::vector<order_event>>> events(
      std::int64_t merchant_id, std::string order_number);

  /// Up to `limit` balance moves (accepted = debit, refund, credit) from the merchant's log after
  /// stream id `after_id` ("" = from the start), oldest first; other log entries are skipped
  /// (reading at most 10 x limit entries per call: fewer entries than `limit` is not the end
  /// unless `next_id` is empty).
  struct ledger_page {
    std::vector<ledger_entry> entries;
    std::string next_id;  // where the next call starts; empty: the log's end was reached
  };
  boost::asio::awaitable<boost::system::result<ledger_page>> ledger(std::int64_t merchant_id,
                                                                   std::string after_id,
                                                                   std::int64_t limit);

  /// Up to `limit` order numbers whose callback is due at or before now_ms, earliest first.
  boost::asio::awaitable<boost::system::result<std::vector<std::string>>> due_callbacks(
      std::int64_t merchant_id, std::int64_t now_ms, std::int64_t limit);

  /// Lists an order for an operator: in 1 with no final supplier answer since `since_ms` for
  /// longer than its channel allows (spec §6 unknown_max_s). Keeps the first `since_ms`.
  boost::asio::awaitable<boost::system::result<void>> flag_unresolved(std::int64_t merchant_id,
                                                                      std::string order_number,
                                                                      std::int64_t since_ms);
  /// Takes it off that list (the supplier finally answered, or an operator settled it).
  boost::asio::awaitable<boost::system::result<void>> clear_unresolved(std::int64_t merchant_id,
                                                                       std::string order_number);
  /// Up to `limit` listed orders of the merchant, oldest first: (order number, since ms).
  boost::asio::awaitable<boost::system::result<std::vector<std::pair<std::string, std::int64_t>>>>
  unresolved(std::int64_t merchant_id, std::int64_t limit);

  const std::string& prefix() const noexcept { return prefix_; }

 private:
  /// The packed records of `numbers` (one HMGET), in order; a number without a record is skipped.
  boost::asio::awaitable<boost::system::result<std::vector<order_record>>> records(
      std::int64_t merchant_id, const std::vector<std::string>& numbers);
  /// Up to `count` entries of the merchant's log from stream id `start` (XRANGE syntax).
  boost::asio::awaitable<boost::system::result<std::vector<order_event>>> log_range(
      std::int64_t merchant_id, std::string start, std::int64_t count);
  /// A write script's refusal as an error; a `fenced` one also runs the on_fenced hook.
  boost::system::error_code refused(std::string_view operation, const redis::reply& r);

  redis::connection& conn_;
  std::string prefix_;
  const fence_token& fence_;
  std::function<void()> on_fenced_;
  accept_batcher accepts_;
};

}  // namespace topup::engine
