#pragma once
// Money is integer fen (int64_t) everywhere in code; yuan strings exist only at the wire.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace topup::engine {

using fen_t = std::int64_t;

/// Rates (price_rate, cost_rate) are held exactly as integer parts per million: 0.995 -> 995000.
inline constexpr std::int64_t k_rate_one_ppm = 1'000'000;

/// Parses a yuan amount as written at the wire: optional '-', digits, optional '.' and 1 or 2
/// digits ("12", "12.5", "12.50", "-0.05"). Rejects everything else ("", "+1", "1.", ".5",
/// "1.234", "1e3", " 1", overflow beyond +/- 9e15 fen). Exact: no floating point.
/// Strict on spelling: no leading zeros in the integer part except a lone "0" ("0.5" yes,
/// "01", "00.5" no), and no negative zero ("-0", "-0.00" are rejected; "0" and "0.00" are 0).
std::optional<fen_t> parse_yuan(std::string_view text);

/// Formats fen as yuan with exactly two decimals: 9950 -> "99.50", -5 -> "-0.05", 0 -> "0.00".
std::string format_fen(fen_t amount_fen);

/// Converts a configured rate (e.g. 0.995) to ppm, rounding to the nearest ppm.
/// nullopt for NaN, infinities, values <= 0 or > 1000, and positive rates so small that they
/// round to 0 ppm (a zero rate would make orders free).
std::optional<std::int64_t> rate_to_ppm(double rate);

/// amount_fen x rate, rounded half up (away from zero for the .5 case) to whole fen.
/// Example: 100 yuan (10000 fen) x 0.995 -> 9950; 1 fen x 0.5 -> 1; 3 fen x 0.5 -> 2;
/// -1 fen x 0.5 -> -1. Exact (128-bit intermediate). Asserts (TOPUP_ASSERT) that rate_ppm is one
/// rate_to_ppm can produce (1..1000 x k_rate_one_ppm) and that the result fits in fen_t.
fen_t apply_rate_half_up(fen_t amount_fen, std::int64_t rate_ppm);

}  // namespace topup::engine
