#pragma once
// Group commit of the money decision: one merchant's accepts of one reactor turn in one call of
// the accept script.
#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/order/order_record.hpp"
#include "engine/redis/connection.hpp"
#include "engine/redis/reply.hpp"
#include "engine/store/fence.hpp"
#include "engine/store/group_commit.hpp"
#include "engine/store/ledger_scripts.hpp"

namespace topup::engine {

/// class accept_batcher — sends the accepts one shard issues for one merchant as few calls of
/// the accept script (engine/store/ledger_scripts) as it can without holding a lone order back
/// (engine/store/group_commit); the script decides a call's orders in order of arrival, each as
/// if it had come alone after the ones before it. The per-call cost of EVALSHA and Lua, the fence
/// check, the account read and the writes to acct, o, t and work are paid once per batch instead
/// of once per order. A whole-call failure (not connected, the reply lost, an error reply,
/// `fenced`) is every member's, and the next batch leaves after it all the same. The accepts
/// waiting for a merchant's call are bounded by the order service's max_inflight_orders.
///
/// Lives on, and is used only from, its shard's thread (owned by the shard's order_store); must
/// outlive the accepts in flight.
class accept_batcher {
 public:
  static constexpr std::size_t k_max_orders = 64;
  static constexpr std::size_t k_max_arg_bytes = 256 * 1024;  // one order alone may exceed it

  accept_batcher(redis::connection& conn, std::string prefix, const fence_token& fence);

  /// With `replicas` > 0 every call that was answered is followed by `WAIT replicas timeout`
  /// (redis.min_replicas_acked): when fewer replicas confirm, its accepted and repeated orders
  /// are answered outcome_unknown (5002: a failover could lose them; the merchant's retry tells).
  void require_replicas(std::uint32_t replicas, std::chrono::milliseconds timeout) noexcept {
    replicas_ = replicas;
    replica_timeout_ = timeout;
  }

  /// Whether the replicas confirmed every write of this connection so far (always, without
  /// require_replicas); `key`: one the writes touched (in cluster mode, its master is asked).
  boost::asio::awaitable<bool> replicated(std::string key);

  /// Adds `order` (the record as accepted: version 1, status 6 or 7, created_at = now) to its
  /// merchant's batch and awaits its answer: its own element of the script's answer (`ok`,
  /// `dup`, ...), or the whole answer when the call was refused as a whole (`fenced`, an error
  /// reply, an unexpected shape), or the connection's error for the whole call. `order` is read
  /// before this returns; await the answer at once.
  boost::asio::awaitable<boost::system::result<redis::reply>> submit(const order_record& order) {
    return lanes_.submit(order.merchant_id, [&order](ledger_scripts::call& c) {
      return ledger_scripts::add_accept_order(c, order);
    });
  }

 private:
  /// Sends one batch of `orders` accepts and gives each its answer (group_commit::sender).
  boost::asio::awaitable<std::vector<group_commit::answer>> send(std::int64_t merchant_id,
                                                                 ledger_scripts::call call,
                                                                 std::size_t orders);

  redis::connection& conn_;
  std::uint32_t replicas_ = 0;
  std::chrono::milliseconds replica_timeout_{500};
  std::string prefix_;
  const fence_token& fence_;
  group_commit lanes_;
};

}  // namespace topup::engine
