#include "engine/retention/archive.hpp"

#include "engine/order/order_number.hpp"
#include "engine/retention/business_day.hpp"
#include "engine/retention/statement_files.hpp"
#include "engine/support/errc.hpp"

namespace topup::engine {

std::string business_day_name(std::int64_t ms, std::int64_t offset_s) {
  return business_day::day_of(ms, offset_s).to_string();
}

std::string archive_day_dir(const std::string& dir, std::int64_t merchant_id,
                            std::string_view day) {
  return (merchant_statement_dir(dir, merchant_id) / "archive" / day).string();
}

std::string archive_line(const order_record& record) {
  const std::string packed = pack_order(record);
  std::string line;
  line.reserve(packed.size() + 8);
  for (char c : packed) {
    switch (c) {
      case '\\': line += "\\\\"; break;
      case '\n': line += "\\n"; break;
      case '\r': line += "\\r"; break;
      default: line += c;
    }
  }
  return line;
}

boost::system::result<order_record> order_from_archive_line(std::string_view line) {
  std::string packed;
  packed.reserve(line.size());
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] != '\\') {
      packed += line[i];
      continue;
    }
    if (++i == line.size()) return errc::storage_protocol;
    switch (line[i]) {
      case '\\': packed += '\\'; break;
      case 'n': packed += '\n'; break;
      case 'r': packed += '\r'; break;
      default: return errc::storage_protocol;
    }
  }
  return unpack_order(packed);
}

std::optional<std::string> archived_statement_day(std::string_view order_number,
                                                  std::int64_t merchant_id, const config& cfg,
                                                  std::int64_t now_ms) {
  const auto parts = parse_order_number(order_number);
  if (!parts || parts->merchant_id != merchant_id) return std::nullopt;
  const auto created_ms = static_cast<std::int64_t>(parts->unix_ms);
  if (created_ms > now_ms - cfg.storage.retention_ms) return std::nullopt;
  return business_day_name(created_ms, cfg.statements.offset_s);
}

}  // namespace topup::engine
