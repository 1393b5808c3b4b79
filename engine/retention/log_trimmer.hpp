#pragma once
// Trimming the merchants' logs (issue 16, docs/STORAGE.md "Trimming the log"): the oldest entries
// of `P:{m<id>}:log` leave Redis behind a checkpoint of what they added up to, after being
// written to files under `statements.dir`, so Redis holds the retention window, not the history.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/config/config.hpp"
#include "engine/retention/retention_step.hpp"
#include "engine/order/order_record.hpp"
#include "engine/redis/connection.hpp"
#include "engine/store/fence.hpp"
#include "engine/store/ledger_scripts.hpp"
#include "engine/store/log_checkpoint.hpp"
#include "engine/support/clock.hpp"

namespace topup::engine {

/// What one trim pass over a merchant did.
struct trim_pass {
  std::int64_t trimmed = 0;  // log entries removed from Redis (folded into the checkpoint)
  std::int64_t chunks = 0;   // trim script calls that did (and files written for them)
};

/// Where merchant's log may be trimmed up to (exclusive), in ms of its stream ids; nullopt: not
/// at all. The least of: `now_ms - retention_ms`; a minute before the created_at of the oldest
/// order still in `t` (`oldest_in_t_ms`, when any: every order in Redis keeps its whole history
/// in the log); and the end of the last business day whose statement was made (`stated_day`,
/// YYYYMMDD; absent or unreadable: nullopt, the statements still need every entry).
std::optional<std::int64_t> log_trim_bound_ms(std::int64_t now_ms, std::int64_t retention_ms,
                                              std::optional<std::int64_t> oldest_in_t_ms,
                                              const std::optional<std::string>& stated_day,
                                              std::int64_t day_offset_s);

/// class log_trimmer — trims the logs of the merchants of one instance, on one shard (its
/// connection's thread), one merchant at a time, after that merchant's archive pass. A pass reads
/// the bound (log_trim_bound_ms) and the checkpoint, then, oldest first, chunks of up to k_chunk
/// entries below the bound (the new position: the next entry's id, else just above the chunk's
/// last): each is folded into the checkpoint with the audit's own replay
/// (engine/audit/log_replay, seeded from the checkpoint; an entry it finds wrong stops the pass:
/// nothing trimmed, left for `topupd audit` to name), written to a file durably
/// (`<statements.dir>/m<id>/log/<day of its first entry>/log-<first id>-<last id>.txt`, one
/// entry a line, engine/retention/archive's log_archive_line), and only then trimmed by the
/// fenced `trim` script, compare-and-set on the checkpoint's position. A crash between the file
/// and the script leaves the entries in Redis; the next pass writes the same file again. Several
/// instances may run passes at once: one of them trims each chunk, the others' calls answer
/// `moved`. Must outlive the coroutines it starts.
class log_trimmer : public retention_step {
 public:
  /// Entries per chunk (one XRANGE, one file, one script call), chunks per merchant per pass.
  static constexpr std::int64_t k_chunk = 1000;
  static constexpr int k_chunks_per_pass = 20;
  /// The margin below the oldest order's created_at (C++'s clock) for Redis's clock (the ids).
  static constexpr std::int64_t k_clock_margin_ms = 60'000;

  /// The file executor writes the log files.
  explicit log_trimmer(retention_context ctx);

  /// One pass over `merchant_id`. Errors: a Redis error (storage_unavailable, ...), fenced,
  /// storage_protocol (the checkpoint or an entry below the bound is unreadable or breaks the
  /// log's rules: logged, nothing trimmed), internal (a file could not be written: logged,
  /// nothing trimmed).
  boost::asio::awaitable<boost::system::result<trim_pass>> run_once(std::int64_t merchant_id);

 private:
  boost::asio::awaitable<boost::system::result<std::optional<std::int64_t>>> bound_ms(
      const merchant_keys& keys);
  boost::asio::awaitable<boost::system::result<log_checkpoint>> read_checkpoint(
      const merchant_keys& keys);
  boost::asio::awaitable<boost::system::result<std::vector<order_event>>> oldest_entries(
      const merchant_keys& keys, std::string end_id);
  boost::system::result<log_checkpoint> fold(std::int64_t merchant_id, const log_checkpoint& before,
                                             std::span<const order_event> chunk,
                                             std::string next_id) const;
  bool write_chunk(std::int64_t merchant_id, std::span<const order_event> chunk) const;
  /// The trim script's answer: the entries trimmed, or nullopt when the checkpoint moved.
  boost::asio::awaitable<boost::system::result<std::optional<std::int64_t>>> trim(
      const merchant_keys& keys, const log_checkpoint& before, std::span<const order_event> chunk,
      const log_checkpoint& next);

};

}  // namespace topup::engine
