#include "engine/support/mask.hpp"

namespace topup::engine {
namespace {

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

/// Where the 11 digits of a mobile start in the digit run [begin, begin + length) of `text`,
/// or npos when the run is not a mobile number.
std::size_t mobile_in_run(std::string_view text, std::size_t begin, std::size_t length) noexcept {
  if (length == 11 && text[begin] == '1') return begin;
  if (length == 13 && text.compare(begin, 3, "861") == 0) return begin + 2;
  return std::string_view::npos;
}

/// Calls `on_mobile(start)` for every mobile number in `text`; stops when it returns false.
template <class OnMobile>
void each_mobile(std::string_view text, OnMobile on_mobile) {
  std::size_t i = 0;
  while (i < text.size()) {
    if (!is_digit(text[i])) {
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < text.size() && is_digit(text[end])) ++end;
    const std::size_t start = mobile_in_run(text, i, end - i);
    if (start != std::string_view::npos && !on_mobile(start)) return;
    i = end;
  }
}

}  // namespace

bool shows_a_mobile(std::string_view text) noexcept {
  bool found = false;
  each_mobile(text, [&](std::size_t) {
    found = true;
    return false;
  });
  return found;
}

std::string masked_mobiles(std::string_view text) {
  std::string out(text);
  each_mobile(text, [&](std::size_t start) {
    out.replace(start + 3, 4, "****");
    return true;
  });
  return out;
}

}  // namespace topup::engine
