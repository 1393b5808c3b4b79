// topup-sim: the real engine core under a seeded hostile world (tests/sim/README.md).
//   topup-sim --seed N [--steps K] [--orders M] [--prefix P] [--verbose]   one run, its trace
//   topup-sim --seeds A-B [--orders M] [--keep-going]         fixed seeds, a line each
//   topup-sim --minutes M                                     random seeds for M minutes
//   topup-sim --list-invariants
// Options --liar double_delivery|drop_commits break the world on purpose (sim.catches_liars).
#include <fmt/format.h>

#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "engine/support/log.hpp"
#include "tests/sim/invariants.hpp"
#include "tests/sim/runner.hpp"

namespace {

using namespace topup::sim;

std::optional<std::int64_t> integer(std::string_view s) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

int usage(std::string_view why) {
  fmt::print(stderr, "topup-sim: {}\nusage: topup-sim --seed N [--steps K] [--orders M] "
                     "[--verbose] | --seeds A-B [--keep-going] | --minutes M | --list-invariants "
                     "[--liar double_delivery|drop_commits] [--engine-log LEVEL]\n", why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  run_options options;
  std::optional<std::pair<std::int64_t, std::int64_t>> seeds;
  std::optional<double> minutes;
  std::string engine_log = "off";
  bool keep_going = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const std::string_view value = i + 1 < argc ? std::string_view(argv[i + 1]) : std::string_view();
    auto number = [&]() -> std::optional<std::int64_t> { ++i; return integer(value); };
    if (arg == "--verbose") {
      options.level = trace::level::verbose;
    } else if (arg == "--keep-going") {
      keep_going = true;
    } else if (arg == "--list-invariants") {
      for (const auto& inv : invariant_catalogue()) fmt::print("{:<28} {}\n", inv.name, inv.says);
      return 0;
    } else if (arg == "--seed") {
      const auto n = number();
      if (!n) return usage("--seed needs a number");
      options.seed = static_cast<std::uint64_t>(*n);
    } else if (arg == "--steps" || arg == "--orders" || arg == "--prefix") {
      const auto n = number();
      if (!n) return usage(std::string(arg) + " needs a number");
      (arg == "--steps" ? options.steps : arg == "--orders" ? options.orders : options.prefix) = *n;
    } else if (arg == "--seeds") {
      ++i;
      const auto dash = value.find('-');
      const auto a = integer(value.substr(0, dash));
      const auto b = dash == std::string_view::npos ? a : integer(value.substr(dash + 1));
      if (!a || !b || *b < *a) return usage("--seeds needs A-B");
      seeds.emplace(*a, *b);
    } else if (arg == "--minutes") {
      ++i;
      try {
        minutes = std::stod(std::string(value));
      } catch (const std::exception&) {
        return usage("--minutes needs a number");
      }
    } else if (arg == "--liar") {
      ++i;
      if (value == "double_delivery") options.broken = liar::double_delivery;
      else if (value == "drop_commits") options.broken = liar::drop_commits;
      else return usage("unknown liar");
    } else if (arg == "--engine-log") {
      ++i;
      engine_log = std::string(value);
    } else {
      return usage("unknown argument " + std::string(arg));
    }
  }
  // The engine's own logs would interleave with the trace (and carry wall-clock stamps).
  topup::set_log_level(engine_log);
  if (seeds) return run_seeds(static_cast<std::uint64_t>(seeds->first),
                              static_cast<std::uint64_t>(seeds->second), options, keep_going);
  if (minutes) return run_for_minutes(*minutes, options);
  return run_one(options);
}
