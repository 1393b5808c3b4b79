#pragma once
// One merchant's business day as its log tells it (docs/STORAGE.md "The log"), folded into what
// the day's statement (statement.hpp) is made of: the orders accepted or made final that day, the
// day's credits, and the balance after each money entry. Pure: the statement maker
// (statement_maker.hpp) reads the entries and the orders' records and hands them in.
//
// The day of an entry is the day of its log time (the stream id: Redis's clock), so the money of
// a day is exactly the money entries of the day, and each `bal` they carry checks the running
// balance: opening + the day's moves = the log's closing, to the fen.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/order/money.hpp"
#include "engine/order/order_record.hpp"
#include "engine/order/order_status.hpp"
#include "engine/retention/business_day.hpp"
#include "engine/retention/statement.hpp"
#include "engine/retention/text_result.hpp"

namespace topup::engine {

/// What one day's entries say of one order.
struct day_order {
  std::int64_t accepted_at_ms = 0;     // its `accepted` entry's time, when that is this day
  fen_t debit_fen = 0;                 // what that entry debited
  std::int64_t final_at_ms = 0;        // the time of the entry that made it 2 or 4, this day
  fen_t refund_fen = 0;                // what its `refund` entry credited back, this day
  std::optional<order_status> status;  // where this day's entries left it
};

/// class statement_day — one merchant's day, entry by entry, oldest first; then its lines.
/// A plain value owned by the maker of one statement; memory grows with the day's orders.
class statement_day {
 public:
  /// `opening_fen`: the balance at the day's start (the previous statement's closing).
  statement_day(std::int64_t merchant_id, business_day day, std::int64_t offset_s,
                fen_t opening_fen, bool sandbox);

  /// Folds one entry of the day. An entry outside the day, one lacking what its type needs,
  /// or a `bal` other than the running balance is an error (the statement is not made: the log
  /// or the opening is wrong, and a person must look).
  text_result<bool> apply(const order_event& entry);

  /// The orders the statement has a line for (accepted or made final this day), by number.
  std::vector<std::string> order_numbers() const;

  /// The day's lines, each order's details from its record in `records` (keyed by order number;
  /// each of order_numbers() must be there, with the cost its accepted entry debited).
  text_result<statement_lines> lines(const std::map<std::string, order_record>& records) const;

  /// The balance after the day's last money entry; the opening when the day moved no money.
  fen_t closing_fen() const noexcept { return running_fen_; }
  std::int64_t entries() const noexcept { return entries_; }

 private:
  text_result<bool> on_accepted(const order_event& e, std::int64_t at_ms);
  text_result<bool> on_step(const order_event& e, std::int64_t at_ms);
  text_result<bool> on_refund(const order_event& e, std::int64_t at_ms);
  text_result<bool> on_credit(const order_event& e, std::int64_t at_ms);
  /// Adds `delta` to the running balance and checks the entry's `bal` against it.
  text_result<bool> move(const order_event& e, fen_t delta);
  statement_order line_of(const std::string& number, const day_order& facts,
                          const order_record& record) const;

  statement_lines lines_;  // merchant, day, offset, opening, sandbox, credits
  fen_t running_fen_ = 0;
  std::int64_t entries_ = 0;
  std::map<std::string, day_order> orders_;  // by order number
};

}  // namespace topup::engine
