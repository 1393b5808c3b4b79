#include "engine/audit/log_replay.hpp"

#include <array>
#include <utility>
#include <vector>

#include "engine/redis/command.hpp"

namespace topup::engine {

namespace {

using redis::parse_int;

std::optional<order_status> parse_status(std::optional<std::string_view> text) noexcept {
  if (!text) return std::nullopt;
  auto n = parse_int(*text);
  if (!n || *n < 0 || *n > 9) return std::nullopt;
  return status_from_int(static_cast<int>(*n));
}

// Corrupt books must not make the audit itself undefined: sums are checked for overflow.
void add_checked(fen_t& sum, fen_t value, bool& overflow) noexcept {
  if (__builtin_add_overflow(sum, value, &sum)) overflow = true;
}

void sub_checked(fen_t& sum, fen_t value, bool& overflow) noexcept {
  if (__builtin_sub_overflow(sum, value, &sum)) overflow = true;
}

}  // namespace

/// An entry of one order, as findings name it.
struct log_replay::order_entry {
  const order_event& event;
  std::string number;  // its `o`; "" when it names none (a finding)
  std::string where;   // "log entry <id> (<type>)"
};

void log_replay::seed(const log_checkpoint& checkpoint) {
  money_.running = checkpoint.balance_fen;
  money_.credits = checkpoint.credits_fen;
  money_.debits = checkpoint.debits_fen;
  money_.refunds = checkpoint.refunds_fen;
  seeded_ = true;
}

bool log_replay::accepted(const std::string& number) const {
  auto it = orders_.find(number);
  return it != orders_.end() && it->second.accepted;
}

std::string log_replay::apply(const order_event& e) {
  const auto type = e.field("e");
  if (!type) {
    out_.add("", "log entry " + e.id + " has no type (e)");
    return {};
  }
  const entry_handler handler = handler_for(*type);
  if (!handler) {
    out_.add("", "log entry " + e.id + " has the unknown type " + quoted_value(*type));
    return {};
  }
  return (this->*handler)(e);
}

log_replay::entry_handler log_replay::handler_for(std::string_view type) noexcept {
  static constexpr std::array<std::pair<std::string_view, entry_handler>, 7> k_handlers = {{
      {"credit", &log_replay::on_credit},
      {"accepted", &log_replay::on_accepted},
      {"step", &log_replay::on_step},
      {"refund", &log_replay::on_refund},
      {"cb", &log_replay::on_cb},
      {"renotify", &log_replay::on_renotify},
      {"seal", &log_replay::on_seal},
  }};
  for (const auto& [name, handler] : k_handlers)
    if (name == type) return handler;
  return nullptr;
}

// A day's statement was claimed: nothing moves, no order is named (docs/STORAGE.md).
std::string log_replay::on_seal(const order_event& e) {
  if (!e.field("day")) out_.add("", "log entry " + e.id + " (seal) names no day");
  return {};
}

// --- Money ---

std::string log_replay::on_credit(const order_event& e) {
  ++money_entries_;
  const auto ref = e.field("ref");
  const std::string where =
      "log entry " + e.id + " (credit" + (ref ? " " + quoted_value(*ref) : std::string()) + ")";
  const auto amount = amount_of(e, where);
  if (!ref || ref->empty()) {
    out_.add("", where + " has no ref");
  } else if (amount && !money_.credit_refs.try_emplace(std::string(*ref), *amount).second) {
    out_.add("", where + " repeats a ref the log credited before (a ref is credited once)");
  }
  if (amount) {
    add_checked(money_.running, *amount, money_.overflow);
    add_checked(money_.credits, *amount, money_.overflow);
  }
  check_bal(e, where);
  return {};
}

std::optional<fen_t> log_replay::amount_of(const order_event& e, const std::string& where) {
  const auto text = e.field("amount");
  auto amount = text ? parse_int(*text) : std::nullopt;
  if (!amount)
    out_.add("", where + " has the amount " + quoted_value(text.value_or("")) + ", not an integer");
  return amount;
}

// An accepted entry debits the order's cost, a refund credits it back. Money first: the balance
// moved whether or not the entry names its order properly.
void log_replay::move_money(const order_entry& entry, bool debit) {
  ++money_entries_;
  const std::string where =
      entry.number.empty() ? entry.where : entry.where + " of order " + quoted_value(entry.number);
  if (auto amount = amount_of(entry.event, where)) {
    if (*amount < 0) out_.add("", where + " moves " + fen_text(*amount) + ", below 0");
    if (debit) {
      sub_checked(money_.running, *amount, money_.overflow);
      add_checked(money_.debits, *amount, money_.overflow);
    } else {
      add_checked(money_.running, *amount, money_.overflow);
      add_checked(money_.refunds, *amount, money_.overflow);
    }
  }
  check_bal(entry.event, where);
}

// A money entry's `bal` is the balance its move leaves.
void log_replay::check_bal(const order_event& e, const std::string& where) {
  const auto text = e.field("bal");
  const auto bal = text ? parse_int(*text) : std::nullopt;
  if (!bal) {
    out_.add("", where + " has the bal " + quoted_value(text.value_or("")) + ", not an integer");
    return;
  }
  if (!money_.overflow && *bal != money_.running)
    out_.add("", where + " records bal " + fen_text(*bal) + " but the log up to it adds up to " +
                     fen_text(money_.running));
  // One break, one finding: the entries after it are judged against what this one recorded.
  money_.running = *bal;
  if (*bal < 0) out_.add("", where + " leaves the balance at " + fen_text(*bal) + ", below 0");
}

// --- Orders ---

log_replay::order_entry log_replay::open_order_entry(const order_event& e, std::string_view type) {
  ++order_entries_;
  return order_entry{e, std::string(e.field("o").value_or("")),
                     "log entry " + e.id + " (" + std::string(type) + ")"};
}

bool log_replay::names_order(const order_entry& entry) {
  if (entry.number.empty()) out_.add("", entry.where + " names no order (o)");
  return !entry.number.empty();
}

std::string log_replay::on_accepted(const order_event& e) {
  const order_entry entry = open_order_entry(e, "accepted");
  move_money(entry, true);
  if (!names_order(entry)) return {};
  accept_order(entry);
  return entry.number;
}

// The order's first entry: from 0 to 6 or 7, debiting its cost, once.
void log_replay::accept_order(const order_entry& entry) {
  auto [it, fresh] = orders_.try_emplace(entry.number);
  order_replay& o = it->second;
  if (o.accepted) {
    out_.add(entry.number,
             entry.where + " is a second accepted entry of the order (a second debit)");
    return;
  }
  if (o.before_checkpoint) {
    out_.add(entry.number, entry.where + " comes after entries of the order (accepted first)");
    o.before_checkpoint = false;
  }
  o.accepted = true;
  if (fresh) o.version = 1;  // else: entries before it were findings; their versions stand
  const auto amount = parse_int(entry.event.field("amount").value_or(""));
  o.cost = amount.value_or(0);
  const auto to_text = entry.event.field("to");
  o.status = parse_status(to_text);
  if (o.status != order_status::waiting && o.status != order_status::matched)
    out_.add(entry.number, entry.where + " moves the order from 0 to " +
                               quoted_value(to_text.value_or("")) + ", not to 6 or 7");
  check_accepted_record(entry, o, amount);
}

// The record `r` an accepted entry may carry: version 1 of this order and merchant, in the status
// accepted, costing what was debited, not refunded. Its order_no, fingerprint and created_at are
// what the order's projections must repeat.
void log_replay::check_accepted_record(const order_entry& entry, order_replay& o,
                                       std::optional<fen_t> amount) {
  const auto packed = entry.event.field("r");
  if (!packed) return;  // the money and the status only: the record in `o` says the rest
  auto record = unpack_order(*packed);
  const std::string where = entry.where + ": its record (r)";
  if (!record) return out_.add(entry.number, where + " does not unpack");
  const order_record& r = *record;
  std::vector<std::string> problems;
  if (r.event_count != 1)
    problems.push_back(" is at version " + std::to_string(r.event_count) + ", not 1");
  if (o.status && r.status != *o.status)
    problems.push_back(" is in status " + status_text(r.status) + ", not " +
                       status_text(*o.status));
  if (amount && r.cost_fen != *amount)
    problems.push_back(" costs " + fen_text(r.cost_fen) + " but the entry debits " +
                       fen_text(*amount));
  if (r.refunded) problems.push_back(" is already refunded");
  if (r.order_number != entry.number)
    problems.push_back(" is of order " + quoted_value(r.order_number));
  if (r.merchant_id != merchant_id_)
    problems.push_back(" is of merchant " + std::to_string(r.merchant_id));
  for (auto& p : problems) out_.add(entry.number, where + p);
  if (!amount) o.cost = r.cost_fen;
  o.facts = accepted_facts{r.order_no, r.fingerprint, r.created_at_ms};
}

// Every entry of an order after accepted: the order must have been accepted, and `v` is the next
// version, without gaps.
order_replay& log_replay::next_version(const order_entry& entry) {
  auto [it, fresh] = orders_.try_emplace(entry.number);
  order_replay& o = it->second;
  // After a checkpoint, an order's first entry may be a later one: its accepted entry was trimmed.
  if (fresh && seeded_) o.before_checkpoint = true;
  if (!o.accepted && !o.before_checkpoint)
    out_.add(entry.number, entry.where + " comes before any accepted entry of the order");
  const auto v_text = entry.event.field("v");
  const auto v = v_text ? parse_int(*v_text) : std::nullopt;
  if (!v) {
    out_.add(entry.number, entry.where + " has the version " + quoted_value(v_text.value_or("")) +
                               ", not a number");
    ++o.version;
    return o;
  }
  if (fresh && o.before_checkpoint) o.version = *v - 1;  // its history starts here
  if (*v != o.version + 1)
    out_.add(entry.number, entry.where + " is version " + std::to_string(*v) +
                               " of the order but the entry before it is version " +
                               std::to_string(o.version) + " (versions go up by 1, without gaps)");
  o.version = *v;
  return o;
}

std::string log_replay::on_step(const order_event& e) {
  const order_entry entry = open_order_entry(e, "step");
  if (!names_order(entry)) return {};
  check_transition(entry, next_version(entry));
  return entry.number;
}

// A transition f -> t: from where the order is, along spec §4, and neither accept's nor refund's.
void log_replay::check_transition(const order_entry& entry, order_replay& o) {
  const auto from = parse_status(entry.event.field("f"));
  const auto to = parse_status(entry.event.field("t"));
  if (!from || !to) {
    out_.add(entry.number, entry.where + " moves from " +
                               quoted_value(entry.event.field("f").value_or("")) + " to " +
                               quoted_value(entry.event.field("t").value_or("")) +
                               ", which are not both statuses");
    o.status = to;
    return;
  }
  const std::string move = entry.where + ": " + status_text(*from) + "->" + status_text(*to);
  if (o.status && *from != *o.status)
    out_.add(entry.number,
             move + " but the log before it leaves the order in " + status_text(*o.status));
  if (!transition_allowed(*from, *to))
    out_.add(entry.number, move + " is not an allowed transition (spec §4)");
  else if (*from == order_status::pending_payment)
    out_.add(entry.number, move + " is the accepted entry's, not a step's");
  else if (*to == order_status::refunded)
    out_.add(entry.number,
             move + " as a step: only a refund entry, with its money, moves an order to 4");
  o.status = *to;
}

std::string log_replay::on_refund(const order_event& e) {
  const order_entry entry = open_order_entry(e, "refund");
  move_money(entry, false);
  if (!names_order(entry)) return {};
  check_refund_settles_once(entry, next_version(entry));
  return entry.number;
}

// 3 -> 4 with the money: once, after the order failed, crediting back what accepted debited.
void log_replay::check_refund_settles_once(const order_entry& entry, order_replay& o) {
  const auto f = entry.event.field("f").value_or("");
  const auto t = entry.event.field("t").value_or("");
  if (f != "3" || t != "4")
    out_.add(entry.number, entry.where + " moves from " + quoted_value(f) + " to " +
                               quoted_value(t) + ", not 3->4");
  if (o.refunded)
    out_.add(entry.number,
             entry.where + " refunds the order a second time (a refund is credited once)");
  else if (o.status && *o.status != order_status::failed)
    out_.add(entry.number,
             entry.where + " refunds the order in " + status_text(*o.status) + ", not after ->3");
  const auto amount = parse_int(entry.event.field("amount").value_or(""));
  if (amount && *amount != o.cost && !o.before_checkpoint)
    out_.add(entry.number, entry.where + " credits back " + fen_text(*amount) +
                               " but the order was debited " + fen_text(o.cost));
  o.refunded = true;
  o.status = order_status::refunded;
}

std::string log_replay::on_cb(const order_event& e) { return on_callback(e, "cb"); }

std::string log_replay::on_renotify(const order_event& e) { return on_callback(e, "renotify"); }

// A merchant callback attempt or an operator's re-notify: only for a final order (and one with a
// notify_url, which its record tells: books_checks).
std::string log_replay::on_callback(const order_event& e, std::string_view type) {
  const order_entry entry = open_order_entry(e, type);
  if (!names_order(entry)) return {};
  order_replay& o = next_version(entry);
  if (o.status && !is_terminal(*o.status))
    out_.add(entry.number, entry.where + " comes while the order is in " + status_text(*o.status) +
                               ", not final");
  o.called_back = true;
  return entry.number;
}

}  // namespace topup::engine
