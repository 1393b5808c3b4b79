#pragma once
// topupd's own order id. Only [A-Za-z0-9] so that "<order_number>-<attempt>" stays a valid
// order_no (spec §6). It encodes the owning shard (DESIGN.md) and the merchant, whose hash tag
// every key of the order carries, so any shard can find an order from its number alone.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace topup::engine {

struct order_number_parts {
  std::uint64_t unix_ms = 0;     // acceptance time
  std::uint32_t instance = 0;    // server.instance_id, 0..999
  std::uint32_t shard = 0;       // accepting shard, 0..999
  std::uint32_t sequence = 0;    // per-shard counter, 0..99999 (wraps)
  std::int64_t merchant_id = 0;  // 1..999999999999
};

/// "T" + 13-digit ms + 3-digit instance + 3-digit shard + 5-digit sequence + "M" + merchant id.
/// Example: {1700000000123, 1, 0, 42, 1001} -> "T170000000012300100000042M1001". 27 to 38 chars.
/// sequence is taken modulo 100000 (the counter may simply keep counting); every other field
/// out of its range is a bug and fails TOPUP_ASSERT. No iostreams, one allocation.
std::string make_order_number(const order_number_parts& parts);

/// Inverse of make_order_number; nullopt for anything it would not produce: wrong length, lower
/// case markers, non-ASCII-digits, a merchant id with a leading zero (so 0 too).
std::optional<order_number_parts> parse_order_number(std::string_view text) noexcept;

}  // namespace topup::engine
