#pragma once
// A seeded, weighted random choice of the simulator's mode per pushed order (`--mix`,
// `POST /control/mode` with mode=mix), so one supplier can mix every failure mode under load.
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/supplier_sim/supplier_book.hpp"

namespace topup::supplier_sim {

/// Weights of modes ("succeed:6,timeout_placed:1,bad_json:1") and the generator that draws
/// from them, one draw per new order_no in the order pushes arrive. The same seed gives the
/// same sequence of modes; which order gets which draw follows the arrival order. Lives on the
/// simulator's single io_context.
class mode_mix {
 public:
  /// Parses "name:weight,…" (weights 1..1000, at least one entry, names as mode_from_name);
  /// nullopt for anything else. `seed` 0 draws the generator's seed from std::random_device.
  static std::optional<mode_mix> parse(std::string_view text, std::uint64_t seed);

  sim_mode draw();
  /// The weights as parsed, "name:weight,…".
  std::string describe() const;

 private:
  std::vector<std::pair<sim_mode, unsigned>> weights_;
  unsigned total_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace topup::supplier_sim
