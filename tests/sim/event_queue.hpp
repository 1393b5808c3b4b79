#pragma once
// The world's own agenda: what suppliers, merchants and operators do at a simulated time.
#include <cstdint>
#include <functional>
#include <map>
#include <utility>

namespace topup::sim {

/// class event_queue — world actions keyed by simulated ms; actions due at the same ms run in the
/// order they were scheduled (std::multimap keeps insertion order among equal keys), so a run
/// never depends on anything but its seed. Owned by the world, single-threaded.
class event_queue {
 public:
  void at(std::int64_t when_ms, std::function<void()> action) {
    due_.emplace(when_ms, std::move(action));
  }
  /// Runs every action due at or before now_ms, including ones they schedule for now.
  void run_due(std::int64_t now_ms) {
    while (!due_.empty() && due_.begin()->first <= now_ms) {
      auto action = std::move(due_.begin()->second);
      due_.erase(due_.begin());
      action();
    }
  }
  bool empty() const noexcept { return due_.empty(); }
  std::size_t size() const noexcept { return due_.size(); }

 private:
  std::multimap<std::int64_t, std::function<void()>> due_;
};

}  // namespace topup::sim
