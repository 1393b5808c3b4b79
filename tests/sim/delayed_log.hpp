#pragma once
// The simulated Redis: the in-memory order_log (tests/support/memory_log) behind a decorator that
// delays its replies in simulated time and fails calls the ways Redis fails them.
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/store/order_log.hpp"
#include "tests/sim/prng.hpp"
#include "tests/sim/trace.hpp"
#include "tests/support/memory_log.hpp"

namespace topup::sim {

/// How often the simulated Redis misbehaves (per mille of calls). All zero: an honest, instant
/// Redis (the drain phase).
struct storage_faults {
  std::uint64_t delay_per_mille = 0;      // a call waits before it runs and before its answer
  std::int64_t delay_ms_max = 0;
  std::uint64_t refuse_per_mille = 0;     // a write refused before it applies (storage_unavailable)
  std::uint64_t lose_per_mille = 0;       // a write applied, its answer lost (outcome_unknown)
  std::uint64_t read_fail_per_mille = 0;  // a read fails (storage_unavailable)
};

/// What the simulated Redis did, for the run's summary.
struct storage_counts {
  std::int64_t delayed = 0;
  std::int64_t refused = 0;
  std::int64_t lost = 0;
  std::int64_t read_failed = 0;
};

/// class delayed_log — an engine::order_log over the one memory_log of the run, which is all that
/// survives a simulated crash. Each call may wait (an engine::timer on the caller's io_context, so
/// a crash drops it: a write still waiting to run is never applied, one whose answer is on its
/// way back is applied with the answer lost), be refused, or lose its answer; every choice is
/// drawn from the run's prng. Single-threaded, like everything in the simulator.
class delayed_log final : public engine::order_log {
 public:
  delayed_log(test::memory_log& inner, prng& rng, trace& out) : inner_(inner), rng_(rng), out_(out) {}

  void set_faults(const storage_faults& f) noexcept { faults_ = f; }
  const storage_counts& counts() const noexcept { return counts_; }
  /// A liar for sim.catches_liars: order steps (commit) answer success without being stored.
  void drop_commits(bool on) noexcept { drop_commits_ = on; }

  // engine::order_log (the same overrides as memory_log's: both implement the interface)
  boost::asio::awaitable<boost::system::result<engine::accept_result>> accept(
      engine::order_record record, std::int64_t now_ms, engine::field_pairs match = {}) override;
  boost::asio::awaitable<boost::system::result<void>> commit(
      engine::order_record& order, engine::order_record after,
      std::vector<engine::log_event> events, engine::work_change work) override;
  boost::asio::awaitable<boost::system::result<void>> refund(const engine::order_record& order,
                                                             const engine::order_record& after,
                                                             engine::work_change work) override;
  boost::asio::awaitable<boost::system::result<engine::order_record>> get(
      std::int64_t merchant_id, std::string order_number) override;
  boost::asio::awaitable<boost::system::result<order_no_entry>> order_no_entry_of(
      std::int64_t merchant_id, std::string order_no) override;
  boost::asio::awaitable<boost::system::result<engine::account_totals>> account(
      std::int64_t merchant_id) override;
  boost::asio::awaitable<boost::system::result<engine::order_page>> list(
      std::int64_t merchant_id, std::int64_t start_ms, std::int64_t end_ms,
      std::optional<engine::order_status> status, std::int64_t page,
      std::int64_t page_size) override;
  boost::asio::awaitable<boost::system::result<engine::active_page>> active_orders(
      std::int64_t merchant_id, engine::active_cursor after, std::int64_t limit) override;
  boost::asio::awaitable<boost::system::result<order_reads>> get_many(
      std::int64_t merchant_id, std::vector<std::string> numbers) override;
  boost::asio::awaitable<boost::system::result<std::vector<std::string>>> due_callbacks(
      std::int64_t merchant_id, std::int64_t now_ms, std::int64_t limit) override;
  boost::asio::awaitable<boost::system::result<std::vector<engine::order_event>>> events(
      std::int64_t merchant_id, std::string order_number) override;
  boost::asio::awaitable<boost::system::result<void>> flag_unresolved(
      std::int64_t merchant_id, std::string order_number, std::int64_t since_ms) override;
  boost::asio::awaitable<boost::system::result<void>> clear_unresolved(
      std::int64_t merchant_id, std::string order_number) override;

 private:
  /// A read: waits, may fail without reading, waits again with the answer.
  template <class T>
  boost::asio::awaitable<T> read(boost::asio::awaitable<T> op);
  /// Waits `delay_ms` of simulated time (nothing when 0).
  boost::asio::awaitable<void> pause(std::int64_t delay_ms);
  std::int64_t draw_delay();
  bool refuse(const char* what);
  bool lose(const char* what);

  test::memory_log& inner_;
  prng& rng_;
  trace& out_;
  storage_faults faults_;
  storage_counts counts_;
  bool drop_commits_ = false;
};

}  // namespace topup::sim
