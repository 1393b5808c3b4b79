#pragma once
// The wait lines: orders in 6 that no channel can take right now, waiting without a coroutine.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/order/order_record.hpp"

namespace topup::engine {

/// class wait_lines — parked orders of one shard's dispatcher: about 200 bytes each, no coroutine,
/// their records stay in Redis. Orders that route alike (carrier, amount, recharge type, source,
/// channels tried: what channel_router::pick looks at) share a line, first come first served;
/// lines take turns, so one busy route cannot starve the others. Each parked order has a
/// deadline, after which it leaves to be failed and refunded. Pure bookkeeping (no I/O, no
/// clock: times are passed in), used only from its shard's thread.
class wait_lines {
 public:
  struct parked {
    std::string order_number;
    std::int64_t merchant_id = 0;
  };
  /// What the orders of one line have in common for routing.
  struct route {
    order_record sample;  // carrier, money, recharge type, source
    std::vector<std::string> tried;
  };

  /// Puts an order in 6 at the back of its line. An order already parked moves to the back of
  /// its (possibly new) line with the new deadline.
  void park(const order_record& order, std::vector<std::string> tried, std::int64_t deadline_ms);
  /// True when orders that route like `order` are waiting: a new one must queue behind them.
  bool queue_ahead(const order_record& order, const std::vector<std::string>& tried) const;
  bool contains(std::string_view order_number) const;
  std::size_t size() const noexcept { return parked_.size(); }
  bool empty() const noexcept { return parked_.empty(); }

  /// Takes off every parked order whose deadline is at or before `now_ms`. The scan over all of
  /// them (a compare each) runs only once the earliest deadline has come, and at most once a
  /// second; lines keep the stale entries and skip them when they reach the front.
  std::vector<parked> take_expired(std::int64_t now_ms);

  /// One round of handing orders over: lines take turns, starting one further each round. For a
  /// line's oldest order, `decide(route)` answers std::nullopt to keep the line waiting (no
  /// channel has room for that route now), or a decision, with which the order leaves and is
  /// given to `leave(parked, decision)`.
  template <class Decide, class Leave>
  void serve(Decide&& decide, Leave&& leave);

 private:
  struct entry {
    std::int64_t merchant_id;
    std::int64_t deadline_ms;
    std::size_t line;  // the lines_ index it waits in (an entry in any other line is stale)
  };
  struct line {
    route routing;
    std::deque<std::string> queue;  // oldest first; may hold numbers that left meanwhile
  };

  // Ordered, not hashed: parked orders are many (slow orders may wait for days), and a hash map
  // rehashes every entry at once as it grows, a reactor stall of ~20 ms at 100k+ entries.
  std::map<std::string, entry, std::less<>> parked_;
  std::unordered_map<std::string, std::size_t> line_index_;  // routing key -> lines_ index
  std::vector<std::unique_ptr<line>> lines_;
  std::size_t next_line_ = 0;
  std::optional<std::int64_t> last_deadline_scan_ms_;
  std::int64_t next_deadline_ms_ = std::numeric_limits<std::int64_t>::max();
};

template <class Decide, class Leave>
void wait_lines::serve(Decide&& decide, Leave&& leave) {
  for (std::size_t n = 0; n < lines_.size() && !parked_.empty(); ++n) {
    const std::size_t index = (next_line_ + n) % lines_.size();
    line& l = *lines_[index];
    while (!l.queue.empty()) {
      auto found = parked_.find(l.queue.front());
      if (found == parked_.end() || found->second.line != index) {
        // Left by its deadline, or parked again on another line (failed over): stale here.
        l.queue.pop_front();
        continue;
      }
      auto decision = decide(std::as_const(l.routing));
      if (!decision) break;
      parked p{std::move(l.queue.front()), found->second.merchant_id};
      parked_.erase(found);
      l.queue.pop_front();
      leave(std::move(p), std::move(*decision));
    }
  }
  if (!lines_.empty()) next_line_ = (next_line_ + 1) % lines_.size();
}

}  // namespace topup::engine
