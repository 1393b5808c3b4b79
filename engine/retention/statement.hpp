#pragma once
// One merchant's daily statement (对账单, spec §3.7): its lines, its summary and its CSV text.
// Pure: the caller gathers the lines (from the order log) and stores the text
// (statement_files.hpp); statement_check.hpp reads a text back and checks it.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/order/carrier.hpp"
#include "engine/order/money.hpp"
#include "engine/order/order_status.hpp"
#include "engine/retention/business_day.hpp"

namespace topup::engine {

/// One order as a statement shows it. The money fields say what happened to the balance on
/// this day only, so an order that spans two days is counted once on each side of midnight:
/// accepted on day 1 and final on day 2, it is a `pending` line on day 1 (with its debit) and
/// an `order` line on day 2 (debit 0, and its refund if it failed).
struct statement_order {
  std::string order_number;  // topupd's id
  std::string order_no;      // the merchant's id (free text: formula-guarded in the CSV)
  std::string mobile;
  engine::carrier carrier = engine::carrier::cmcc;
  std::int64_t amount_yuan = 0;                 // face value
  fen_t cost_fen = 0;                           // what the merchant pays for it
  order_status status = order_status::success;  // at the day's end
  std::string reason;  // the merchant's words (merchant_reason), empty unless failed
  std::int64_t created_at_ms = 0;
  std::int64_t finished_at_ms = 0;  // 0: not final at the day's end (a `pending` line)
  fen_t debit_fen = 0;              // the cost if its debit happened this day, else 0
  fen_t refund_fen = 0;             // what was refunded this day, else 0

  friend bool operator==(const statement_order&, const statement_order&) = default;
};

/// One operator credit (or, negative, a correction) to the merchant's balance.
struct statement_credit {
  std::string ref;  // the credit's reference (free text: formula-guarded in the CSV)
  fen_t amount_fen = 0;
  std::int64_t at_ms = 0;
  std::string by;  // the operator, may be empty

  friend bool operator==(const statement_credit&, const statement_credit&) = default;
};

enum class statement_line_kind { order, pending, credit };

/// `order` when final by the day's end (finished_at_ms set), else `pending`.
statement_line_kind kind_of(const statement_order& order) noexcept;

/// Everything a statement is made of. `offset_s` is the business day's UTC offset: it places
/// the day and renders the times (the file names it, so a reader knows the times' zone).
struct statement_lines {
  std::int64_t merchant_id = 0;
  business_day day;
  std::int64_t offset_s = 0;
  fen_t opening_fen = 0;  // the balance at the day's start: the previous day's closing
  bool sandbox = false;   // a sandbox merchant's (spec §3.8): the summary says `mode,sandbox`
  std::vector<statement_order> orders;
  std::vector<statement_credit> credits;

  friend bool operator==(const statement_lines&, const statement_lines&) = default;
};

/// The totals at the foot of a statement. closing = opening + credits - debits + refunds,
/// to the fen; each day's closing is the next day's opening.
struct statement_summary {
  fen_t opening_fen = 0;
  fen_t credits_fen = 0;
  fen_t debits_fen = 0;
  fen_t refunds_fen = 0;
  fen_t closing_fen = 0;
  std::int64_t orders = 0;        // `order` lines
  std::int64_t pendings = 0;      // `pending` lines
  std::int64_t credit_lines = 0;  // `credit` lines

  friend bool operator==(const statement_summary&, const statement_summary&) = default;
};

/// The summary the lines add up to. A day without lines is valid: opening = closing.
statement_summary summarize(const statement_lines& lines);

/// A statement made: its summary and its file's text.
struct statement {
  statement_summary summary;
  std::string csv;
};

/// The statement of `lines`. The CSV text is, in this order:
///  - the UTF-8 BOM (Excel reads the file as UTF-8 only with it: reasons are Chinese);
///  - the header `kind,order_number,…,ref,by` (k_statement_header);
///  - one line per order, pending order and credit, by time (an order's finished_at, a pending
///    order's created_at, a credit's time), ties by order_number or ref: the same lines always
///    give the same bytes, so a statement made again has the same SHA-256;
///  - the summary rows `summary,<name>,<value>`: merchant, date, timezone, mode (`live` or `sandbox`), then opening,
///    credits, debits, refunds, closing (yuan, two decimals), then orders, pendings,
///    credits_count. Three fields, not sixteen: they are a footer, not records of the table.
/// Times are local "YYYY-MM-DD HH:MM:SS" in `offset_s`; every record ends in CRLF.
statement build_statement(const statement_lines& lines);

/// The header record of a statement file (without the BOM before it or the CRLF after it).
inline constexpr std::string_view k_statement_header =
    "kind,order_number,order_no,mobile,carrier,amount,cost,status,reason,created_at,"
    "finished_at,debit,refund,credit,ref,by";

inline constexpr std::string_view k_utf8_bom = "\xEF\xBB\xBF";

}  // namespace topup::engine
