#pragma once
// The books audit: recomputes every merchant's balance from its ledger stream and every order's
// status from its event stream (DESIGN.md "Persistence", docs/STORAGE.md), and names every place
// where Redis disagrees with itself. What `topupd audit` runs.
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/redis/connection.hpp"

namespace topup::engine {

/// One disagreement found in the stored books. `order_number` is empty for a problem of the
/// merchant's account or ledger as a whole.
struct audit_finding {
  std::int64_t merchant_id = 0;
  std::string order_number;
  std::string problem;  // one line, no newline; values read from Redis are quoted and escaped
};

/// "merchant <id>: <problem>" or "merchant <id> order <number>: <problem>": always one line.
std::string to_string(const audit_finding& finding);

/// Findings kept per merchant: books corrupted wholesale must not exhaust memory or the terminal.
inline constexpr std::size_t k_audit_findings_max = 10000;

/// What an audit looked at and what it found. A plain value, owned by the caller.
struct audit_report {
  std::int64_t merchants = 0;            // merchants audited
  std::int64_t orders = 0;               // orders audited (members of the merchants' `all` index)
  std::int64_t ledger_entries = 0;       // ledger entries replayed
  std::int64_t events = 0;               // order events replayed
  std::vector<audit_finding> findings;   // at most k_audit_findings_max per merchant
  std::int64_t findings_not_listed = 0;  // found beyond that bound: counted, not kept

  bool clean() const noexcept { return findings.empty() && findings_not_listed == 0; }
  /// Adds `other`'s counts and findings to this report.
  void merge(audit_report other);
};

/// Audits the books of one merchant under key prefix `prefix` (redis.prefix) and answers what it
/// saw (`merchants` = 1). Checks, all of them always:
/// - ledger: entries replay in order (credit +, debit -, refund +), each entry's `balance` is the
///   running balance and never below 0, each credit has a `ref` used once, each debit/refund names
///   an order; the sums of the entry types equal the `acct` hash's credits/debits/refunds, the
///   total equals its balance, and balance = credits - debits + refunds;
/// - every order in the `all` index: its record reads (order_record_from_reply) and names this
///   merchant and number; exactly one debit entry of the order's cost; status 4 exactly when there
///   is one refund entry of the same amount and `refunded` = 1, and no refund in any other status;
///   its events replay (accepted, then transitions each starting where the previous ended and
///   allowed by spec §4; the 3->4 event carries the refund) to the record's status; the stream has
///   `events` entries; `finished_at` is set exactly in 2 and 4; the order is in `st:<status>` and
///   in no other status index, in `active` exactly when not in 2 or 4, and `ono` maps its
///   order_no to it;
/// - every ledger debit/refund names an order that exists, and every status index and `active`
///   member is an order of `all`.
///
/// Safe to run against live books: the account and the end of the ledger are read in one atomic
/// step, the ledger is replayed up to that point, and each order (record, events, index entries)
/// is read in one atomic step. An order whose money seems not to match because it moved after the
/// ledger was read is re-read against the later ledger entries, a bounded number of times, before
/// it counts as a finding. Memory grows with the merchant's orders (one entry per order).
///
/// Errors: storage_unavailable when Redis cannot be asked (not connected, dropped); a Redis error
/// reply about one key (e.g. WRONGTYPE) is a finding, not an error. Runs on the connection's
/// thread; the connection must outlive the coroutine.
boost::asio::awaitable<boost::system::result<audit_report>> audit_merchant(
    redis::connection& conn, std::string prefix, std::int64_t merchant_id);

/// audit_merchant for each of `merchant_ids` in turn, into one report.
boost::asio::awaitable<boost::system::result<audit_report>> audit_merchants(
    redis::connection& conn, std::string prefix, std::vector<std::int64_t> merchant_ids);

}  // namespace topup::engine
