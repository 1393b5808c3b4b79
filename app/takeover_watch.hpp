#pragma once
// The takeover of dead instances' orders (DESIGN.md "Scaling past one machine", docs/STORAGE.md
// "Takeover"), on the main thread beside the lease keeper, on its Redis connection.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/config/config.hpp"
#include "engine/redis/connection.hpp"
#include "engine/store/order_ownership.hpp"

namespace topup::app {

/// Every round (a third of the lease's ttl):
///  - whether another instance holds a claim on this instance's own orders (it took them over
///    while this one was dead): those are skipped here until it is done with them;
///  - this instance's claims renewed, and released once none of their orders needs work;
///  - every registered instance whose lease is gone and whose orders nobody claims is claimed,
///    by the live instance it is assigned to (claims spread over the live instances), or by any
///    once it has stayed unclaimed for k_grace_rounds.
/// Each change of ownership asks every shard for a recovery pass (`changed`); each change in the
/// number of live instances is reported (`live_count`: channel bounds are shared among them).
class takeover_watch {
 public:
  static constexpr int k_grace_rounds = 3;
  /// Orders accepted by the dead instance up to this long after the claim still count as its
  /// (a paused process's accept that reaches Redis before the fences do).
  static constexpr std::chrono::milliseconds k_cutoff_margin{2000};
  /// How often a claim's remaining work is counted (every this many rounds).
  static constexpr int k_work_check_rounds = 6;

  takeover_watch(boost::asio::io_context& io, engine::redis::connection& conn,
                 const engine::config& cfg, engine::order_ownership& ownership,
                 std::string self_token, std::function<void()> changed,
                 std::function<void(unsigned live)> live_count = {});

  /// One round; the first, before any shard recovers, learns whether this instance's orders are
  /// someone else's to drive.
  boost::asio::awaitable<void> round();
  /// Rounds until stop().
  boost::asio::awaitable<void> run();
  void stop();

 private:
  boost::asio::awaitable<void> watch_own_orders();
  boost::asio::awaitable<void> keep_claims(bool count_work);
  boost::asio::awaitable<void> claim_dead();
  void publish_claims();

  engine::redis::connection& conn_;
  const engine::config& cfg_;
  engine::order_ownership& ownership_;
  std::string self_token_;
  std::function<void()> changed_;
  std::function<void(unsigned)> live_count_;  // called when the number of live instances changes
  unsigned live_ = 0;
  std::vector<std::int64_t> merchant_ids_;
  std::chrono::milliseconds ttl_;
  std::map<std::uint32_t, engine::foster_claim> claims_;  // ours, by dead instance
  std::map<std::uint32_t, int> unclaimed_rounds_;          // dead, nobody's claim, for how long
  std::map<std::uint32_t, bool> seen_alive_;  // a claimed instance seen running since our claim
  std::map<std::uint32_t, bool> idle_;  // dead with no order needing work: not claimed until seen alive
  int rounds_ = 0;
  bool stopped_ = false;
  boost::asio::steady_timer timer_;
};

}  // namespace topup::app
