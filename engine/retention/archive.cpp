#include "engine/retention/archive.hpp"

#include "engine/order/order_number.hpp"
#include "engine/order/packed_values.hpp"
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

std::string escape_line(std::string_view text) {
  std::string line;
  line.reserve(text.size() + 8);
  for (char c : text) {
    switch (c) {
      case '\\': line += "\\\\"; break;
      case '\n': line += "\\n"; break;
      case '\r': line += "\\r"; break;
      default: line += c;
    }
  }
  return line;
}

std::optional<std::string> unescape_line(std::string_view line) {
  std::string text;
  text.reserve(line.size());
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] != '\\') {
      text += line[i];
      continue;
    }
    if (++i == line.size()) return std::nullopt;
    switch (line[i]) {
      case '\\': text += '\\'; break;
      case 'n': text += '\n'; break;
      case 'r': text += '\r'; break;
      default: return std::nullopt;
    }
  }
  return text;
}

std::string archive_line(const order_record& record) { return escape_line(pack_order(record)); }

boost::system::result<order_record> order_from_archive_line(std::string_view line) {
  auto packed = unescape_line(line);
  if (!packed) return errc::storage_protocol;
  return unpack_order(*packed);
}

std::string log_day_dir(const std::string& dir, std::int64_t merchant_id, std::string_view day) {
  return (merchant_statement_dir(dir, merchant_id) / "log" / day).string();
}

std::string log_archive_line(const order_event& entry) {
  std::string packed;
  append_packed_value(packed, entry.id, true);
  for (const auto& [name, value] : entry.fields) {
    append_packed_value(packed, name, false);
    append_packed_value(packed, value, false);
  }
  return escape_line(packed);
}

boost::system::result<order_event> log_entry_from_archive_line(std::string_view line) {
  auto packed = unescape_line(line);
  if (!packed) return errc::storage_protocol;
  auto values = unpack_values(*packed);
  if (!values) return values.error();
  if (values->empty() || values->front().empty() || values->size() % 2 != 1)
    return errc::storage_protocol;
  order_event entry;
  entry.id = std::move(values->front());
  for (std::size_t i = 1; i < values->size(); i += 2)
    entry.fields.emplace_back(std::move((*values)[i]), std::move((*values)[i + 1]));
  return entry;
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
