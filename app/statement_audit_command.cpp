#include "app/statement_audit_command.hpp"

#include <ostream>
#include <string>

#include "app/audit_command.hpp"
#include "engine/audit/statement_audit.hpp"

namespace topup::app {

int run_statement_audit(const engine::config& cfg, const std::vector<std::int64_t>& merchant_ids,
                        std::string_view range_text, std::ostream& out, std::ostream& err) {
  const auto range = engine::parse_day_range(range_text);
  if (!range) {
    err << "audit: --statements: " << range.error().message() << "\n";
    return k_audit_incomplete;
  }
  const auto ids = audited_merchants(cfg, merchant_ids, err);
  if (!ids) return k_audit_incomplete;
  const auto report =
      engine::audit_statements(cfg.statements.dir, cfg.statements.offset_s, *ids, *range);
  if (!report) {
    err << "audit: " << report.error().message() << "; nothing was audited\n";
    return k_audit_incomplete;
  }
  const std::string what = std::to_string(report->statements) + " statements of " +
                           std::to_string(report->merchants) + " merchants, " + range->to_string();
  print_outcome({"statements", what, ""}, report->findings, report->findings_not_listed, out);
  return report->clean() ? k_audit_clean : k_audit_findings;
}

}  // namespace topup::app
