#pragma once
// Mobile numbers as logs may show them (spec §8: `138****8000`).
#include <string>
#include <string_view>

namespace topup::engine {

/// `text` with every mainland mobile number in it masked to its first three and last four
/// digits: a run of exactly 11 digits starting with 1 (`13800138000` -> `138****8000`), also
/// after a country code written as a run of 13 digits starting with 861 (`8613800138000` ->
/// `86138****8000`). Longer and shorter digit runs (order numbers, times, amounts) are left as
/// they are.
std::string masked_mobiles(std::string_view text);

/// Whether masked_mobiles would change `text` (no copy when it would not).
bool shows_a_mobile(std::string_view text) noexcept;

}  // namespace topup::engine
