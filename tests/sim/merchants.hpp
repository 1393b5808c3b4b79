#pragma once
// The simulated merchants: they push orders (and push them again, blindly), cancel some, and run
// the callback endpoints topupd calls back (spec §5) — one of them never acknowledges.
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "engine/callbacks/callback_scheduler.hpp"
#include "engine/service/order_service.hpp"
#include "tests/sim/node.hpp"
#include "tests/sim/world_env.hpp"

namespace topup::sim {

/// class merchant_desk — every simulated merchant's orders and callback endpoint. Owned by the
/// world; reaches the process alive now (if any) through `live`. An order a merchant pushed is
/// pushed again until it gets a definite answer: after 5000/5002/1008, after no answer at all (a
/// crash), and now and then blindly after 0000.
class merchant_desk {
 public:
  merchant_desk(world_env& env, std::function<node*()> live) : env_(env), live_(std::move(live)) {}

  /// A new order from a random merchant, pushed now.
  void new_order();
  /// One merchant pushes an order it already got an answer for, the same parameters.
  void blind_retry();
  /// One merchant cancels one of its acknowledged orders (spec §3.5; most are past 6 already).
  void cancel_one();
  /// The process `incarnation` died: pushes it never answered are pushed again later.
  void process_died(int incarnation);
  /// The merchant endpoint: what topupd's callback sender reaches.
  boost::asio::awaitable<engine::callback_delivery> endpoint(
      std::string url, std::vector<std::pair<std::string, std::string>> params, std::string secret,
      engine::sign_method method);

  /// Every order has its definite answer (the drain waits for merchants to learn them).
  bool all_answered() const;
  std::int64_t orders() const noexcept { return static_cast<std::int64_t>(intents_.size()); }
  std::int64_t acknowledged() const;
  std::int64_t pushes() const noexcept { return pushes_; }

 private:
  struct intent {
    engine::push_request request;
    std::string order_number;  // once answered 0000
    int in_flight = 0;    // pushes sent and not answered (a blind retry may overlap the first)
    int incarnation = 0;  // of the process the latest push went to
    bool settled = false;  // a definite answer: 0000 or a refusal
  };
  void push(std::size_t index);
  void answered(std::size_t index, int incarnation, bool sent_after_0000,
                boost::system::result<engine::accept_result> r);
  /// True when the merchant at this endpoint acknowledges this delivery.
  bool acknowledges(std::int64_t merchant_id);

  world_env& env_;
  std::function<node*()> live_;
  std::vector<intent> intents_;
  std::int64_t pushes_ = 0;
};

/// The wire code a merchant sees for an engine result (spec §1's table, the codes checked here).
std::string wire_code(const boost::system::result<engine::accept_result>& r);

}  // namespace topup::sim
