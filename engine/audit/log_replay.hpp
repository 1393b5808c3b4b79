#pragma once
// Step 2 of the books audit (audit.hpp): one merchant's log (docs/STORAGE.md "The log") replayed
// entry by entry, oldest first, into its money totals and each order's history so far; every rule
// an entry breaks is a finding. Pure: no Redis, so a hand-built log tests it.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "engine/audit/finding_sink.hpp"
#include "engine/order/money.hpp"
#include "engine/order/order_record.hpp"
#include "engine/order/order_status.hpp"
#include "engine/store/log_checkpoint.hpp"

namespace topup::engine {

/// The money of the log replayed so far.
struct money_replay {
  fen_t running = 0;  // the balance entry by entry (re-synchronised to each entry's bal)
  fen_t credits = 0;
  fen_t debits = 0;
  fen_t refunds = 0;
  bool overflow = false;                     // sums left 64 bits: the entries are nonsense
  std::map<std::string, fen_t> credit_refs;  // ref -> amount first credited under it
};

/// What an order's accepted entry says of it through its record `r`, which its projections must
/// repeat. (An accepted entry may carry only the money and the status: then the record in `o` is
/// the only word on these.)
struct accepted_facts {
  std::string order_no;
  std::string fingerprint;
  std::int64_t created_at_ms = 0;
};

/// One order as the log replayed so far leaves it: its history, folded.
struct order_replay {
  bool accepted = false;                // its accepted entry was replayed
  // Accepted before the checkpoint of a seeded replay: its first entries were trimmed with its
  // accepted one, so its version and status start from its first entry replayed, and its cost is
  // unknown. Such an order was archived (log_trimmer trims no order still in `t`): nothing may
  // name it (books_checks' scan).
  bool before_checkpoint = false;
  std::optional<order_status> status;   // nullopt: an unreadable entry left it unknown
  std::int64_t version = 0;             // `v` of its latest entry (accepted: 1)
  fen_t cost = 0;                       // what its accepted entry debited
  bool refunded = false;                // a refund entry credited it back
  bool called_back = false;             // a cb or renotify entry: it must have a notify_url
  std::optional<accepted_facts> facts;  // nullopt: the accepted entry has no record that unpacks
};

/// The replay of one merchant's log, one entry at a time, oldest first: money (`credit` +amount,
/// `accepted` -amount, `refund` +amount, each `bal` the running balance, never below 0, a credit
/// ref used once) and orders (`accepted` first and once, then `v` = 2, 3, ... without gaps, each
/// `step` a spec §4 transition from where the order is, one `refund` 3 -> 4 crediting back the
/// debit, `cb`/`renotify` only once final). One break is one finding: the replay goes on from what
/// the entry says (its `bal`, its `v`, its target status), so later entries are judged on their
/// own. Owned by one merchant's audit; memory grows with the merchant's orders, not its entries.
class log_replay {
 public:
  log_replay(std::int64_t merchant_id, finding_sink& out) : merchant_id_(merchant_id), out_(out) {}

  /// Starts the replay from a trimmed log's checkpoint instead of an empty log: its totals and
  /// balance are the money so far, and an order's entries without its accepted one (trimmed) are
  /// an order accepted before it. Before the first apply.
  void seed(const log_checkpoint& checkpoint);

  /// Applies one entry; answers the order it names ("" for a credit or an entry that names none).
  std::string apply(const order_event& e);

  const money_replay& money() const noexcept { return money_; }
  /// Every order an entry named, by order number (accepted or not).
  const std::map<std::string, order_replay>& orders() const noexcept { return orders_; }
  /// True when the log replayed so far accepted order `number`.
  bool accepted(const std::string& number) const;
  /// Entries that moved money (credit, accepted, refund) and entries of orders replayed so far.
  std::int64_t money_entries() const noexcept { return money_entries_; }
  std::int64_t order_entries() const noexcept { return order_entries_; }

 private:
  struct order_entry;
  using entry_handler = std::string (log_replay::*)(const order_event&);
  static entry_handler handler_for(std::string_view type) noexcept;

  // One per entry type of docs/STORAGE.md; each answers the order it names.
  std::string on_credit(const order_event& e);
  std::string on_accepted(const order_event& e);
  std::string on_step(const order_event& e);
  std::string on_refund(const order_event& e);
  std::string on_cb(const order_event& e);
  std::string on_renotify(const order_event& e);
  std::string on_seal(const order_event& e);

  // Money.
  std::optional<fen_t> amount_of(const order_event& e, const std::string& where);
  void move_money(const order_entry& entry, bool debit);
  void check_bal(const order_event& e, const std::string& where);
  // Orders.
  order_entry open_order_entry(const order_event& e, std::string_view type);
  bool names_order(const order_entry& entry);
  void accept_order(const order_entry& entry);
  void check_accepted_record(const order_entry& entry, order_replay& o,
                             std::optional<fen_t> amount);
  order_replay& next_version(const order_entry& entry);
  void check_transition(const order_entry& entry, order_replay& o);
  void check_refund_settles_once(const order_entry& entry, order_replay& o);
  std::string on_callback(const order_event& e, std::string_view type);

  const std::int64_t merchant_id_;
  finding_sink& out_;
  money_replay money_;
  std::map<std::string, order_replay> orders_;  // by order number
  std::int64_t money_entries_ = 0;
  std::int64_t order_entries_ = 0;
  bool seeded_ = false;
};

}  // namespace topup::engine
