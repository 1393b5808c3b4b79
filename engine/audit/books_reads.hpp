#pragma once
// The books audit's reads of one merchant's keys (audit.hpp), each answered as typed values
// (stored_books.hpp) for the pure steps (log_replay, books_checks). Read-only: never writes.
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/audit/finding_sink.hpp"
#include "engine/audit/stored_books.hpp"
#include "engine/order/order_record.hpp"
#include "engine/redis/connection.hpp"
#include "engine/store/ledger_scripts.hpp"

namespace topup::engine {

/// What a read answers: an error when Redis could not be asked or refused the read (LOADING,
/// BUSY, ...: the audit stops); nullopt when the key could not be read (another type, an answer
/// of unexpected shape: a finding says why); else the value.
template <class T>
using read_result = boost::system::result<std::optional<T>>;

/// The projections step 5 scans whole, and `crefs` (scanned whole after a trimmed log).
enum class projection_key { orders, by_time, work, credit_refs };

/// "o", "t", "work", "crefs": how findings name them.
std::string_view key_name(projection_key key) noexcept;

/// One step of a SCAN of a projection: where to go on from ("0": done) and what it found, each
/// member (a field of `o`, a member of `t` or `work`) with its value (or score).
struct scan_page {
  std::string cursor;
  std::vector<std::pair<std::string, std::string>> members;
};

/// Reads one merchant's books for its audit: bounded pages, so one reply never blocks a live
/// Redis noticeably. What cannot be read is a finding, added here; a refusal is logged here,
/// once. Runs on the connection's thread; the connection and the sink must outlive it.
class books_reader {
 public:
  /// Page sizes: log entries per XRANGE, orders per projections read, refs per HMGET.
  static constexpr std::size_t k_log_page_entries = 500;
  static constexpr std::size_t k_orders_per_read = 100;
  static constexpr std::size_t k_refs_per_read = 200;

  books_reader(redis::connection& conn, std::string_view prefix, std::int64_t merchant_id,
               finding_sink& out)
      : conn_(conn), keys_(prefix, merchant_id), out_(out) {}

  /// Step 1, in one atomic step: `acct`, the ids of the log's first and last entries, the number
  /// of refs in `crefs` and the checkpoint `ckpt`. Parts that cannot be read are findings and
  /// left unset in the snapshot.
  boost::asio::awaitable<boost::system::result<account_snapshot>> read_snapshot();

  /// The checkpoint's position now ("" when there is none or it cannot be read), to tell whether
  /// a trim overtook the replay.
  boost::asio::awaitable<boost::system::result<std::string>> read_checkpoint_id();

  /// Up to k_log_page_entries entries of the log from `start` (XRANGE syntax: "-", an id, or
  /// "(<id>" after it) up to and including `end_id` ("+": to its end).
  boost::asio::awaitable<read_result<std::vector<order_event>>> read_log_page(std::string start,
                                                                              std::string end_id);

  /// `crefs[ref]` for each of `refs` (at most k_refs_per_read), in that order.
  boost::asio::awaitable<read_result<std::vector<read_value>>> read_credit_refs(
      std::vector<std::string> refs);

  /// The projections of each of `orders` (at most k_orders_per_read), each read in one atomic
  /// step: an order number and its `#<order_no>` field ("" when the log does not say: then the
  /// record's order_no). nullopt for an order whose answer has an unexpected shape (a finding).
  boost::asio::awaitable<read_result<std::vector<std::optional<order_projections>>>>
  read_projections(std::vector<std::pair<std::string, std::string>> orders);

  /// One SCAN step of `key` from `cursor` ("0" to start).
  boost::asio::awaitable<read_result<scan_page>> read_scan_page(projection_key key,
                                                                std::string cursor);

 private:
  std::optional<account_totals> account_of(const redis::reply& acct);
  /// The checkpoint in a snapshot (HGETALL's answer): nullopt when absent; `readable` false (a
  /// finding) when it cannot be used; `raw_id` its `id` field as it is.
  std::optional<log_checkpoint> checkpoint_of(const redis::reply& ckpt, bool& readable,
                                              std::string& raw_id);
  std::string key_of(projection_key key) const;
  std::vector<std::string> scan_command(projection_key key, std::string cursor) const;

  redis::connection& conn_;
  const merchant_keys keys_;
  finding_sink& out_;
};

}  // namespace topup::engine
