#pragma once
// The business day of the daily statements (spec §3.7): a calendar day in a fixed UTC offset
// (`statements.timezone`, default +08:00), and the local-time text the statement files use.
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace topup::engine {

/// "+08:00", "-05:30", "+00:00" -> seconds east of UTC. Exactly sign, two digits, ':', two
/// digits; minutes 00..59; from -12:00 to +14:00 (the offsets in use on Earth). nullopt for
/// anything else ("+8:00", "08:00", "+08:60", "+14:30", "Z").
std::optional<std::int64_t> parse_utc_offset(std::string_view text);

/// The inverse of parse_utc_offset: 28800 -> "+08:00", -19800 -> "-05:30", 0 -> "+00:00".
/// The offset must be one parse_utc_offset accepts (whole minutes, in range); asserted.
std::string format_utc_offset(std::int64_t offset_s);

/// One day of the local calendar at some fixed UTC offset. The offset is not part of the value:
/// every caller has exactly one (the configured one), and a day compared across two offsets
/// would be a bug, so the functions that need it take it as an argument.
/// A plain value, usable on any shard.
struct business_day {
  std::int32_t days_since_epoch = 0;  // local calendar days since 1970-01-01

  /// The local day holding the instant `unix_ms` (negative instants included).
  static business_day day_of(std::int64_t unix_ms, std::int64_t offset_s);
  /// "YYYYMMDD": exactly 8 ASCII digits naming a real calendar date in the years 2000..2999.
  static std::optional<business_day> parse(std::string_view text);

  /// The day as the half-open interval [start_ms, end_ms) of unix milliseconds.
  std::int64_t start_ms(std::int64_t offset_s) const;
  std::int64_t end_ms(std::int64_t offset_s) const;

  business_day next() const { return {days_since_epoch + 1}; }
  business_day prev() const { return {days_since_epoch - 1}; }

  /// "YYYYMMDD", as in file names and the `date` parameter of spec §3.7.
  std::string to_string() const;

  friend auto operator<=>(const business_day&, const business_day&) = default;
};

/// `unix_ms` as local time "YYYY-MM-DD HH:MM:SS" at the offset (milliseconds dropped, rounding
/// towards the past, so an instant never shows in the next second, or the next day).
std::string format_local_time(std::int64_t unix_ms, std::int64_t offset_s);

/// The inverse of format_local_time, at whole seconds: the unix ms of the first millisecond of
/// that local second. Strict: exactly "YYYY-MM-DD HH:MM:SS", a real date in 2000..2999 (as
/// business_day::parse), 00..23:00..59:00..59.
std::optional<std::int64_t> parse_local_time(std::string_view text, std::int64_t offset_s);

}  // namespace topup::engine
