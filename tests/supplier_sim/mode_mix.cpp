#include "tests/supplier_sim/mode_mix.hpp"

#include <charconv>

namespace topup::supplier_sim {

std::optional<mode_mix> mode_mix::parse(std::string_view text, std::uint64_t seed) {
  mode_mix mix;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const std::string_view entry = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    const auto colon = entry.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    const auto mode = mode_from_name(entry.substr(0, colon));
    const std::string_view digits = entry.substr(colon + 1);
    unsigned weight = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), weight);
    if (!mode || ec != std::errc() || end != digits.data() + digits.size() || weight == 0 ||
        weight > 1000)
      return std::nullopt;
    mix.weights_.emplace_back(*mode, weight);
    mix.total_ += weight;
  }
  if (mix.weights_.empty()) return std::nullopt;
  mix.rng_.seed(seed != 0 ? seed : std::random_device{}());
  return mix;
}

sim_mode mode_mix::draw() {
  // Not std::uniform_int_distribution: its algorithm is the library's choice, and a seed must
  // replay the same modes with any standard library.
  auto pick = static_cast<unsigned>(rng_() % total_);
  for (const auto& [mode, weight] : weights_) {
    if (pick < weight) return mode;
    pick -= weight;
  }
  return weights_.back().first;
}

std::string mode_mix::describe() const {
  std::string out;
  for (const auto& [mode, weight] : weights_) {
    if (!out.empty()) out += ',';
    out += std::string(mode_name(mode)) + ':' + std::to_string(weight);
  }
  return out;
}

}  // namespace topup::supplier_sim
