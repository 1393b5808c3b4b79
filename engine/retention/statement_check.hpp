#pragma once
// Reading a statement file back and checking it (`topupd audit`): does each statement add up,
// and does each day start where the previous one ended.
#include <string>
#include <string_view>
#include <vector>

#include "engine/retention/statement.hpp"
#include "engine/retention/text_result.hpp"

namespace topup::engine {

/// A statement as its file says: the lines, and the summary as written (not recomputed: the
/// point is to compare the two). lines.opening_fen is the summary's opening.
struct parsed_statement {
  statement_lines lines;
  statement_summary summary;
};

/// The inverse of build_statement(...).csv: for whole-second times, parse_statement(build(x))
/// gives x back, its lines in the file's order. Strict about the layout (BOM, header, sixteen
/// fields a line, which fields each kind fills, the summary rows once each and last) and about
/// each value's spelling; an error names the line (from 1, the header's line) and the problem.
text_result<parsed_statement> parse_statement(std::string_view csv);

/// What is wrong inside one statement, one line a problem (empty: nothing): the lines not adding
/// up to the summary (each total, each count), opening + credits - debits + refunds != closing,
/// a line outside the statement's day, an `order` line whose status is not final or a `pending`
/// line whose status is, a debit other than 0 or the cost, a refund other than 0 or the cost or
/// on an order not refunded. At most k_max_problems lines, the last one saying how many more.
std::vector<std::string> check_statement(const parsed_statement& statement);

/// What is wrong between two consecutive statements of a merchant: another merchant, `next` not
/// the day after `prev`, or `next` not opening where `prev` closed.
std::vector<std::string> check_chain(const parsed_statement& prev, const parsed_statement& next);

/// A tampered file of a million lines must not make a million-line report.
inline constexpr std::size_t k_max_problems = 100;

}  // namespace topup::engine
