#pragma once
// Order statuses and the transition table of spec §4.
#include <cstdint>
#include <optional>
#include <string_view>

namespace topup::engine {

enum class order_status : std::uint8_t {
  pending_payment = 0,  // created, not yet debited (transient)
  recharging = 1,       // debited; submitted to a channel, result not yet known
  success = 2,          // final
  failed = 3,           // every allowed channel failed; refund due
  refunded = 4,         // final
  waiting = 6,          // debited, waiting for a channel
  matched = 7,          // a channel chosen, submission in flight
};

/// True exactly for the transitions of spec §4:
/// 0->6, 6->7, 7->1, 7->6, 1->2, 1->6, 1->3, 6->3, 7->3, 3->4. Nothing else, no self-loops.
bool transition_allowed(order_status from, order_status to) noexcept;

/// 2 and 4: nothing leaves them.
bool is_terminal(order_status s) noexcept;

/// From the wire/storage number; nullopt for 5, 8, negative, etc.
std::optional<order_status> status_from_int(int value) noexcept;

inline int to_int(order_status s) noexcept { return static_cast<int>(s); }

/// Chinese name as in spec §4, e.g. "充值成功".
std::string_view status_name(order_status s) noexcept;

}  // namespace topup::engine
