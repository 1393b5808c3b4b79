#pragma once
// What every part of the simulated world shares: the clock, the prng, the trace, the agenda and
// the checks, and whether the world still misbehaves.
#include <cstdint>
#include <utility>

#include "engine/config/config.hpp"
#include "tests/sim/event_queue.hpp"
#include "tests/sim/invariants.hpp"
#include "tests/sim/prng.hpp"
#include "tests/sim/trace.hpp"
#include "tests/support/manual_clock.hpp"

namespace topup::sim {

/// Deliberate breakage, to prove the checks can fail (sim.catches_liars).
enum class liar { none, double_delivery, drop_commits };

/// struct world_env — references to the world's shared parts, handed to suppliers and merchants
/// (owned by the world, which outlives them). `honest` turns on for the drain phase: suppliers
/// answer truthfully and soon, Redis stops failing, nothing crashes.
struct world_env {
  test::manual_clock& clock;
  prng& rng;
  trace& out;
  event_queue& events;
  invariants& checks;
  const engine::config& cfg;
  bool honest = false;
  liar broken = liar::none;

  std::int64_t now_ms() const noexcept { return clock.wall_ms(); }
  /// Schedules a world action `delay_ms` from now.
  template <class F>
  void after(std::int64_t delay_ms, F&& action) {
    events.at(now_ms() + delay_ms, std::forward<F>(action));
  }
};

}  // namespace topup::sim
