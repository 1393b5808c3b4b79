#pragma once
// The statements audit (`topupd audit --statements FROM..TO`, issue 16): the daily statement
// files of a range of business days checked against their manifest, against themselves (the
// lines add up to the summary) and against each other (each day opens where the day before
// closed). Files only: no Redis.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "engine/audit/audit.hpp"
#include "engine/retention/business_day.hpp"
#include "engine/retention/text_result.hpp"

namespace topup::engine {

/// Business days from `from` to `to`, both included.
struct day_range {
  business_day from;
  business_day to;

  std::int64_t days() const {
    return std::int64_t{to.days_since_epoch} - from.days_since_epoch + 1;
  }
  /// "FROM..TO", as the command line takes it.
  std::string to_string() const;
};

/// The longest range one audit reads: a year, leap day included.
inline constexpr std::int64_t k_statement_audit_days_max = 366;

/// "YYYYMMDD..YYYYMMDD" or one "YYYYMMDD" (a range of one day). An error, one line, for a text
/// that is neither, a FROM after TO, or more than k_statement_audit_days_max days.
text_result<day_range> parse_day_range(std::string_view text);

/// What a statements audit read and found. A plain value, owned by the caller.
struct statement_audit_report {
  std::int64_t merchants = 0;            // merchants audited
  std::int64_t statements = 0;           // statement files of the range read and checked
  std::vector<audit_finding> findings;   // order_number always empty; bounded per merchant
  std::int64_t findings_not_listed = 0;  // beyond k_audit_findings_max of one merchant

  bool clean() const noexcept { return findings.empty() && findings_not_listed == 0; }
};

/// Audits the statements under `dir` (statements.dir) of each of `merchant_ids` for every day of
/// `range`, the business day at UTC offset `offset_s` (statements.timezone). Per merchant:
/// 1. verify_manifest: every file of the merchant's directory (not only the range's) against
///    MANIFEST.sha256;
/// 2. each day: its file read, gunzipped and parsed; a day without a file is a finding; a file
///    naming another merchant, day or timezone is a finding and is checked no further;
///    otherwise check_statement (the lines against the summary);
/// 3. check_chain between each two consecutive days that both have a good file.
/// Findings are "statement YYYYMMDD: <problem>" for a day, the manifest's own words otherwise.
/// An error only when `dir` is not a directory (a wrong statements.dir would otherwise read as
/// every statement missing). Reads files on the calling thread.
text_result<statement_audit_report> audit_statements(const std::filesystem::path& dir,
                                                     std::int64_t offset_s,
                                                     const std::vector<std::int64_t>& merchant_ids,
                                                     day_range range);

}  // namespace topup::engine
