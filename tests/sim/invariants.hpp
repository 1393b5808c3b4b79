#pragma once
// The named checks the simulator makes after every step and at the end of a run (issue 15):
// money, deliveries, spec §4 transitions, persistence before action, merchant callbacks.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "engine/config/config.hpp"
#include "engine/order/money.hpp"
#include "engine/order/order_record.hpp"
#include "tests/sim/trace.hpp"
#include "tests/support/memory_log.hpp"

namespace topup::sim {

/// One named check, for --list-invariants and the README.
struct invariant_info {
  std::string_view name;
  std::string_view says;
};
/// Every check the simulator makes, in the order they are documented.
const std::vector<invariant_info>& invariant_catalogue();

/// The first check that failed in a run.
struct violation {
  std::string name;    // one of invariant_catalogue()
  std::string detail;  // the order, the numbers
  std::int64_t step = 0;
};

/// class invariants — what the world saw (deliveries, submits, callbacks, pushes answered)
/// checked against what the memory_log stored. Each hook checks what it can at once; after_step()
/// reads the log's new events (transitions legal, versions consecutive, refunds once) and the
/// books; at_end() checks what only holds once the world has answered (everything final, money
/// equal to deliveries, callbacks until acknowledged). Keeps the first violation only.
class invariants {
 public:
  invariants(const engine::config& cfg, test::memory_log& store, trace& out)
      : cfg_(cfg), store_(store), out_(out) {}

  void set_step(std::int64_t step) noexcept { step_ = step; }
  bool failed() const noexcept { return first_.has_value(); }
  const std::optional<violation>& first() const noexcept { return first_; }
  void fail(std::string_view name, std::string detail);

  // ---- the world's hooks ----
  /// A credit applied to the merchant's balance (the world's own tally of credits).
  void credited(std::int64_t merchant_id, engine::fen_t amount) { credits_[merchant_id] += amount; }
  /// A supplier is about to place attempt `attempt_id` of `order_number` at `channel`; `open`
  /// names an earlier attempt of the same order that its supplier may still deliver, if any.
  void submitted(const std::string& channel, const std::string& order_number,
                 const std::string& attempt_id, int submits_of_attempt, const std::string& open);
  /// A supplier delivered a top-up.
  void delivered(const std::string& order_number, const std::string& attempt_id,
                 const std::string& mobile);
  /// The dispatcher's on_final hook fired.
  void final_hook(const engine::order_record& order);
  /// A merchant's push got `code` (0000 with `order_number`) for its order_no; `sent_after_0000`
  /// when the merchant already held a 0000 for it as it sent this push.
  void push_answered(std::int64_t merchant_id, const std::string& order_no,
                     const std::string& code, const std::string& order_number,
                     bool sent_after_0000);
  /// A merchant endpoint received a callback.
  void merchant_called(const std::string& order_number, std::int64_t merchant_id, int status,
                       bool acked);
  /// A supplier callback sent through a channel that does not hold the attempt was answered.
  void wrong_channel_answered(const std::string& attempt_id, bool taken);

  /// After every step: the log's new events and the books.
  void after_step();
  /// Once the drain has ended: `settled` says whether every order and callback settled in time.
  void at_end(bool settled);

  std::int64_t deliveries() const noexcept { return deliveries_total_; }
  std::int64_t final_hooks() const noexcept { return final_hooks_total_; }

 private:
  /// What the checks know of one order.
  struct order_track {
    int status = 0;             // as of its latest event
    std::int64_t version = 0;   // its latest event's
    int refunds = 0;
    std::string mobile;
    engine::fen_t cost = 0;
    std::set<std::string> delivered_attempts;
    int final_hooks = 0;
    std::map<int, int> merchant_calls;  // status -> callbacks received
    bool merchant_acked = false;
  };
  /// Reads the events stored since the last read (the hooks see the log as it is now).
  void catch_up();
  void read_event(std::int64_t merchant_id, const test::memory_log::entry& e);
  void read_step(order_track& t, const test::memory_log::entry& e, int from, int to);
  void check_books(std::int64_t merchant_id);
  void check_final_order(const engine::order_record& r);
  void check_callback_done(const engine::order_record& r);

  const engine::config& cfg_;
  test::memory_log& store_;
  trace& out_;
  std::int64_t step_ = 0;
  std::optional<violation> first_;
  std::map<std::string, order_track> orders_;
  std::map<std::int64_t, std::size_t> events_read_;
  std::map<std::int64_t, engine::fen_t> credits_, debits_, refunds_;
  std::map<std::string, int> orders_per_mobile_, deliveries_per_mobile_;
  std::map<std::pair<std::int64_t, std::string>, std::string> acked_;  // (m, order_no) -> number
  std::int64_t deliveries_total_ = 0;
  std::int64_t final_hooks_total_ = 0;
};

}  // namespace topup::sim
