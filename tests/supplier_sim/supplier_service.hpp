#pragma once
// The supplier simulator's HTTP endpoints: spec §3 pushOrder/query as an upstream supplier
// answers topupd's `wikeyun` channel, result callbacks to notify_url, and the test controls.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>

#include "protocol/http_server.hpp"
#include "tests/supplier_sim/mode_mix.hpp"
#include "tests/supplier_sim/supplier_book.hpp"

namespace topup::supplier_sim {

struct supplier_options {
  std::string app_key;
  std::string app_secret;
  std::string store_id;  // empty: any non-empty store_id is accepted
  sim_mode mode = sim_mode::succeed;
  std::chrono::milliseconds callback_delay{100};  // placement -> final status (+ callback)
  std::chrono::milliseconds slow{5000};           // timeout_placed, timeout_lost: answer delay
  std::chrono::milliseconds slow_answer{200};     // slow: delay of the push answer
  std::chrono::milliseconds callback_timeout{5000};
  std::int64_t timestamp_skew_s = 300;
  std::uint64_t seed = 0;  // order_number prefix and mix draws; 0 = from std::random_device
  std::string mix;         // non-empty: "name:weight,…", a mode_mix in force from the start
};

/// One simulated supplier: its options, current mode, order book and pending timers. Lives on
/// the simulator's single io_context; handlers and timers hold it by shared_ptr.
///
/// Endpoints:
///  - POST /rest/Recharge/pushOrder, POST /rest/Recharge/query: spec §2/§3, signed with
///    --app-key/--app-secret (MD5 or HMAC-SHA256), JSON envelope answers;
///  - POST /control/mode (mode=<name>, or mode=mix&weights=<name:weight,…>[&seed=N]): switch
///    the mode for orders pushed from now on;
///  - GET /stats: placements, deliveries per order_no and per topupd order_number, callbacks;
///  - GET /orders: every push that reached the book, with its mode and times;
///  - GET /healthz: "ok".
/// A pushOrder repeating a placed order_no with the same parameters is answered 0000 with the
/// same order_number whatever the current mode (the supplier already has it); the mode shapes
/// only the first push of an order_no.
class supplier_service {
 public:
  supplier_service(boost::asio::io_context& io, supplier_options options);

  boost::asio::io_context& io() noexcept { return io_; }
  const supplier_options& options() const noexcept { return options_; }
  /// The mode in force: a fixed one, or "mix".
  std::string_view mode_label() const noexcept { return mix_ ? "mix" : mode_name(mode_); }
  void set_mode(sim_mode mode) noexcept {
    mode_ = mode;
    mix_.reset();
  }
  void set_mix(mode_mix mix) { mix_ = std::move(mix); }
  /// The mode of an order_no pushed for the first time: the fixed mode, or the mix's next draw.
  sim_mode mode_for_new_order() { return mix_ ? mix_->draw() : mode_; }
  supplier_book& book() noexcept { return book_; }

  /// Cancels pending timers (settlements, slow answers, callbacks not yet sent) for shutdown.
  void stop();
  bool stopping() const noexcept { return stopping_; }

  void register_timer(boost::asio::steady_timer& timer) { timers_.insert(&timer); }
  void unregister_timer(boost::asio::steady_timer& timer) { timers_.erase(&timer); }

 private:
  boost::asio::io_context& io_;
  supplier_options options_;
  sim_mode mode_;
  std::optional<mode_mix> mix_;
  supplier_book book_;
  bool stopping_ = false;
  std::unordered_set<boost::asio::steady_timer*> timers_;
};

/// The simulator's http_handler.
boost::asio::awaitable<protocol::http_response> handle_request(
    std::shared_ptr<supplier_service> service, protocol::http_request request);

}  // namespace topup::supplier_sim
