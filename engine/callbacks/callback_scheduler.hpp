#pragma once
// Merchant result callbacks (spec §5): durable schedule in Redis, delivery with back-off.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "engine/callbacks/callback_store.hpp"
#include "engine/support/clock.hpp"
#include "engine/support/timer.hpp"
#include "engine/config/config.hpp"
#include "engine/store/order_ownership.hpp"
#include "engine/runtime/metrics.hpp"
#include "engine/runtime/shutdown_gate.hpp"
#include "engine/store/order_log.hpp"
#include "engine/config/sign_method.hpp"

namespace topup::engine {

/// What one delivery attempt observed.
struct callback_delivery {
  bool delivered = false;     // HTTP 200 with body "success" (surrounding whitespace ignored)
  unsigned http_status = 0;   // 0 when no HTTP answer came
  std::string body_excerpt;   // first bytes of the answer
  std::string error;          // transport error, timeout, refused target (SSRF) ...
  /// Never left topupd: every connection to the merchant's host was busy until the deadline
  /// (or its wait queue was full). Not a delivery: it is not recorded and uses no attempt.
  bool not_sent = false;
};

/// Sends one signed form POST; provided by the protocol layer (signing, HTTP, SSRF guard).
using callback_sender = std::function<boost::asio::awaitable<callback_delivery>(
    std::string url, std::vector<std::pair<std::string, std::string>> params, std::string secret,
    sign_method method)>;

/// Delivers the callbacks of the orders this shard owns. The schedule lives in Redis (`cbdue`,
/// written by the same script that makes an order final), so a crash loses nothing: every shard
/// scans the due set of every merchant periodically and delivers what it owns; the dispatcher
/// kicks it when an order becomes final so the first delivery does not wait for a scan. Each
/// attempt is recorded with its outcome and the next due time in one script. At most one
/// delivery per order is in flight, and at most callbacks.max_inflight per shard: a callback
/// that finds no room is not lost, it stays due in Redis and a later scan sends it. Lives on its
/// shard's thread.
class callback_scheduler {
 public:
  static constexpr std::chrono::milliseconds k_scan_interval{1000};
  static constexpr std::int64_t k_scan_batch = 200;

  /// `metrics` may be null (not counted).
  callback_scheduler(boost::asio::io_context& io, const config& cfg, order_log& store,
                     callback_store& callbacks, callback_sender sender, shard_metrics* metrics,
                     unsigned shard, unsigned shard_count,
                     const engine::clock& clock = system_clock());

  void start();
  /// Which orders are this shard's (those of dead instances it took over included); unset: the
  /// ones whose number encodes the configured instance id. Set before start().
  void set_ownership(const order_ownership* ownership) noexcept { ownership_ = ownership; }
  /// An order of this shard just became final (or an operator asked to notify again).
  void kick(std::string order_number, std::int64_t merchant_id);
  /// The same, with the order as it just became final (saves reading it back).
  void kick(const order_record& final_order);
  /// Starts no delivery from now on; closes deliveries().
  void begin_shutdown();
  bool idle() const noexcept { return in_flight_.empty(); }
  /// Each delivery holds a ticket of this gate until its attempt is recorded (or it gave up).
  shutdown_gate& deliveries() noexcept { return deliveries_; }

 private:
  boost::asio::awaitable<void> scan_loop();
  boost::asio::awaitable<void> deliver(std::string order_number, std::int64_t merchant_id,
                                       std::optional<order_record> known);
  /// Starts a delivery unless one for the order is out, the shard is stopping or there is no
  /// room (the callback then stays due for the next scan).
  void spawn_delivery(std::string order_number, std::int64_t merchant_id,
                      std::optional<order_record> known = std::nullopt);
  bool has_room() const noexcept { return in_flight_.size() < config_.callbacks.max_inflight; }

  boost::asio::io_context& io_;
  const config& config_;
  order_log& store_;
  callback_store& callbacks_;
  callback_sender sender_;
  unsigned shard_;
  unsigned shard_count_;
  const engine::clock& clock_;
  const order_ownership* ownership_ = nullptr;
  bool stopping_ = false;
  engine::timer scan_timer_;  // on the clock seam: scans pass in simulated time
  std::unordered_set<std::string> in_flight_;
  /// Kicked while their delivery was out (a re-notify): delivered again once it ends. A subset
  /// of in_flight_, so bounded with it.
  std::unordered_set<std::string> kicked_again_;
  /// A callback was turned away for want of room: the scan looks again once half of it is free,
  /// rather than a whole scan interval later.
  bool rescan_owed_ = false;
  shutdown_gate deliveries_;
  shard_metrics* metrics_ = nullptr;
};

}  // namespace topup::engine
