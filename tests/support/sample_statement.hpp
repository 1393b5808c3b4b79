#pragma once
// Statement files for tests of what reads them (`topupd audit --statements`): a small, valid
// day of one merchant, and a chain of such days written with the statement module, as the
// statement maker would write them.
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/order/money.hpp"
#include "engine/retention/statement.hpp"

namespace topup::test {

/// The business day's offset of the sample statements: +08:00, statements.timezone's default.
inline constexpr std::int64_t k_sample_statement_offset_s = 8 * 3600;

/// One merchant's day `yyyymmdd` (a valid date) opening at `opening_fen`: a 50-yuan order
/// debited 49.50 and a 100.00 credit, so it closes 50.50 above where it opened.
engine::statement_lines sample_statement_day(std::int64_t merchant_id, std::string_view yyyymmdd,
                                             engine::fen_t opening_fen);

/// Writes `days` sample days from `first` on under `dir` (statements.dir), each opening where
/// the day before closed, the first at `opening_fen`; answers the last one's closing. Throws
/// std::runtime_error when a file cannot be written.
engine::fen_t write_sample_statements(const std::string& dir, std::int64_t merchant_id,
                                      std::string_view first, int days, engine::fen_t opening_fen);

}  // namespace topup::test
