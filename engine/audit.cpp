// TEMPORARY (branch v2 only, replaced by the v2 audit rewrite before landing).
#include "engine/audit.hpp"

#include "engine/errc.hpp"

namespace topup::engine {

std::string to_string(const audit_finding& finding) {
  std::string line = "merchant " + std::to_string(finding.merchant_id);
  if (!finding.order_number.empty()) line += " order " + finding.order_number;
  line += ": ";
  line += finding.problem;
  return line;
}

void audit_report::merge(audit_report other) {
  merchants += other.merchants;
  orders += other.orders;
  ledger_entries += other.ledger_entries;
  events += other.events;
  findings_not_listed += other.findings_not_listed;
  findings.insert(findings.end(), std::make_move_iterator(other.findings.begin()),
                  std::make_move_iterator(other.findings.end()));
}

boost::asio::awaitable<boost::system::result<audit_report>> audit_merchant(redis::connection&,
                                                                           std::string,
                                                                           std::int64_t) {
  co_return errc::internal;
}

boost::asio::awaitable<boost::system::result<audit_report>> audit_merchants(
    redis::connection&, std::string, std::vector<std::int64_t>) {
  co_return errc::internal;
}

}  // namespace topup::engine
