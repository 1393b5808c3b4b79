#pragma once
// The channel kinds this build knows, and the checks of their kind-specific configuration
// fields. The engine validates the fields every channel has (engine/config/config.hpp) and calls
// `validate_channel_kind` for the rest, so one bad field is reported the same way wherever it is.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/config/config.hpp"

namespace topup::channels {

/// Kind-specific checks for `parse_config`: nullopt when `channel` is fine, else one line such as
/// `channels[2].kind: unknown channel kind "foo" (known: sim, wikeyun)` or
/// `channels[0].url: must be an http:// or https:// URL with a host`. `path` is the channel's
/// own path, e.g. "channels[2]".
std::optional<std::string> validate_channel_kind(const engine::channel_config& channel,
                                                 std::string_view path);

/// The settings of a `sim` channel, the local simulator. For each submission the simulator
/// draws the unknown outcome first: with probability `unknown_rate` the answer is "unknown" (as a
/// timeout would be); otherwise it succeeds with probability `success_rate` and fails definitely
/// with the rest. So the rates need not add up to 1 and the overall success share is
/// (1 - unknown_rate) x success_rate.
struct sim_settings {
  double success_rate = 1.0;  ///< `success_rate`, [0, 1], default 1.
  double unknown_rate = 0.0;  ///< `unknown_rate`, [0, 1], default 0.
  /// `latency_ms: [min, max]`, 0 <= min <= max <= 600000, default [0, 0]: each answer is
  /// delayed by a uniform draw from [min, max].
  std::uint32_t latency_ms_min = 0;
  std::uint32_t latency_ms_max = 0;
  /// `seed`, a non-negative integer; 0 (the default) = seed from std::random_device at start,
  /// anything else makes the sequence of outcomes replayable.
  std::uint64_t seed = 0;
  /// `hold_mobiles`: up to k_hold_mobiles_max mobile numbers (11 digits, `1[3-9]…`) whose
  /// attempts this channel takes and never finishes, as a supplier whose top-up hangs at the
  /// carrier: submit answers `accepted`, query answers `pending` for ever. The order stays in 1
  /// and, past the channel's `unknown_max_s`, is in the exception queue (spec §6, §7) until an
  /// operator settles it. Default none. For demos and tests of that queue.
  std::vector<std::string> hold_mobiles;
  static constexpr std::size_t k_hold_mobiles_max = 100;
};

/// The settings of a channel of kind `sim`. Only for a channel that passed validation.
sim_settings parse_sim_settings(const engine::channel_config& channel);

/// The settings of a `wikeyun` channel (spec §6): where and as whom topupd places its orders.
struct wikeyun_settings {
  std::string url;  ///< http(s) base URL of the supplier; "/rest/..." paths are appended.
  std::string app_key;
  std::string app_secret;
  std::string store_id;
};

/// The settings of a channel of kind `wikeyun`. Only for a channel that passed validation.
wikeyun_settings parse_wikeyun_settings(const engine::channel_config& channel);

}  // namespace topup::channels
