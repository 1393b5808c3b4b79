#include "engine/order/carrier.hpp"

#include <cstddef>

namespace topup::engine {
namespace {

// Segment tables, one character per segment: 'm' cmcc, 'u' cucc, 't' ctcc, 'b' cbn,
// '-' no carrier we serve (unallocated, data-only / IoT), '*' decided by the 4th digit.
// Current as of 2025, MVNO (虚拟运营商) segments included under their host network.
//
// Indexed by the 2nd and 3rd digits: row "13" is 130..139, and so on up to 199.
// clang-format off
constexpr std::string_view k_segments3 =
    //0123456789
    "uuut*mmmmm"   // 130-139: 1349 is ctcc (see k_segment134)
    "-----uummt"   // 140-149: 140-144 data-only IoT
    "mmmt-uummm"   // 150-159
    "--t--muu--"   // 160-169: 162/165/167 MVNO
    "*umt*uutm-"   // 170-179: 170 MVNO by 4th digit, 1740x satellite (ctcc)
    "ttmmmuummt"   // 180-189
    "ttbt-mummt";  // 190-199: 192 China Broadnet
// clang-format on
static_assert(k_segments3.size() == 70);

// 4-digit overrides, indexed by the 4th digit.
constexpr std::string_view k_segment134 = "mmmmmmmmmt";  // 1340-1348 cmcc, 1349 ctcc
constexpr std::string_view k_segment170 = "tttmummuuu";  // 1700-1702 ctcc, 1703/5/6 cmcc, rest cucc
constexpr std::string_view k_segment174 = "t---------";  // only 1740x (Tiantong satellite) served
static_assert(k_segment134.size() == 10 && k_segment170.size() == 10 && k_segment174.size() == 10);

constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

constexpr std::optional<carrier> from_table_char(char c) noexcept {
  switch (c) {
    case 'm':
      return carrier::cmcc;
    case 'u':
      return carrier::cucc;
    case 't':
      return carrier::ctcc;
    case 'b':
      return carrier::cbn;
    default:
      return std::nullopt;
  }
}

}  // namespace

bool valid_mobile_format(std::string_view mobile) noexcept {
  if (mobile.size() != 11 || mobile[0] != '1' || mobile[1] < '3' || mobile[1] > '9') return false;
  for (const char c : mobile) {
    if (!is_digit(c)) return false;
  }
  return true;
}

std::optional<carrier> detect_carrier(std::string_view mobile) noexcept {
  if (!valid_mobile_format(mobile)) return std::nullopt;
  const auto segment3 = static_cast<std::size_t>((mobile[1] - '3') * 10 + (mobile[2] - '0'));
  const char c = k_segments3[segment3];
  if (c != '*') return from_table_char(c);

  const auto fourth = static_cast<std::size_t>(mobile[3] - '0');
  switch (segment3) {
    case 4:
      return from_table_char(k_segment134[fourth]);  // 134
    case 40:
      return from_table_char(k_segment170[fourth]);  // 170
    case 44:
      return from_table_char(k_segment174[fourth]);  // 174
    default:
      return std::nullopt;  // a '*' without a table: never
  }
}

std::string_view carrier_code(carrier c) noexcept {
  switch (c) {
    case carrier::cmcc:
      return "cmcc";
    case carrier::cucc:
      return "cucc";
    case carrier::ctcc:
      return "ctcc";
    case carrier::cbn:
      return "cbn";
  }
  return "unknown";
}

std::string_view carrier_name_zh(carrier c) noexcept {
  switch (c) {
    case carrier::cmcc:
      return "移动";
    case carrier::cucc:
      return "联通";
    case carrier::ctcc:
      return "电信";
    case carrier::cbn:
      return "广电";
  }
  return "未知";
}

std::optional<carrier> carrier_from_code(std::string_view code) noexcept {
  // Exact lower-case codes, as in the config file and the wire; "CMCC" is a typo to reject.
  if (code == "cmcc") return carrier::cmcc;
  if (code == "cucc") return carrier::cucc;
  if (code == "ctcc") return carrier::ctcc;
  if (code == "cbn") return carrier::cbn;
  return std::nullopt;
}

}  // namespace topup::engine
