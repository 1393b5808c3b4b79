#include "engine/audit/audit.hpp"

#include "engine/redis/command.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <system_error>
#include <utility>

#include "engine/config/config.hpp"
#include "engine/support/errc.hpp"
#include "engine/store/ledger_scripts.hpp"
#include "engine/support/log.hpp"
#include "engine/order/money.hpp"
#include "engine/order/order_record.hpp"
#include "engine/order/order_status.hpp"
#include "engine/store/order_store.hpp"
#include "engine/redis/script.hpp"

namespace topup::engine {

namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using boost::system::result;
using redis::args;
using redis::is_string;
using redis::is_transient_refusal;
using redis::parse_int;
using redis::reply;

// Log entries per XRANGE, members per SCAN step, orders per projections read, refs per HMGET:
// big enough to be quick, small enough that one reply never blocks a live Redis noticeably.
constexpr std::size_t k_page_entries = 500;
constexpr const char* k_page_entries_text = "500";
constexpr const char* k_scan_count_text = "200";
constexpr std::size_t k_orders_per_read = 100;
constexpr std::size_t k_refs_per_read = 200;
// How often an order that moved after the snapshot is read again, after the log's later entries,
// before its disagreement counts: an order rarely moves more than a few times in a second.
constexpr int k_recheck_rounds = 4;

std::optional<order_status> parse_status(std::optional<std::string_view> text) noexcept {
  if (!text) return std::nullopt;
  auto n = parse_int(*text);
  if (!n || *n < 0 || *n > 9) return std::nullopt;
  return status_from_int(static_cast<int>(*n));
}

// A zset score as Redis answers it; nullopt for nil or anything that is not a number.
std::optional<double> parse_score(const reply& r) noexcept {
  if (!is_string(r)) return std::nullopt;
  double value = 0;
  auto [end, ec] = std::from_chars(r.str.data(), r.str.data() + r.str.size(), value);
  if (ec != std::errc{} || end != r.str.data() + r.str.size()) return std::nullopt;
  return value;
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

// Read-only, atomic: the account, the id of the log's last entry and the number of credit refs at
// one instant, so the log replayed up to that id must add up to exactly that account.
// KEYS: 1 acct  2 log  3 crefs. Answers {HMGET balance credits debits refunds, last id or "",
// HLEN crefs}; a key of the wrong type answers an error in its place (pcall), not an error for
// the whole script.
constexpr const char* k_snapshot_lua = R"lua(
local acct = redis.pcall('HMGET', KEYS[1], 'balance', 'credits', 'debits', 'refunds')
local tail = redis.pcall('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
local last = tail
if not tail.err then last = (tail[1] and tail[1][1]) or '' end
return {acct, last, redis.pcall('HLEN', KEYS[3])}
)lua";

// Read-only, atomic: the projections of some orders at one instant. The scripts write an order's
// record, its order_no entry, `t` and `work` in the step that appends its event, so any such view
// of one order must agree with itself. KEYS: 1 o  2 t  3 work. ARGV: per order its number and
// its `#<order_no>` field, "" when the log does not say: then the record's order_no (its sixth
// field, docs/STORAGE.md, escapes undone) is used. Answers per order {record, order_no entry,
// t score, work score}, nil for what is absent and an error in place of a key of the wrong type.
constexpr const char* k_projections_lua = R"lua(
local out = {}
for i = 1, #ARGV, 2 do
  local n, f = ARGV[i], ARGV[i + 1]
  local rec = redis.pcall('HGET', KEYS[1], n)
  if f == '' and type(rec) == 'string' then
    local no = string.match(rec, '^[^\31]*\31[^\31]*\31[^\31]*\31[^\31]*\31[^\31]*\31([^\31]*)')
    if no then f = '#' .. no:gsub('\30\49', '\31'):gsub('\30\48', '\30') end
  end
  local entry = false
  if f ~= '' then entry = redis.pcall('HGET', KEYS[1], f) end
  out[#out + 1] = {rec, entry, redis.pcall('ZSCORE', KEYS[2], n), redis.pcall('ZSCORE', KEYS[3], n)}
end
return out
)lua";

const redis::script& snapshot_script() {
  static const redis::script instance{k_snapshot_lua};
  return instance;
}

const redis::script& projections_script() {
  static const redis::script instance{k_projections_lua};
  return instance;
}

// Redis refused a whole read for now (LOADING, BUSY, ...): nothing was audited by it, so the
// audit stops. Logged here, once. Any other refusal of a read-only script is a bug of ours.
error_code refused(std::string_view what, const reply& r) {
  logger("engine")->error("audit op={} redis_answer=\"{}\"", what, r.str);
  return is_transient_refusal(r.str) ? errc::storage_unavailable : errc::storage_protocol;
}

/// Where one merchant's findings go: into its report, up to k_audit_findings_max, then counted.
class finding_sink {
 public:
  finding_sink(audit_report& report, std::int64_t merchant_id)
      : report_(report), merchant_id_(merchant_id) {}

  void add(std::string order_number, std::string problem) {
    if (report_.findings.size() >= k_audit_findings_max) {
      ++report_.findings_not_listed;
      return;
    }
    report_.findings.push_back(
        audit_finding{merchant_id_, std::move(order_number), std::move(problem)});
  }

  void add_all(const std::string& order_number, std::vector<std::string> problems,
               std::string_view suffix = {}) {
    for (auto& p : problems) {
      p.append(suffix);
      add(order_number, std::move(p));
    }
  }

 private:
  audit_report& report_;
  const std::int64_t merchant_id_;
};

/// Step 1: the account, the end of the log and the number of credit refs, at one instant.
struct account_snapshot {
  std::optional<account_totals> totals;     // nullopt: unreadable (a finding says why)
  std::string last_id;                      // the log's last entry then; "" for an empty log
  std::optional<std::int64_t> credit_refs;  // entries of `crefs`; nullopt: unreadable
};

/// The money of the log replayed so far.
struct money_replay {
  fen_t running = 0;  // the balance entry by entry (re-synchronised to each entry's bal)
  fen_t credits = 0;
  fen_t debits = 0;
  fen_t refunds = 0;
  bool overflow = false;                     // sums left 64 bits: the entries are nonsense
  std::map<std::string, fen_t> credit_refs;  // ref -> amount credited
};

/// What an order's accepted entry says of it through its record `r`, which its projections must
/// repeat. (An accepted entry may carry only the money and the status: then the record in `o` is
/// the only word on these.)
struct accepted_facts {
  std::string order_no;
  std::string fingerprint;
  std::int64_t created_at_ms = 0;
};

/// One order as the log replayed so far leaves it.
struct order_replay {
  bool accepted = false;                // its accepted entry was replayed
  std::optional<order_status> status;   // nullopt: an unreadable entry left it unknown
  std::int64_t version = 0;             // `v` of its latest entry (accepted: 1)
  fen_t cost = 0;                       // what its accepted entry debited
  bool refunded = false;                // a refund entry credited it back
  bool called_back = false;             // a cb or renotify entry: it must have a notify_url
  std::optional<accepted_facts> facts;  // nullopt: the accepted entry has no record that unpacks
};

/// Step 2: the log's entries applied one at a time, oldest first, each rule broken a finding.
/// One break is one finding: the replay goes on from what the entry says (its `bal`, its `v`,
/// its target status), so later entries are judged on their own.
class log_replay {
 public:
  log_replay(std::int64_t merchant_id, finding_sink& out) : merchant_id_(merchant_id), out_(out) {}

  /// Applies one entry; the order it names goes into `touched` when that is given.
  void apply(const order_event& e, std::set<std::string>* touched);

  const money_replay& money() const noexcept { return money_; }
  const std::map<std::string, order_replay>& orders() const noexcept { return orders_; }
  bool accepted(const std::string& number) const {
    auto it = orders_.find(number);
    return it != orders_.end() && it->second.accepted;
  }
  std::int64_t money_entries() const noexcept { return money_entries_; }
  std::int64_t order_entries() const noexcept { return order_entries_; }

 private:
  std::optional<fen_t> amount_of(const order_event& e, const std::string& where);
  void check_bal(const order_event& e, const std::string& where);
  void on_credit(const order_event& e);
  void on_accepted(const order_event& e, const std::string& number, const std::string& where);
  order_replay& next_event(const order_event& e, const std::string& number,
                           const std::string& where);
  void on_step(const order_event& e, const std::string& number, const std::string& where,
               order_replay& o);
  void on_refund(const order_event& e, const std::string& number, const std::string& where,
                 order_replay& o);
  void on_callback(const std::string& number, const std::string& where, order_replay& o);

  const std::int64_t merchant_id_;
  finding_sink& out_;
  money_replay money_;
  std::map<std::string, order_replay> orders_;  // by order number
  std::int64_t money_entries_ = 0;
  std::int64_t order_entries_ = 0;
};

void log_replay::apply(const order_event& e, std::set<std::string>* touched) {
  const auto type = e.field("e");
  if (!type) {
    out_.add("", "log entry " + e.id + " has no type (e)");
    return;
  }
  if (*type == "credit") return on_credit(e);
  const bool known = *type == "accepted" || *type == "step" || *type == "refund" || *type == "cb" ||
                     *type == "renotify";
  if (!known) {
    out_.add("", "log entry " + e.id + " has the unknown type " + q(*type));
    return;
  }
  ++order_entries_;
  const std::string where = "log entry " + e.id + " (" + std::string(*type) + ")";
  const std::string number(e.field("o").value_or(""));
  if (*type == "accepted" || *type == "refund") {
    // Money first: the balance moved whether or not the entry names its order properly.
    ++money_entries_;
    const std::string money_where = number.empty() ? where : where + " of order " + q(number);
    if (auto amount = amount_of(e, money_where)) {
      if (*amount < 0) out_.add("", money_where + " moves " + fen(*amount) + ", below 0");
      if (*type == "accepted") {
        sub_checked(money_.running, *amount, money_.overflow);
        add_checked(money_.debits, *amount, money_.overflow);
      } else {
        add_checked(money_.running, *amount, money_.overflow);
        add_checked(money_.refunds, *amount, money_.overflow);
      }
    }
    check_bal(e, money_where);
  }
  if (number.empty()) {
    out_.add("", where + " names no order (o)");
    return;
  }
  if (touched) touched->insert(number);
  if (*type == "accepted") return on_accepted(e, number, where);
  order_replay& o = next_event(e, number, where);
  if (*type == "step") return on_step(e, number, where, o);
  if (*type == "refund") return on_refund(e, number, where, o);
  on_callback(number, where, o);
}

std::optional<fen_t> log_replay::amount_of(const order_event& e, const std::string& where) {
  const auto text = e.field("amount");
  auto amount = text ? parse_int(*text) : std::nullopt;
  if (!amount) out_.add("", where + " has the amount " + q(text.value_or("")) + ", not an integer");
  return amount;
}

// A money entry's `bal` is the balance its move leaves.
void log_replay::check_bal(const order_event& e, const std::string& where) {
  const auto text = e.field("bal");
  const auto bal = text ? parse_int(*text) : std::nullopt;
  if (!bal) {
    out_.add("", where + " has the bal " + q(text.value_or("")) + ", not an integer");
    return;
  }
  if (!money_.overflow && *bal != money_.running)
    out_.add("", where + " records bal " + fen(*bal) + " but the log up to it adds up to " +
                     fen(money_.running));
  // One break, one finding: the entries after it are judged against what this one recorded.
  money_.running = *bal;
  if (*bal < 0) out_.add("", where + " leaves the balance at " + fen(*bal) + ", below 0");
}

void log_replay::on_credit(const order_event& e) {
  ++money_entries_;
  const auto ref = e.field("ref");
  const std::string where =
      "log entry " + e.id + " (credit" + (ref ? " " + q(*ref) : std::string()) + ")";
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
}

// The order's first entry: from 0 to 6 or 7, debiting its cost, with the record as accepted.
void log_replay::on_accepted(const order_event& e, const std::string& number,
                             const std::string& where) {
  auto [it, fresh] = orders_.try_emplace(number);
  order_replay& o = it->second;
  if (o.accepted) {
    out_.add(number, where + " is a second accepted entry of the order (a second debit)");
    return;
  }
  o.accepted = true;
  if (fresh) o.version = 1;  // else: entries before it were findings; their versions stand
  const auto amount = parse_int(e.field("amount").value_or(""));
  o.cost = amount.value_or(0);
  const auto to_text = e.field("to");
  o.status = parse_status(to_text);
  if (o.status != order_status::waiting && o.status != order_status::matched)
    out_.add(number,
             where + " moves the order from 0 to " + q(to_text.value_or("")) + ", not to 6 or 7");

  const auto packed = e.field("r");
  if (!packed) return;  // the money and the status only: the record in `o` says the rest
  auto record = unpack_order(*packed);
  if (!record) {
    out_.add(number, where + ": its record (r) does not unpack");
    return;
  }
  const order_record& r = *record;
  if (r.event_count != 1)
    out_.add(number,
             where + ": its record (r) is at version " + std::to_string(r.event_count) + ", not 1");
  if (o.status && r.status != *o.status)
    out_.add(number,
             where + ": its record (r) is in status " + st(r.status) + ", not " + st(*o.status));
  if (amount && r.cost_fen != *amount)
    out_.add(number, where + ": its record (r) costs " + fen(r.cost_fen) +
                         " but the entry debits " + fen(*amount));
  if (r.refunded) out_.add(number, where + ": its record (r) is already refunded");
  if (r.order_number != number)
    out_.add(number, where + ": its record (r) is of order " + q(r.order_number));
  if (r.merchant_id != merchant_id_)
    out_.add(number, where + ": its record (r) is of merchant " + std::to_string(r.merchant_id));
  if (!amount) o.cost = r.cost_fen;
  o.facts = accepted_facts{r.order_no, r.fingerprint, r.created_at_ms};
}

// Every entry of an order after accepted: the order must have been accepted, and `v` is the next
// version, without gaps.
order_replay& log_replay::next_event(const order_event& e, const std::string& number,
                                     const std::string& where) {
  order_replay& o = orders_[number];
  if (!o.accepted) out_.add(number, where + " comes before any accepted entry of the order");
  const auto v_text = e.field("v");
  const auto v = v_text ? parse_int(*v_text) : std::nullopt;
  if (!v) {
    out_.add(number, where + " has the version " + q(v_text.value_or("")) + ", not a number");
    ++o.version;
    return o;
  }
  if (*v != o.version + 1)
    out_.add(number, where + " is version " + std::to_string(*v) +
                         " of the order but the entry before it is version " +
                         std::to_string(o.version) + " (versions go up by 1, without gaps)");
  o.version = *v;
  return o;
}

// A transition f -> t: from where the order is, along spec §4, and neither accept's nor refund's.
void log_replay::on_step(const order_event& e, const std::string& number, const std::string& where,
                         order_replay& o) {
  const auto from = parse_status(e.field("f"));
  const auto to = parse_status(e.field("t"));
  if (!from || !to) {
    out_.add(number, where + " moves from " + q(e.field("f").value_or("")) + " to " +
                         q(e.field("t").value_or("")) + ", which are not both statuses");
    o.status = to;
    return;
  }
  const std::string move = st(*from) + "->" + st(*to);
  if (o.status && *from != *o.status)
    out_.add(number,
             where + ": " + move + " but the log before it leaves the order in " + st(*o.status));
  if (!transition_allowed(*from, *to))
    out_.add(number, where + ": " + move + " is not an allowed transition (spec §4)");
  else if (*from == order_status::pending_payment)
    out_.add(number, where + ": " + move + " is the accepted entry's, not a step's");
  else if (*to == order_status::refunded)
    out_.add(number, where + ": " + move + " as a step: only a refund entry, with its money, " +
                         "moves an order to 4");
  o.status = *to;
}

// 3 -> 4 with the money: once, after the order failed, crediting back what accepted debited.
void log_replay::on_refund(const order_event& e, const std::string& number,
                           const std::string& where, order_replay& o) {
  const auto f = e.field("f").value_or(""), t = e.field("t").value_or("");
  if (f != "3" || t != "4")
    out_.add(number, where + " moves from " + q(f) + " to " + q(t) + ", not 3->4");
  if (o.refunded)
    out_.add(number, where + " refunds the order a second time (a refund is credited once)");
  else if (o.status && *o.status != order_status::failed)
    out_.add(number, where + " refunds the order in " + st(*o.status) + ", not after ->3");
  const auto amount = parse_int(e.field("amount").value_or(""));
  if (amount && *amount != o.cost)
    out_.add(number,
             where + " credits back " + fen(*amount) + " but the order was debited " + fen(o.cost));
  o.refunded = true;
  o.status = order_status::refunded;
}

// A merchant callback attempt or an operator's re-notify: only for a final order (and one with a
// notify_url, which its record tells: compare_record).
void log_replay::on_callback(const std::string& number, const std::string& where, order_replay& o) {
  if (o.status && !is_terminal(*o.status))
    out_.add(number, where + " comes while the order is in " + st(*o.status) + ", not final");
  o.called_back = true;
}

/// Step 4's verdict on one order: its projections' problems, or that they are ahead of the
/// replay (the order moved after the entries replayed so far).
struct projection_verdict {
  bool moved = false;
  std::vector<std::string> problems;
  std::string order_no;  // the order's, from the log or else its record; "" when neither says
};

// The record against the replay of the order's entries.
void compare_record(const std::string& number, std::int64_t merchant_id, const order_replay& o,
                    const order_record& r, std::vector<std::string>& problems) {
  if (r.event_count != o.version)
    problems.push_back("its record is at version " + std::to_string(r.event_count) +
                       " but the log has " + std::to_string(o.version) + " entries of the order");
  if (o.status && r.status != *o.status)
    problems.push_back("its record is in status " + st(r.status) + " but the log leaves it in " +
                       st(*o.status));
  if (r.cost_fen != o.cost)
    problems.push_back("its record costs " + fen(r.cost_fen) + " but the log debited " +
                       fen(o.cost));
  if (r.refunded != o.refunded)
    problems.push_back(r.refunded ? "its record is refunded but the log has no refund of it"
                                  : "the log refunded it but its record is not refunded");
  if (r.order_number != number) problems.push_back("its record is of order " + q(r.order_number));
  if (r.merchant_id != merchant_id)
    problems.push_back("its record is of merchant " + std::to_string(r.merchant_id));
  if (o.facts) {
    if (r.order_no != o.facts->order_no)
      problems.push_back("its record's order_no is " + q(r.order_no) + ", the accepted entry's " +
                         q(o.facts->order_no));
    if (r.fingerprint != o.facts->fingerprint)
      problems.push_back("its record's fingerprint is " + q(r.fingerprint) +
                         ", the accepted entry's " + q(o.facts->fingerprint));
    if (r.created_at_ms != o.facts->created_at_ms)
      problems.push_back("its record's created_at is " + std::to_string(r.created_at_ms) +
                         ", the accepted entry's " + std::to_string(o.facts->created_at_ms));
  }
  if (o.called_back && r.notify_url.empty())
    problems.push_back("the log has callback entries of the order but it has no notify_url");
  if (o.status && is_terminal(*o.status) != (r.finished_at_ms != 0))
    problems.push_back(is_terminal(*o.status)
                           ? "final (" + st(*o.status) + ") but its record has no finished_at"
                           : "its record has a finished_at but the order is in " + st(*o.status) +
                                 ", not final");
}

// `work`: -created_at while not final (recovery resumes it); once final, a due time > 0 exactly
// while its callback is pending (the scheduler sends it), else absent.
void compare_work(const order_replay& o, const order_record* record,
                  std::optional<std::int64_t> created_at_ms, const reply& work,
                  std::vector<std::string>& problems) {
  if (!o.status) return;  // an unreadable entry left it unknown: that was the finding
  if (work.is_error()) {
    problems.push_back("work is unreadable: " + q(work.str));
    return;
  }
  const bool listed = !work.is_nil();
  const auto score = parse_score(work);
  const std::string shown = listed ? q(work.str) : std::string();
  if (!is_terminal(*o.status)) {
    if (!listed)
      problems.push_back("in " + st(*o.status) + " (not final) but not in work: recovery would " +
                         "not resume it");
    else if (!score || *score >= 0)
      problems.push_back("in " + st(*o.status) + " (not final) but work holds it at " + shown +
                         ", not -created_at");
    else if (created_at_ms && *score != -static_cast<double>(*created_at_ms))
      problems.push_back("work holds it at " + shown + ", not -created_at (" +
                         std::to_string(-*created_at_ms) + ")");
    return;
  }
  if (!record) return;  // no record (a finding): whether a callback is pending is unknown
  const bool pending =
      record->callback.status == callback_status::pending;
  if (pending && !listed)
    problems.push_back("final (" + st(*o.status) + ") with its callback pending but not in " +
                       "work: the callback would never be sent");
  else if (listed && (!score || *score <= 0))
    problems.push_back("final (" + st(*o.status) + ") but work holds it at " + shown +
                       ", as an order still to finish");
  else if (listed && !pending)
    problems.push_back("final (" + st(*o.status) + ") with no callback pending but still in work");
}

// One order's projections, read at one instant, against its replay. With `may_have_moved`, a
// record ahead of the replay is an order that moved after the entries replayed so far.
projection_verdict compare_projections(const std::string& number, std::int64_t merchant_id,
                                       const order_replay& o, const reply& read,
                                       bool may_have_moved) {
  projection_verdict verdict;
  auto& problems = verdict.problems;
  const reply& rec = read.elements[0];
  const reply& entry = read.elements[1];
  const reply& by_time = read.elements[2];
  const reply& work = read.elements[3];

  std::optional<order_record> record;
  if (rec.is_error())
    problems.push_back("o is unreadable: " + q(rec.str));
  else if (rec.is_nil())
    problems.push_back("the log accepted the order but o has no record of it");
  else if (auto unpacked = is_string(rec)
                               ? unpack_order(rec.str)
                               : result<order_record>(make_error_code(errc::storage_protocol)))
    record = std::move(*unpacked);
  else
    problems.push_back("its record in o does not unpack");
  if (record && may_have_moved && record->event_count > o.version) {
    verdict.moved = true;
    return verdict;
  }
  if (record) compare_record(number, merchant_id, o, *record, problems);

  // The order_no entry: of the log's order_no and fingerprint, else the record's.
  if (o.facts)
    verdict.order_no = o.facts->order_no;
  else if (record)
    verdict.order_no = record->order_no;
  if ((o.facts || record) && !rec.is_error()) {
    const std::string field = order_no_field(verdict.order_no);
    const std::string expected =
        number + ":" + (o.facts ? o.facts->fingerprint : record->fingerprint);
    if (entry.is_nil())
      problems.push_back("o has no entry " + q(field) + ": a repeat of the order_no would be " +
                         "accepted again");
    else if (!is_string(entry) || entry.str != expected)
      problems.push_back("o's entry " + q(field) + " is " + q(entry.str) + ", not " + q(expected));
  }

  std::optional<std::int64_t> created_at_ms;  // the log's word, else the record's
  if (o.facts)
    created_at_ms = o.facts->created_at_ms;
  else if (record)
    created_at_ms = record->created_at_ms;
  if (by_time.is_error())
    problems.push_back("t is unreadable: " + q(by_time.str));
  else if (by_time.is_nil())
    problems.push_back("not in t: listing orders would miss it");
  else if (created_at_ms && parse_score(by_time) != static_cast<double>(*created_at_ms))
    problems.push_back("t holds it at " + q(by_time.str) + ", not at its created_at (" +
                       std::to_string(*created_at_ms) + ")");

  compare_work(o, record ? &*record : nullptr, created_at_ms, work, problems);
  return verdict;
}

/// The audit of one merchant, step by step (audit.hpp); runs on the connection's thread.
class merchant_audit {
 public:
  merchant_audit(redis::connection& conn, std::string_view prefix, std::int64_t merchant_id)
      : conn_(conn),
        keys_(prefix, merchant_id),
        merchant_id_(merchant_id),
        out_(report_, merchant_id),
        replay_(merchant_id, out_) {
    report_.merchants = 1;
  }
  merchant_audit(const merchant_audit&) = delete;
  merchant_audit& operator=(const merchant_audit&) = delete;

  asio::awaitable<result<void>> run();

  audit_report take_report() {
    report_.ledger_entries = replay_.money_entries();
    report_.events = replay_.order_entries();
    return std::move(report_);
  }

 private:
  asio::awaitable<result<account_snapshot>> read_account();
  std::optional<account_totals> read_totals(const reply& acct);
  asio::awaitable<result<void>> replay_log(std::string end_id, std::set<std::string>* touched);
  void check_account(const account_snapshot& snapshot);
  asio::awaitable<result<void>> check_credit_refs(const account_snapshot& snapshot);
  asio::awaitable<result<void>> check_projections(std::vector<std::string> numbers,
                                                  const std::set<std::string>* may_have_moved,
                                                  std::string suffix);
  asio::awaitable<result<void>> scan_projections(std::string key, std::string name, bool hash);
  void note_unlogged(const std::string& number, const std::string& where);
  void check_order_no_entry(const std::string& field, const std::string& value);
  asio::awaitable<result<void>> settle_moved_orders();

  redis::connection& conn_;
  const merchant_keys keys_;
  const std::int64_t merchant_id_;
  audit_report report_;
  finding_sink out_;
  log_replay replay_;
  bool log_readable_ = true;  // false: nothing can be compared with the log (a finding says why)
  std::string replayed_to_;   // id of the last entry replayed, "" for none
  // Orders whose projections were ahead of the replay: read again after the later entries.
  std::set<std::string> moved_;
  // Order numbers projections name that the replay has not accepted (yet), and where.
  std::map<std::string, std::set<std::string>> unlogged_;
  // The order_no of each order checked (the log's, else its record's), for the `#` entries.
  std::map<std::string, std::string> order_nos_;
};

asio::awaitable<result<void>> merchant_audit::run() {
  // 1. The account and the end of the log at one instant.
  auto snapshot = co_await read_account();
  if (!snapshot) co_return snapshot.error();
  // 2. The log up to that instant: the money and every order's history.
  if (log_readable_ && !snapshot->last_id.empty()) {
    auto replayed = co_await replay_log(snapshot->last_id, nullptr);
    if (!replayed) co_return replayed.error();
  }
  // 3. The account against itself and against the replay.
  check_account(*snapshot);
  if (!log_readable_) co_return ok();  // the log is the truth: without it nothing else compares
  auto refs = co_await check_credit_refs(*snapshot);
  if (!refs) co_return refs.error();
  // 4. Each order the log accepted: its projections against its replay.
  std::vector<std::string> accepted;
  for (const auto& [number, order] : replay_.orders())
    if (order.accepted) accepted.push_back(number);
  report_.orders = static_cast<std::int64_t>(accepted.size());
  auto checked = co_await check_projections(std::move(accepted), nullptr, "");
  if (!checked) co_return checked.error();
  // 5. Every projection names an order of the log.
  auto scanned = co_await scan_projections(keys_.orders(), "o", true);
  if (scanned) scanned = co_await scan_projections(keys_.by_time(), "t", false);
  if (scanned) scanned = co_await scan_projections(keys_.work(), "work", false);
  if (!scanned) co_return scanned.error();
  // 6. What moved after the snapshot, against the log's later entries.
  co_return co_await settle_moved_orders();
}

asio::awaitable<result<account_snapshot>> merchant_audit::read_account() {
  auto answer = co_await snapshot_script().run(
      conn_, args(keys_.acct(), keys_.log(), keys_.crefs()), std::vector<std::string>());
  if (!answer) co_return answer.error();
  if (answer->is_error()) co_return refused("snapshot", *answer);
  account_snapshot snapshot;
  if (answer->type != reply::kind::array || answer->elements.size() != 3) {
    out_.add("", "reading the account gave an answer of unexpected shape");
    log_readable_ = false;
    co_return snapshot;
  }
  snapshot.totals = read_totals(answer->elements[0]);
  const reply& tail = answer->elements[1];
  if (tail.is_error()) {
    out_.add("", "the log is unreadable: " + q(tail.str));
    log_readable_ = false;
  } else if (is_string(tail)) {
    snapshot.last_id = tail.str;
  }
  const reply& refs = answer->elements[2];
  if (refs.is_error())
    out_.add("", "crefs is unreadable: " + q(refs.str));
  else if (refs.type == reply::kind::integer)
    snapshot.credit_refs = refs.integer;
  co_return snapshot;
}

std::optional<account_totals> merchant_audit::read_totals(const reply& acct) {
  if (acct.is_error()) {
    out_.add("", "acct is unreadable: " + q(acct.str));
    return std::nullopt;
  }
  if (acct.type != reply::kind::array || acct.elements.size() != 4) {
    out_.add("", "reading acct gave an answer of unexpected shape");
    return std::nullopt;
  }
  static constexpr std::array<std::string_view, 4> k_names = {"balance", "credits", "debits",
                                                              "refunds"};
  std::array<fen_t, 4> v{};
  bool readable = true;
  for (std::size_t i = 0; i < 4; ++i) {
    const reply& e = acct.elements[i];
    if (e.is_nil()) continue;  // a merchant never credited has no acct
    auto n = is_string(e) ? parse_int(e.str) : std::nullopt;
    if (!n) {
      out_.add("", "acct " + std::string(k_names[i]) + " is " + q(e.str) + ", not an integer");
      readable = false;
      continue;
    }
    v[i] = *n;
  }
  if (!readable) return std::nullopt;
  return account_totals{v[0], v[1], v[2], v[3]};
}

asio::awaitable<result<void>> merchant_audit::replay_log(std::string end_id,
                                                         std::set<std::string>* touched) {
  for (;;) {
    std::string start = replayed_to_.empty() ? std::string("-") : "(" + replayed_to_;
    auto page = co_await conn_.command(
        args("XRANGE", keys_.log(), std::move(start), end_id, "COUNT", k_page_entries_text));
    if (!page) co_return page.error();
    if (page->is_error()) {
      if (is_transient_refusal(page->str)) co_return refused("log", *page);
      out_.add("", "the log is unreadable: " + q(page->str));
      log_readable_ = false;
      co_return ok();
    }
    auto entries = order_events_from_reply(*page);
    if (!entries) {
      out_.add("", "the log does not read as a stream");
      log_readable_ = false;
      co_return ok();
    }
    for (const auto& e : *entries) {
      replay_.apply(e, touched);
      replayed_to_ = e.id;
    }
    if (entries->size() < k_page_entries) co_return ok();
  }
}

void merchant_audit::check_account(const account_snapshot& snapshot) {
  if (!snapshot.totals) return;
  const auto [balance, credits, debits, refunds] = *snapshot.totals;
  bool overflow = false;
  fen_t expected = credits;
  sub_checked(expected, debits, overflow);
  add_checked(expected, refunds, overflow);
  if (overflow || balance != expected)
    out_.add("", "acct balance " + fen(balance) + " is not credits " + fen(credits) + " - debits " +
                     fen(debits) + " + refunds " + fen(refunds));
  if (balance < 0) out_.add("", "acct balance " + fen(balance) + " is below 0");
  if (!log_readable_) return;
  const money_replay& m = replay_.money();
  fen_t replayed = m.credits;
  bool replay_overflow = m.overflow;
  sub_checked(replayed, m.debits, replay_overflow);
  add_checked(replayed, m.refunds, replay_overflow);
  if (replay_overflow) {
    out_.add("", "the log's amounts overflow 64 bits; its sums cannot be compared");
    return;
  }
  if (balance != replayed)
    out_.add("", "acct balance is " + fen(balance) + " but the log adds up to " + fen(replayed));
  if (credits != m.credits)
    out_.add("", "acct credits are " + fen(credits) + " but the log's credits add up to " +
                     fen(m.credits));
  if (debits != m.debits)
    out_.add("", "acct debits are " + fen(debits) + " but the log's accepted entries debit " +
                     fen(m.debits));
  if (refunds != m.refunds)
    out_.add("", "acct refunds are " + fen(refunds) + " but the log's refunds add up to " +
                     fen(m.refunds));
}

// `crefs` is written with each credit: it holds exactly the log's refs, with their amounts.
asio::awaitable<result<void>> merchant_audit::check_credit_refs(const account_snapshot& snapshot) {
  if (!snapshot.credit_refs) co_return ok();  // unreadable: a finding already
  const auto& refs = replay_.money().credit_refs;
  if (*snapshot.credit_refs != static_cast<std::int64_t>(refs.size()))
    out_.add("", "crefs holds " + std::to_string(*snapshot.credit_refs) +
                     " refs but the log credits " + std::to_string(refs.size()));
  auto it = refs.begin();
  while (it != refs.end()) {
    std::vector<std::string> command = args("HMGET", keys_.crefs());
    std::vector<std::pair<std::string, fen_t>> asked;
    for (; it != refs.end() && asked.size() < k_refs_per_read; ++it) {
      command.push_back(it->first);
      asked.emplace_back(it->first, it->second);
    }
    auto answer = co_await conn_.command(std::move(command));
    if (!answer) co_return answer.error();
    if (answer->type != reply::kind::array || answer->elements.size() != asked.size()) {
      if (answer->is_error() && is_transient_refusal(answer->str))
        co_return refused("crefs", *answer);
      out_.add("", "reading crefs gave an answer of unexpected shape");
      co_return ok();
    }
    for (std::size_t i = 0; i < asked.size(); ++i) {
      const reply& held = answer->elements[i];
      const auto& [ref, amount] = asked[i];
      if (held.is_nil())
        out_.add("", "the log credits ref " + q(ref) + " but crefs has no entry for it: a " +
                         "repeat would be credited again");
      else if (!is_string(held) || parse_int(held.str) != amount)
        out_.add("", "crefs holds " + q(held.str) + " for ref " + q(ref) +
                         " but the log credited " + fen(amount));
    }
  }
  co_return ok();
}

asio::awaitable<result<void>> merchant_audit::check_projections(
    std::vector<std::string> numbers, const std::set<std::string>* may_have_moved,
    std::string suffix) {
  for (std::size_t first = 0; first < numbers.size(); first += k_orders_per_read) {
    const std::size_t count = std::min(k_orders_per_read, numbers.size() - first);
    std::vector<std::string> argv;
    argv.reserve(2 * count);
    for (std::size_t i = first; i < first + count; ++i) {
      const order_replay& o = replay_.orders().at(numbers[i]);
      argv.push_back(numbers[i]);
      argv.push_back(o.facts ? order_no_field(o.facts->order_no) : std::string());
    }
    auto answer = co_await projections_script().run(
        conn_, args(keys_.orders(), keys_.by_time(), keys_.work()), std::move(argv));
    if (!answer) co_return answer.error();
    if (answer->is_error()) co_return refused("projections", *answer);
    if (answer->type != reply::kind::array || answer->elements.size() != count) {
      out_.add("", "reading orders' projections gave an answer of unexpected shape");
      co_return ok();
    }
    for (std::size_t i = 0; i < count; ++i) {
      const std::string& number = numbers[first + i];
      const reply& read = answer->elements[i];
      if (read.type != reply::kind::array || read.elements.size() != 4) {
        out_.add(number, "reading its projections gave an answer of unexpected shape");
        continue;
      }
      const bool may_move = !may_have_moved || may_have_moved->contains(number);
      auto verdict =
          compare_projections(number, merchant_id_, replay_.orders().at(number), read, may_move);
      if (verdict.moved) {
        moved_.insert(number);
        continue;
      }
      out_.add_all(number, std::move(verdict.problems), suffix);
      if (!verdict.order_no.empty()) order_nos_[number] = std::move(verdict.order_no);
    }
  }
  co_return ok();
}

asio::awaitable<result<void>> merchant_audit::scan_projections(std::string key, std::string name,
                                                               bool hash) {
  // SCAN returns every member present for the whole scan at least once; repeats do no harm.
  std::string cursor = "0";
  do {
    auto page = co_await conn_.command(
        args(hash ? "HSCAN" : "ZSCAN", key, cursor, "COUNT", k_scan_count_text));
    if (!page) co_return page.error();
    if (page->is_error()) {
      if (is_transient_refusal(page->str)) co_return refused("scan", *page);
      out_.add("", name + " is unreadable: " + q(page->str));
      co_return ok();
    }
    if (page->type != reply::kind::array || page->elements.size() != 2 ||
        !is_string(page->elements[0]) || page->elements[1].type != reply::kind::array) {
      out_.add("", "scanning " + name + " gave an answer of unexpected shape");
      co_return ok();
    }
    cursor = page->elements[0].str;
    const auto& members = page->elements[1].elements;
    for (std::size_t i = 0; i + 1 < members.size(); i += 2) {  // member/field, score/value
      const std::string& member = members[i].str;
      if (hash && member.starts_with('#'))
        check_order_no_entry(member, members[i + 1].str);
      else if (!replay_.accepted(member))
        note_unlogged(member, name);
    }
  } while (cursor != "0");
  co_return ok();
}

void merchant_audit::note_unlogged(const std::string& number, const std::string& where) {
  unlogged_[number].insert(where);
}

// `#<order_no>` -> `<order_number>:<fingerprint>`, of an order the log accepted with that order_no.
void merchant_audit::check_order_no_entry(const std::string& field, const std::string& value) {
  const auto sep = value.find(':');
  if (sep == std::string::npos || sep == 0) {
    out_.add("",
             "o's entry " + q(field) + " is " + q(value) + ", not <order_number>:<fingerprint>");
    return;
  }
  const std::string number = value.substr(0, sep);
  const std::string where = "o's entry " + q(field);
  if (!replay_.accepted(number)) return note_unlogged(number, where);
  // Not known for an order that moved since the snapshot (checked later) or has no record.
  auto order_no = order_nos_.find(number);
  if (order_no != order_nos_.end() && order_no_field(order_no->second) != field)
    out_.add(number, where + " names it but its order_no is " + q(order_no->second));
}

asio::awaitable<result<void>> merchant_audit::settle_moved_orders() {
  for (int round = 0; round < k_recheck_rounds && (!moved_.empty() || !unlogged_.empty());
       ++round) {
    // The entries written since the last replay. An order none of them names has not moved
    // since: a record of it ahead of the replay is a real disagreement.
    std::set<std::string> touched;
    auto replayed = co_await replay_log("+", &touched);
    if (!replayed) co_return replayed.error();
    if (!log_readable_) co_return ok();
    // Each projection was read before this replay began, so an order it names that the log
    // accepted at all is in the log by now.
    for (const auto& [number, places] : unlogged_) {
      if (replay_.accepted(number)) continue;
      std::string where;
      std::size_t left = places.size();
      for (const auto& place : places) {
        where += place;
        --left;
        if (left > 1) where += ", ";
        if (left == 1) where += " and ";
      }
      out_.add(number, "in " + where + " but the log has no accepted entry of the order");
    }
    unlogged_.clear();
    std::vector<std::string> again(moved_.begin(), moved_.end());
    moved_.clear();
    auto checked = co_await check_projections(std::move(again), &touched, "");
    if (!checked) co_return checked.error();
  }
  const std::set<std::string> none;
  std::vector<std::string> still(moved_.begin(), moved_.end());
  moved_.clear();
  co_return co_await check_projections(std::move(still), &none,
                                       " (the order kept moving during the audit)");
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
