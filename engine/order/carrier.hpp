#pragma once
// Carrier detection by number segment (号段). Ported numbers (携号转网) may be detected wrongly;
// the channel then reports a failure, which is how the spec wants it handled.
#include <optional>
#include <string_view>

namespace topup::engine {

enum class carrier { cmcc, cucc, ctcc, cbn };

/// True for 11 ASCII digits matching 1[3-9]xxxxxxxxx.
bool valid_mobile_format(std::string_view mobile) noexcept;

/// The carrier owning the number's segment; nullopt when the format is invalid or the segment
/// belongs to no carrier we serve (data-only / IoT segments such as 140-149 non-voice, 141, ...).
/// Segments as of 2025, MVNO segments under their host network; 134, 170 and 174 are decided by
/// the 4th digit (1349 ctcc; 1700-1702 ctcc, 1703/1705/1706 cmcc, 1704/1707-1709 cucc; only
/// 1740x, the satellite block, is served, as ctcc).
std::optional<carrier> detect_carrier(std::string_view mobile) noexcept;

std::string_view carrier_code(carrier c) noexcept;     // "cmcc" | "cucc" | "ctcc" | "cbn"
std::string_view carrier_name_zh(carrier c) noexcept;  // "移动" | "联通" | "电信" | "广电"
std::optional<carrier> carrier_from_code(std::string_view code) noexcept;  // exact, lower case

}  // namespace topup::engine
