#include "engine/audit/finding_sink.hpp"

#include <utility>

#include "engine/config/config.hpp"

namespace topup::engine {

void finding_sink::add(std::string order_number, std::string problem) {
  if (report_.findings.size() >= k_audit_findings_max) {
    ++report_.findings_not_listed;
    return;
  }
  report_.findings.push_back(
      audit_finding{merchant_id_, std::move(order_number), std::move(problem)});
}

void finding_sink::add_all(const std::string& order_number, std::vector<std::string> problems,
                           std::string_view suffix) {
  for (auto& p : problems) {
    p.append(suffix);
    add(order_number, std::move(p));
  }
}

std::string quoted_value(std::string_view text) { return quote_for_message(text); }

std::string fen_text(fen_t amount) { return std::to_string(amount) + " fen"; }

std::string status_text(order_status s) { return std::to_string(to_int(s)); }

}  // namespace topup::engine
