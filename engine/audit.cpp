#include "engine/audit.hpp"

#include "engine/redis/command.hpp"

#include <array>
#include <charconv>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <unordered_set>
#include <utility>

#include "engine/config.hpp"
#include "engine/errc.hpp"
#include "engine/ledger_scripts.hpp"
#include "engine/log.hpp"
#include "engine/money.hpp"
#include "engine/order_record.hpp"
#include "engine/order_status.hpp"
#include "engine/redis/script.hpp"

namespace topup::engine {

namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using boost::system::result;
using redis::reply;

// Ledger entries per XRANGE and index members per SCAN step: big enough to be quick, small enough
// that one reply never blocks a live Redis noticeably.
constexpr std::int64_t k_page_entries = 500;
constexpr const char* k_page_entries_text = "500";
constexpr const char* k_scan_count_text = "200";
// How often an order whose money moved while it was being audited is read again before its
// mismatch counts. An order moves money at most twice (debit, refund), so two rounds settle it.
constexpr int k_recheck_rounds = 4;
// The statuses of spec §4, each with its `st:<status>` index.
constexpr std::array<int, 7> k_statuses = {0, 1, 2, 3, 4, 6, 7};

using redis::args;
using redis::is_string;
using redis::is_transient_refusal;
using redis::parse_int;

std::optional<order_status> parse_status(std::optional<std::string_view> text) noexcept {
  if (!text) return std::nullopt;
  auto n = parse_int(*text);
  if (!n || *n < 0 || *n > 9) return std::nullopt;
  return status_from_int(static_cast<int>(*n));
}

// A value read from Redis, safe inside a one-line finding.
std::string q(std::string_view text) { return quote_for_message(text); }

std::string fen(fen_t amount) { return std::to_string(amount) + " fen"; }

std::string st(order_status s) { return std::to_string(to_int(s)); }

// Corrupt books must not make the audit itself undefined: sums are checked for overflow.
void add_checked(fen_t& sum, fen_t value, bool& overflow) noexcept {
  if (__builtin_add_overflow(sum, value, &sum)) overflow = true;
}

void sub_checked(fen_t& sum, fen_t value, bool& overflow) noexcept {
  if (__builtin_sub_overflow(sum, value, &sum)) overflow = true;
}

result<void> ok() { return {}; }

// Read-only, atomic: the account and the id of the ledger's last entry at one instant, so the
// ledger replayed up to that id must add up to exactly that account.
// KEYS: 1 acct  2 ledger. Answers {HMGET balance credits debits refunds, last id or ""}; a key
// of the wrong type answers an error in its place (pcall), not an error for the whole script.
constexpr const char* k_snapshot_lua = R"lua(
local acct = redis.pcall('HMGET', KEYS[1], 'balance', 'credits', 'debits', 'refunds')
local tail = redis.pcall('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
local last = tail
if not tail.err then last = (tail[1] and tail[1][1]) or '' end
return {acct, last}
)lua";

// Read-only, atomic: everything stored about one order at one instant. The scripts that write an
// order change its record, events and indexes in one step, so any such view must agree with
// itself. KEYS: 1 o:<number>  2 ev:<number>  3 active  4 ono  5.. st:<s> for each s in ARGV[2..]
// ARGV: 1 order_number. Answers {HGETALL, XRANGE, SISMEMBER, ono value of the record's order_no,
// {ZSCORE in each st:<s>}}, with an error in place of any part whose key has the wrong type.
constexpr const char* k_order_lua = R"lua(
local n = ARGV[1]
local rec = redis.pcall('HGETALL', KEYS[1])
local ev = redis.pcall('XRANGE', KEYS[2], '-', '+')
local active = redis.pcall('SISMEMBER', KEYS[3], n)
local ono = false
local order_no = redis.pcall('HGET', KEYS[1], 'order_no')
if type(order_no) == 'string' then ono = redis.pcall('HGET', KEYS[4], order_no) end
local idx = {}
for i = 5, #KEYS do idx[#idx + 1] = redis.pcall('ZSCORE', KEYS[i], n) end
return {rec, ev, active, ono, idx}
)lua";

const redis::script& snapshot_script() {
  static const redis::script instance{k_snapshot_lua};
  return instance;
}

const redis::script& order_script() {
  static const redis::script instance{k_order_lua};
  return instance;
}

std::vector<std::string> snapshot_keys(const merchant_keys& keys) {
  return {keys.acct(), keys.ledger()};
}

std::vector<std::string> order_keys(const merchant_keys& keys, const std::string& number) {
  std::vector<std::string> k = {keys.order(number), keys.events(number), keys.active(), keys.ono()};
  for (int s : k_statuses) k.push_back(keys.by_status(s));
  return k;
}

// The keys whose members must all be orders of `all`, with the name a finding gives them.
std::vector<std::pair<std::string, std::string>> index_keys(const merchant_keys& keys) {
  std::vector<std::pair<std::string, std::string>> k;
  for (int s : k_statuses) k.emplace_back(keys.by_status(s), "st:" + std::to_string(s));
  k.emplace_back(keys.active(), "active");
  return k;
}

// Redis refused a whole read-only script (LOADING, BUSY, ...; the parts of the scripts that
// read keys cannot fail it): nothing was audited by it, so the audit stops. Logged here, once.
error_code script_refused(std::string_view what, const reply& r) {
  logger("engine")->error("audit op={} redis_answer=\"{}\"", what, r.str);
  return is_transient_refusal(r.str) ? errc::storage_unavailable : errc::storage_protocol;
}

/// What one atomic read of an order says: the record, if it reads, and the problems visible in
/// the read itself (record, events, indexes, ono); the ledger is compared separately.
struct order_read {
  std::optional<order_record> record;
  std::vector<std::string> problems;
  std::int64_t events = 0;
};

// Where an order's `accepted` event leaves it: from 0 to 6, or to 7 through 6 (one event for
// the whole accept step). Events written before accept took one step carry `status` 0 and are
// followed by their own 0->6 (and 6->7) transitions; both forms read.
std::optional<order_status> accepted_status(const order_event& e, const std::string& where,
                                            std::vector<std::string>& problems) {
  const auto to = e.field("to");
  if (!to) {
    const auto status = e.field("status");
    if (status != std::optional<std::string_view>("0")) {
      problems.push_back(where + " (accepted) has status " + q(status.value_or("")) +
                         ", not \"0\"");
    }
    return order_status::pending_payment;
  }
  const auto target = parse_status(to);
  if (e.field("from") != std::optional<std::string_view>("0") || !target ||
      (*target != order_status::waiting && *target != order_status::matched)) {
    problems.push_back(where + " (accepted) moves from " + q(e.field("from").value_or("")) +
                       " to " + q(*to) + ", not from 0 to 6 or 7");
    return std::nullopt;
  }
  return target;
}

// The order's events, replayed: they must reach the record's status along spec §4.
void replay_events(const order_record& o, const std::vector<order_event>& events,
                   std::vector<std::string>& problems) {
  if (events.empty()) {
    problems.push_back("status " + st(o.status) + " but the order has no events");
    return;
  }
  std::optional<order_status> at;  // where the events so far have taken the order
  for (std::size_t i = 0; i < events.size(); ++i) {
    const order_event& e = events[i];
    const std::string where = "event " + e.id;
    const auto type = e.field("type");
    if (!type) {
      problems.push_back(where + " has no type");
      at.reset();
      continue;
    }
    if (*type == "accepted") {
      if (i != 0) {
        problems.push_back(where + " is a second accepted event");
        continue;
      }
      at = accepted_status(e, where, problems);
      continue;
    }
    if (i == 0) problems.push_back(where + " comes first but is " + q(*type) + ", not accepted");
    if (*type != "transition") {
      problems.push_back(where + " has the unknown type " + q(*type));
      at.reset();
      continue;
    }
    const auto from = parse_status(e.field("from"));
    const auto to = parse_status(e.field("to"));
    if (!from || !to) {
      problems.push_back(where + " moves from " + q(e.field("from").value_or("")) + " to " +
                         q(e.field("to").value_or("")) + ", which are not both statuses");
      at.reset();
      continue;
    }
    if (at && *from != *at)
      problems.push_back(where + " moves from " + st(*from) + " but the events before it end in " +
                         st(*at));
    if (!transition_allowed(*from, *to))
      problems.push_back(where + ": " + st(*from) + "->" + st(*to) +
                         " is not an allowed transition (spec §4)");
    if (*from == order_status::failed && *to == order_status::refunded) {
      const auto refund = e.field("refund");
      const auto refund_fen = refund ? parse_int(*refund) : std::nullopt;
      if (refund_fen != o.cost_fen)
        problems.push_back(where + " (3->4) carries refund " + q(refund.value_or("")) +
                           " but the order cost " + fen(o.cost_fen));
    }
    at = *to;
  }
  if (!at)
    problems.push_back("status " + st(o.status) + " but its last event leaves no known status");
  else if (*at != o.status)
    problems.push_back("status " + st(o.status) + " but its events end in " + st(*at));
  if (o.event_count != static_cast<std::int64_t>(events.size()))
    problems.push_back("the record counts " + std::to_string(o.event_count) +
                       " events but the stream has " + std::to_string(events.size()));
}

order_read check_order_read(const std::string& number, std::int64_t merchant_id, const reply& r) {
  order_read out;
  auto& problems = out.problems;
  if (r.type != reply::kind::array || r.elements.size() != 5 ||
      r.elements[4].type != reply::kind::array ||
      r.elements[4].elements.size() != k_statuses.size()) {
    problems.push_back("reading the order gave an answer of unexpected shape");
    return out;
  }
  const reply& rec = r.elements[0];
  const reply& ev = r.elements[1];
  const reply& active = r.elements[2];
  const reply& ono = r.elements[3];
  const reply& idx = r.elements[4];

  if (rec.is_error()) {
    problems.push_back("the record is unreadable: " + q(rec.str));
  } else if (rec.type == reply::kind::array && rec.elements.empty()) {
    problems.push_back("listed in the all index but has no record");
  } else if (auto parsed = order_record_from_reply(rec)) {
    out.record = std::move(*parsed);
  } else {
    problems.push_back(
        "the record does not read as an order (a required field is missing or malformed)");
  }
  std::optional<std::vector<order_event>> events;
  if (ev.is_error()) {
    problems.push_back("the event stream is unreadable: " + q(ev.str));
  } else if (auto parsed = order_events_from_reply(ev)) {
    events = std::move(*parsed);
    out.events = static_cast<std::int64_t>(events->size());
  } else {
    problems.push_back("the event stream does not read as a stream");
  }
  if (!out.record) return out;
  const order_record& o = *out.record;

  if (o.order_number != number)
    problems.push_back("the record's order_number is " + q(o.order_number));
  if (o.merchant_id != merchant_id)
    problems.push_back("the record names merchant " + std::to_string(o.merchant_id));
  if (events) replay_events(o, *events, problems);

  const bool in4 = o.status == order_status::refunded;
  if (o.refunded != in4)
    problems.push_back(in4 ? "status 4 but refunded is not 1"
                           : "refunded is 1 but status is " + st(o.status));
  if (is_terminal(o.status) != (o.finished_at_ms != 0))
    problems.push_back(is_terminal(o.status)
                           ? "status " + st(o.status) + " (final) but no finished_at"
                           : "finished_at is set but status " + st(o.status) + " is not final");

  for (std::size_t i = 0; i < k_statuses.size(); ++i) {
    const reply& score = idx.elements[i];
    const int s = k_statuses[i];
    const std::string name = "st:" + std::to_string(s);
    if (score.is_error()) {
      problems.push_back("the index " + name + " is unreadable: " + q(score.str));
      continue;
    }
    const bool listed = !score.is_nil();
    if (listed && s != to_int(o.status))
      problems.push_back("listed in " + name + " but status is " + st(o.status));
    if (!listed && s == to_int(o.status))
      problems.push_back("status " + st(o.status) + " but not listed in " + name);
  }
  if (active.is_error()) {
    problems.push_back("the active set is unreadable: " + q(active.str));
  } else {
    const bool listed = active.type == reply::kind::integer && active.integer == 1;
    if (listed && is_terminal(o.status))
      problems.push_back("status " + st(o.status) + " is final but the order is in active");
    if (!listed && !is_terminal(o.status))
      problems.push_back("status " + st(o.status) + " is not final but the order is not in active");
  }
  const std::string expected_ono = number + ":" + o.fingerprint;
  if (ono.is_error())
    problems.push_back("the ono hash is unreadable: " + q(ono.str));
  else if (ono.is_nil())
    problems.push_back("ono has no entry for order_no " + q(o.order_no));
  else if (!is_string(ono) || ono.str != expected_ono)
    problems.push_back("ono maps order_no " + q(o.order_no) + " to " + q(ono.str) + ", not " +
                       q(expected_ono));
  return out;
}

/// The ledger's moves naming one order.
struct money_moves {
  std::vector<fen_t> debits;
  std::vector<fen_t> refunds;
};

// The order's money against the ledger: one debit of its cost; one refund of it exactly in 4.
std::vector<std::string> money_problems(const order_record& o, const money_moves& moves) {
  std::vector<std::string> problems;
  if (moves.debits.empty())
    problems.push_back("no debit in the ledger (cost " + fen(o.cost_fen) + ")");
  else if (moves.debits.size() > 1)
    problems.push_back(std::to_string(moves.debits.size()) +
                       " debits in the ledger, exactly one expected");
  else if (moves.debits.front() != o.cost_fen)
    problems.push_back("the ledger debits " + fen(moves.debits.front()) + " but the order cost " +
                       fen(o.cost_fen));
  if (o.status == order_status::refunded) {
    if (moves.refunds.empty())
      problems.push_back("status 4 (refunded) but no refund in the ledger");
    else if (moves.refunds.size() > 1)
      problems.push_back(std::to_string(moves.refunds.size()) +
                         " refunds in the ledger, exactly one expected");
    else if (moves.refunds.front() != o.cost_fen)
      problems.push_back("the ledger refunds " + fen(moves.refunds.front()) +
                         " but the order cost " + fen(o.cost_fen));
  } else if (!moves.refunds.empty()) {
    problems.push_back(std::to_string(moves.refunds.size()) +
                       " refund(s) in the ledger but status is " + st(o.status) + ", not 4");
  }
  return problems;
}

/// The audit of one merchant: its state while it runs on the connection's thread.
class merchant_audit {
 public:
  merchant_audit(redis::connection& conn, std::string_view prefix, std::int64_t merchant_id)
      : conn_(conn), keys_(prefix, merchant_id), merchant_id_(merchant_id) {
    report_.merchants = 1;
  }

  asio::awaitable<result<void>> run();
  audit_report take_report() { return std::move(report_); }

 private:
  void add(std::string order_number, std::string problem);
  void add_all(const std::string& order_number, std::vector<std::string> problems,
               std::string_view suffix = {});
  void check_account(const reply& acct);
  void apply_ledger_entry(const order_event& e, std::set<std::string>* touched);
  asio::awaitable<result<void>> replay_ledger(std::string end_id, std::set<std::string>* touched);
  asio::awaitable<result<order_read>> read_order(std::string number);
  asio::awaitable<result<void>> audit_orders();
  asio::awaitable<result<void>> audit_index(std::string key, std::string name, bool sorted);
  asio::awaitable<result<void>> audit_ledger_names();
  asio::awaitable<result<void>> settle_moving_orders();

  redis::connection& conn_;
  const merchant_keys keys_;
  const std::int64_t merchant_id_;
  audit_report report_;

  // The ledger replay.
  bool ledger_readable_ = true;  // false: money cannot be compared
  bool overflow_ = false;        // sums left 64 bits: the entries are nonsense
  std::string replayed_to_;      // id of the last entry replayed, "" for none
  fen_t running_ = 0;            // balance entry by entry (re-synchronised after a break)
  fen_t sum_ = 0;                // credits - debits + refunds of the entries
  fen_t credits_ = 0;
  fen_t debits_ = 0;
  fen_t refunds_ = 0;
  std::map<std::string, money_moves> moves_;  // by order number
  std::unordered_set<std::string> refs_;      // credit refs seen

  std::unordered_set<std::string> seen_;  // orders of `all` audited
  // Orders whose money did not match the ledger as read so far; settled or reported at the end.
  std::map<std::string, order_record> unsettled_;
};

void merchant_audit::add(std::string order_number, std::string problem) {
  if (report_.findings.size() >= k_audit_findings_max) {
    ++report_.findings_not_listed;
    return;
  }
  report_.findings.push_back(
      audit_finding{merchant_id_, std::move(order_number), std::move(problem)});
}

void merchant_audit::add_all(const std::string& order_number, std::vector<std::string> problems,
                             std::string_view suffix) {
  for (auto& p : problems) {
    p.append(suffix);
    add(order_number, std::move(p));
  }
}

asio::awaitable<result<void>> merchant_audit::run() {
  // 1. The account and the end of the ledger at one instant.
  auto snap =
      co_await snapshot_script().run(conn_, snapshot_keys(keys_), std::vector<std::string>());
  if (!snap) co_return snap.error();
  if (snap->is_error()) co_return script_refused("snapshot", *snap);
  if (snap->type != reply::kind::array || snap->elements.size() != 2) {
    add("", "reading the account gave an answer of unexpected shape");
    co_return ok();
  }
  const reply& tail = snap->elements[1];
  if (tail.is_error()) {
    add("", "the ledger is unreadable: " + q(tail.str));
    ledger_readable_ = false;
  }

  // 2. The ledger up to that instant, and the account against it.
  if (ledger_readable_ && is_string(tail) && !tail.str.empty()) {
    auto replayed = co_await replay_ledger(tail.str, nullptr);
    if (!replayed) co_return replayed.error();
  }
  check_account(snap->elements[0]);

  // 3. Every order, each read at one instant; then what points at orders.
  auto orders = co_await audit_orders();
  if (!orders) co_return orders.error();
  for (auto& [key, name] : index_keys(keys_)) {
    const bool sorted = name != "active";
    auto index = co_await audit_index(key, name, sorted);
    if (!index) co_return index.error();
  }
  auto names = co_await audit_ledger_names();
  if (!names) co_return names.error();

  // 4. Orders whose money looked wrong: real, or moved after the ledger was read?
  co_return co_await settle_moving_orders();
}

void merchant_audit::check_account(const reply& acct) {
  if (acct.is_error()) {
    add("", "the acct hash is unreadable: " + q(acct.str));
    return;
  }
  if (acct.type != reply::kind::array || acct.elements.size() != 4) {
    add("", "reading the acct hash gave an answer of unexpected shape");
    return;
  }
  static constexpr std::array<std::string_view, 4> k_names = {"balance", "credits", "debits",
                                                              "refunds"};
  std::array<fen_t, 4> v{};
  bool readable = true;
  for (std::size_t i = 0; i < 4; ++i) {
    const reply& e = acct.elements[i];
    if (e.is_nil()) continue;  // a merchant never credited has no acct hash
    auto n = is_string(e) ? parse_int(e.str) : std::nullopt;
    if (!n) {
      add("", "acct " + std::string(k_names[i]) + " is " + q(e.str) + ", not an integer");
      readable = false;
      continue;
    }
    v[i] = *n;
  }
  if (!readable) return;
  const auto [balance, credits, debits, refunds] = v;
  bool overflow = false;
  fen_t expected = credits;
  sub_checked(expected, debits, overflow);
  add_checked(expected, refunds, overflow);
  if (overflow || balance != expected)
    add("", "acct balance " + fen(balance) + " is not credits " + fen(credits) + " - debits " +
                fen(debits) + " + refunds " + fen(refunds));
  if (balance < 0) add("", "acct balance " + fen(balance) + " is below 0");
  if (!ledger_readable_) return;
  if (overflow_) {
    add("", "the ledger's amounts overflow 64 bits; its sums cannot be compared");
    return;
  }
  if (balance != sum_)
    add("", "acct balance is " + fen(balance) + " but the ledger adds up to " + fen(sum_));
  if (credits != credits_)
    add("", "acct credits are " + fen(credits) + " but the ledger's credits add up to " +
                fen(credits_));
  if (debits != debits_)
    add("",
        "acct debits are " + fen(debits) + " but the ledger's debits add up to " + fen(debits_));
  if (refunds != refunds_)
    add("", "acct refunds are " + fen(refunds) + " but the ledger's refunds add up to " +
                fen(refunds_));
}

void merchant_audit::apply_ledger_entry(const order_event& e, std::set<std::string>* touched) {
  ++report_.ledger_entries;
  const std::string order(e.field("order").value_or(""));
  // The entry's problems are the ledger's, so they are the merchant's findings, naming the order.
  const std::string where =
      "ledger entry " + e.id + (order.empty() ? std::string() : " of order " + q(order));
  const auto type = e.field("type");
  const auto amount_text = e.field("amount");
  const auto balance_text = e.field("balance");
  const auto amount = amount_text ? parse_int(*amount_text) : std::nullopt;
  const auto balance = balance_text ? parse_int(*balance_text) : std::nullopt;

  bool applied = false;
  if (!type) {
    add("", where + " has no type");
  } else if (!amount) {
    add("", where + " has the amount " + q(amount_text.value_or("")) + ", not an integer");
  } else if (*type == "credit") {
    const auto ref = e.field("ref");
    if (!ref || ref->empty())
      add("", where + " is a credit without a ref");
    else if (!refs_.emplace(*ref).second)
      add("", where + " repeats the credit ref " + q(*ref) + " (a ref is applied once)");
    add_checked(running_, *amount, overflow_);
    add_checked(sum_, *amount, overflow_);
    add_checked(credits_, *amount, overflow_);
    applied = true;
  } else if (*type == "debit" || *type == "refund") {
    const bool debit = *type == "debit";
    if (order.empty()) add("", where + " is a " + std::string(*type) + " naming no order");
    if (*amount < 0) add("", where + " is a " + std::string(*type) + " of " + fen(*amount));
    if (debit) {
      sub_checked(running_, *amount, overflow_);
      sub_checked(sum_, *amount, overflow_);
    } else {
      add_checked(running_, *amount, overflow_);
      add_checked(sum_, *amount, overflow_);
    }
    add_checked(debit ? debits_ : refunds_, *amount, overflow_);
    if (!order.empty()) {
      auto& moves = moves_[order];
      (debit ? moves.debits : moves.refunds).push_back(*amount);
      if (touched) touched->insert(order);
    }
    applied = true;
  } else {
    add("", where + " has the unknown type " + q(*type));
  }

  if (!balance) {
    add("", where + " has the balance " + q(balance_text.value_or("")) + ", not an integer");
    return;
  }
  if (applied && *balance != running_)
    add("", where + " (" + std::string(*type) + " of " + fen(*amount) + ") records the balance " +
                fen(*balance) + " but the entries before it add up to " + fen(running_));
  // One break is one finding: later entries are checked against what was recorded.
  running_ = *balance;
  if (*balance < 0) add("", where + " leaves the balance at " + fen(*balance) + ", below 0");
}

asio::awaitable<result<void>> merchant_audit::replay_ledger(std::string end_id,
                                                            std::set<std::string>* touched) {
  for (;;) {
    std::string start = replayed_to_.empty() ? std::string("-") : "(" + replayed_to_;
    auto page = co_await conn_.command(
        args("XRANGE", keys_.ledger(), std::move(start), end_id, "COUNT", k_page_entries_text));
    if (!page) co_return page.error();
    if (page->is_error()) {
      add("", "the ledger is unreadable: " + q(page->str));
      ledger_readable_ = false;
      co_return ok();
    }
    auto entries = order_events_from_reply(*page);
    if (!entries) {
      add("", "the ledger does not read as a stream");
      ledger_readable_ = false;
      co_return ok();
    }
    for (const auto& e : *entries) {
      apply_ledger_entry(e, touched);
      replayed_to_ = e.id;
    }
    if (static_cast<std::int64_t>(entries->size()) < k_page_entries) co_return ok();
  }
}

asio::awaitable<result<order_read>> merchant_audit::read_order(std::string number) {
  auto answer = co_await order_script().run(conn_, order_keys(keys_, number), args(number));
  if (!answer) co_return answer.error();
  if (answer->is_error()) co_return script_refused("order", *answer);
  co_return check_order_read(number, merchant_id_, *answer);
}

asio::awaitable<result<void>> merchant_audit::audit_orders() {
  // SCAN returns every member present for the whole scan at least once; repeats are skipped.
  std::string cursor = "0";
  do {
    auto page =
        co_await conn_.command(args("ZSCAN", keys_.all(), cursor, "COUNT", k_scan_count_text));
    if (!page) co_return page.error();
    if (page->is_error()) {
      add("", "the all index is unreadable: " + q(page->str));
      co_return ok();
    }
    if (page->type != reply::kind::array || page->elements.size() != 2 ||
        !is_string(page->elements[0]) || page->elements[1].type != reply::kind::array) {
      add("", "scanning the all index gave an answer of unexpected shape");
      co_return ok();
    }
    cursor = page->elements[0].str;
    const auto& members = page->elements[1].elements;
    for (std::size_t i = 0; i < members.size(); i += 2) {  // member, score, member, score...
      const std::string& number = members[i].str;
      if (!seen_.insert(number).second) continue;
      ++report_.orders;
      auto read = co_await read_order(number);
      if (!read) co_return read.error();
      report_.events += read->events;
      add_all(number, std::move(read->problems));
      if (read->record && ledger_readable_ && !overflow_ &&
          !money_problems(*read->record, moves_[number]).empty())
        unsettled_.emplace(number, std::move(*read->record));
    }
  } while (cursor != "0");
  co_return ok();
}

asio::awaitable<result<void>> merchant_audit::audit_index(std::string key, std::string name,
                                                          bool sorted) {
  std::string cursor = "0";
  do {
    auto page = co_await conn_.command(
        args(sorted ? "ZSCAN" : "SSCAN", key, cursor, "COUNT", k_scan_count_text));
    if (!page) co_return page.error();
    if (page->is_error()) {
      add("", "the index " + name + " is unreadable: " + q(page->str));
      co_return ok();
    }
    if (page->type != reply::kind::array || page->elements.size() != 2 ||
        !is_string(page->elements[0]) || page->elements[1].type != reply::kind::array) {
      add("", "scanning the index " + name + " gave an answer of unexpected shape");
      co_return ok();
    }
    cursor = page->elements[0].str;
    const auto& members = page->elements[1].elements;
    for (std::size_t i = 0; i < members.size(); i += sorted ? 2 : 1) {
      const std::string& number = members[i].str;
      if (seen_.contains(number)) continue;
      // Not seen in `all` during its scan: an order created since is fine (audited next time).
      auto score = co_await conn_.command(args("ZSCORE", keys_.all(), number));
      if (!score) co_return score.error();
      if (score->is_nil()) add(number, "listed in " + name + " but not in the all index");
    }
  } while (cursor != "0");
  co_return ok();
}

asio::awaitable<result<void>> merchant_audit::audit_ledger_names() {
  if (!ledger_readable_) co_return ok();
  // Only entries up to the snapshot are in moves_ yet: each names an order that existed before
  // the scan of `all` began, so the scan must have seen it.
  for (const auto& [number, moves] : moves_) {
    if (seen_.contains(number)) continue;
    auto exists = co_await conn_.command(args("EXISTS", keys_.order(number)));
    if (!exists) co_return exists.error();
    const bool has_record = exists->type == reply::kind::integer && exists->integer == 1;
    add(number, std::string("the ledger has ") + std::to_string(moves.debits.size()) +
                    " debit(s) and " + std::to_string(moves.refunds.size()) +
                    " refund(s) of this order, which " +
                    (has_record ? "is not in the all index" : "does not exist"));
  }
  co_return ok();
}

asio::awaitable<result<void>> merchant_audit::settle_moving_orders() {
  for (int round = 0; round < k_recheck_rounds && !unsettled_.empty(); ++round) {
    // The entries written since the last replay. An order none of them names has not moved money
    // since the ledger was read, before its record was: its mismatch is real.
    std::set<std::string> touched;
    auto replayed = co_await replay_ledger("+", &touched);
    if (!replayed) co_return replayed.error();
    if (!ledger_readable_ || overflow_) {
      unsettled_.clear();
      co_return ok();
    }
    for (auto it = unsettled_.begin(); it != unsettled_.end();) {
      const std::string& number = it->first;
      if (!touched.contains(number)) {
        add_all(number, money_problems(it->second, moves_[number]));
        it = unsettled_.erase(it);
        continue;
      }
      // Read again, after the entries just replayed; it may have moved once more meanwhile.
      auto read = co_await read_order(number);
      if (!read) co_return read.error();
      if (!read->record || money_problems(*read->record, moves_[number]).empty()) {
        it = unsettled_.erase(it);  // settled (or gone: its first read already said so)
        continue;
      }
      it->second = std::move(*read->record);
      ++it;
    }
  }
  for (const auto& [number, record] : unsettled_)
    add_all(number, money_problems(record, moves_[number]),
            " (the order kept moving during the audit)");
  unsettled_.clear();
  co_return ok();
}

}  // namespace

std::string to_string(const audit_finding& finding) {
  std::string line = "merchant " + std::to_string(finding.merchant_id);
  if (!finding.order_number.empty()) line += " order " + q(finding.order_number);
  line += ": ";
  line += finding.problem;
  return line;
}

void audit_report::merge(audit_report other) {
  merchants += other.merchants;
  orders += other.orders;
  ledger_entries += other.ledger_entries;
  events += other.events;
  findings_not_listed += other.findings_not_listed;
  findings.insert(findings.end(), std::make_move_iterator(other.findings.begin()),
                  std::make_move_iterator(other.findings.end()));
}

asio::awaitable<result<audit_report>> audit_merchant(redis::connection& conn, std::string prefix,
                                                     std::int64_t merchant_id) {
  merchant_audit audit(conn, prefix, merchant_id);
  auto done = co_await audit.run();
  if (!done) co_return done.error();
  co_return audit.take_report();
}

asio::awaitable<result<audit_report>> audit_merchants(redis::connection& conn, std::string prefix,
                                                      std::vector<std::int64_t> merchant_ids) {
  audit_report report;
  for (std::int64_t id : merchant_ids) {
    auto one = co_await audit_merchant(conn, prefix, id);
    if (!one) co_return one.error();
    report.merge(std::move(*one));
  }
  co_return report;
}

}  // namespace topup::engine
