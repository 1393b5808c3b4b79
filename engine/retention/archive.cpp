#include "engine/retention/archive.hpp"

#include <filesystem>
#include <fstream>
#include <system_error>

#include "engine/order/order_number.hpp"
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
