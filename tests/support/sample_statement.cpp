#include "tests/support/sample_statement.hpp"

#include <stdexcept>

#include "engine/retention/statement_files.hpp"

namespace topup::test {

engine::statement_lines sample_statement_day(std::int64_t merchant_id, std::string_view yyyymmdd,
                                             engine::fen_t opening_fen) {
  engine::statement_lines lines;
  lines.merchant_id = merchant_id;
  lines.day = engine::business_day::parse(yyyymmdd).value();
  lines.offset_s = k_sample_statement_offset_s;
  lines.opening_fen = opening_fen;
  const std::int64_t start_ms = lines.day.start_ms(lines.offset_s);
  engine::statement_order o;
  o.order_number = "T" + std::string(yyyymmdd);
  o.order_no = "N" + std::string(yyyymmdd);
  o.mobile = "13800138000";
  o.amount_yuan = 50;
  o.cost_fen = 4'950;
  o.created_at_ms = start_ms + 3'600'000;
  o.finished_at_ms = o.created_at_ms + 5'000;
  o.debit_fen = o.cost_fen;
  lines.orders.push_back(o);
  lines.credits.push_back({"bank " + std::string(yyyymmdd), 10'000, start_ms + 7'200'000, "alice"});
  return lines;
}

engine::fen_t write_sample_statements(const std::string& dir, std::int64_t merchant_id,
                                      std::string_view first, int days, engine::fen_t opening_fen) {
  engine::business_day day = engine::business_day::parse(first).value();
  engine::fen_t balance_fen = opening_fen;
  for (int i = 0; i < days; ++i, day = day.next()) {
    const engine::statement st =
        engine::build_statement(sample_statement_day(merchant_id, day.to_string(), balance_fen));
    const auto written = engine::write_statement(dir, merchant_id, day, st.csv);
    if (!written) throw std::runtime_error(written.error().message());
    balance_fen = st.summary.closing_fen;
  }
  return balance_fen;
}

}  // namespace topup::test
