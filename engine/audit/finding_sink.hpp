#pragma once
// Where the books audit's findings go (audit.hpp), and how a finding writes what it names.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/audit/audit.hpp"
#include "engine/order/money.hpp"
#include "engine/order/order_status.hpp"

namespace topup::engine {

/// One merchant's findings: kept in its report up to k_audit_findings_max, counted beyond. Lives
/// as long as the audit of that merchant, on the audit's thread; the report outlives it.
class finding_sink {
 public:
  finding_sink(audit_report& report, std::int64_t merchant_id)
      : report_(report), merchant_id_(merchant_id) {}

  /// A finding about order `order_number`, or about the merchant's account or log when "".
  void add(std::string order_number, std::string problem);

  /// Each of `problems` about one order, with `suffix` appended to each.
  void add_all(const std::string& order_number, std::vector<std::string> problems,
               std::string_view suffix = {});

 private:
  audit_report& report_;
  const std::int64_t merchant_id_;
};

/// A value read from Redis, quoted and escaped so a finding stays one line.
std::string quoted_value(std::string_view text);

/// An amount as findings write it: "<n> fen".
std::string fen_text(fen_t amount);

/// A status as findings write it: its digit (spec §4).
std::string status_text(order_status s);

}  // namespace topup::engine
