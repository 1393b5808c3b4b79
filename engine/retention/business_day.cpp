#include "engine/retention/business_day.hpp"

#include <chrono>
#include <cstdio>

#include "engine/support/assert.hpp"

namespace topup::engine {
namespace {

using namespace std::chrono;

inline constexpr std::int64_t k_ms_per_s = 1000;
inline constexpr std::int64_t k_s_per_day = 86'400;
inline constexpr std::int64_t k_max_offset_east_s = 14 * 3600;
inline constexpr std::int64_t k_max_offset_west_s = 12 * 3600;

/// The value of `text` when it is only ASCII digits (and not empty), else nullopt. Callers
/// pass a fixed-width slice, so no overflow is possible (at most 4 digits).
std::optional<int> digits_value(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

/// A real calendar date in the years the statements can name; nullopt otherwise.
std::optional<year_month_day> calendar_date(int y, int m, int d) {
  if (y < 2000 || y > 2999) return std::nullopt;
  const year_month_day date{year{y}, month{static_cast<unsigned>(m)},
                            day{static_cast<unsigned>(d)}};
  if (!date.ok()) return std::nullopt;
  return date;
}

bool offset_in_range(std::int64_t offset_s) {
  return offset_s >= -k_max_offset_west_s && offset_s <= k_max_offset_east_s && offset_s % 60 == 0;
}

/// Local seconds since the epoch: what the calendar of the offset shows at `unix_ms`.
/// Floor, not truncation: an instant before the epoch still belongs to the earlier second.
std::int64_t local_seconds(std::int64_t unix_ms, std::int64_t offset_s) {
  return floor<seconds>(milliseconds{unix_ms}).count() + offset_s;
}

}  // namespace

std::optional<std::int64_t> parse_utc_offset(std::string_view text) {
  if (text.size() != 6 || (text[0] != '+' && text[0] != '-') || text[3] != ':') {
    return std::nullopt;
  }
  const auto hours = digits_value(text.substr(1, 2));
  const auto minutes = digits_value(text.substr(4, 2));
  if (!hours || !minutes || *minutes > 59) return std::nullopt;
  const std::int64_t magnitude_s = *hours * 3600 + *minutes * 60;
  const std::int64_t offset_s = text[0] == '-' ? -magnitude_s : magnitude_s;
  if (!offset_in_range(offset_s)) return std::nullopt;
  return offset_s;
}

std::string format_utc_offset(std::int64_t offset_s) {
  TOPUP_ASSERT(offset_in_range(offset_s));
  const std::int64_t magnitude_min = (offset_s < 0 ? -offset_s : offset_s) / 60;
  char text[8];
  std::snprintf(text, sizeof text, "%c%02d:%02d", offset_s < 0 ? '-' : '+',
                static_cast<int>(magnitude_min / 60), static_cast<int>(magnitude_min % 60));
  return text;
}

business_day business_day::day_of(std::int64_t unix_ms, std::int64_t offset_s) {
  const sys_seconds local{seconds{local_seconds(unix_ms, offset_s)}};
  return {static_cast<std::int32_t>(floor<days>(local).time_since_epoch().count())};
}

std::optional<business_day> business_day::parse(std::string_view text) {
  if (text.size() != 8) return std::nullopt;
  const auto y = digits_value(text.substr(0, 4));
  const auto m = digits_value(text.substr(4, 2));
  const auto d = digits_value(text.substr(6, 2));
  if (!y || !m || !d) return std::nullopt;
  const auto date = calendar_date(*y, *m, *d);
  if (!date) return std::nullopt;
  return business_day{static_cast<std::int32_t>(sys_days{*date}.time_since_epoch().count())};
}

std::int64_t business_day::start_ms(std::int64_t offset_s) const {
  // Local midnight is `offset_s` earlier in UTC for offsets east of Greenwich.
  return (static_cast<std::int64_t>(days_since_epoch) * k_s_per_day - offset_s) * k_ms_per_s;
}

std::int64_t business_day::end_ms(std::int64_t offset_s) const { return next().start_ms(offset_s); }

std::string business_day::to_string() const {
  const year_month_day date{sys_days{days{days_since_epoch}}};
  char text[16];
  std::snprintf(text, sizeof text, "%04d%02u%02u", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
  return text;
}

std::string format_local_time(std::int64_t unix_ms, std::int64_t offset_s) {
  const sys_seconds local{seconds{local_seconds(unix_ms, offset_s)}};
  const sys_days day = floor<days>(local);
  const year_month_day date{day};
  const hh_mm_ss<seconds> time{local - day};
  char text[32];
  std::snprintf(text, sizeof text, "%04d-%02u-%02u %02d:%02d:%02d", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                static_cast<int>(time.hours().count()), static_cast<int>(time.minutes().count()),
                static_cast<int>(time.seconds().count()));
  return text;
}

std::optional<std::int64_t> parse_local_time(std::string_view text, std::int64_t offset_s) {
  if (text.size() != 19 || text[4] != '-' || text[7] != '-' || text[10] != ' ' || text[13] != ':' ||
      text[16] != ':') {
    return std::nullopt;
  }
  const auto y = digits_value(text.substr(0, 4));
  const auto mo = digits_value(text.substr(5, 2));
  const auto d = digits_value(text.substr(8, 2));
  const auto h = digits_value(text.substr(11, 2));
  const auto mi = digits_value(text.substr(14, 2));
  const auto s = digits_value(text.substr(17, 2));
  if (!y || !mo || !d || !h || !mi || !s || *h > 23 || *mi > 59 || *s > 59) return std::nullopt;
  const auto date = calendar_date(*y, *mo, *d);
  if (!date) return std::nullopt;
  const std::int64_t local_s =
      sys_seconds{sys_days{*date}}.time_since_epoch().count() + *h * 3600 + *mi * 60 + *s;
  return (local_s - offset_s) * k_ms_per_s;
}

}  // namespace topup::engine
