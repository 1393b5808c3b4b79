#pragma once
// Which orders need a person (spec §6 unknown_max_s, §7 the exception queue), as pure functions
// over the typed order and the configuration: no I/O, no clock. The exception queue lists what
// these say; a settlement is allowed only for what they say is settleable.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/config/config.hpp"
#include "engine/order/order_record.hpp"

namespace topup::engine {

/// Why an order needs a person.
enum class exception_kind {
  unresolved,       ///< in 1 with no final supplier answer for its channel's unknown_max_s
  callback_failed,  ///< final, its merchant callback used up callbacks.max_attempts
  channel_removed,  ///< in 7 or 1 on a channel this configuration no longer has
  overdue,          ///< waiting in 6 past its deadline, not refunded (the dispatcher's bug)
};
inline constexpr std::size_t k_exception_kind_count = 4;  ///< counts indexed by exception_kind
static_assert(static_cast<std::size_t>(exception_kind::overdue) + 1 == k_exception_kind_count);
std::string_view exception_kind_name(exception_kind k) noexcept;
std::optional<exception_kind> parse_exception_kind(std::string_view name) noexcept;

/// An order is listed as `overdue` only this long after its deadline: the dispatcher's
/// once-a-second sweep refunds one just past it.
inline constexpr std::int64_t k_overdue_grace_ms = 60'000;

/// What the queue says about one order.
struct exception_entry {
  exception_kind kind;
  std::int64_t since_ms = 0;  ///< since when: the attempt's start, the deadline, the last callback
  std::string detail;         ///< for the operator, in the engine's words
};

/// The kind of exception `order` is as it stands at `now_ms` under `cfg`, or nothing: pure, the
/// one rule both the listing and settlement ask, so an entry listed is one that can be settled
/// (unless another writer moved the order meanwhile).
std::optional<exception_entry> classify_exception(const order_record& order, const config& cfg,
                                                  std::int64_t now_ms);

/// An operator may settle it (spec §7): the order is not final. A callback_failed order is final
/// already; only a re-notify helps it.
bool settleable(exception_kind k) noexcept;

/// When a waiting order is due to fail at the latest (its merchant's fast or slow deadline).
std::int64_t waiting_deadline_ms(const order_record& order, const config& cfg) noexcept;

/// An operator's settlement of an order in the exception queue (spec §7): the result the operator
/// established with the supplier, and why they believe it. Stored on the step as `by` and
/// `evidence`.
struct manual_settlement {
  bool success = false;  ///< success: 1 -> 2 (7 through 1); failed: -> 3 -> 4, refunded once
  std::string by;        ///< the operator's name
  std::string evidence;  ///< 1..k_evidence_max bytes
};
inline constexpr std::size_t k_evidence_max = 500;

/// Why a settlement was not applied (nothing was written), or none.
enum class settle_refusal {
  none,             ///< applied: the order is final now
  final_already,    ///< final before (a supplier's answer won, or settled before): never twice
  not_listed,       ///< not in the exception queue: the engine is still working on it
  never_submitted,  ///< success asked for an order no supplier ever had (waiting in 6)
};
struct settle_outcome {
  settle_refusal refused = settle_refusal::none;
  order_record order;  ///< as stored now (after the settlement, or as found)
  std::optional<exception_kind> kind;  ///< what the queue said of it when asked
};

/// Whether `order`, as it stands, may be settled as `success` asks: pure, the check made on the
/// owning shard right before the settlement's steps (the compare-and-set then guards the race).
settle_refusal settle_check(const order_record& order, const config& cfg, std::int64_t now_ms,
                            bool success);

}  // namespace topup::engine
