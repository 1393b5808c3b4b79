#pragma once
// The configuration a simulated topupd runs with: three merchants, four channels with
// overlapping carriers, amounts and recharge types, short callback back-offs so that a run's
// drain ends in simulated minutes, and how hostile the simulated Redis is.
#include <cstdint>

#include "engine/config/config.hpp"
#include "engine/order/money.hpp"
#include "tests/sim/delayed_log.hpp"
#include "tests/sim/prng.hpp"

namespace topup::sim {

/// The run's configuration; the channels' bounds and intervals are drawn from `rng`.
engine::config make_config(prng& rng);
/// What a merchant is credited at the start: enough for most of its orders, not all.
engine::fen_t initial_credit_fen(std::int64_t merchant_id, prng& rng);
/// The simulated Redis of the hostile phase, drawn per seed.
storage_faults hostile_storage(prng& rng);

}  // namespace topup::sim
