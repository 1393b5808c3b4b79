#pragma once
// The simulated upstream suppliers (spec §6) and the channel adapter the engine talks to them
// through. Each attempt gets a behaviour drawn from the prng; together they answer late, twice,
// out of order, with intermediate statuses, through the wrong channel, time out and deliver
// anyway, say "not found" within the grace and then deliver, or stay silent for hours — but they
// never break the contract the engine may rely on (a refusal or failure is never delivered, a
// "not found" past the grace is never placed later).
#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/routing/channel_adapter.hpp"
#include "engine/service/supplier_results.hpp"
#include "tests/sim/world_env.hpp"

namespace topup::sim {

/// How one supplier treats one attempt.
enum class supplier_plan {
  refuse,         // refused at submit, never placed
  sync_success,   // delivered while answering the submit
  sync_fail,      // failed while answering the submit
  accepted,       // accepted; the result comes later (callbacks, queries)
  timeout_placed, // the submit's answer never comes in time; placed anyway
  late_placed,    // the submit times out; placed only later (queries say "not found" meanwhile)
  lost,           // the submit times out; never placed (queries say "not found")
  garbage,        // an unreadable answer to the submit; placed
  silent_hours,   // accepted, then nothing for hours (queries say pending)
};

/// class supplier_desk — every simulated supplier's books: per attempt id, what it was asked,
/// whether it is placed, settled, delivered. Owned by the world and outliving every simulated
/// process; adapters (one per channel per process) ask it for the answer to each request.
class supplier_desk {
 public:
  /// Sends a supplier callback to the engine of the process alive now (if any) through
  /// `via`'s endpoint; `answered` gets the receipt (never called if no process answers).
  using callback_link = std::function<void(std::string via, engine::supplier_callback callback,
                                           std::function<void(engine::supplier_receipt)> answered)>;

  supplier_desk(world_env& env, callback_link link) : env_(env), link_(std::move(link)) {}

  /// What a request gets, decided now, and how long the answer takes.
  struct answer {
    engine::attempt_result result;
    std::int64_t delay_ms = 0;
  };
  answer submit(const engine::channel_config& channel, const engine::attempt_request& request);
  answer query(const engine::channel_config& channel, const engine::attempt_request& request);

  /// The drain phase: every placed attempt settles within seconds, and answers are truthful.
  void become_honest();
  /// A callback about some attempt, signed by a channel that does not hold it.
  void send_stray_callback();

  std::int64_t submits() const noexcept { return submits_; }
  std::int64_t queries() const noexcept { return queries_; }

 private:
  struct attempt_book {
    std::string channel;
    std::string order_number;
    std::string mobile;
    supplier_plan plan = supplier_plan::accepted;
    bool placed = false;
    bool will_place = false;  // placed later (late_placed)
    bool will_succeed = true;
    bool settled = false;
    bool succeeded = false;
    int submits = 0;
  };

  supplier_plan draw_plan();
  std::int64_t draw_answer_delay(const engine::channel_config& channel);
  /// An earlier attempt of the order that its supplier may still deliver, if any.
  std::string open_attempt_of(const std::string& order_number, const std::string& except) const;
  void place(const std::string& attempt_id);
  void settle_at(const std::string& attempt_id, std::int64_t delay_ms);
  void settle(const std::string& attempt_id);
  void tell_engine(const std::string& attempt_id, const attempt_book& book);
  void send(std::string via, std::string attempt_id, engine::attempt_outcome outcome,
            std::int64_t delay_ms, int tries);

  world_env& env_;
  callback_link link_;
  std::map<std::string, attempt_book> books_;  // attempt id -> book
  std::map<std::string, std::vector<std::string>> attempts_of_;  // order number -> attempt ids
  std::int64_t submits_ = 0;
  std::int64_t queries_ = 0;
};

/// class sim_adapter — engine::channel_adapter for one channel of one simulated process: each
/// request is answered by the supplier_desk after its delay in simulated time (an engine::timer
/// on the process's io_context, so a crash drops it), or as unknown at the channel's timeout_ms.
class sim_adapter final : public engine::channel_adapter {
 public:
  sim_adapter(const engine::channel_config& config, supplier_desk& desk)
      : config_(config), desk_(desk) {}
  const engine::channel_config& config() const noexcept override { return config_; }
  boost::asio::awaitable<engine::attempt_result> submit(engine::attempt_request request) override;
  boost::asio::awaitable<engine::attempt_result> query(engine::attempt_request request) override;
  /// Callbacks reach the engine already parsed (supplier_results), never through here.
  boost::system::result<engine::supplier_callback> parse_callback(
      const std::vector<std::pair<std::string, std::string>>& params) override;

 private:
  boost::asio::awaitable<engine::attempt_result> in_time(supplier_desk::answer a);
  const engine::channel_config& config_;
  supplier_desk& desk_;
};

}  // namespace topup::sim
