#pragma once
// Running the simulator: one seed with its trace, a range of seeds, random seeds for a while;
// and, when a run fails, the shortest prefix of its hostile phase that still fails.
#include <cstdint>
#include <string>

#include "tests/sim/world.hpp"

namespace topup::sim {

/// Runs `options.seed` and prints its trace; on a failure, also the shrunk repro. Exit code.
int run_one(const run_options& options);
/// Runs seeds first..last (traces off), one summary line each; stops at the first failure and
/// reports it shrunk, or with `keep_going` reports each failure unshrunk and goes on (a search
/// for more than one bug). Exit code.
int run_seeds(std::uint64_t first, std::uint64_t last, const run_options& base,
              bool keep_going = false);
/// Runs random seeds until `minutes` of wall time have passed, printing each seed. Exit code.
int run_for_minutes(double minutes, const run_options& base);

/// The shortest hostile phase (in steps, binary search over prefixes of the same run) for which
/// the run still breaks `invariant`; `failing.steps` is known to.
std::int64_t shortest_failing_prefix(const run_options& failing, const std::string& invariant);

}  // namespace topup::sim
