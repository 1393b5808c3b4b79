#pragma once
// The fault suite's shared pieces: the scenario seed, the world a scenario runs in (redis-server,
// supplier simulators, the merchant's callback endpoint, topupd), the steady load, and the
// invariant checks every scenario ends with.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/callback_receiver.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/supplier_sim_process.hpp"
#include "tests/support/topupd_process.hpp"

namespace topup::test::fault {

/// Every order of the load is 50 yuan from merchant 1001 (price_rate 0.995): 49.75 yuan.
constexpr int k_money = 50;
constexpr long long k_cost_fen = 4975;
/// What each scenario credits merchant 1001 with at the start: 100000 yuan.
constexpr long long k_credit_fen = 10'000'000;
constexpr const char* k_credit_yuan = "100000";

/// The seed of a scenario's schedule: the environment variable TOPUP_FAULT_SEED when set (to
/// replay a failing run), else `fallback`. Printed and recorded as the test's `seed` property,
/// so a red run names the seed that replays it.
std::uint64_t scenario_seed(std::uint64_t fallback);

/// A deterministic 64-bit mix of `x` (splitmix64), for choices that must follow from the seed
/// and an index alone, whatever thread or moment makes them.
std::uint64_t mix64(std::uint64_t x);

/// The fault suite's topupd configuration: `threads` shards, logs at warn, waiting fast orders
/// given up after 5 s, callbacks with 6 attempts 200 ms apart (1 s timeout, loopback allowed),
/// and `channels` instead of the test default.
topupd_config fault_config(int port, int redis_port, unsigned threads,
                           const std::vector<boost::json::object>& channels);

/// `cfg` as instance `id` (server.instance_id) listening on `port`, its public_url there too:
/// another instance beside the world's topupd, on the same Redis.
topupd_config as_instance(topupd_config cfg, int id, int port);

/// Every supplier channel of the suite: a pushOrder (waiting for a pooled connection included)
/// times out after k_push_timeout; an attempt with an unknown outcome counts as never placed on
/// the supplier's 3001 once k_unknown_grace has passed since the order was matched.
constexpr std::chrono::milliseconds k_push_timeout{500};
constexpr std::chrono::milliseconds k_unknown_grace{1500};

class order_load;
struct callback_rules;

/// One scenario's world: a redis-server, the merchant's callback endpoint, one supplier
/// simulator per mix behind `wikeyun` channels "up<i>" (cost_rate 0.96 + 0.01 i: up0 is tried
/// first; simulator seeds derived from the scenario seed; answers held past k_push_timeout
/// come after 1.5 s, `slow` ones after 200 ms), and topupd with 2 shards on them, merchant
/// 1001 credited with k_credit_yuan. Members are public: scenarios kill and restart them.
class fault_world {
 public:
  using config_edit = std::function<void(topupd_config&)>;
  fault_world(std::uint64_t seed, const std::vector<std::string>& mixes,
              redis_server_options redis_options = {}, config_edit edit = {});

  /// The configuration topupd runs with, with `threads` shards (for a restart).
  topupd_config config(unsigned threads) const;

  /// Stops the load, then checks every promise: the books (expect_books_balanced), the
  /// callbacks (expect_called_back with `rules`), the suppliers' books (expect_supplier_books)
  /// and the audit. At least `min_orders` orders must have been acknowledged.
  void expect_every_promise_kept(order_load& load, const callback_rules& rules,
                                 std::size_t min_orders);

  redis_server redis;
  callback_receiver merchant;
  std::vector<std::unique_ptr<supplier_sim_process>> sims;
  std::vector<boost::json::object> channels;
  topupd_process server;
  int port = 0;

 private:
  config_edit edit_;
};

/// One order the load got `0000` for.
struct acked_order {
  std::string number;  // topupd's order_number
  std::string notify_url;
};
/// order_no -> what was acknowledged.
using acked_orders = std::map<std::string, acked_order>;
/// order_number -> status.
using order_statuses = std::map<std::string, std::string>;

/// Pushes 50-yuan orders of merchant 1001 from a few client threads until stopped, retrying the
/// same order_no after any transport error, 5000 or 1008 (idempotent), and records what was
/// acknowledged. Order `index` of thread `t` is "f<t>-<index>" with notify_url
/// `notify_url(t, index)`; each thread pauses `pause` between orders.
class order_load {
 public:
  using notify_choice = std::function<std::string(int thread, int index)>;
  order_load(int port, notify_choice notify_url, int threads,
             std::chrono::milliseconds pause = std::chrono::milliseconds(0));
  ~order_load();
  order_load(const order_load&) = delete;
  order_load& operator=(const order_load&) = delete;

  void stop();
  acked_orders acknowledged() const;
  int transport_errors() const { return errors_; }
  /// The last answer that was neither 0000 nor worth repeating, for failure messages.
  std::string last_refusal() const;

 private:
  void run(int t);

  int port_;
  notify_choice notify_url_;
  std::chrono::milliseconds pause_;
  std::atomic<bool> stop_{false};
  std::atomic<int> errors_{0};
  std::vector<std::thread> threads_;
  mutable std::mutex mutex_;
  acked_orders acked_;
  std::string last_refusal_;
};

/// Waits (up to 90 s) until every order of merchant 1001 is final — acknowledged or not: an
/// answer lost to a crash may hide an accepted order — then checks that every acknowledged
/// order is there, every order ended in 2 or 4, and the balance is k_credit_fen minus the cost
/// of the delivered (2) orders. Returns every order's status.
order_statuses expect_books_balanced(int port, const acked_orders& acked);

/// What the merchant's endpoint must end with for the orders whose notify_url has a tag.
enum class callback_end {
  acknowledged,  // some delivery was answered `success`, and topupd shows cb_status delivered
  given_up,      // never acknowledged: max_attempts attempts recorded, cb_status failed
};
struct callback_rules {
  std::function<callback_end(const std::string& tag)> end_of = [](const std::string&) {
    return callback_end::acknowledged;
  };
  /// Deliveries after the acknowledged one: none, unless a crash or an outage may have lost the
  /// record of a delivery (spec: at-least-once).
  bool repeats_after_ack = false;
  std::size_t max_attempts = 6;
  std::chrono::seconds within{30};
};

/// Every order in `status` was called back (spec §5) as `rules` say: each delivery is a signed
/// callback (merchant 1001's secret) carrying the order's final status; waits up to
/// `rules.within` for the acknowledgements and give-ups; cross-checks with GET /admin/orders.
void expect_called_back(int port, const callback_receiver& receiver, const order_statuses& status,
                        const callback_rules& rules = {});

/// The suppliers' books agree with topupd's: every attempt the simulators saw belongs to an
/// order topupd has; an order in 2 was delivered exactly once over all simulators, one in 4
/// never; every placed attempt is final; and attempts follow each other only after a definite
/// answer: after a placed attempt only once it failed, after an unplaced attempt whose answer
/// was unknown (5xx, timeout, bad JSON) only once the supplier's 3001 could count (unknown
/// grace after the push).
void expect_supplier_books(const std::vector<std::unique_ptr<supplier_sim_process>>& sims,
                           const order_statuses& status);

/// `topupd audit --config` finds the ledger and the event streams consistent (exit 0).
void expect_audit_clean(const topupd_process& server);

}  // namespace topup::test::fault
