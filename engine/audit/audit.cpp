#include "engine/audit/audit.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

#include "engine/audit/books_checks.hpp"
#include "engine/audit/books_reads.hpp"
#include "engine/audit/finding_sink.hpp"
#include "engine/audit/log_replay.hpp"
#include "engine/audit/stored_books.hpp"
#include "engine/store/ledger_scripts.hpp"

namespace topup::engine {

namespace {

namespace asio = boost::asio;
using boost::system::result;

// How often an order that moved after the snapshot is read again, after the log's later entries,
// before its disagreement counts: an order rarely moves more than a few times in a second.
constexpr int k_recheck_rounds = 4;

// How often one merchant's audit starts again because a trim removed entries it had still to
// read (the trimmer works far behind the log's end, so the replay normally outruns it).
constexpr int k_checkpoint_attempts = 3;

constexpr std::array<projection_key, 3> k_scanned_keys = {
    projection_key::orders, projection_key::by_time, projection_key::work};

result<void> ok() { return {}; }

/// The audit of one merchant, as the steps audit.hpp lists: reads through books_reader, replays
/// through log_replay, compares through books_checks. Runs on the connection's thread.
class merchant_audit {
 public:
  merchant_audit(redis::connection& conn, std::string_view prefix, std::int64_t merchant_id)
      : merchant_id_(merchant_id),
        out_(report_, merchant_id),
        reader_(conn, prefix, merchant_id, out_),
        replay_(merchant_id, out_) {
    report_.merchants = 1;
  }
  merchant_audit(const merchant_audit&) = delete;
  merchant_audit& operator=(const merchant_audit&) = delete;

  asio::awaitable<result<void>> run();

  audit_report take_report() {
    report_.ledger_entries = replay_.money_entries();
    report_.events = replay_.order_entries();
    if (checkpoint_) {
      // Orders accepted before the checkpoint were archived: the trim keeps every order in `t`.
      report_.orders += checkpoint_->orders;
      report_.archived += checkpoint_->orders;
      report_.checkpointed_orders = checkpoint_->orders;
      report_.trimmed_entries = checkpoint_->entries;
    }
    return std::move(report_);
  }

  /// Whether a trim overtook the replay (removed entries it had still to read): then what the
  /// audit found may be the trim's doing, and it must start again.
  bool overtaken() const noexcept { return overtaken_; }

 private:
  asio::awaitable<result<void>> replay_log(std::string end_id, std::set<std::string>* touched);
  asio::awaitable<result<void>> check_not_overtaken(std::string read_from);
  void check_account(const account_snapshot& snapshot);
  asio::awaitable<result<void>> check_credit_refs(const account_snapshot& snapshot);
  asio::awaitable<result<void>> scan_trimmed_refs();
  void drop_replayed_refs();
  std::vector<std::string> accepted_orders();
  asio::awaitable<result<void>> check_projections(std::vector<std::string> numbers,
                                                  const std::set<std::string>* may_have_moved,
                                                  std::string suffix);
  void check_one_order(const std::string& number, const order_projections& read, bool may_move,
                       const std::string& suffix);
  asio::awaitable<result<void>> scan_projections(projection_key key);
  asio::awaitable<result<void>> settle_moved_orders();
  std::vector<std::string> take_moved();

  const std::int64_t merchant_id_;
  audit_report report_;
  finding_sink out_;
  books_reader reader_;
  log_replay replay_;
  projection_scan scan_;
  bool log_readable_ = true;  // false: nothing can be compared with the log (a finding says why)
  std::string replayed_to_;   // id of the last entry replayed, "" for none
  // Orders whose projections were ahead of the replay: read again after the later entries.
  std::set<std::string> moved_;
  std::optional<log_checkpoint> checkpoint_;  // the trimmed log's, as the snapshot read it
  std::string checkpoint_id_;                 // its position as read, "" for none
  bool overtaken_ = false;  // a trim removed entries the replay had still to read: start again
  // After a trimmed log: refs of `crefs` the replay has not credited (yet), ref -> value.
  std::map<std::string, std::string> trimmed_refs_;
};

asio::awaitable<result<void>> merchant_audit::run() {
  // 1. The account and the end of the log at one instant.
  auto snapshot = co_await reader_.read_snapshot();
  if (!snapshot) co_return snapshot.error();
  log_readable_ = snapshot->log_readable;
  checkpoint_id_ = snapshot->checkpoint_id;
  if (snapshot->checkpoint) {
    // A trimmed log: replayed from its checkpoint, whose totals stand for the entries before it.
    checkpoint_ = snapshot->checkpoint;
    check_checkpoint(*checkpoint_, snapshot->first_id, out_);
    replay_.seed(*checkpoint_);
  }
  // 2. The log up to that instant: the money and every order's history.
  if (log_readable_ && !snapshot->last_id.empty()) {
    auto replayed = co_await replay_log(snapshot->last_id, nullptr);
    if (!replayed) co_return replayed.error();
    if (overtaken_) co_return ok();
  }
  // 3. The account against itself and against the replay; `crefs` against the log's credits.
  check_account(*snapshot);
  if (!log_readable_) co_return ok();  // the log is the truth: without it nothing else compares
  auto refs = co_await check_credit_refs(*snapshot);
  if (!refs) co_return refs.error();
  // 4. Each order the log accepted: its projections against its replay.
  auto checked = co_await check_projections(accepted_orders(), nullptr, std::string());
  if (!checked) co_return checked.error();
  // 5. Every projection names an order of the log (and after a trim, crefs' other refs).
  for (projection_key key : k_scanned_keys) {
    auto scanned = co_await scan_projections(key);
    if (!scanned) co_return scanned.error();
  }
  if (checkpoint_) {
    auto scanned = co_await scan_trimmed_refs();
    if (!scanned) co_return scanned.error();
  }
  // 6. What moved after the snapshot, against the log's later entries.
  co_return co_await settle_moved_orders();
}

asio::awaitable<result<void>> merchant_audit::replay_log(std::string end_id,
                                                         std::set<std::string>* touched) {
  for (;;) {
    // From the start of the log, or of what its trim left; then after the last entry replayed.
    std::string start = !replayed_to_.empty() ? "(" + replayed_to_
                        : checkpoint_         ? checkpoint_->id
                                              : std::string("-");
    std::string read_from = !replayed_to_.empty() ? replayed_to_ : checkpoint_id_;
    auto page = co_await reader_.read_log_page(std::move(start), end_id);
    if (!page) co_return page.error();
    auto intact = co_await check_not_overtaken(std::move(read_from));
    if (!intact) co_return intact.error();
    if (overtaken_) co_return ok();
    if (!*page) {
      log_readable_ = false;
      co_return ok();
    }
    for (const auto& e : **page) {
      std::string named = replay_.apply(e);
      if (touched && !named.empty()) touched->insert(std::move(named));
      replayed_to_ = e.id;
    }
    if ((*page)->size() < books_reader::k_log_page_entries) co_return ok();
  }
}

void merchant_audit::check_account(const account_snapshot& snapshot) {
  if (!snapshot.totals) return;  // unreadable: a finding already
  check_account_adds_up(*snapshot.totals, out_);
  if (log_readable_) check_account_against_log(*snapshot.totals, replay_.money(), out_);
}

// `crefs` is written with each credit: it holds exactly the log's refs, with their amounts.
asio::awaitable<result<void>> merchant_audit::check_credit_refs(const account_snapshot& snapshot) {
  if (!snapshot.credit_refs) co_return ok();  // unreadable: a finding already
  check_credit_ref_count(*snapshot.credit_refs, replay_.money(),
                         checkpoint_ ? checkpoint_->refs : 0, out_);
  const auto& refs = replay_.money().credit_refs;
  auto it = refs.begin();
  while (it != refs.end()) {
    std::vector<std::pair<std::string, fen_t>> asked;
    std::vector<std::string> names;
    for (; it != refs.end() && asked.size() < books_reader::k_refs_per_read; ++it) {
      asked.emplace_back(it->first, it->second);
      names.push_back(it->first);
    }
    auto held = co_await reader_.read_credit_refs(std::move(names));
    if (!held) co_return held.error();
    if (!*held) co_return ok();
    for (std::size_t i = 0; i < asked.size(); ++i)
      check_credit_ref(asked[i].first, asked[i].second, (**held)[i], out_);
  }
  co_return ok();
}

std::vector<std::string> merchant_audit::accepted_orders() {
  std::vector<std::string> accepted;
  for (const auto& [number, order] : replay_.orders())
    if (order.accepted) accepted.push_back(number);
  report_.orders = static_cast<std::int64_t>(accepted.size());
  return accepted;
}

// In pages: each order's projections read at one instant, then compared with its replay. With
// `may_have_moved` (null: every order), an order of that set ahead of the replay is set aside.
asio::awaitable<result<void>> merchant_audit::check_projections(
    std::vector<std::string> numbers, const std::set<std::string>* may_have_moved,
    std::string suffix) {
  for (std::size_t first = 0; first < numbers.size(); first += books_reader::k_orders_per_read) {
    const std::size_t count = std::min(books_reader::k_orders_per_read, numbers.size() - first);
    std::vector<std::pair<std::string, std::string>> asked;
    for (std::size_t i = first; i < first + count; ++i) {
      const order_replay& o = replay_.orders().at(numbers[i]);
      asked.emplace_back(numbers[i], o.facts ? order_no_field(o.facts->order_no) : std::string());
    }
    auto read = co_await reader_.read_projections(std::move(asked));
    if (!read) co_return read.error();
    if (!*read) co_return ok();
    for (std::size_t i = 0; i < count; ++i) {
      const std::string& number = numbers[first + i];
      const auto& one = (**read)[i];
      if (!one) continue;  // an answer of unexpected shape: a finding already
      const bool may_move = !may_have_moved || may_have_moved->contains(number);
      check_one_order(number, *one, may_move, suffix);
    }
  }
  co_return ok();
}

void merchant_audit::check_one_order(const std::string& number, const order_projections& read,
                                     bool may_move, const std::string& suffix) {
  auto verdict =
      check_order_projections(number, merchant_id_, replay_.orders().at(number), read, may_move);
  if (verdict.moved) {
    moved_.insert(number);
    return;
  }
  if (verdict.archived) {
    ++report_.archived;
    return;
  }
  out_.add_all(number, std::move(verdict.problems), suffix);
  if (!verdict.order_no.empty()) scan_.note_order_no(number, std::move(verdict.order_no));
}

asio::awaitable<result<void>> merchant_audit::scan_projections(projection_key key) {
  // SCAN returns every member present for the whole scan at least once; repeats do no harm.
  std::string cursor = "0";
  do {
    auto page = co_await reader_.read_scan_page(key, cursor);
    if (!page) co_return page.error();
    if (!*page) co_return ok();
    cursor = (*page)->cursor;
    for (const auto& [member, value] : (*page)->members) {
      if (key == projection_key::orders)
        scan_.check_orders_field(member, value, replay_, out_);
      else
        scan_.check_index_member(key_name(key), member, replay_);
    }
  } while (cursor != "0");
  co_return ok();
}

// The refs of `crefs` the replay does not credit, each once (SCAN may repeat one): the
// checkpoint's, or credited after the snapshot (settle_moved_orders drops those).
asio::awaitable<result<void>> merchant_audit::scan_trimmed_refs() {
  std::string cursor = "0";
  do {
    auto page = co_await reader_.read_scan_page(projection_key::credit_refs, cursor);
    if (!page) co_return page.error();
    if (!*page) {
      checkpoint_->refs = -1;  // unreadable (a finding): compare nothing
      co_return ok();
    }
    cursor = (*page)->cursor;
    for (auto& [ref, value] : (*page)->members) trimmed_refs_.emplace(ref, std::move(value));
  } while (cursor != "0");
  drop_replayed_refs();
  co_return ok();
}

void merchant_audit::drop_replayed_refs() {
  const auto& replayed = replay_.money().credit_refs;
  std::erase_if(trimmed_refs_, [&](const auto& ref) { return replayed.contains(ref.first); });
}

asio::awaitable<result<void>> merchant_audit::settle_moved_orders() {
  auto refs_disagree = [this] {
    return checkpoint_ && checkpoint_->refs >= 0 &&
           !trimmed_refs_problem(trimmed_refs_, *checkpoint_).empty();
  };
  for (int round = 0;
       round < k_recheck_rounds && (!moved_.empty() || scan_.waiting() || refs_disagree());
       ++round) {
    // The entries written since the last replay. An order none of them names has not moved
    // since: a record of it ahead of the replay is a real disagreement.
    std::set<std::string> touched;
    auto replayed = co_await replay_log("+", &touched);
    if (!replayed) co_return replayed.error();
    if (!log_readable_ || overtaken_) co_return ok();
    // Each projection was read before this replay began, so an order it names that the log
    // accepted at all is in the log by now.
    scan_.report_unlogged(replay_, out_);
    drop_replayed_refs();
    auto checked = co_await check_projections(take_moved(), &touched, std::string());
    if (!checked) co_return checked.error();
  }
  if (refs_disagree()) out_.add("", trimmed_refs_problem(trimmed_refs_, *checkpoint_));
  const std::set<std::string> none;
  const std::string kept_moving = " (the order kept moving during the audit)";
  co_return co_await check_projections(take_moved(), &none, kept_moving);
}

// After a page of the log read from after `read_from` (the last entry replayed; for the first
// page the checkpoint's position, itself included; "" the log's start): the trim removes the
// entries below the checkpoint's position, so if that moved past `read_from` since the snapshot,
// entries the page should hold may be gone. A trim behind the replay takes nothing it needs.
asio::awaitable<result<void>> merchant_audit::check_not_overtaken(std::string read_from) {
  auto now = co_await reader_.read_checkpoint_id();
  if (!now) co_return now.error();
  if (*now == checkpoint_id_) co_return ok();
  const auto position = parse_stream_id(*now);
  const auto from = parse_stream_id(read_from);
  if (!position || !from || *from < *position) overtaken_ = true;
  co_return ok();
}

std::vector<std::string> merchant_audit::take_moved() {
  std::vector<std::string> moved(moved_.begin(), moved_.end());
  moved_.clear();
  return moved;
}

}  // namespace

std::string to_string(const audit_finding& finding) {
  std::string line = "merchant " + std::to_string(finding.merchant_id);
  if (!finding.order_number.empty()) line += " order " + quoted_value(finding.order_number);
  line += ": ";
  line += finding.problem;
  return line;
}

void audit_report::merge(audit_report other) {
  merchants += other.merchants;
  orders += other.orders;
  archived += other.archived;
  checkpointed_orders += other.checkpointed_orders;
  trimmed_entries += other.trimmed_entries;
  ledger_entries += other.ledger_entries;
  events += other.events;
  findings_not_listed += other.findings_not_listed;
  findings.insert(findings.end(), std::make_move_iterator(other.findings.begin()),
                  std::make_move_iterator(other.findings.end()));
}

asio::awaitable<result<audit_report>> audit_merchant(redis::connection& conn, std::string prefix,
                                                     std::int64_t merchant_id) {
  for (int attempt = 1;; ++attempt) {
    merchant_audit audit(conn, prefix, merchant_id);
    auto done = co_await audit.run();
    if (!done) co_return done.error();
    if (!audit.overtaken()) co_return audit.take_report();
    // A trim removed entries the audit had still to read: what it found may be that.
    if (attempt == k_checkpoint_attempts) {
      audit_report report;
      report.merchants = 1;
      report.findings.push_back(
          {merchant_id, "",
           "the log was trimmed past the audit's reading in each of " +
               std::to_string(k_checkpoint_attempts) +
               " attempts: not audited, run the audit again"});
      co_return report;
    }
  }
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
