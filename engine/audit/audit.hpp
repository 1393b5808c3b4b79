#pragma once
// The books audit: replays every merchant's log (layout v2, docs/STORAGE.md) and checks the
// account and every order's projections against it (DESIGN.md "Persistence": balance = credits -
// debits + refunds, each order's transitions legal, each final order's money settled once), and
// names every place where Redis disagrees with itself. What `topupd audit` runs.
// The steps are files here: books_reads (Redis into stored_books' typed values), log_replay (the
// log, pure), books_checks (the rest against the replay, pure), finding_sink; audit.cpp runs them.
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/redis/connection.hpp"

namespace topup::engine {

/// One disagreement found in the stored books. `order_number` is empty for a problem of the
/// merchant's account or log as a whole.
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
  std::int64_t merchants = 0;  // merchants audited
  std::int64_t orders = 0;     // orders the log accepted (up to the snapshot), each checked
  std::int64_t archived = 0;   // of those, final ones retention took out of Redis (not compared)
  // Of `orders`, those accepted before the trimmed log's checkpoint (all archived: counted in
  // `archived` too), and the log entries trimmed behind it (not in the counts below).
  std::int64_t checkpointed_orders = 0;
  std::int64_t trimmed_entries = 0;
  // Entries of the merchants' logs replayed: money ones (credit, accepted, refund), and those of
  // orders (accepted, step, refund, cb, renotify); accepted and refund count in both.
  std::int64_t ledger_entries = 0;
  std::int64_t events = 0;
  std::vector<audit_finding> findings;   // at most k_audit_findings_max per merchant
  std::int64_t findings_not_listed = 0;  // found beyond that bound: counted, not kept

  bool clean() const noexcept { return findings.empty() && findings_not_listed == 0; }
  /// Adds `other`'s counts and findings to this report.
  void merge(audit_report other);
};

/// Audits the books of one merchant under key prefix `prefix` (redis.prefix) and answers what it
/// saw (`merchants` = 1). The log is the truth; everything else must agree with it. In order:
/// 1. the account: `acct`, the ids of the log's first and last entries and the trimmed log's
///    checkpoint `ckpt`, read in one atomic step; balance = credits - debits + refunds, balance
///    never below 0; the checkpoint adds up the same way and no entry is below its position;
/// 2. the log, replayed once from its start (or from the checkpoint's position, starting from its
///    totals; an order's entries without its accepted one are then an order accepted before it,
///    which nothing in Redis may name) to that id, in pages:
///    - money: `credit` +amount, `accepted` -amount, `refund` +amount; each entry's `bal` is the
///      running balance and never below 0; a credit's `ref` is used once;
///    - per order: `accepted` first and once, to 6 or 7 (when it carries the record `r`, that
///      unpacks as version 1 of this order and merchant, in that status, costing the amount
///      debited, not refunded); then `step`/`refund`/`cb`/`renotify` with `v` = 2, 3, ...
///      without gaps; a `step` f -> t starts where the order is and is a spec §4 transition
///      (0 -> 6 is accepted's, 3 -> 4 refund's); a `refund` is 3 -> 4, only after -> 3, at most
///      once, crediting back the amount debited; `cb`/`renotify` only once the order is final;
/// 3. the account's credits, debits, refunds and balance equal the replay's sums; `crefs` holds
///    exactly the credits' refs with their amounts (after a trim: and as many others as the
///    checkpoint's `refs`, adding up to its `refs_fen`);
/// 4. each order the log accepted, its projections read in one atomic step: its packed record in
///    `o` unpacks; its version, status, cost and refunded equal the replay's; it is of this
///    order and merchant, its order_no, fingerprint and created_at are `r`'s (if there is one);
///    it has a notify_url if the log has callback entries; finished_at is set exactly when final;
///    `#<order_no>` maps to `<order_number>:<fingerprint>`; `t` holds it at created_at; `work`
///    holds it at -created_at exactly while it is not final, and once final exactly when its
///    callback is pending (cb_status), at a due time > 0;
/// 5. every record and `#<order_no>` entry of `o` and every member of `t` and `work` is an order
///    the log accepted.
///
/// Safe to run against live books: step 1 is atomic and the replay stops at that id, so the
/// account must add up to it exactly. An order whose projections are ahead of the replay (it
/// moved after that id), and a projection naming an order accepted after it, are re-read after
/// replaying the log's later entries, a bounded number of times, before they count as findings.
/// After each page of the log the checkpoint's position is read again: when a trim moved it past
/// what the replay had read (entries it had still to read may be gone), the merchant's audit
/// starts again, at most three times; then one finding says it could not be audited.
/// Memory grows with the merchant's orders (one small entry per order).
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
