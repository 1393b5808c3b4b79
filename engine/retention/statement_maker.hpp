#pragma once
// The daily statements (对账单, spec §3.7; docs/STORAGE.md "Statements"): for each merchant and
// business day, once the day has ended and `statements.delay_s` passed, the statement file made
// from the day's log entries and the orders' records (in Redis, or in the archive once
// retention took them), written under `statements.dir`, once, even with several instances.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/config/config.hpp"
#include "engine/retention/retention_step.hpp"
#include "engine/order/order_record.hpp"
#include "engine/redis/connection.hpp"
#include "engine/retention/statement_chain.hpp"
#include "engine/retention/statement_day.hpp"
#include "engine/store/fence.hpp"
#include "engine/store/order_log.hpp"
#include "engine/support/clock.hpp"

namespace topup::engine {

/// What one pass over a merchant did.
struct statement_pass {
  std::int64_t made = 0;     // statements written and recorded in the chain
  std::int64_t entries = 0;  // log entries they were made of
};

/// class statement_maker — makes one instance's merchants' statements, on one shard (its
/// connection's thread), one merchant and one day at a time, oldest day first:
///  1. the chain (`stmt`): the day after the last one made, or the chain's first day (set the
///     first time a maker sees the merchant: the day of its log's first entry, else today);
///  2. nothing until that day's end + `statements.delay_s` (topupd's clock), then the lock
///     (statement_chain_store::claim: fenced, refused while Redis's clock is before the day's
///     end or another live maker holds it);
///  3. the day's log entries (XRANGE by the day's bounds, in pages) folded by statement_day,
///     whose every `bal` checks the opening (the chain's closing) and the day's moves;
///  4. the records of the orders with a line (HMGET; those retention took, from the archive of
///     their creation day);
///  5. the file (statement_files: gzip, durable, the manifest), then the chain moved to the day.
/// A crash anywhere before 5's chain move makes the same day again: the same lines give the
/// same bytes, so the file is the same. Data that does not add up stops that merchant's
/// statements (logged, counted) until a person looks; nothing is written for it.
/// Must outlive the coroutines it starts.
class statement_maker : public retention_step {
 public:
  static constexpr std::int64_t k_log_page = 1000;    // log entries per XRANGE
  static constexpr std::int64_t k_record_page = 500;  // records per HMGET
  static constexpr int k_days_per_pass = 31;          // a merchant's backlog drains over passes

  /// The file executor reads the archive and builds and writes the files.
  explicit statement_maker(retention_context ctx);

  /// One pass over `merchant`. Errors: a Redis error (storage_unavailable, ...), fenced,
  /// internal (the day's data does not add up, or a file could not be written or read: logged).
  boost::asio::awaitable<boost::system::result<statement_pass>> run_once(
      const merchant_config& merchant);

 private:
  /// The chain, begun (its first day set) when it was not.
  boost::asio::awaitable<boost::system::result<statement_chain>> chain_of(
      std::int64_t merchant_id);
  /// Makes `day`'s statement (the lock is held): made 1 when this maker moved the chain.
  boost::asio::awaitable<boost::system::result<statement_pass>> make(
      const merchant_config& merchant, const statement_chain& chain, business_day day);
  boost::asio::awaitable<boost::system::result<statement_day>> read_day(
      const merchant_config& merchant, business_day day, fen_t opening_fen);
  /// The records of `numbers` (Redis first, then the archive); a number in neither is left out.
  boost::asio::awaitable<boost::system::result<std::map<std::string, order_record>>> records_of(
      std::int64_t merchant_id, const std::vector<std::string>& numbers);
  /// The statement of `folded` built and written (on files_); its summary and SHA-256.
  struct written_day {
    statement_summary summary;
    std::string sha256_hex;
  };
  text_result<written_day> write_day(std::int64_t merchant_id, business_day day,
                                     const statement_day& folded,
                                     std::map<std::string, order_record> records) const;
  /// Adds to `out` the archived records of `numbers` (each merchant's order numbers).
  bool add_archived(std::int64_t merchant_id, const std::vector<std::string>& numbers,
                    std::map<std::string, order_record>& out);

  statement_chain_store chain_;
};

}  // namespace topup::engine
