#pragma once
// Retention (issue 16, docs/STORAGE.md "Retention"): final orders leave Redis once they have been
// left alone for `storage.retention_*`, after being written to the archive under
// `statements.dir`, so Redis holds the window, not the history.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/config/config.hpp"
#include "engine/retention/retention_step.hpp"
#include "engine/order/order_record.hpp"
#include "engine/redis/connection.hpp"
#include "engine/store/fence.hpp"
#include "engine/store/order_log.hpp"
#include "engine/support/clock.hpp"

namespace topup::engine {

/// What one pass over a merchant did.
struct archive_pass {
  std::int64_t archived = 0;  // orders written to the archive and removed from Redis
  std::int64_t kept = 0;      // orders past the window by creation that must stay (not final,
                              // callback pending, touched within the window, or changed meanwhile)
  std::int64_t files = 0;     // archive files written
};

/// An order may leave Redis when it is final (2 or 4), has no merchant callback pending, and
/// nothing touched it (finished, a callback attempt, an update) after `cutoff_ms`.
bool may_leave_redis(const order_record& order, std::int64_t cutoff_ms) noexcept;

/// class order_archiver — runs retention passes for the merchants of one instance, on one shard
/// (its connection's thread), one merchant at a time. A pass reads the orders created before
/// the window (`t`, oldest first, in pages), writes the ones that may leave to an archive file
/// per creation day (durable: temp file, fsync, rename) and only then removes them from Redis
/// with one fenced script call per page (ledger_scripts::retire), which keeps any order that
/// changed since it was read. A crash between the file and the script leaves the orders in
/// Redis; the next pass writes them again to a new file: the archive may hold an order twice,
/// identically, and its readers take each order number once. Several instances may run passes at
/// once with the same effect. Must outlive the coroutines it starts.
class order_archiver : public retention_step {
 public:
  /// Orders read per page (one ZRANGEBYSCORE, one HMGET, at most one file per day and one
  /// script call), and pages per merchant per pass: a backlog drains over several passes.
  static constexpr std::int64_t k_page = 500;
  static constexpr int k_pages_per_pass = 20;

  /// The store reads the records (get_many); the connection runs the index read and the retire
  /// script; the file executor writes the archive files.
  explicit order_archiver(retention_context ctx);

  /// One pass over `merchant_id`. Errors: a Redis error (storage_unavailable, ...), fenced,
  /// internal (an archive file could not be written: nothing was removed; logged).
  boost::asio::awaitable<boost::system::result<archive_pass>> run_once(std::int64_t merchant_id);

 private:
  /// Up to k_page order numbers of `t` created at or before `cutoff_ms`, after the first `skip`.
  boost::asio::awaitable<boost::system::result<std::vector<std::string>>> older_than(
      std::int64_t merchant_id, std::int64_t cutoff_ms, std::int64_t skip);
  /// Writes `orders` (one merchant's) to one new file per creation day; false when one failed.
  bool write_archive(std::int64_t merchant_id, const std::vector<order_record>& orders,
                     std::int64_t& files);
  boost::asio::awaitable<boost::system::result<std::int64_t>> retire(
      std::int64_t merchant_id, const std::vector<order_record>& orders);

  std::uint64_t files_written_ = 0;  // part of each new file's name
};

}  // namespace topup::engine
