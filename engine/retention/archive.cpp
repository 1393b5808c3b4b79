#include "engine/retention/archive.hpp"

#include <filesystem>
#include <fstream>
#include <system_error>

#include "engine/order/order_number.hpp"
#include "engine/order/packed_values.hpp"
#include "engine/retention/business_day.hpp"
#include "engine/retention/statement_files.hpp"
#include "engine/support/errc.hpp"

namespace topup::engine {

std::string business_day_name(std::int64_t ms, std::int64_t offset_s) {
  return business_day::day_of(ms, offset_s).to_string();
}

std::string archive_day_of(std::string_view order_number, std::int64_t created_at_ms,
                           std::int64_t offset_s) {
  const auto parts = parse_order_number(order_number);
  return business_day_name(parts ? static_cast<std::int64_t>(parts->unix_ms) : created_at_ms,
                           offset_s);
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

namespace {

/// Adds the orders of one archive file to `out`, keeping each number's highest version.
text_result<bool> read_archive_file(const std::filesystem::path& path,
                                    const std::set<std::string>* only,
                                    std::map<std::string, order_record>& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail("archive " + path.string() + ": cannot be read");
  std::string line;
  for (std::size_t n = 1; std::getline(in, line); ++n) {
    auto order = order_from_archive_line(line);
    if (!order) return fail("archive " + path.string() + " line " + std::to_string(n) + ": unreadable");
    if (only && !only->contains(order->order_number)) continue;
    auto [it, added] = out.try_emplace(order->order_number, *order);
    if (!added && order->event_count > it->second.event_count) it->second = std::move(*order);
  }
  if (in.bad()) return fail("archive " + path.string() + ": read failed");
  return true;
}

}  // namespace

text_result<std::map<std::string, order_record>> read_archive_day(
    const std::string& dir, std::int64_t merchant_id, std::string_view day,
    const std::set<std::string>* only) {
  std::map<std::string, order_record> out;
  const std::filesystem::path day_dir = archive_day_dir(dir, merchant_id, day);
  std::error_code ec;
  if (!std::filesystem::exists(day_dir, ec)) {
    if (ec) return fail("archive " + day_dir.string() + ": " + ec.message());
    return out;
  }
  std::filesystem::directory_iterator files(day_dir, ec);
  if (ec) return fail("archive " + day_dir.string() + ": " + ec.message());
  for (const auto& file : files) {
    const std::string name = file.path().filename().string();
    if (name.empty() || name.front() == '.') continue;  // a write_file_durably temp file
    auto read = read_archive_file(file.path(), only, out);
    if (!read) return read.error();
  }
  return out;
}

std::optional<std::string> archived_statement_day(std::string_view order_number,
                                                  std::int64_t merchant_id, const config& cfg,
                                                  std::int64_t now_ms) {
  const auto parts = parse_order_number(order_number);
  if (!parts || parts->merchant_id != merchant_id) return std::nullopt;
  const auto created_ms = static_cast<std::int64_t>(parts->unix_ms);
  if (created_ms > now_ms - cfg.storage.retention_ms) return std::nullopt;
  return archive_day_of(order_number, created_ms, cfg.statements.offset_s);
}

}  // namespace topup::engine
