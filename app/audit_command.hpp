#pragma once
// `topupd audit --config FILE [--merchant ID]...`: the books audit (engine/audit/audit.hpp) from the
// command line, for operators and for CI against a copy of production data.
#include <cstdint>
#include <iosfwd>
#include <vector>

#include "engine/config/config.hpp"

namespace topup::app {

/// Exit codes of `topupd audit`.
inline constexpr int k_audit_clean = 0;       // every check passed
inline constexpr int k_audit_findings = 1;    // the books disagree with themselves somewhere
inline constexpr int k_audit_incomplete = 2;  // could not audit: Redis unreachable, bad merchant

/// Connects to `cfg.redis` with one io_context on the calling thread, audits every configured
/// merchant (or only `merchant_ids`, each of which must be configured), writes each finding as
/// one line and then a one-line summary to `out`, and problems that stopped the audit to `err`.
/// Returns one of the exit codes above.
int run_audit(const engine::config& cfg, const std::vector<std::int64_t>& merchant_ids,
              std::ostream& out, std::ostream& err);

}  // namespace topup::app
