#pragma once
// The `sim` channel kind: a supplier simulated in memory, for demos, load tests and engine tests
// that need a channel without a network peer.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "channels/channel_kinds.hpp"
#include "engine/routing/channel_adapter.hpp"
#include "engine/config/config.hpp"

namespace topup::channels {

/// A local simulated supplier: one per shard per `sim` channel, on that shard's thread only.
///
/// submit() draws the attempt's fate when it is called (so the sequence of outcomes depends only
/// on the order of submissions, not on timer races, and a fixed `seed` replays a run), waits a
/// latency drawn uniformly from [latency_ms_min, latency_ms_max] on a steady_timer (0: no timer,
/// but the answer still comes through the reactor, never inline), then answers:
///  - with probability `unknown_rate` (drawn first): `unknown`, as a timeout would be, while the
///    simulated supplier did place the order with a definitive outcome drawn by `success_rate`;
///  - else `succeeded` with probability `success_rate`, otherwise `failed`;
///  - except for a mobile number in `hold_mobiles`: `accepted` after latency_ms_min, and query
///    answers `pending` for ever, a top-up stuck at the carrier (the exception queue's case).
///    Nothing is drawn for it, so the other attempts' outcomes are as they would be without it.
/// Every submitted attempt is remembered with its definitive outcome, which query() reports; a
/// repeated submit of the same attempt answers the remembered outcome (suppliers are idempotent
/// by order_no), so the simulator never delivers one attempt twice.
///
/// State is in memory only: after a restart query() answers `not_found` for everything, which
/// models a supplier that never got the order (the engine concludes "never placed" after the
/// channel's unknown_grace_ms). The memory is bounded: the oldest attempts are forgotten beyond
/// k_remembered_max, long after the engine has asked about them.
///
/// The generator is seeded with `seed + shard` (so shards differ but each replays), or from
/// std::random_device when `seed` is 0. The sim never calls back: parse_callback always fails.
class sim_adapter final : public engine::channel_adapter {
 public:
  /// Attempts remembered per adapter (per shard and channel), oldest forgotten first.
  static constexpr std::size_t k_remembered_max = 100'000;

  sim_adapter(const engine::channel_config& config, boost::asio::io_context& io, unsigned shard);
  ~sim_adapter() override;
  sim_adapter(const sim_adapter&) = delete;
  sim_adapter& operator=(const sim_adapter&) = delete;

  const engine::channel_config& config() const noexcept override { return config_; }
  boost::asio::awaitable<engine::attempt_result> submit(engine::attempt_request request) override;
  boost::asio::awaitable<engine::attempt_result> query(engine::attempt_request request) override;
  boost::system::result<engine::supplier_callback> parse_callback(
      const std::vector<std::pair<std::string, std::string>>& params) override;
  /// Cancels the latency timers: pending submits answer `unknown` at once (their outcome stays
  /// remembered for query); later submits are refused, as nothing can be placed any more.
  void close() override;

  const sim_settings& settings() const noexcept { return settings_; }

  struct state;  // shared with suspended submits, which may outlive a close()

 private:
  engine::channel_config config_;
  sim_settings settings_;
  std::shared_ptr<state> state_;
};

/// The factory of the `sim` kind for channels/registry.
std::unique_ptr<engine::channel_adapter> make_sim_adapter(const engine::channel_config& config,
                                                          boost::asio::io_context& io,
                                                          unsigned shard);

}  // namespace topup::channels
