#pragma once
// Steps 3 to 6 of the books audit (audit.hpp): what Redis holds besides the log (`acct`, `crefs`,
// and the projections `o`, `t`, `work`), compared with the log's replay (log_replay). Pure: the
// values come typed (stored_books.hpp), so hand-built books test it.
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "engine/audit/finding_sink.hpp"
#include "engine/audit/log_replay.hpp"
#include "engine/audit/stored_books.hpp"

namespace topup::engine {

/// Step 3: `acct` against itself: balance = credits - debits + refunds, and not below 0.
void check_account_adds_up(const account_totals& acct, finding_sink& out);

/// Step 3: `acct` against the log: each of its four sums is the replay's.
void check_account_against_log(const account_totals& acct, const money_replay& replayed,
                               finding_sink& out);

/// Step 3: `crefs` holds as many refs (`held`) as the log credited: the refs of its entries
/// replayed and the `trimmed_refs` of its checkpoint (0 without one).
void check_credit_ref_count(std::int64_t held, const money_replay& replayed,
                            std::int64_t trimmed_refs, finding_sink& out);

/// Step 1: the trimmed log's checkpoint against itself (balance = credits - debits + refunds,
/// counts not below 0) and against the log: its first entry (`first_id`, "" for none) is not
/// below the checkpoint's position (every entry below it was trimmed).
void check_checkpoint(const log_checkpoint& checkpoint, const std::string& first_id,
                      finding_sink& out);

/// After a trimmed log: the refs of `crefs` that the log's entries replayed do not credit
/// (`others`, ref -> its value in crefs) are the checkpoint's: exactly `refs` of them, adding up
/// to `refs_fen`. Answers the one-line problem, "" when they agree.
std::string trimmed_refs_problem(const std::map<std::string, std::string>& others,
                                 const log_checkpoint& checkpoint);

/// Step 3: `crefs[ref]` (`held`) is the amount the log credited under `ref`.
void check_credit_ref(const std::string& ref, fen_t credited, const read_value& held,
                      finding_sink& out);

/// Step 4's verdict on one order: its projections' problems, or that they are ahead of the
/// replay (the order moved after the entries replayed so far).
struct projection_verdict {
  bool moved = false;
  /// Final in the log and every projection of it gone (its `#<order_no>` absent or naming a
  /// later order): retention archived it (engine/retention/order_archiver), nothing compared.
  bool archived = false;
  std::vector<std::string> problems;
  std::string order_no;  // the order's, from the log or else its record; "" when neither says
};

/// Step 4: one order's projections against its replay `o`: its record in `o` (version, status,
/// cost, refunded, identity, notify_url, finished_at), its `#<order_no>` entry, `t` at
/// created_at, `work` at -created_at while not final and once final exactly while its callback
/// is pending. With `may_have_moved`, a record ahead of the replay is an order that moved after
/// the entries replayed so far: `moved`, nothing compared.
projection_verdict check_order_projections(const std::string& number, std::int64_t merchant_id,
                                           const order_replay& o, const order_projections& read,
                                           bool may_have_moved);

/// Steps 5 and 6: every record and `#<order_no>` entry of `o` and every member of `t` and `work`
/// names an order the log accepted. A projection read before the log's later entries were
/// replayed may name an order accepted since: such names wait until report_unlogged. Owned by
/// one merchant's audit.
class projection_scan {
 public:
  /// Order `number`'s order_no as step 4 found it (the log's, else its record's).
  void note_order_no(const std::string& number, std::string order_no);

  /// A field of `o` and its value: an order's record, or `#<order_no>` -> `<number>:<fingerprint>`
  /// of the order whose order_no that is.
  void check_orders_field(const std::string& field, const std::string& value,
                          const log_replay& replay, finding_sink& out);

  /// A member of `t` or `work` (`key_name`): an order the log accepted.
  void check_index_member(std::string_view key_name, const std::string& member,
                          const log_replay& replay);

  /// True while names wait for report_unlogged.
  bool waiting() const noexcept { return !unlogged_.empty(); }

  /// Each waiting name that `replay` (by now further along) never accepted: one finding, saying
  /// where it was seen. Then none wait.
  void report_unlogged(const log_replay& replay, finding_sink& out);

 private:
  void note_unlogged(const std::string& number, std::string where);

  // Order numbers the projections name that the replay had not accepted, and where.
  std::map<std::string, std::set<std::string>> unlogged_;
  // The order_no of each order step 4 checked, for the `#` entries.
  std::map<std::string, std::string> order_nos_;
};

}  // namespace topup::engine
