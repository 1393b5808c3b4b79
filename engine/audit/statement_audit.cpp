#include "engine/audit/statement_audit.hpp"

#include <optional>
#include <system_error>
#include <utility>

#include "engine/config/config.hpp"
#include "engine/retention/gzip.hpp"
#include "engine/retention/statement_check.hpp"
#include "engine/retention/statement_files.hpp"

namespace topup::engine {
namespace {

namespace fs = std::filesystem;

std::string day_prefix(business_day day) { return "statement " + day.to_string() + ": "; }

/// `problem` with its control characters escaped: the checks quote values from the file (an
/// order number, a credit's ref) as they are, and a tampered file must not forge a second line.
std::string as_one_line(std::string problem) {
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(problem.size());
  for (const char c : problem) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte != 0x7f) {
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      out += {'\\', 'x', k_hex[byte >> 4], k_hex[byte & 0xf]};
    }
  }
  return out;
}

/// The merchant's statement of `day` as its file says; nullopt when there is no file.
text_result<std::optional<parsed_statement>> load_statement(const fs::path& dir,
                                                            std::int64_t merchant_id,
                                                            business_day day) {
  auto bytes = read_statement(dir, merchant_id, day);
  if (!bytes) return bytes.error();
  if (!*bytes) return std::optional<parsed_statement>{};
  auto text = gunzip(**bytes);
  if (!text) return text.error();
  auto parsed = parse_statement(*text);
  if (!parsed) return parsed.error();
  return std::optional<parsed_statement>{std::move(*parsed)};
}

/// A file in the right place that is not the statement asked for (copied from another merchant's
/// directory, renamed from another day, made in another timezone): what it says it is instead.
std::vector<std::string> check_identity(const statement_lines& lines, std::int64_t merchant_id,
                                        business_day day, std::int64_t offset_s) {
  std::vector<std::string> out;
  if (lines.merchant_id != merchant_id) {
    out.push_back("the file is merchant " + std::to_string(lines.merchant_id) + "'s");
  }
  if (lines.day != day) out.push_back("the file is the statement of " + lines.day.to_string());
  if (lines.offset_s != offset_s) {
    out.push_back("the file's timezone is " + format_utc_offset(lines.offset_s) +
                  ", statements.timezone is " + format_utc_offset(offset_s));
  }
  return out;
}

/// One merchant's statements audit, day after day, into the report. Its findings are kept up to
/// k_audit_findings_max, as the books audit keeps them, and counted beyond: a directory of
/// tampered files must not make an endless report. Lives for one merchant's pass.
class merchant_statements_audit {
 public:
  merchant_statements_audit(const fs::path& dir, std::int64_t offset_s, std::int64_t merchant_id,
                            statement_audit_report& report)
      : dir_(dir), offset_s_(offset_s), merchant_id_(merchant_id), report_(report) {}

  void run(day_range range) {
    add_all(verify_manifest(dir_, merchant_id_));
    std::optional<parsed_statement> prev;
    for (business_day day = range.from; day <= range.to; day = day.next()) {
      prev = audit_day(day, prev);
    }
    ++report_.merchants;
  }

 private:
  /// Checks one day's file, and the chain from `prev` (the day before, when it had a good
  /// file); answers this day's statement when the next day can be chained to it.
  std::optional<parsed_statement> audit_day(business_day day,
                                            const std::optional<parsed_statement>& prev) {
    const std::string prefix = day_prefix(day);
    auto loaded = load_statement(dir_, merchant_id_, day);
    if (!loaded) {
      add(prefix + loaded.error().message());
      return std::nullopt;
    }
    if (!*loaded) {
      add("statement " + day.to_string() + " missing");
      return std::nullopt;
    }
    ++report_.statements;
    const parsed_statement& st = **loaded;
    // Another merchant's or day's file says nothing about this one: its sums are not checked.
    if (auto wrong = check_identity(st.lines, merchant_id_, day, offset_s_); !wrong.empty()) {
      add_all(std::move(wrong), prefix);
      return std::nullopt;
    }
    add_all(check_statement(st), prefix);
    if (prev) add_all(check_chain(*prev, st), prefix);
    return std::move(*loaded);
  }

  void add(std::string problem) {
    if (kept_ >= k_audit_findings_max) {
      ++report_.findings_not_listed;
      return;
    }
    ++kept_;
    report_.findings.push_back(audit_finding{merchant_id_, {}, as_one_line(std::move(problem))});
  }
  void add_all(std::vector<std::string> problems, std::string_view prefix = {}) {
    for (auto& p : problems) add(std::string(prefix) + p);
  }

  const fs::path& dir_;
  const std::int64_t offset_s_;
  const std::int64_t merchant_id_;
  statement_audit_report& report_;
  std::size_t kept_ = 0;
};

}  // namespace

std::string day_range::to_string() const { return from.to_string() + ".." + to.to_string(); }

text_result<day_range> parse_day_range(std::string_view text) {
  const std::size_t dots = text.find("..");
  const std::string_view first = text.substr(0, dots);
  const std::string_view last = dots == std::string_view::npos ? first : text.substr(dots + 2);
  const auto from = business_day::parse(first);
  const auto to = business_day::parse(last);
  if (!from || !to) {
    return fail(quote_for_message(text) + " is not YYYYMMDD..YYYYMMDD or YYYYMMDD");
  }
  const day_range range{*from, *to};
  if (*to < *from) return fail(from->to_string() + " is after " + to->to_string());
  if (range.days() > k_statement_audit_days_max) {
    return fail(std::to_string(range.days()) + " days, more than " +
                std::to_string(k_statement_audit_days_max));
  }
  return range;
}

text_result<statement_audit_report> audit_statements(const fs::path& dir, std::int64_t offset_s,
                                                     const std::vector<std::int64_t>& merchant_ids,
                                                     day_range range) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return fail("statements.dir " + dir.string() + " is not a directory" +
                (ec ? " (" + ec.message() + ")" : std::string{}));
  }
  statement_audit_report report;
  for (std::int64_t id : merchant_ids) {
    merchant_statements_audit(dir, offset_s, id, report).run(range);
  }
  return report;
}

}  // namespace topup::engine
