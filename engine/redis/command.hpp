#pragma once
// Small helpers for building Redis commands and reading their replies.
#include <array>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/redis/reply.hpp"

namespace topup::engine::redis {

/// A command's words (or a script's KEYS/ARGV). Use it instead of a braced list at the call:
/// GCC 12 miscompiles an initializer_list of string literals inside a coroutine ("array used
/// as initializer").
template <class... Words>
std::vector<std::string> args(Words&&... words) {
  std::vector<std::string> v;
  v.reserve(sizeof...(words));
  (v.emplace_back(std::forward<Words>(words)), ...);
  return v;
}

/// The command in RESP, as it goes on the wire: "*<n>\r\n" then "$<len>\r\n<word>\r\n" per word,
/// in one allocation (hiredis's own formatting grows an sds once per word and formats each length
/// with a printf of its own: a large share of an accept's CPU in topupd).
std::string format_command(const std::vector<std::string>& words);

/// A bulk string or status reply.
inline bool is_string(const reply& r) noexcept {
  return r.type == reply::kind::string || r.type == reply::kind::status;
}

/// Strict decimal as the scripts write numbers: optional '-', digits, nothing else, no overflow.
inline std::optional<std::int64_t> parse_int(std::string_view text) noexcept {
  if (text.empty() || text.front() == '+') return std::nullopt;
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

/// Error replies that mean "Redis cannot take this now" rather than "we sent or stored something
/// wrong": the command was refused before running, so nothing was written and a retry is safe.
inline bool is_transient_refusal(std::string_view message) noexcept {
  static constexpr std::array<std::string_view, 9> k_prefixes = {
      "LOADING",     "BUSY",     "OOM",        "READONLY", "MASTERDOWN",
      "CLUSTERDOWN", "TRYAGAIN", "NOREPLICAS", "MISCONF"};
  for (auto p : k_prefixes)
    if (message.starts_with(p) && (message.size() == p.size() || message[p.size()] == ' '))
      return true;
  return false;
}

}  // namespace topup::engine::redis
