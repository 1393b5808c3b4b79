#pragma once
// Start-up recovery: every non-terminal order is loaded from Redis and resumed by its owner.
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include <cstddef>
#include <functional>

#include "engine/config/config.hpp"
#include "engine/order/order_record.hpp"
#include "engine/store/order_log.hpp"
#include "engine/support/clock.hpp"

namespace topup::engine {

struct recovery_stats {
  std::size_t loaded = 0;    // non-terminal orders this shard owns
  std::size_t refunded = 0;  // found in 3 (failed, refund due) and refunded now
  std::size_t resumed = 0;   // handed to the dispatcher (waiting, matched, recharging)
};

/// How many active orders recovery reads at a time (docs/DECISIONS.md): one read of that many
/// numbers from the merchant's `work` set, then one read of their records; at most one page of
/// records is held at a time, whatever the backlog.
inline constexpr std::int64_t k_recovery_page_orders = 500;

/// Which shard owns an order now: the shard encoded in its number, modulo today's shard count
/// (the count may differ from the run that accepted it). Orders of other instances (a different
/// server.instance_id) are theirs to resume and are skipped.
bool owns_order(std::string_view order_number, std::uint32_t instance_id, unsigned shard,
                unsigned shard_count);

/// Runs on each shard after start: loads the active orders of every configured merchant that
/// this shard owns, a page of k_recovery_page_orders at a time (their records in one read),
/// refunds those found in 3, and hands the rest to `resume`. An order that stays active
/// throughout is handed over once; one that finishes or is accepted meanwhile at most once.
/// Retries a page while Redis is unreachable (from that page, not the first), so an outage at
/// start-up delays recovery instead of skipping it; gives up with errc::shutting_down once
/// `stopping()` says so (asked between pages). Orders `already_driven` says this shard is
/// working on are skipped without a read. Run again periodically, it adopts
/// orders whose acceptance this shard never heard of (a reply lost to a Redis drop, answered
/// 5000, then seen again only as an idempotent duplicate). `clock` stamps the refunds it makes
/// (the services' clock: simulated time in tests and the simulator). `owns` says which orders are
/// this shard's to resume; empty: owns_order with the configured instance id (an instance that
/// takes over others' orders passes engine::order_ownership's answer).
boost::asio::awaitable<boost::system::result<recovery_stats>> recover_orders(
    const config& cfg, order_log& store, unsigned shard, unsigned shard_count,
    std::function<void(const order_record&)> resume, std::function<bool()> stopping,
    std::function<bool(const std::string&)> already_driven = {},
    const engine::clock& clock = system_clock(),
    std::function<bool(std::string_view number)> owns = {});

}  // namespace topup::engine
