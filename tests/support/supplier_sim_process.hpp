#pragma once
// The supplier simulator (tests/supplier_sim, `topup_supplier_sim`) as a child process for
// end-to-end tests: started on a free loopback port, its mode switched, its /stats read.
#include <boost/json.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/support/process.hpp"

namespace topup::test {

struct supplier_sim_options {
  std::string app_key;
  std::string app_secret;
  std::string store_id;          // --store-id when non-empty (else any store_id is accepted)
  std::string mode = "succeed";  // the mode at start
  int callback_delay_ms = 100;   // placement -> final status (+ callback)
  int slow_ms = 5000;            // timeout_placed, timeout_lost: delay of the pushOrder answer
  int slow_answer_ms = 200;      // slow: delay of the pushOrder answer
  std::uint64_t seed = 0;        // --seed: order number prefix and mix draws (0: random)
  std::string mix{};             // --mix "mode:weight,…" when non-empty (overrides `mode`)
};

/// One push that reached the simulator's book (GET /orders).
struct supplier_push {
  std::string order_no;      // topupd's attempt id, <order_number>-<attempt>
  std::string order_number;  // topupd's order number
  std::string mode;
  bool placed = false;
  int status = 0;  // placed: 1, then 2 (delivered) or 4 (failed); unplaced: 0
  std::int64_t pushed_at_ms = 0;
  std::int64_t finished_at_ms = 0;
};

/// One running `topup_supplier_sim` (SIGKILLed on destruction). Construction picks a free
/// loopback port, starts the binary and waits until it serves /healthz, trying another port
/// (up to 5 in all) if the process cannot listen; throws std::runtime_error if it never comes
/// up. Used from the test's thread only; every call opens a fresh connection.
class supplier_sim_process {
 public:
  explicit supplier_sim_process(supplier_sim_options options);
  supplier_sim_process(const supplier_sim_process&) = delete;
  supplier_sim_process& operator=(const supplier_sim_process&) = delete;

  int port() const noexcept { return port_; }
  /// "http://127.0.0.1:<port>": the `url` of a wikeyun channel pointing here.
  std::string url() const;
  const supplier_sim_options& options() const noexcept { return options_; }
  const std::string& log_path() const noexcept { return log_path_; }
  bool running() { return process_.running(); }

  /// POST /control/mode: the mode for orders pushed from now on. Throws unless answered 200.
  void set_mode(const std::string& mode);
  /// POST /control/mode with mode=mix: a seeded draw from `weights` ("mode:weight,…") per order
  /// pushed from now on, the draws started from `seed` (0: the simulator's --seed). Throws
  /// unless answered 200.
  void set_mix(const std::string& weights, std::uint64_t seed = 0);
  /// GET /orders, parsed: every push that reached the book, placed or not.
  std::vector<supplier_push> orders();
  /// GET /stats, parsed. Throws if the simulator does not answer a JSON object.
  boost::json::object stats();
  /// by_order[order_number] of `stats`: deliveries (reached 2) of topupd's order, 0 if absent.
  static std::uint64_t deliveries(const boost::json::object& stats,
                                  const std::string& order_number);
  /// A counter of `stats` ("placed", "delivered", "callbacks_sent", "callback_acks").
  static std::uint64_t counter(const boost::json::object& stats, const char* name);
  /// Shorthands reading /stats once each.
  std::uint64_t deliveries(const std::string& order_number) {
    return deliveries(stats(), order_number);
  }
  std::uint64_t placed() { return counter(stats(), "placed"); }

  /// A `wikeyun` channel object (spec §6, §8) for topupd_config pointing at this simulator with
  /// its credentials: every carrier, amounts [50, 100], both recharge types, the given
  /// cost_rate, timeout_ms 500, query_interval_ms 50, unknown_grace_ms 1000.
  boost::json::object wikeyun_channel(const std::string& id, double cost_rate) const;

  /// SIGTERM and wait; returns the exit status.
  int stop();

 private:
  supplier_sim_options options_;
  int port_ = 0;
  std::string log_path_;
  child_process process_;
};

/// Path of the built simulator binary.
std::string supplier_sim_binary();

}  // namespace topup::test
