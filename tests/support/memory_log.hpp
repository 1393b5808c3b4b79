#pragma once
// An order_log kept in memory, with the same contract as the Redis one (engine/store/order_log.hpp:
// idempotent accept with the balance check and debit, compare-and-set appends, the refund once),
// for unit tests of the engine's services without Redis, and for the simulator. It can be told to
// fail writes the way Redis fails them: refused before applying (storage_unavailable), or applied
// with the answer lost (outcome_unknown).
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/store/order_log.hpp"
#include "engine/support/clock.hpp"

namespace topup::test {

class memory_log final : public engine::order_log {
 public:
  /// `clock` stamps events (their ids' ms), as Redis's own time would.
  explicit memory_log(const engine::clock& clock) : clock_(clock) {}

  /// One event of the log: the merchant's, in append order.
  struct entry {
    std::int64_t at_ms = 0;
    std::string type;  // accepted, step, refund, cb, renotify
    std::string order_number;
    std::int64_t version = 0;
    engine::field_pairs fields;
  };

  // ---- test controls ----
  void set_balance(std::int64_t merchant_id, engine::fen_t balance);
  /// The next `n` writes (accept, commit, refund) fail with `error`: storage_unavailable and
  /// overloaded apply nothing; outcome_unknown applies the write and loses its answer.
  void fail_writes(boost::system::error_code error, int n = 1);
  std::size_t writes() const noexcept { return writes_; }
  /// After `after` more reads of active orders or of records (active_orders, get_many, get),
  /// the next `n` fail with `error`, reading nothing.
  void fail_reads(boost::system::error_code error, int n = 1, int after = 0);
  /// Runs at the start of every active_orders call, before it reads (and before a read fault):
  /// a test changes the orders there between a scan's pages.
  using active_read_hook =
      std::function<void(std::int64_t merchant_id, const engine::active_cursor&)>;
  void on_active_read(active_read_hook hook) { active_read_hook_ = std::move(hook); }
  /// The most numbers one get_many call asked for.
  std::size_t most_records_read() const noexcept { return most_records_read_; }
  const std::vector<entry>& log(std::int64_t merchant_id) { return logs_[merchant_id]; }
  std::optional<engine::order_record> peek(std::int64_t merchant_id, const std::string& number) const;
  bool unresolved(std::int64_t merchant_id, const std::string& number) const {
    return unresolved_.contains({merchant_id, number});
  }
  /// Every order of the merchant, for invariant checks.
  std::vector<engine::order_record> orders(std::int64_t merchant_id) const;
  /// The merchant's account as stored now, read without a coroutine (the simulator's checks).
  engine::account_totals totals(std::int64_t merchant_id) const {
    auto it = accounts_.find(merchant_id);
    return it == accounts_.end() ? engine::account_totals{} : it->second;
  }

  // ---- engine::order_log ----
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
  using key = std::pair<std::int64_t, std::string>;  // merchant, order number
  /// Whether this write fails, and how (the fault the test asked for).
  std::optional<boost::system::error_code> fault();
  /// Whether this read fails, and how.
  std::optional<boost::system::error_code> read_fault();
  void append(std::int64_t merchant_id, std::string type, const std::string& number,
              std::int64_t version, engine::field_pairs fields);
  void apply_work(const key& k, engine::work_change work);
  // Built outside the coroutines (GCC 12's false array-bounds warnings inside them).
  static engine::active_page active_page_of(const std::map<key, std::int64_t>& work,
                                            std::int64_t merchant_id,
                                            const engine::active_cursor& after, std::int64_t limit);
  static order_reads reads_of(const std::map<key, engine::order_record>& orders,
                              std::int64_t merchant_id, const std::vector<std::string>& numbers);

  const engine::clock& clock_;
  std::map<key, engine::order_record> orders_;
  std::map<key, std::pair<std::string, std::string>> order_nos_;  // (m, order_no) -> number, fp
  std::map<std::int64_t, engine::account_totals> accounts_;
  std::map<std::int64_t, std::vector<entry>> logs_;
  std::map<key, std::int64_t> work_;  // score as in Redis: -created_at, or the callback's due ms
  std::set<key> unresolved_;
  boost::system::error_code fail_with_;
  int fail_left_ = 0;
  std::size_t writes_ = 0;
  boost::system::error_code fail_reads_with_;
  int fail_reads_left_ = 0;
  int reads_before_failing_ = 0;
  active_read_hook active_read_hook_;
  std::size_t most_records_read_ = 0;
};

}  // namespace topup::test
