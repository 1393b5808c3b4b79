#pragma once
// Group commit: one shard's calls of one script for one merchant leave as few calls as they can
// without holding a lone call back (engine/store/accept_batcher, engine/store/step_batcher).
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/redis/reply.hpp"
#include "engine/store/ledger_scripts.hpp"

namespace topup::engine {

/// class group_commit — one batched script's calls on one shard, per merchant ("lane"): the
/// first item of a batch leads it. It yields once to the end of the current turn (asio::post:
/// every handler already queued runs first, and may join); if no call of its merchant is out, the
/// batch leaves at once. If one is out, the batch stays open and keeps taking that merchant's
/// items until the call before it is answered, and then leaves: under load a batch holds what
/// arrived during one round trip, so the calls per item fall as the load rises, and an idle
/// merchant's item still leaves in the turn after it arrived (no timer, no waiting for a batch
/// to fill). A batch is bounded (`max_items`, `max_arg_bytes`: one item alone may exceed the
/// bytes); an item arriving at a full one starts the next, which queues behind it. At most one
/// call per merchant is out at a time; the items waiting for it are bounded by the callers (each
/// a coroutine of an order in flight, and those are bounded by the order service).
///
/// The script's own part is `start` (a merchant's call with no item yet) and `send` (sends a
/// call and gives each item's answer, in order). Lives on, and is used only from, its shard's
/// thread; must outlive the items in flight.
class group_commit {
 public:
  using answer = boost::system::result<redis::reply>;
  using starter = std::function<ledger_scripts::call(std::int64_t merchant_id)>;
  /// Sends `call`, which carries `items` items of `merchant_id`, and gives exactly `items`
  /// answers, in the order the items were added.
  using sender = std::function<boost::asio::awaitable<std::vector<answer>>(
      std::int64_t merchant_id, ledger_scripts::call call, std::size_t items)>;

  group_commit(starter start, sender send, std::size_t max_items, std::size_t max_arg_bytes);
  // The starter and sender usually point at the owner: neither it nor this may move.
  group_commit(const group_commit&) = delete;
  group_commit& operator=(const group_commit&) = delete;

  /// Adds one item to `merchant_id`'s open batch (a batch is started if none is open): `add(call)`
  /// appends the item's arguments to the call and answers their bytes, and runs before submit
  /// returns. The awaitable gives the item's own answer once its batch's call is answered; it
  /// must be awaited at once (in the same expression), so that items join in order.
  template <class Add>
  boost::asio::awaitable<answer> submit(std::int64_t merchant_id, Add&& add) {
    auto [b, position] = join(merchant_id);
    added(b, add(b->call));
    return wait(std::move(b), position);
  }

  /// Splits a call's answer into its items': one array per item when the script answered so
  /// (`items` arrays), else the whole answer (`fenced`, an error reply, a lost reply) for each.
  static std::vector<answer> split(answer whole, std::size_t items);
  /// Whether `whole` is one array per item (`items` arrays), as split reads it.
  static bool answers_each(const answer& whole, std::size_t items);

 private:
  using member_handler =
      boost::asio::any_completion_handler<void(boost::system::error_code, redis::reply)>;
  using turn_handler = boost::asio::any_completion_handler<void()>;
  struct lane;

  /// One merchant's items of one turn: the script call as it grows, and the handlers of the
  /// members after the leader (the i-th item's is members[i - 1]).
  struct batch {
    std::int64_t merchant_id = 0;
    lane* owner = nullptr;
    ledger_scripts::call call;
    std::size_t items = 0;
    std::size_t arg_bytes = 0;
    std::vector<member_handler> members;
  };

  /// One merchant's calls on this shard: the batch still taking items, whether a call is out,
  /// and the leaders of closed batches waiting for their turn, oldest first.
  struct lane {
    std::shared_ptr<batch> open;
    bool sending = false;
    std::deque<turn_handler> queued;
  };

  /// The merchant's open batch (started if none) and the new item's position in it.
  std::pair<std::shared_ptr<batch>, std::size_t> join(std::int64_t merchant_id);
  /// Counts the item's bytes; a full batch stops taking items.
  void added(const std::shared_ptr<batch>& b, std::size_t arg_bytes) noexcept;
  /// A member waits for its leader; the leader sends the batch and completes every member.
  boost::asio::awaitable<answer> wait(std::shared_ptr<batch> b, std::size_t position);
  /// The leader's wait for its merchant's previous call to be answered (none: no wait).
  boost::asio::awaitable<void> await_turn(lane& l);
  /// The call of `l` was answered: the oldest waiting leader (if any) goes next.
  void pass_turn(lane& l, const boost::asio::any_io_executor& executor);

  starter start_;
  sender send_;
  std::size_t max_items_;
  std::size_t max_arg_bytes_;
  // By merchant. Entries stay (one per merchant that ever sent): a few bytes each, bounded by
  // the configured merchants, and node-stable so a batch may point at its lane across waits.
  std::unordered_map<std::int64_t, lane> lanes_;
};

}  // namespace topup::engine
