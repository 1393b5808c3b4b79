#include "engine/audit/books_checks.hpp"

#include <charconv>
#include <optional>
#include <system_error>
#include <utility>

#include "engine/order/order_record.hpp"
#include "engine/redis/command.hpp"
#include "engine/store/ledger_scripts.hpp"

namespace topup::engine {

namespace {

using redis::parse_int;
using problem_list = std::vector<std::string>;

// A zset score as Redis answers it; nullopt for anything that is not a number.
std::optional<double> parse_score(const read_value& v) noexcept {
  if (!v.present()) return std::nullopt;
  double value = 0;
  const char* end_of_text = v.text.data() + v.text.size();
  auto [end, ec] = std::from_chars(v.text.data(), end_of_text, value);
  if (ec != std::errc{} || end != end_of_text) return std::nullopt;
  return value;
}

// Corrupt sums must not make the audit itself undefined: credits - debits + refunds, or nullopt
// when that leaves 64 bits.
std::optional<fen_t> net_of(fen_t credits, fen_t debits, fen_t refunds) noexcept {
  fen_t net = 0;
  if (__builtin_sub_overflow(credits, debits, &net) || __builtin_add_overflow(net, refunds, &net))
    return std::nullopt;
  return net;
}

// The record in `o`, when it is there and unpacks; else a problem says why.
std::optional<order_record> unpack_stored_record(const read_value& read, problem_list& problems) {
  if (read.unreadable()) {
    problems.push_back("o is unreadable: " + quoted_value(read.text));
    return std::nullopt;
  }
  if (read.absent()) {
    problems.push_back("the log accepted the order but o has no record of it");
    return std::nullopt;
  }
  auto unpacked = unpack_order(read.text);
  if (!unpacked) {
    problems.push_back("its record in o does not unpack");
    return std::nullopt;
  }
  return std::move(*unpacked);
}

// What the money scripts own: the version, the status, the cost and the refunded flag.
void compare_record_state(const order_replay& o, const order_record& r, problem_list& problems) {
  if (r.event_count != o.version)
    problems.push_back("its record is at version " + std::to_string(r.event_count) +
                       " but the log has " + std::to_string(o.version) + " entries of the order");
  if (o.status && r.status != *o.status)
    problems.push_back("its record is in status " + status_text(r.status) +
                       " but the log leaves it in " + status_text(*o.status));
  if (r.cost_fen != o.cost)
    problems.push_back("its record costs " + fen_text(r.cost_fen) + " but the log debited " +
                       fen_text(o.cost));
  if (r.refunded != o.refunded)
    problems.push_back(r.refunded ? "its record is refunded but the log has no refund of it"
                                  : "the log refunded it but its record is not refunded");
}

// Whose order it is and what its accepted entry said of it.
void compare_record_identity(const std::string& number, std::int64_t merchant_id,
                             const order_replay& o, const order_record& r, problem_list& problems) {
  if (r.order_number != number)
    problems.push_back("its record is of order " + quoted_value(r.order_number));
  if (r.merchant_id != merchant_id)
    problems.push_back("its record is of merchant " + std::to_string(r.merchant_id));
  if (!o.facts) return;
  if (r.order_no != o.facts->order_no)
    problems.push_back("its record's order_no is " + quoted_value(r.order_no) +
                       ", the accepted entry's " + quoted_value(o.facts->order_no));
  if (r.fingerprint != o.facts->fingerprint)
    problems.push_back("its record's fingerprint is " + quoted_value(r.fingerprint) +
                       ", the accepted entry's " + quoted_value(o.facts->fingerprint));
  if (r.created_at_ms != o.facts->created_at_ms)
    problems.push_back("its record's created_at is " + std::to_string(r.created_at_ms) +
                       ", the accepted entry's " + std::to_string(o.facts->created_at_ms));
}

// The record against the replay of the order's entries.
void compare_record(const std::string& number, std::int64_t merchant_id, const order_replay& o,
                    const order_record& r, problem_list& problems) {
  compare_record_state(o, r, problems);
  compare_record_identity(number, merchant_id, o, r, problems);
  if (o.called_back && r.notify_url.empty())
    problems.push_back("the log has callback entries of the order but it has no notify_url");
  if (!o.status || is_terminal(*o.status) == (r.finished_at_ms != 0)) return;
  problems.push_back(is_terminal(*o.status) ? "final (" + status_text(*o.status) +
                                                  ") but its record has no finished_at"
                                            : "its record has a finished_at but the order is in " +
                                                  status_text(*o.status) + ", not final");
}

// `#<order_no>` -> `<order_number>:<fingerprint>`, from the log's order_no and fingerprint, else
// the record's. Answers the order_no ("" when neither says).
std::string check_order_no_entry(const std::string& number, const order_replay& o,
                                 const order_record* record, const order_projections& read,
                                 problem_list& problems) {
  if (!o.facts && !record) return {};
  const std::string order_no = o.facts ? o.facts->order_no : record->order_no;
  if (read.record.unreadable()) return order_no;  // the same key: that was the finding
  const std::string field = order_no_field(order_no);
  const std::string expected =
      number + ":" + (o.facts ? o.facts->fingerprint : record->fingerprint);
  const read_value& entry = read.order_no_entry;
  if (entry.absent())
    problems.push_back("o has no entry " + quoted_value(field) +
                       ": a repeat of the order_no would be accepted again");
  else if (!entry.present() || entry.text != expected)
    problems.push_back("o's entry " + quoted_value(field) + " is " + quoted_value(entry.text) +
                       ", not " + quoted_value(expected));
  return order_no;
}

// `t` holds the order at its created_at (the log's word, else the record's; unknown: nullopt).
void check_time_index(std::optional<std::int64_t> created_at_ms, const read_value& by_time,
                      problem_list& problems) {
  if (by_time.unreadable())
    problems.push_back("t is unreadable: " + quoted_value(by_time.text));
  else if (by_time.absent())
    problems.push_back("not in t: listing orders would miss it");
  else if (created_at_ms && parse_score(by_time) != static_cast<double>(*created_at_ms))
    problems.push_back("t holds it at " + quoted_value(by_time.text) + ", not at its created_at (" +
                       std::to_string(*created_at_ms) + ")");
}

// `work` while not final: -created_at (recovery resumes it).
void check_work_not_final(order_status status, std::optional<std::int64_t> created_at_ms,
                          const read_value& work, problem_list& problems) {
  const auto score = parse_score(work);
  const std::string in = "in " + status_text(status) + " (not final) but ";
  if (work.absent())
    problems.push_back(in + "not in work: recovery would not resume it");
  else if (!score || *score >= 0)
    problems.push_back(in + "work holds it at " + quoted_value(work.text) + ", not -created_at");
  else if (created_at_ms && *score != -static_cast<double>(*created_at_ms))
    problems.push_back("work holds it at " + quoted_value(work.text) + ", not -created_at (" +
                       std::to_string(-*created_at_ms) + ")");
}

// `work` once final: a due time > 0 exactly while its callback is pending (the scheduler sends
// it), else absent.
void check_work_final(order_status status, const order_record& record, const read_value& work,
                      problem_list& problems) {
  const bool pending =
      record.callback.status == callback_status::pending;
  const bool listed = !work.absent();
  const auto score = parse_score(work);
  const std::string final_in = "final (" + status_text(status) + ")";
  if (pending && !listed)
    problems.push_back(final_in + " with its callback pending but not in work: the callback " +
                       "would never be sent");
  else if (listed && (!score || *score <= 0))
    problems.push_back(final_in + " but work holds it at " + quoted_value(work.text) +
                       ", as an order still to finish");
  else if (listed && !pending)
    problems.push_back(final_in + " with no callback pending but still in work");
}

void check_work(const order_replay& o, const order_record* record,
                std::optional<std::int64_t> created_at_ms, const read_value& work,
                problem_list& problems) {
  if (!o.status) return;  // an unreadable entry left it unknown: that was the finding
  if (work.unreadable())
    return problems.push_back("work is unreadable: " + quoted_value(work.text));
  if (!is_terminal(*o.status))
    return check_work_not_final(*o.status, created_at_ms, work, problems);
  // Without a record (a finding) whether a callback is pending is unknown.
  if (record) check_work_final(*o.status, *record, work, problems);
}

}  // namespace

void check_account_adds_up(const account_totals& acct, finding_sink& out) {
  const auto net = net_of(acct.credits, acct.debits, acct.refunds);
  if (!net || acct.balance != *net)
    out.add("", "acct balance " + fen_text(acct.balance) + " is not credits " +
                    fen_text(acct.credits) + " - debits " + fen_text(acct.debits) + " + refunds " +
                    fen_text(acct.refunds));
  if (acct.balance < 0) out.add("", "acct balance " + fen_text(acct.balance) + " is below 0");
}

void check_account_against_log(const account_totals& acct, const money_replay& replayed,
                               finding_sink& out) {
  const auto net = replayed.overflow ? std::nullopt
                                     : net_of(replayed.credits, replayed.debits, replayed.refunds);
  if (!net) return out.add("", "the log's amounts overflow 64 bits; its sums cannot be compared");
  if (acct.balance != *net)
    out.add("", "acct balance is " + fen_text(acct.balance) + " but the log adds up to " +
                    fen_text(*net));
  if (acct.credits != replayed.credits)
    out.add("", "acct credits are " + fen_text(acct.credits) + " but the log's credits add up to " +
                    fen_text(replayed.credits));
  if (acct.debits != replayed.debits)
    out.add("", "acct debits are " + fen_text(acct.debits) +
                    " but the log's accepted entries debit " + fen_text(replayed.debits));
  if (acct.refunds != replayed.refunds)
    out.add("", "acct refunds are " + fen_text(acct.refunds) + " but the log's refunds add up to " +
                    fen_text(replayed.refunds));
}

void check_credit_ref_count(std::int64_t held, const money_replay& replayed,
                            std::int64_t trimmed_refs, finding_sink& out) {
  const auto logged = static_cast<std::int64_t>(replayed.credit_refs.size());
  if (held == logged + trimmed_refs) return;
  if (trimmed_refs == 0)
    return out.add("", "crefs holds " + std::to_string(held) + " refs but the log credits " +
                           std::to_string(logged));
  out.add("", "crefs holds " + std::to_string(held) + " refs but the log credits " +
                  std::to_string(logged) + " after its checkpoint and the checkpoint " +
                  std::to_string(trimmed_refs) + " before it");
}

void check_checkpoint(const log_checkpoint& c, const std::string& first_id, finding_sink& out) {
  const auto net = net_of(c.credits_fen, c.debits_fen, c.refunds_fen);
  if (!net || c.balance_fen != *net)
    out.add("", "ckpt balance " + fen_text(c.balance_fen) + " is not credits " +
                    fen_text(c.credits_fen) + " - debits " + fen_text(c.debits_fen) +
                    " + refunds " + fen_text(c.refunds_fen));
  if (c.balance_fen < 0) out.add("", "ckpt balance " + fen_text(c.balance_fen) + " is below 0");
  if (c.refs < 0 || c.entries < 0 || c.money_entries < 0 || c.orders < 0 ||
      c.money_entries > c.entries || c.orders > c.money_entries || c.refs > c.money_entries)
    out.add("", "ckpt counts do not fit together: " + std::to_string(c.entries) + " entries, " +
                    std::to_string(c.money_entries) + " money entries, " +
                    std::to_string(c.orders) + " orders, " + std::to_string(c.refs) + " refs");
  const auto first = parse_stream_id(first_id);
  const auto position = parse_stream_id(c.id);
  if (first && position && *first < *position)
    out.add("", "the log's first entry " + quoted_value(first_id) +
                    " is below its checkpoint's position " + quoted_value(c.id) +
                    " (the trim removes every entry below it)");
}

std::string trimmed_refs_problem(const std::map<std::string, std::string>& others,
                                 const log_checkpoint& checkpoint) {
  fen_t sum = 0;
  for (const auto& [ref, value] : others) {
    const auto amount = parse_int(value);
    if (!amount)
      return "crefs holds " + quoted_value(value) + " for ref " + quoted_value(ref) +
             ", not an integer";
    if (__builtin_add_overflow(sum, *amount, &sum)) return "crefs' amounts overflow 64 bits";
  }
  const auto count = static_cast<std::int64_t>(others.size());
  if (count == checkpoint.refs && sum == checkpoint.refs_fen) return {};
  return "crefs holds " + std::to_string(count) + " refs adding up to " + fen_text(sum) +
         " that the log after its checkpoint does not credit, but the checkpoint trimmed " +
         std::to_string(checkpoint.refs) + " adding up to " + fen_text(checkpoint.refs_fen);
}

void check_credit_ref(const std::string& ref, fen_t credited, const read_value& held,
                      finding_sink& out) {
  if (held.absent())
    out.add("", "the log credits ref " + quoted_value(ref) +
                    " but crefs has no entry for it: a repeat would be credited again");
  else if (!held.present() || parse_int(held.text) != credited)
    out.add("", "crefs holds " + quoted_value(held.text) + " for ref " + quoted_value(ref) +
                    " but the log credited " + fen_text(credited));
}

projection_verdict check_order_projections(const std::string& number, std::int64_t merchant_id,
                                           const order_replay& o, const order_projections& read,
                                           bool may_have_moved) {
  projection_verdict verdict;
  auto& problems = verdict.problems;
  // The retire script removes record, t entry and order_no entry in one step, and only of a
  // final order with no work: that shape, and only that one, is an archived order. (A later
  // order may have taken the order_no since.)
  const bool order_no_gone =
      read.order_no_entry.absent() ||
      (read.order_no_entry.present() && !read.order_no_entry.text.starts_with(number + ":"));
  if (o.status && is_terminal(*o.status) && read.record.absent() && read.by_time.absent() &&
      read.work.absent() && order_no_gone) {
    verdict.archived = true;
    return verdict;
  }
  const auto record = unpack_stored_record(read.record, problems);
  if (record && may_have_moved && record->event_count > o.version) {
    verdict.moved = true;
    return verdict;
  }
  if (record) compare_record(number, merchant_id, o, *record, problems);
  const order_record* stored = record ? &*record : nullptr;
  verdict.order_no = check_order_no_entry(number, o, stored, read, problems);
  std::optional<std::int64_t> created_at_ms;  // the log's word, else the record's
  if (o.facts)
    created_at_ms = o.facts->created_at_ms;
  else if (record)
    created_at_ms = record->created_at_ms;
  check_time_index(created_at_ms, read.by_time, problems);
  check_work(o, stored, created_at_ms, read.work, problems);
  return verdict;
}

void projection_scan::note_order_no(const std::string& number, std::string order_no) {
  order_nos_[number] = std::move(order_no);
}

void projection_scan::check_orders_field(const std::string& field, const std::string& value,
                                         const log_replay& replay, finding_sink& out) {
  if (!field.starts_with('#')) {
    if (!replay.accepted(field)) note_unlogged(field, "o");
    return;
  }
  const auto sep = value.find(':');
  const std::string where = "o's entry " + quoted_value(field);
  if (sep == std::string::npos || sep == 0)
    return out.add("", where + " is " + quoted_value(value) + ", not <order_number>:<fingerprint>");
  const std::string number = value.substr(0, sep);
  if (!replay.accepted(number)) return note_unlogged(number, where);
  // Not known for an order that moved since the snapshot (checked later) or has no record.
  auto order_no = order_nos_.find(number);
  if (order_no != order_nos_.end() && order_no_field(order_no->second) != field)
    out.add(number, where + " names it but its order_no is " + quoted_value(order_no->second));
}

void projection_scan::check_index_member(std::string_view key_name, const std::string& member,
                                         const log_replay& replay) {
  if (!replay.accepted(member)) note_unlogged(member, std::string(key_name));
}

void projection_scan::note_unlogged(const std::string& number, std::string where) {
  unlogged_[number].insert(std::move(where));
}

void projection_scan::report_unlogged(const log_replay& replay, finding_sink& out) {
  for (const auto& [number, places] : unlogged_) {
    if (replay.accepted(number)) continue;
    std::string where;  // "o, t and work"
    std::size_t left = places.size();
    for (const auto& place : places) {
      where += place;
      --left;
      if (left > 1) where += ", ";
      if (left == 1) where += " and ";
    }
    out.add(number, "in " + where + " but the log has no accepted entry of the order");
  }
  unlogged_.clear();
}

}  // namespace topup::engine
