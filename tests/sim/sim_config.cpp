#include "tests/sim/sim_config.hpp"

#include <string>
#include <vector>

#include "tests/support/sample_merchant.hpp"

namespace topup::sim {

namespace {

using engine::carrier;

engine::channel_config channel(std::string id, std::vector<carrier> carriers,
                               std::vector<std::int64_t> amounts, std::vector<int> types,
                               std::int64_t cost_ppm, prng& rng) {
  engine::channel_config c;
  c.id = std::move(id);
  c.kind = "sim";
  c.carriers = std::move(carriers);
  c.amounts = std::move(amounts);
  c.recharge_types = std::move(types);
  c.cost_rate_ppm = cost_ppm;
  c.timeout_ms = 3000;
  c.query_interval_ms = static_cast<std::uint32_t>(rng.between(1000, 5000));
  c.unknown_grace_ms = 20'000;
  c.unknown_max_s = 1800;
  c.max_inflight = static_cast<std::uint32_t>(rng.between(3, 30));
  return c;
}

}  // namespace

engine::config make_config(prng& rng) {
  engine::config cfg;
  cfg.server.instance_id = 0;
  // Small bounds, so that overload (1008, refused before any debit) and wait lines happen.
  cfg.server.max_inflight_orders = static_cast<std::uint32_t>(rng.between(4, 64));
  cfg.server.max_waiting_orders = static_cast<std::uint32_t>(rng.between(5, 100));
  cfg.callbacks.max_attempts = static_cast<std::uint32_t>(rng.between(1, 6));
  cfg.callbacks.backoff_ms = {0, 2000, 10'000, 30'000, 60'000};
  cfg.callbacks.timeout_ms = 3000;
  // Few deliveries out at once: callbacks turned away for want of room must be sent later.
  cfg.callbacks.max_inflight = static_cast<std::uint32_t>(rng.between(1, 20));
  const std::int64_t ids[] = {1001, 1002, 1003};
  const std::int64_t rates_ppm[] = {995'000, 1'000'000, 980'000};
  for (std::size_t i = 0; i < 3; ++i) {
    auto m = test::sample_merchant(ids[i]);
    m.price_rate_ppm = rates_ppm[i];
    m.default_change = i != 1;
    m.fast_deadline_s = 60;
    m.slow_deadline_s = 900;
    cfg.merchants.push_back(std::move(m));
  }
  const std::vector<carrier> all = {carrier::cmcc, carrier::cucc, carrier::ctcc, carrier::cbn};
  cfg.channels.push_back(channel("A", {carrier::cmcc, carrier::cucc, carrier::ctcc},
                                 {10, 20, 50, 100}, {0, 1}, 970'000, rng));
  cfg.channels.push_back(channel("B", {carrier::cmcc, carrier::cucc}, {50, 100}, {1}, 975'000, rng));
  cfg.channels.push_back(channel("C", all, {10, 20, 50, 100}, {0, 1}, 985'000, rng));
  cfg.channels.push_back(channel("D", {carrier::ctcc}, {20, 50}, {0}, 960'000, rng));
  return cfg;
}

engine::fen_t initial_credit_fen(std::int64_t merchant_id, prng& rng) {
  // The second merchant is short of money: some of its orders get 2004.
  const std::int64_t yuan = merchant_id == 1002 ? rng.between(300, 1500) : rng.between(2000, 6000);
  return yuan * 100;
}

storage_faults hostile_storage(prng& rng) {
  // Each seed its own weather: from a calm Redis to one failing one call in twenty.
  storage_faults f;
  f.delay_per_mille = static_cast<std::uint64_t>(rng.between(20, 200));
  f.delay_ms_max = rng.between(100, 5000);
  f.refuse_per_mille = static_cast<std::uint64_t>(rng.between(0, 50));
  f.lose_per_mille = static_cast<std::uint64_t>(rng.between(0, 50));
  f.read_fail_per_mille = static_cast<std::uint64_t>(rng.between(0, 50));
  return f;
}

}  // namespace topup::sim
