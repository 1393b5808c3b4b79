// libFuzzer: engine::parse_config over any text, with and without the channel kind validators
// (channels/channel_kinds). Beyond "no crash": a refusal is one non-empty line naming the field,
// as `topupd --check-config` prints it, and an accepted configuration has what §8 requires.
#include <cstddef>
#include <cstdint>
#include <variant>

#include "channels/channel_kinds.hpp"
#include "engine/config/config.hpp"
#include "tests/fuzz/fuzz_input.hpp"

namespace {

void check(const std::variant<topup::engine::config, topup::engine::config_error>& parsed) {
  if (const auto* err = std::get_if<topup::engine::config_error>(&parsed)) {
    TOPUP_FUZZ_CHECK(!err->message.empty());
    TOPUP_FUZZ_CHECK(err->message.find('\n') == std::string::npos);
    TOPUP_FUZZ_CHECK(err->message.find(": ") != std::string::npos);
    return;
  }
  const auto& cfg = std::get<topup::engine::config>(parsed);
  TOPUP_FUZZ_CHECK(!cfg.merchants.empty());
  TOPUP_FUZZ_CHECK(cfg.redis.port != 0);
  for (const auto& m : cfg.merchants) {
    TOPUP_FUZZ_CHECK(!m.app_key.empty() && !m.app_secret.empty() && !m.store_ids.empty());
    TOPUP_FUZZ_CHECK(m.price_rate_ppm > 0);
  }
  for (const auto& c : cfg.channels) TOPUP_FUZZ_CHECK(!c.carriers.empty() && !c.amounts.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = topup::fuzz::as_text(data, size);
  check(topup::engine::parse_config(text, {}));
  check(topup::engine::parse_config(text, topup::channels::validate_channel_kind));
  return 0;
}
