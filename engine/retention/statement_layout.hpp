#pragma once
// The layout of a statement file, shared by the code that writes it (statement.cpp) and the
// code that reads it back (statement_check.cpp): the columns, the kinds, the summary rows.
#include <cstddef>
#include <string_view>

#include "engine/retention/statement.hpp"

namespace topup::engine::statement_layout {

/// The columns of k_statement_header, in order.
enum column : std::size_t {
  kind,
  order_number,
  order_no,
  mobile,
  carrier,
  amount,
  cost,
  status,
  reason,
  created_at,  // a credit's time goes here too
  finished_at,
  debit,
  refund,
  credit,
  ref,
  by,
  column_count
};

/// The first field of a line: its kind, or `summary` for the footer.
std::string_view kind_name(statement_line_kind kind) noexcept;
inline constexpr std::string_view k_summary = "summary";

/// The footer, one row each, in this order.
namespace summary_row {
inline constexpr std::string_view merchant = "merchant";
inline constexpr std::string_view date = "date";
inline constexpr std::string_view timezone = "timezone";
inline constexpr std::string_view mode = "mode";  // `live`, or `sandbox` for a sandbox merchant
inline constexpr std::string_view opening = "opening";
inline constexpr std::string_view credits = "credits";
inline constexpr std::string_view debits = "debits";
inline constexpr std::string_view refunds = "refunds";
inline constexpr std::string_view closing = "closing";
inline constexpr std::string_view orders = "orders";
inline constexpr std::string_view pendings = "pendings";
inline constexpr std::string_view credits_count = "credits_count";
}  // namespace summary_row

inline constexpr std::string_view k_mode_live = "live";
inline constexpr std::string_view k_mode_sandbox = "sandbox";

inline constexpr std::size_t k_summary_rows = 12;
inline constexpr std::size_t k_summary_fields = 3;  // summary,<name>,<value>

}  // namespace topup::engine::statement_layout
