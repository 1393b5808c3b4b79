#pragma once
// `topupd audit --config FILE --statements FROM..TO [--merchant ID]...`: the statements audit
// (engine/audit/statement_audit.hpp) from the command line. Reads statements.dir only: no Redis.
#include <cstdint>
#include <iosfwd>
#include <string_view>
#include <vector>

#include "engine/config/config.hpp"

namespace topup::app {

/// Audits the statement files of the days `range_text` names (YYYYMMDD..YYYYMMDD or one
/// YYYYMMDD) under `cfg.statements.dir`, for every configured merchant (or only `merchant_ids`,
/// each of which must be configured); writes each finding as one line and then a one-line
/// summary to `out`, and what stopped the audit (a bad range, an unknown merchant, no such
/// directory) as one line to `err`. Returns the exit codes of audit_command.hpp.
int run_statement_audit(const engine::config& cfg, const std::vector<std::int64_t>& merchant_ids,
                        std::string_view range_text, std::ostream& out, std::ostream& err);

}  // namespace topup::app
