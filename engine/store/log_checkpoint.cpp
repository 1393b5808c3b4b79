#include "engine/store/log_checkpoint.hpp"

#include <array>
#include <charconv>
#include <cstdint>

#include "engine/redis/command.hpp"
#include "engine/support/assert.hpp"

namespace topup::engine {

namespace {

// The numbers of a checkpoint, in k_checkpoint_fields' order after `id`.
std::array<std::int64_t*, 10> numbers_of(log_checkpoint& c) {
  return {&c.balance_fen, &c.credits_fen, &c.debits_fen, &c.refunds_fen, &c.refs,
          &c.refs_fen,    &c.entries,     &c.money_entries, &c.orders,   &c.at_ms};
}

}  // namespace

std::vector<std::string> checkpoint_values(const log_checkpoint& c) {
  log_checkpoint copy = c;
  std::vector<std::string> values{c.id};
  for (const std::int64_t* n : numbers_of(copy)) values.push_back(std::to_string(*n));
  return values;
}

std::optional<stream_id> parse_stream_id(std::string_view text) noexcept {
  const auto dash = text.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == text.size()) return std::nullopt;
  stream_id id;
  const char* end = text.data() + dash;
  auto ms = std::from_chars(text.data(), end, id.ms);
  if (ms.ec != std::errc{} || ms.ptr != end) return std::nullopt;
  auto seq = std::from_chars(end + 1, text.data() + text.size(), id.seq);
  if (seq.ec != std::errc{} || seq.ptr != text.data() + text.size()) return std::nullopt;
  return id;
}

std::string stream_id_after(std::string_view id) {
  const auto parsed = parse_stream_id(id);
  TOPUP_ASSERT(parsed.has_value());
  if (parsed->seq == UINT64_MAX) return std::to_string(parsed->ms + 1) + "-0";
  return std::to_string(parsed->ms) + "-" + std::to_string(parsed->seq + 1);
}

std::optional<log_checkpoint> checkpoint_from_fields(const field_pairs& fields,
                                                     std::string& bad_field) {
  log_checkpoint c;
  auto value_of = [&fields](std::string_view name) -> std::optional<std::string_view> {
    for (const auto& [n, v] : fields)
      if (n == name) return std::string_view(v);
    return std::nullopt;
  };
  const auto id = value_of(k_checkpoint_fields[0]);
  if (!id || !parse_stream_id(*id)) {
    bad_field = k_checkpoint_fields[0];
    return std::nullopt;
  }
  c.id = std::string(*id);
  const auto numbers = numbers_of(c);
  for (std::size_t i = 0; i < numbers.size(); ++i) {
    const char* name = k_checkpoint_fields[i + 1];
    const auto text = value_of(name);
    const auto n = text ? redis::parse_int(*text) : std::nullopt;
    if (!n) {
      bad_field = name;
      return std::nullopt;
    }
    *numbers[i] = *n;
  }
  return c;
}

}  // namespace topup::engine
