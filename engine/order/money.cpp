#include "engine/order/money.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <limits>
#include <system_error>

#include "engine/support/assert.hpp"

namespace topup::engine {
namespace {

inline constexpr fen_t k_max_abs_fen = 9'000'000'000'000'000;  // 9e15 fen = 9e13 yuan
// 9e13 yuan has 14 digits; anything longer is over the limit before we even add the fen.
inline constexpr std::size_t k_max_integer_digits = 14;
inline constexpr std::int64_t k_max_rate_ppm = 1000 * k_rate_one_ppm;

// 128-bit products keep amount x rate exact; __extension__ keeps -Wpedantic quiet about it.
__extension__ typedef __int128 int128_t;

constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

}  // namespace

std::optional<fen_t> parse_yuan(std::string_view text) {
  bool negative = false;
  if (!text.empty() && text.front() == '-') {
    negative = true;
    text.remove_prefix(1);
  }

  const std::size_t point = text.find('.');
  const std::string_view integer = text.substr(0, point);
  const std::string_view fraction =
      point == std::string_view::npos ? std::string_view{} : text.substr(point + 1);

  if (integer.empty() || integer.size() > k_max_integer_digits) return std::nullopt;
  // One amount, one spelling of its integer part: "01" or "00.5" are more likely a client
  // bug (or an attempt to slip past a cache/fingerprint) than a real intent.
  if (integer.size() > 1 && integer.front() == '0') return std::nullopt;
  if (point != std::string_view::npos && (fraction.empty() || fraction.size() > 2)) {
    return std::nullopt;
  }

  fen_t yuan = 0;
  for (const char c : integer) {
    if (!is_digit(c)) return std::nullopt;
    yuan = yuan * 10 + (c - '0');  // at most 14 digits: cannot overflow
  }
  fen_t fen = 0;
  for (std::size_t i = 0; i < 2; ++i) {
    fen *= 10;
    if (i < fraction.size()) {
      if (!is_digit(fraction[i])) return std::nullopt;
      fen += fraction[i] - '0';
    }
  }

  const fen_t magnitude = yuan * 100 + fen;
  if (magnitude > k_max_abs_fen) return std::nullopt;
  // "-0", "-0.00": a sign on nothing is not an amount anyone meant to write.
  if (negative && magnitude == 0) return std::nullopt;
  return negative ? -magnitude : magnitude;
}

std::string format_fen(fen_t amount_fen) {
  // Work on the unsigned magnitude so that INT64_MIN formats too.
  const bool negative = amount_fen < 0;
  const std::uint64_t magnitude = negative
                                      ? std::uint64_t{0} - static_cast<std::uint64_t>(amount_fen)
                                      : static_cast<std::uint64_t>(amount_fen);
  std::array<char, 32> buf{};
  char* out = buf.data();
  if (negative) *out++ = '-';
  const auto [end, ec] = std::to_chars(out, buf.data() + buf.size(), magnitude / 100);
  TOPUP_ASSERT(ec == std::errc{});
  out = end;
  const auto cents = static_cast<unsigned>(magnitude % 100);
  *out++ = '.';
  *out++ = static_cast<char>('0' + cents / 10);
  *out++ = static_cast<char>('0' + cents % 10);
  return std::string(buf.data(), out);
}

std::optional<std::int64_t> rate_to_ppm(double rate) {
  if (!std::isfinite(rate) || rate <= 0.0 || rate > 1000.0) return std::nullopt;
  const std::int64_t ppm = std::llround(rate * static_cast<double>(k_rate_one_ppm));
  // A positive rate below half a ppm would round to a free (zero-cost) order: refuse it.
  if (ppm <= 0 || ppm > k_max_rate_ppm) return std::nullopt;
  return ppm;
}

fen_t apply_rate_half_up(fen_t amount_fen, std::int64_t rate_ppm) {
  // Only rate_to_ppm produces rates, so anything outside its range is a bug, not input.
  TOPUP_ASSERT(rate_ppm > 0 && rate_ppm <= k_max_rate_ppm);
  const int128_t product = static_cast<int128_t>(amount_fen) * rate_ppm;  // |.| < 2^63 * 2^30
  const int128_t magnitude = product < 0 ? -product : product;
  int128_t rounded = (magnitude + k_rate_one_ppm / 2) / k_rate_one_ppm;
  if (product < 0) rounded = -rounded;  // half away from zero, symmetric for both signs
  TOPUP_ASSERT(rounded >= std::numeric_limits<fen_t>::min() &&
               rounded <= std::numeric_limits<fen_t>::max());
  return static_cast<fen_t>(rounded);
}

}  // namespace topup::engine
