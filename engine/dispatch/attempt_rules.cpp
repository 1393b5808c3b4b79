#include "engine/dispatch/attempt_rules.hpp"

namespace topup::engine::attempt_rules {

bool definitive(attempt_outcome o) noexcept {
  return o == attempt_outcome::succeeded || o == attempt_outcome::failed ||
         o == attempt_outcome::refused;
}

settlement settle(const attempt_result& known, bool failover_allowed) {
  field_pairs fields;
  if (known.outcome == attempt_outcome::succeeded) {
    fields.emplace_back("last_outcome", "succeeded");
    return {order_status::success, std::string(), std::move(fields), true};
  }
  if (failover_allowed) {
    fields.emplace_back("last_outcome", std::string(outcome_name(known.outcome)));
    return {order_status::waiting, known.detail, std::move(fields), false};
  }
  return {order_status::failed, known.detail, std::move(fields), false};
}

query_verdict judge_query(attempt_outcome answer, std::int64_t age_ms,
                          std::int64_t grace_ms) noexcept {
  if (answer == attempt_outcome::not_found && age_ms >= grace_ms) return query_verdict::never_placed;
  if (definitive(answer)) return query_verdict::settle;
  return query_verdict::ask_again;
}

bool overdue(std::int64_t age_ms, std::int64_t unknown_max_s) noexcept {
  return age_ms >= unknown_max_s * 1000;
}

std::string submit_word(attempt_outcome o) {
  if (o == attempt_outcome::accepted || definitive(o)) return std::string(outcome_name(o));
  return "unknown";
}

field_pairs next_attempt_fields(const order_record& order, const std::string& channel_id,
                                std::int64_t now_ms) {
  const std::int64_t number = order.attempt.number + 1;
  std::vector<std::string> tried = order.attempt.tried;
  tried.push_back(channel_id);
  field_pairs fields;
  fields.reserve(5);
  fields.emplace_back("channel", channel_id);
  fields.emplace_back("attempts", std::to_string(number));
  fields.emplace_back("attempt_id", order.order_number + "-" + std::to_string(number));
  fields.emplace_back("tried", join_ids(tried));
  fields.emplace_back("matched_at", std::to_string(now_ms));
  return fields;
}

bool callback_counts(const supplier_callback& callback, std::string_view attempt_id,
                     std::string_view channel_id) noexcept {
  return callback.attempt_id == attempt_id && callback.channel_id == channel_id &&
         definitive(callback.result.outcome);
}

}  // namespace topup::engine::attempt_rules
