#pragma once
// The supplier simulator's orders and what it counts about them (`GET /stats`).
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace topup::supplier_sim {

/// How the simulated supplier behaves for the orders pushed to it while the mode is in force
/// (a placed order keeps the mode it was placed under).
enum class sim_mode {
  succeed,             // 0000, then after the callback delay: status 2 + signed callback
  fail,                // 0000, then status 4 (3 -> refunded) + signed callback of 4
  refuse,              // code 2005, nothing placed
  timeout_placed,      // placed as `succeed`, but the pushOrder answer comes after --slow-ms
  no_callback,         // placed as `succeed`, never calls back; query tells 2
  malformed,           // placed as `succeed` (no callback), the answer is truncated JSON
  http500,             // HTTP 500, nothing placed
  duplicate_callback,  // as `succeed`, the callback is sent twice
  forged_callback,     // as `succeed`, the callback carries a wrong sign; query tells 2
  slow,                // as `succeed`, the pushOrder answer comes after --slow-answer-ms
  timeout_lost,        // nothing placed; after --slow-ms HTTP 504 (the request got lost)
  http500_placed,      // placed as `succeed` (callback too), but the answer is HTTP 500
  bad_json,            // nothing placed; HTTP 200 with invalid JSON that still shows "0000"
  forged_success,      // placed, fails (4); the only callback claims 2 with a wrong sign
  charging_callback,   // as `succeed`, but first signed callbacks with statuses that are not
                       // final (1, 0, 6, 7, 9) while the order is still being delivered
};

/// Whether an order pushed under `mode` is placed (taken by the supplier).
bool places_order(sim_mode mode);

std::optional<sim_mode> mode_from_name(std::string_view name);
std::string_view mode_name(sim_mode mode);
/// Every mode name, comma-separated, for usage and error messages.
std::string mode_names();

/// One order the supplier placed (took and is topping up).
struct placed_order {
  std::string order_no;      // the pusher's id (topupd: <order_number>-<attempt>)
  std::string order_number;  // the simulator's own id
  std::string store_id;
  std::string mobile;
  std::int64_t money_yuan = 0;
  int recharge_type = 1;
  std::string notify_url;
  sim_mode mode = sim_mode::succeed;
  int status = 1;  // 1 recharging, then 2 (delivered) or 4 (failed and refunded)
  std::int64_t created_at_s = 0;
  std::int64_t finished_at_s = 0;
  std::int64_t pushed_at_ms = 0;    // system clock, when the first push arrived
  std::int64_t finished_at_ms = 0;  // system clock, when it reached 2 or 4 (0 before)
  std::string reason;
};

/// A first push of an order_no that placed nothing (refuse, http500, timeout_lost, bad_json):
/// kept so that tests can see when each attempt reached the supplier.
struct unplaced_push {
  std::string order_no;
  sim_mode mode = sim_mode::refuse;
  std::int64_t pushed_at_ms = 0;
};

/// The order book and the counters of one simulator process. Single-threaded (the simulator's
/// one io_context). Orders are never forgotten while the process runs, up to k_orders_max.
class supplier_book {
 public:
  static constexpr std::size_t k_orders_max = 2'000'000;

  explicit supplier_book(std::string number_prefix) : number_prefix_(std::move(number_prefix)) {}

  enum class place_verdict {
    placed,    // a new order
    repeat,    // the same order_no with the same parameters: the existing order
    conflict,  // the same order_no with other parameters (2003)
    full,      // k_orders_max reached
  };
  struct place_result {
    place_verdict verdict;
    placed_order* order = nullptr;  // set for placed and repeat
  };
  /// Places `order` (its order_number, status and times are filled in here; `now_ms` is the
  /// system clock in milliseconds).
  place_result place(placed_order order, std::int64_t now_ms);
  /// Remembers a first push that placed nothing (up to k_orders_max of them).
  void note_unplaced(std::string order_no, sim_mode mode, std::int64_t now_ms);

  placed_order* find_by_order_no(std::string_view order_no);
  placed_order* find_by_order_number(std::string_view order_number);

  /// Moves a recharging order to its final status: 2 counts one delivery (per order_no and per
  /// topupd order_number), 4 none. A final order is left alone (returns false).
  bool finish(placed_order& order, bool delivered, std::int64_t now_ms);

  void count_callback_sent() { ++callbacks_sent_; }
  void count_callback_ack() { ++callback_acks_; }

  /// {"placed":N,"delivered":N,"deliveries":{order_no:n},"by_order":{order_number:n},
  ///  "callbacks_sent":N,"callback_acks":N}
  std::string stats_json(std::string_view current_mode) const;
  /// `GET /orders`: every push that reached the book, placed or not, for tests that check the
  /// order of attempts: {"orders":[{"order_no","order_number" (topupd's, the order_no without
  /// its attempt suffix),"mode","placed","status","pushed_at_ms","finished_at_ms"}…]}; status 0
  /// for an unplaced push.
  std::string orders_json() const;

  /// topupd's order_number of a pushed order_no: the order_no without a trailing "-<digits>"
  /// attempt suffix (the whole order_no when it has none).
  static std::string base_order_number(std::string_view order_no);

 private:
  std::string number_prefix_;
  std::uint64_t next_sequence_ = 1;
  std::unordered_map<std::string, placed_order> by_order_no_;
  std::unordered_map<std::string, std::string> order_no_by_number_;
  std::vector<unplaced_push> unplaced_;
  std::uint64_t placed_ = 0;
  std::uint64_t delivered_ = 0;
  std::uint64_t callbacks_sent_ = 0;
  std::uint64_t callback_acks_ = 0;
  std::map<std::string, std::uint64_t> deliveries_;  // order_no -> deliveries
  std::map<std::string, std::uint64_t> by_order_;    // topupd order_number -> deliveries
};

}  // namespace topup::supplier_sim
