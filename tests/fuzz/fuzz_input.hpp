#pragma once
// Shared by the libFuzzer targets: how one fuzz input is cut into the parts a target needs, and
// the check that turns a broken property into a crash libFuzzer keeps an input for.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <utility>

namespace topup::fuzz {

/// The input as text (any bytes).
inline std::string_view as_text(const std::uint8_t* data, std::size_t size) noexcept {
  return {reinterpret_cast<const char*>(data), size};
}

/// "<first line>\n<rest>": a request's query string cannot hold a raw newline, so the seeds stay
/// readable (`query\nbody`). Without a newline the whole input is the first part.
inline std::pair<std::string_view, std::string_view> split_first_line(
    std::string_view text) noexcept {
  const auto nl = text.find('\n');
  if (nl == std::string_view::npos) return {text, {}};
  return {text.substr(0, nl), text.substr(nl + 1)};
}

/// A property of the code under test does not hold: report it and crash, so that libFuzzer saves
/// the input (an assert would vanish in a release build).
#define TOPUP_FUZZ_CHECK(cond)                                                               \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "fuzz property failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (0)

}  // namespace topup::fuzz
