#pragma once
// `topupd audit --config FILE [--merchant ID]...`: the books audit (engine/audit/audit.hpp) from
// the command line, for operators and for CI against a copy of production data; and what it
// shares with the statements audit (statement_audit_command.hpp): exit codes, merchants, output.
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/audit/audit.hpp"
#include "engine/config/config.hpp"

namespace topup::app {

/// Exit codes of `topupd audit`.
inline constexpr int k_audit_clean = 0;       // every check passed
inline constexpr int k_audit_findings = 1;    // the books disagree with themselves somewhere
inline constexpr int k_audit_incomplete = 2;  // could not audit: Redis unreachable, bad merchant,
                                              // bad --statements range

/// The merchants an audit covers: every configured one when `merchant_ids` is empty, else those
/// (each once). nullopt, with one line to `err`, when one of them is not configured.
std::optional<std::vector<std::int64_t>> audited_merchants(
    const engine::config& cfg, const std::vector<std::int64_t>& merchant_ids, std::ostream& err);

/// What an audit looked at, for its last line.
struct audit_scope {
  std::string_view name;        // "audit", "statements"
  std::string what;             // "2 merchants, 9 orders ..."
  std::string_view clean_note;  // after `what` when clean, e.g. ": every balance ... agrees"
};

/// Each finding as one line ("merchant <id>: <problem>"), then how many were not kept, if any,
/// then the verdict: "<name> clean: <what><clean_note>" or "<name> FAILED: <n> findings in
/// <what>".
void print_outcome(const audit_scope& scope, const std::vector<engine::audit_finding>& findings,
                   std::int64_t findings_not_listed, std::ostream& out);

/// Connects to `cfg.redis` with one io_context on the calling thread, audits every configured
/// merchant (or only `merchant_ids`, each of which must be configured), writes each finding as
/// one line and then a one-line summary to `out`, and problems that stopped the audit to `err`.
/// Returns one of the exit codes above.
int run_audit(const engine::config& cfg, const std::vector<std::int64_t>& merchant_ids,
              std::ostream& out, std::ostream& err);

}  // namespace topup::app
