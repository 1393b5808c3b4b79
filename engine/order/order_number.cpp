#include "engine/order/order_number.hpp"

#include <array>
#include <charconv>
#include <cstddef>
#include <system_error>

#include "engine/support/assert.hpp"

namespace topup::engine {
namespace {

// Layout: T | unix_ms (13) | instance (3) | shard (3) | sequence (5) | M | merchant id (1..12).
inline constexpr std::size_t k_ms_digits = 13;
inline constexpr std::size_t k_instance_digits = 3;
inline constexpr std::size_t k_shard_digits = 3;
inline constexpr std::size_t k_sequence_digits = 5;
inline constexpr std::size_t k_merchant_digits_max = 12;

inline constexpr std::size_t k_ms_at = 1;
inline constexpr std::size_t k_instance_at = k_ms_at + k_ms_digits;
inline constexpr std::size_t k_shard_at = k_instance_at + k_instance_digits;
inline constexpr std::size_t k_sequence_at = k_shard_at + k_shard_digits;
inline constexpr std::size_t k_marker_at = k_sequence_at + k_sequence_digits;
inline constexpr std::size_t k_merchant_at = k_marker_at + 1;
inline constexpr std::size_t k_length_min = k_merchant_at + 1;
inline constexpr std::size_t k_length_max = k_merchant_at + k_merchant_digits_max;
static_assert(k_length_min == 27 && k_length_max == 38);

inline constexpr std::uint64_t k_ms_max = 9'999'999'999'999;
inline constexpr std::uint32_t k_instance_max = 999;
inline constexpr std::uint32_t k_shard_max = 999;
inline constexpr std::uint32_t k_sequence_modulus = 100'000;
inline constexpr std::int64_t k_merchant_max = 999'999'999'999;

constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// Zero-padded, exactly `width` digits; the caller guarantees the value fits.
void write_fixed(char* out, std::uint64_t value, std::size_t width) noexcept {
  for (std::size_t i = width; i > 0; --i) {
    out[i - 1] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

// Digits only, exactly text.size() of them; nullopt otherwise.
std::optional<std::uint64_t> read_fixed(std::string_view text) noexcept {
  std::uint64_t value = 0;
  for (const char c : text) {
    if (!is_digit(c)) return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');  // <= 13 digits: no overflow
  }
  return value;
}

}  // namespace

std::string make_order_number(const order_number_parts& parts) {
  // The fields come from the clock, the config and the merchant table, all validated long
  // before this point: out of range is a bug that would mint a number parse rejects.
  TOPUP_ASSERT(parts.unix_ms <= k_ms_max);
  TOPUP_ASSERT(parts.instance <= k_instance_max);
  TOPUP_ASSERT(parts.shard <= k_shard_max);
  TOPUP_ASSERT(parts.merchant_id >= 1 && parts.merchant_id <= k_merchant_max);

  std::array<char, k_length_max> buf;
  buf[0] = 'T';
  write_fixed(buf.data() + k_ms_at, parts.unix_ms, k_ms_digits);
  write_fixed(buf.data() + k_instance_at, parts.instance, k_instance_digits);
  write_fixed(buf.data() + k_shard_at, parts.shard, k_shard_digits);
  write_fixed(buf.data() + k_sequence_at, parts.sequence % k_sequence_modulus, k_sequence_digits);
  buf[k_marker_at] = 'M';
  const auto [end, ec] =
      std::to_chars(buf.data() + k_merchant_at, buf.data() + buf.size(), parts.merchant_id);
  TOPUP_ASSERT(ec == std::errc{});
  return std::string(buf.data(), end);
}

std::optional<order_number_parts> parse_order_number(std::string_view text) noexcept {
  if (text.size() < k_length_min || text.size() > k_length_max) return std::nullopt;
  if (text[0] != 'T' || text[k_marker_at] != 'M') return std::nullopt;

  const auto ms = read_fixed(text.substr(k_ms_at, k_ms_digits));
  const auto instance = read_fixed(text.substr(k_instance_at, k_instance_digits));
  const auto shard = read_fixed(text.substr(k_shard_at, k_shard_digits));
  const auto sequence = read_fixed(text.substr(k_sequence_at, k_sequence_digits));
  const std::string_view merchant_text = text.substr(k_merchant_at);
  if (merchant_text.front() == '0') return std::nullopt;  // make never writes a leading zero
  const auto merchant = read_fixed(merchant_text);
  if (!ms || !instance || !shard || !sequence || !merchant) return std::nullopt;

  order_number_parts parts;
  parts.unix_ms = *ms;
  parts.instance = static_cast<std::uint32_t>(*instance);
  parts.shard = static_cast<std::uint32_t>(*shard);
  parts.sequence = static_cast<std::uint32_t>(*sequence);
  parts.merchant_id = static_cast<std::int64_t>(*merchant);
  return parts;
}

}  // namespace topup::engine
