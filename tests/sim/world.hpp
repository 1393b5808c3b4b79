#pragma once
// One simulated run: a seed, a world built from it, the real engine core inside, invariants
// after every step.
#include <cstdint>
#include <optional>
#include <string>

#include "tests/sim/invariants.hpp"
#include "tests/sim/trace.hpp"
#include "tests/sim/world_env.hpp"

namespace topup::sim {

struct run_options {
  std::uint64_t seed = 1;
  /// Steps of the hostile phase (orders, faults, crashes); the drain phase follows. The world's
  /// schedule (when orders arrive, when the process dies) is drawn for this many.
  std::int64_t steps = 2000;
  /// Ends the hostile phase after this many steps (at most `steps`), the schedule unchanged: the
  /// same run up to that step, then the drain. The shrinker's prefix; negative: no cut.
  std::int64_t prefix = -1;
  std::int64_t orders = 200;
  trace::level level = trace::level::normal;
  liar broken = liar::none;
};

/// What a run did and whether it broke an invariant.
struct run_result {
  std::optional<violation> failure;
  std::int64_t steps = 0;         // both phases
  std::int64_t simulated_ms = 0;
  std::int64_t orders = 0;        // distinct orders merchants pushed
  std::int64_t acknowledged = 0;  // answered 0000
  std::int64_t pushes = 0;        // pushes, retries included
  std::int64_t crashes = 0;
  std::int64_t deliveries = 0;
  std::int64_t submits = 0;
  std::int64_t storage_faults = 0;
  std::uint64_t trace_hash = 0;
  std::string trace_text;
};

run_result run_world(const run_options& options);

}  // namespace topup::sim
