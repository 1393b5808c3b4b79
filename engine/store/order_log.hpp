#pragma once
// The seam between the engine's services and where orders are kept: `order_log` is what the
// order service, the dispatcher, recovery and the callback store need from storage. The product
// implements it on Redis (`order_store`, layout v2, docs/STORAGE.md); tests of those services
// and the simulator implement the same contract in memory. The order's steps (advance,
// transition, fail and refund) are built here, once, on the primitives every implementation
// provides: a compare-and-set append of an order's events with its new record, and the refund.
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/order/money.hpp"
#include "engine/order/order_record.hpp"
#include "engine/order/order_status.hpp"

namespace topup::engine {

/// What a step does to the merchant's `work` set (docs/STORAGE.md): orders that need work.
struct work_change {
  enum class kind { keep, remove, set } what = kind::keep;
  std::int64_t score = 0;  // for set
  /// The merchant's `cbfailed` index (exception queue, docs/STORAGE.md), changed in the same
  /// step: 0 unchanged; > 0 listed since then (ms: the callback used up its attempts); < 0 taken
  /// off (an operator's re-notify). Only the rare steps that change it pay the extra write.
  std::int64_t cbfailed = 0;
  static work_change keep() { return {}; }
  static work_change remove() { return {kind::remove, 0}; }
  static work_change set(std::int64_t score) { return {kind::set, score}; }
};

/// One log event: its type (`e`) and its fields after `o`/`v`, which the store adds.
struct log_event {
  std::string type;  // step, cb, renotify
  field_pairs fields;
};

struct accept_result {
  bool duplicate = false;    // the same order_no and parameters were accepted before: no debit
  std::string order_number;  // the new order's, or the earlier one's on a duplicate
  fen_t balance_fen = 0;     // after the debit (on a duplicate: the current balance; 0 when the
                             // repeat was recognised before the accept, order_service::push)
};

/// The merchant's account; balance = credits - debits + refunds always holds.
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

/// Where a scan of a merchant's active orders stands (order_log::active_orders): just after the
/// order `number`, whose `work` score was `score`. Orders are in score order, oldest first, and
/// orders of one score (created in the same ms) by number, greatest first; so the scan goes on
/// with the orders of `score` whose number is smaller, then the younger ones. `at_score` is how
/// many orders of `score` the last read found up to and including `number` (the Redis read skips
/// that many rather than count on an offset that finished orders would shift).
struct active_cursor {
  std::int64_t score = 0;
  std::string number;  // empty: the scan has not started
  std::int64_t at_score = 0;
};

/// One page of a merchant's active orders and where the next one starts.
struct active_page {
  std::vector<std::string> numbers;  // at most the limit asked, oldest first
  active_cursor next;                // equal to the one asked when `numbers` is empty
  bool end = false;                  // nothing after this page when it was read
};

/// class order_log — orders, balances and the merchants' logs, as the engine's services use
/// them. One per shard, used only from its thread. Error values: storage_unavailable /
/// overloaded (nothing known to be written), outcome_unknown (a write's answer was lost),
/// fenced (this instance may no longer write: nothing written), storage_protocol, and the
/// business errors named on each method.
class order_log {
 public:
  virtual ~order_log() = default;

  // ---- primitives: each implementation's own ----

  /// Stores a new order in status 6 and debits its cost_fen, or recognises a repeat (the money
  /// decision, atomic). Uses order_number, order_no, merchant_id, fingerprint (required,
  /// non-empty), cost_fen and the business fields of `record`; status and timestamps are set
  /// here (created_at = now_ms). Non-empty `match` (the first attempt's fields) stores it in 7
  /// instead, in the same step. Either way one event, `accepted`, from 0 to 6 or 7.
  /// Errors: order_no_conflict (same order_no, other fingerprint), insufficient_balance,
  /// order_number_taken (the number exists already: take another).
  virtual boost::asio::awaitable<boost::system::result<accept_result>> accept(
      order_record record, std::int64_t now_ms, field_pairs match = {}) = 0;

  /// Stores one step of an order that moves no money: `events` appended to the merchant's log
  /// and `after` as its record, compare-and-set on `order`'s version (after.event_count must be
  /// it plus the events). On success `order` becomes `after`. Errors: stale_status (the order
  /// moved meanwhile: read it again), order_not_found, fenced.
  virtual boost::asio::awaitable<boost::system::result<void>> commit(
      order_record& order, order_record after, std::vector<log_event> events,
      work_change work) = 0;

  /// Refunds `order` (in 1, 6, 7 or 3; not refunded) as `after` says (status 4, refunded, the
  /// version one or two on, through 3), crediting its cost back, compare-and-set on its version:
  /// the money at most once. Errors: stale_status, order_not_found, fenced.
  virtual boost::asio::awaitable<boost::system::result<void>> refund(const order_record& order,
                                                                     const order_record& after,
                                                                     work_change work) = 0;

  /// Errors: order_not_found.
  virtual boost::asio::awaitable<boost::system::result<order_record>> get(
      std::int64_t merchant_id, std::string order_number) = 0;

  /// What the order_no index holds for an order_no accepted before: one read.
  struct order_no_entry {
    std::string order_number;
    std::string fingerprint;
  };
  /// Errors: order_not_found (the order_no was never accepted).
  virtual boost::asio::awaitable<boost::system::result<order_no_entry>> order_no_entry_of(
      std::int64_t merchant_id, std::string order_no) = 0;

  /// The merchant's totals; a merchant never credited has all zeros.
  virtual boost::asio::awaitable<boost::system::result<account_totals>> account(
      std::int64_t merchant_id) = 0;

  /// Orders created in [start_ms, end_ms] (both inclusive), in `status` if given, newest first;
  /// page counts from 1. page < 1 or page_size < 1 answer an empty page (with the total).
  /// Errors: range_too_wide (a status filter over too many orders).
  virtual boost::asio::awaitable<boost::system::result<order_page>> list(
      std::int64_t merchant_id, std::int64_t start_ms, std::int64_t end_ms,
      std::optional<order_status> status, std::int64_t page, std::int64_t page_size) = 0;

  /// Up to `limit` (at least 1) numbers of orders not yet in 2 or 4 (what recovery resumes),
  /// oldest first, after `after` (a default cursor: from the oldest). Paging on with each
  /// page's `next` until `end` reads every order that stays active throughout the scan exactly
  /// once; an order that finishes or is accepted meanwhile is read at most once. A page may be
  /// empty without being the end (orders of one ms filling it were read before): go on.
  virtual boost::asio::awaitable<boost::system::result<active_page>> active_orders(
      std::int64_t merchant_id, active_cursor after, std::int64_t limit) = 0;

  /// The records of `numbers` (one merchant's) in one read, one answer each, in that order:
  /// the record, order_not_found, or storage_protocol for a record that cannot be read (that
  /// order's alone). The whole call fails only as a read does (storage_unavailable, ...).
  using order_reads = std::vector<boost::system::result<order_record>>;
  virtual boost::asio::awaitable<boost::system::result<order_reads>> get_many(
      std::int64_t merchant_id, std::vector<std::string> numbers) = 0;

  /// Up to `limit` order numbers whose callback is due at or before now_ms, earliest first.
  virtual boost::asio::awaitable<boost::system::result<std::vector<std::string>>> due_callbacks(
      std::int64_t merchant_id, std::int64_t now_ms, std::int64_t limit) = 0;

  /// The order's events, oldest first, each shown with `type from to reason at` (and, for
  /// `accepted`, the record's fields); empty for an unknown order.
  virtual boost::asio::awaitable<boost::system::result<std::vector<order_event>>> events(
      std::int64_t merchant_id, std::string order_number) = 0;

  /// Lists an order for an operator: in 1 with no final supplier answer since `since_ms` for
  /// longer than its channel allows (spec §6 unknown_max_s). Keeps the first `since_ms`.
  virtual boost::asio::awaitable<boost::system::result<void>> flag_unresolved(
      std::int64_t merchant_id, std::string order_number, std::int64_t since_ms) = 0;
  /// Takes it off that list (the supplier finally answered, or an operator settled it).
  virtual boost::asio::awaitable<boost::system::result<void>> clear_unresolved(
      std::int64_t merchant_id, std::string order_number) = 0;

  // ---- the order's steps, built on the primitives ----

  /// Errors: order_not_found.
  boost::asio::awaitable<boost::system::result<order_record>> find_by_order_no(
      std::int64_t merchant_id, std::string order_no);

  /// A status an advance passes through on its way, as its own event in the same step.
  struct hop {
    order_status status;
    field_pairs fields;  // on the event into `status`, and on the record
  };

  /// The step from `order.status` to `to` (spec §4; 0->6 is accept's and 3->4 fail_refund's),
  /// applied to the caller's copy of the order: once stored, `order` is the stored record (the
  /// step's fields, reason, updated_at, version, and on reaching 2 finished_at and the callback
  /// made pending); on any error it is untouched. `fields` are stored on the record and in the
  /// event (names must not be core fields nor type/from/to/at). With `via`, the order goes from
  /// 7 through 1 to 2 or 6 in one atomic step (two events): the supplier's answer to the submit
  /// was already final; any other path with `via` is illegal_transition. `order` must outlive
  /// the await. Errors: stale_status, illegal_transition, order_not_found.
  boost::asio::awaitable<boost::system::result<void>> advance(
      order_record& order, order_status to, std::string reason, field_pairs fields,
      std::int64_t now_ms, std::optional<hop> via = std::nullopt);

  /// The same step on the stored order, which must be in `from`. Answers the updated record.
  boost::asio::awaitable<boost::system::result<order_record>> transition(
      std::int64_t merchant_id, std::string order_number, order_status from, order_status to,
      std::string reason, field_pairs fields, std::int64_t now_ms);

  /// From the caller's copy of the order (its status is where the refund starts: 1, 6, 7
  /// through 3, or 3) to 4, crediting cost_fen back, at most once. Answers the refunded record.
  /// Errors: stale_status (the order is elsewhere, e.g. already refunded), illegal_transition
  /// (its status is not one of those), order_not_found.
  boost::asio::awaitable<boost::system::result<order_record>> fail_refund(const order_record& order,
                                                                          std::string reason,
                                                                          std::int64_t now_ms);
  /// The same from the stored order, which must be in `expected_from`.
  boost::asio::awaitable<boost::system::result<order_record>> fail_refund(
      std::int64_t merchant_id, std::string order_number, order_status expected_from,
      std::string reason, std::int64_t now_ms);
};

/// The record a new order is stored as (every order_log's accept): in 6, or in 7 with `match`
/// (attempt 1's fields) applied; version 1, created now, not final, not refunded. False, with a
/// log line, when the record lacks what idempotency needs (fingerprint, order_no, number,
/// merchant) or a match field is reserved or does not parse: a caller bug, nothing is stored.
bool form_accepted_record(order_record& record, std::int64_t now_ms, field_pairs match);

/// Where a refund may start: 1, 6, 7 (through 3), or 3.
bool refund_starts_from(order_status s) noexcept;

/// Names a step may not use for its fields: the record's own and the log event's fixed ones,
/// and no name at all.
bool reserved_field_name(std::string_view name) noexcept;

/// The work entry of an order a step made final: due for its callback now, or done.
work_change work_when_final(const order_record& after, std::int64_t now_ms);

}  // namespace topup::engine
