#pragma once
// Group commit of the money decision: one merchant's accepts of one reactor turn in one call of
// the accept script.
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/order/order_record.hpp"
#include "engine/redis/connection.hpp"
#include "engine/redis/reply.hpp"
#include "engine/store/fence.hpp"
#include "engine/store/ledger_scripts.hpp"

namespace topup::engine {

/// class accept_batcher — sends the accepts one shard issues for one merchant as few calls of
/// the accept script (engine/store/ledger_scripts) as it can without holding a lone order back;
/// the script decides a call's orders in order of arrival, each as if it had come alone after
/// the ones before it. The per-call cost of EVALSHA and Lua, the fence check, the account read
/// and the writes to acct, o, t and work are paid once per batch instead of once per order.
///
/// Group commit, per merchant ("lane"): the first accept of a batch leads it. It yields once to
/// the end of the current turn (asio::post: every handler already queued runs first, and may
/// join); if no call of its merchant is out, it sends the batch at once. If one is out, the batch
/// stays open and keeps taking that merchant's accepts until the call before it is answered, and
/// then leaves: under load a batch holds what arrived during one round trip, so the calls per
/// order fall as the load rises, and an idle merchant's order still leaves in the turn after it
/// arrived (no timer, no waiting for a batch to fill). A batch is bounded (k_max_orders,
/// k_max_arg_bytes); an accept arriving at a full one starts the next, which queues behind it.
/// At most one call per merchant is out at a time; the accepts waiting for it are bounded by the
/// order service's max_inflight_orders. A whole-call failure (not connected, the reply lost, an
/// error reply, `fenced`) is every member's, and the next batch leaves after it all the same.
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
  /// reply, an unexpected shape), or the connection's error for the whole call.
  boost::asio::awaitable<boost::system::result<redis::reply>> submit(const order_record& order);

 private:
  using member_handler =
      boost::asio::any_completion_handler<void(boost::system::error_code, redis::reply)>;

  /// One merchant's orders of one turn: the script call as it grows, and the handlers of the
  /// members after the leader (the i-th order's is members[i - 1]).
  struct batch {
    std::int64_t merchant_id = 0;
    ledger_scripts::call call;
    std::size_t orders = 0;
    std::size_t arg_bytes = 0;
    std::vector<member_handler> members;
  };

  using turn_handler = boost::asio::any_completion_handler<void()>;

  /// One merchant's accepts on this shard: the batch still taking orders, whether a call is out,
  /// and the leaders of closed batches waiting for their turn, oldest first.
  struct lane {
    std::shared_ptr<batch> open;
    bool sending = false;
    std::deque<turn_handler> queued;
  };

  /// Runs in the leader's coroutine: sends `b` and completes every other member.
  boost::asio::awaitable<boost::system::result<redis::reply>> send(std::shared_ptr<batch> b);
  /// The leader's wait for its merchant's previous call to be answered (none: no wait).
  boost::asio::awaitable<void> await_turn(lane& l);
  /// The call of `l` was answered: the oldest waiting leader (if any) goes next.
  void pass_turn(lane& l, const boost::asio::any_io_executor& executor);

  redis::connection& conn_;
  std::uint32_t replicas_ = 0;
  std::chrono::milliseconds replica_timeout_{500};
  std::string prefix_;
  const fence_token& fence_;
  // By merchant. Entries stay (one per merchant that ever sent): a few bytes each, bounded by
  // the configured merchants, and node-stable so a leader may hold a reference across waits.
  std::unordered_map<std::int64_t, lane> lanes_;
};

}  // namespace topup::engine
