#pragma once
// Taking over a dead instance's orders (DESIGN.md "Scaling past one machine", docs/STORAGE.md
// "Takeover"): the instance registry, the foster claim on a dead instance's orders, its renewal
// and release, and the check that none of its orders is left. Each function is a few round trips
// on one redis::connection; every script touches one key (Redis Cluster).
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/redis/connection.hpp"
#include "engine/store/lease.hpp"
#include "engine/store/order_ownership.hpp"

namespace topup::engine {

/// P:instances: every instance id that ever took its lease (SADD at start).
std::string instances_key(std::string_view prefix);
/// P:foster:<instance>: "instance=<claimer> cutoff=<ms> epoch=<e>", PX the lease's ttl.
std::string foster_key(std::string_view prefix, std::uint32_t instance);

/// Adds `instance` to P:instances.
boost::asio::awaitable<boost::system::result<void>> register_instance(redis::connection& conn,
                                                                      std::string prefix,
                                                                      std::uint32_t instance);
/// The ids in P:instances, ascending.
boost::asio::awaitable<boost::system::result<std::vector<std::uint32_t>>> registered_instances(
    redis::connection& conn, std::string prefix);

/// Whether `instance`'s lease key exists now (its holder renews it).
boost::asio::awaitable<boost::system::result<bool>> lease_held(redis::connection& conn,
                                                               std::string prefix,
                                                               std::uint32_t instance);

/// A foster claim as P:foster:<instance> holds it, with its claimer.
struct foster_record {
  std::uint32_t claimer = 0;
  foster_claim claim;
};
/// P:foster:<instance>, nullopt when absent (no claim, or its claimer died and it expired).
boost::asio::awaitable<boost::system::result<std::optional<foster_record>>> read_foster(
    redis::connection& conn, std::string prefix, std::uint32_t instance);

enum class claim_outcome {
  claimed,     // `claim` is ours: its orders are ours to drive
  alive,       // the instance holds its lease (it runs, or just restarted)
  taken,       // another live instance holds the claim
  superseded,  // the instance restarted while we claimed (its fences are newer): nothing claimed
};
struct claim_result {
  claim_outcome outcome = claim_outcome::alive;
  foster_claim claim;
};

/// Claims the orders of `dead` for `self` (or extends our claim when it died again):
///  1. takes the dead instance's lease (SET NX, our own token), which a restarting instance waits
///     out, so the steps below never interleave with its start;
///  2. sets P:foster:<dead> to cutoff = Redis's clock + `margin` (NX, or over our own claim);
///  3. INCR of its epoch and its fences raised to it in every merchant: a process of the dead
///     instance that still runs (paused, partitioned) can never append again;
///  4. gives the lease back (compare-and-delete).
boost::asio::awaitable<boost::system::result<claim_result>> claim_foster(
    redis::connection& conn, lease_spec dead, std::uint32_t self, std::string self_token,
    std::vector<std::int64_t> merchant_ids, std::chrono::milliseconds margin);

/// Compare-and-PEXPIRE of our claim on `instance`; false when it is not ours any more.
boost::asio::awaitable<boost::system::result<bool>> renew_foster(redis::connection& conn,
                                                                 std::string prefix,
                                                                 std::uint32_t instance,
                                                                 std::uint32_t self,
                                                                 std::chrono::milliseconds ttl);
/// Compare-and-DEL of our claim on `instance`.
boost::asio::awaitable<boost::system::result<bool>> release_foster(redis::connection& conn,
                                                                   std::string prefix,
                                                                   std::uint32_t instance,
                                                                   std::uint32_t self);

/// Whether any order of `claim` still needs work: one is in some merchant's `work` set (not
/// final, or final with its merchant callback pending). Pages of 1000 numbers.
boost::asio::awaitable<boost::system::result<bool>> foster_work_left(
    redis::connection& conn, std::string prefix, foster_claim claim,
    std::vector<std::int64_t> merchant_ids);

/// Which dead instance a live one should claim: `dead` is assigned to live[dead % live.size()]
/// (live sorted ascending), so claims spread over the live instances.
bool claim_is_mine(std::uint32_t dead, std::uint32_t self, const std::vector<std::uint32_t>& live);

}  // namespace topup::engine
