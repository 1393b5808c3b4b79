#pragma once
// The order state machine's decisions about a channel attempt (spec §4, §6), as pure functions
// over typed values: no I/O, no clock, no Redis. The dispatcher's step functions ask these and
// then persist what they answer; the unit tests ask them directly.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/order/order_record.hpp"
#include "engine/order/order_status.hpp"
#include "engine/routing/channel_adapter.hpp"

namespace topup::engine::attempt_rules {

/// Only a final status decides an attempt: succeeded, failed, or refused at submit. Accepted,
/// pending ("charging"), not found and unknown leave it open (settling on them could deliver
/// twice).
bool definitive(attempt_outcome o) noexcept;

/// Where an attempt's definitive result takes the order from 1 (or 7).
struct settlement {
  order_status to;     // 2; 6 to fail over; 3 (then 4, with the refund) when it may not
  std::string reason;  // of the step: empty on success, else the supplier's detail
  field_pairs fields;  // stored with the step: last_outcome
  bool ok;             // for the channel's health
};
/// `failover_allowed`: the order has change=1 and no source.
settlement settle(const attempt_result& known, bool failover_allowed);

/// What one query answer means for an open attempt.
enum class query_verdict {
  settle,        // a final status: store it
  never_placed,  // not found after the grace: the supplier never got it (fail, next channel ok)
  ask_again,     // pending, unknown, or not found within the grace
};
/// `age_ms`: since the attempt last may have reached the supplier (channel_attempt::since_ms).
query_verdict judge_query(attempt_outcome answer, std::int64_t age_ms, std::int64_t grace_ms) noexcept;

/// True once an open attempt has gone `age_ms` without a final answer for longer than its
/// channel's unknown_max_s: an operator is told (spec §6), and the order is still asked about.
bool overdue(std::int64_t age_ms, std::int64_t unknown_max_s) noexcept;

/// How the submit ended, as `submit` stores it: accepted, a definitive outcome's name, or unknown.
std::string submit_word(attempt_outcome o);

/// The fields of 6->7 that start the order's next attempt on `channel_id` (attempts, attempt_id,
/// tried with it appended, matched_at).
field_pairs next_attempt_fields(const order_record& order, const std::string& channel_id,
                                std::int64_t now_ms);

/// Whether a supplier callback is about the open attempt `attempt_id` held by `channel_id`, and
/// final: anything else (an older attempt, another channel's word, an intermediate status)
/// decides nothing.
bool callback_counts(const supplier_callback& callback, std::string_view attempt_id,
                     std::string_view channel_id) noexcept;

}  // namespace topup::engine::attempt_rules
