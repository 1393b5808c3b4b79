#pragma once
// Orders and merchant balances in Redis (docs/STORAGE.md), written only through the ledger scripts.
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/store/accept_batcher.hpp"
#include "engine/store/group_commit.hpp"
#include "engine/store/fence.hpp"
#include "engine/store/order_log.hpp"
#include "engine/store/ledger_scripts.hpp"
#include "engine/order/money.hpp"
#include "engine/order/order_record.hpp"
#include "engine/order/order_status.hpp"
#include "engine/redis/connection.hpp"

namespace topup::engine {

struct credit_result {
  bool repeat = false;  // the ref was applied before; nothing moved this time
  fen_t balance_fen = 0;
};

/// One entry of the merchant's ledger stream: a balance move.
struct ledger_entry {
  std::string id;    // stream entry id
  std::string type;  // "credit", "debit" or "refund"
  fen_t amount_fen = 0;
  fen_t balance_fen = 0;     // after this move
  std::string order_number;  // debit and refund
  std::string ref;           // credit
  std::int64_t at_ms = 0;
};

/// The one place a Redis answer of unexpected shape (or an error reply) to a store read or script
/// is logged, as `store op=<operation>`: a refusal before running (LOADING, BUSY, ...) is
/// storage_unavailable, anything else storage_protocol. For every reader and writer of these keys.
boost::system::error_code unexpected_store_reply(std::string_view operation,
                                                 const redis::reply& r);

/// class order_store — the persistence of orders, balances and the merchants' logs for one shard
/// (docs/STORAGE.md, layout v2). Every write is one atomic script (engine/store/ledger_scripts.hpp):
/// the money decisions (accept, refund, credit) and the fenced compare-and-set append of an
/// order's step; a crash or a lost reply never leaves money and orders disagreeing. Reads are
/// plain commands on the projections. Holds no state besides the connection, the key prefix and
/// the instance's fence token; lives on, and is used only from, its shard's thread, and must
/// outlive the coroutines it starts. Error values: storage_unavailable / overloaded from the
/// connection (nothing known to be written), outcome_unknown (a write's answer was lost),
/// fenced (this instance's epoch is no longer current: nothing written), storage_protocol when
/// Redis answers something unexpected (logged here, once), and the business errors named on
/// each method.
class order_store final : public order_log {
 public:
  /// `fence` must outlive the store; its epoch is final before the first write (engine/store/lease).
  order_store(redis::connection& conn, std::string prefix, const fence_token& fence);
  /// redis.min_replicas_acked: accepts and credits are acknowledged only once `replicas`
  /// replicas confirm them (WAIT, up to `timeout`); else outcome_unknown (5002).
  void require_replicas(std::uint32_t replicas, std::chrono::milliseconds timeout) noexcept {
    accepts_.require_replicas(replicas, timeout);
  }

  /// Runs on this shard whenever a write is refused as errc::fenced (another run of this
  /// instance took its lease over): app/ then stops the whole instance. Set before the first write.
  void on_fenced(std::function<void()> hook) { on_fenced_ = std::move(hook); }

  // order_log's primitives, on Redis: each one script call or one read. A merchant's accepts of
  // one reactor turn go to Redis in one script call (accept_batcher), decided in the order they
  // were made; a failure of that call is each one's.
  boost::asio::awaitable<boost::system::result<accept_result>> accept(
      order_record record, std::int64_t now_ms, field_pairs match = {}) override;
  boost::asio::awaitable<boost::system::result<void>> commit(order_record& order,
                                                             order_record after,
                                                             std::vector<log_event> events,
                                                             work_change work) override;
  boost::asio::awaitable<boost::system::result<void>> refund(const order_record& order,
                                                             const order_record& after,
                                                             work_change work) override;
  boost::asio::awaitable<boost::system::result<order_record>> get(std::int64_t merchant_id,
                                                                  std::string order_number) override;
  boost::asio::awaitable<boost::system::result<order_no_entry>> order_no_entry_of(
      std::int64_t merchant_id, std::string order_no) override;
  boost::asio::awaitable<boost::system::result<account_totals>> account(
      std::int64_t merchant_id) override;
  /// Scans chunks of `t` when filtering by status, at most 100,000 orders (else range_too_wide).
  boost::asio::awaitable<boost::system::result<order_page>> list(
      std::int64_t merchant_id, std::int64_t start_ms, std::int64_t end_ms,
      std::optional<order_status> status, std::int64_t page, std::int64_t page_size) override;
  /// One ZREVRANGEBYSCORE of `work` from the cursor's score (inclusive) with its scores, of
  /// `limit` plus the cursor's at_score entries, the ones read before skipped by number. So a
  /// reply holds at most the page and the orders of one ms read before.
  boost::asio::awaitable<boost::system::result<active_page>> active_orders(
      std::int64_t merchant_id, active_cursor after, std::int64_t limit) override;
  /// One HMGET of `o`.
  boost::asio::awaitable<boost::system::result<order_reads>> get_many(
      std::int64_t merchant_id, std::vector<std::string> numbers) override;
  boost::asio::awaitable<boost::system::result<std::vector<std::string>>> due_callbacks(
      std::int64_t merchant_id, std::int64_t now_ms, std::int64_t limit) override;
  /// Scans the log from the order's creation (less a minute), at most 100,000 entries.
  boost::asio::awaitable<boost::system::result<std::vector<order_event>>> events(
      std::int64_t merchant_id, std::string order_number) override;
  boost::asio::awaitable<boost::system::result<void>> flag_unresolved(
      std::int64_t merchant_id, std::string order_number, std::int64_t since_ms) override;
  boost::asio::awaitable<boost::system::result<void>> clear_unresolved(
      std::int64_t merchant_id, std::string order_number) override;

  /// Applies a credit (negative: a correction) once per `ref`; a repeat of the same amount
  /// answers the balance (repeat). Errors: insufficient_balance, order_no_conflict (other amount).
  /// `by`: the operator, recorded in the log entry (`by`), when not empty.
  boost::asio::awaitable<boost::system::result<credit_result>> credit(std::int64_t merchant_id,
                                                                      std::string ref,
                                                                      fen_t amount_fen,
                                                                      std::int64_t now_ms,
                                                                      std::string by = {});

  /// The mobile numbers operators blacklisted (spec §3.8, §7): the set `<prefix>:risk:blacklist`
  /// and its version `<prefix>:risk:blacklist:v`, counted up by every change, which instances
  /// poll to know when to read the set again.
  struct blacklist_read {
    std::int64_t version = 0;
    std::vector<std::string> mobiles;
  };
  boost::asio::awaitable<boost::system::result<std::int64_t>> blacklist_version();
  /// The version first, then the set: a change in between is seen by the next version poll.
  boost::asio::awaitable<boost::system::result<blacklist_read>> blacklist();
  /// Adds or removes a number, then counts the version up (both idempotent to repeat: an
  /// operator who sees an error sends the same change again). Answers the new version.
  boost::asio::awaitable<boost::system::result<std::int64_t>> change_blacklist(std::string mobile,
                                                                               bool add);

  /// Channels an operator disabled (admin API), kept in `<prefix>:channels:disabled` so that a
  /// restart does not route to them again.
  boost::asio::awaitable<boost::system::result<std::vector<std::string>>> disabled_channels();
  boost::asio::awaitable<boost::system::result<void>> set_channel_disabled(std::string channel_id,
                                                                           bool disabled);

  /// Up to `limit` balance moves (accepted = debit, refund, credit) from the merchant's log after
  /// stream id `after_id` ("" = from the start), oldest first; other log entries are skipped
  /// (reading at most 10 x limit entries per call: fewer entries than `limit` is not the end
  /// unless `next_id` is empty).
  struct ledger_page {
    std::vector<ledger_entry> entries;
    std::string next_id;  // where the next call starts; empty: the log's end was reached
  };
  boost::asio::awaitable<boost::system::result<ledger_page>> ledger(std::int64_t merchant_id,
                                                                   std::string after_id,
                                                                   std::int64_t limit);

  /// Up to `limit` listed orders of the merchant, oldest first: (order number, since ms).
  boost::asio::awaitable<boost::system::result<std::vector<std::pair<std::string, std::int64_t>>>>
  unresolved(std::int64_t merchant_id, std::int64_t limit);
  /// The same of `cbfailed`: final orders whose callback used up its attempts, by since when.
  boost::asio::awaitable<boost::system::result<std::vector<std::pair<std::string, std::int64_t>>>>
  callback_failed(std::int64_t merchant_id, std::int64_t limit);

  /// The merchant's callbacks owed: final orders whose callback is pending (`work` entries with a
  /// due time), and how many of them are due by `now_ms`. Two ZCOUNTs (metrics).
  struct callback_backlog {
    std::int64_t owed = 0;
    std::int64_t due = 0;
  };
  boost::asio::awaitable<boost::system::result<callback_backlog>> callbacks_owed(
      std::int64_t merchant_id, std::int64_t now_ms);

  const std::string& prefix() const noexcept { return prefix_; }

 private:
  /// The packed records of `numbers` (one HMGET), in order; a number without a record is skipped.
  boost::asio::awaitable<boost::system::result<std::vector<order_record>>> records(
      std::int64_t merchant_id, const std::vector<std::string>& numbers);
  /// Up to `count` entries of the merchant's log from stream id `start` (XRANGE syntax).
  boost::asio::awaitable<boost::system::result<std::vector<order_event>>> log_range(
      std::int64_t merchant_id, std::string start, std::int64_t count);
  /// The first `limit` members of a sorted set with their scores (unresolved, cbfailed).
  boost::asio::awaitable<boost::system::result<std::vector<std::pair<std::string, std::int64_t>>>>
  scored_page(std::string key, std::string_view operation, std::int64_t limit);
  /// Sends one batch of `steps` appends and gives each its answer (group_commit::sender).
  boost::asio::awaitable<std::vector<group_commit::answer>> send_steps(std::int64_t merchant_id,
                                                                       ledger_scripts::call call,
                                                                       std::size_t steps);
  /// A write script's refusal as an error; a `fenced` one also runs the on_fenced hook.
  boost::system::error_code refused(std::string_view operation, const redis::reply& r);

  redis::connection& conn_;
  std::string prefix_;
  const fence_token& fence_;
  std::function<void()> on_fenced_;
  accept_batcher accepts_;
  // Group commit of the orders' steps: one merchant's appends of one shard leave in one call of
  // the append script while its previous one is out (engine/store/group_commit).
  group_commit steps_;
};

}  // namespace topup::engine
