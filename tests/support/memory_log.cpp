#include "tests/support/memory_log.hpp"

#include <algorithm>

#include "engine/support/assert.hpp"
#include "engine/support/errc.hpp"

namespace topup::test {

using engine::errc;
using engine::order_record;
using engine::order_status;
using result_void = boost::system::result<void>;

namespace {

engine::field_pairs accepted_fields(const order_record& r, engine::fen_t balance) {
  engine::field_pairs f;
  f.emplace_back("to", std::to_string(engine::to_int(r.status)));
  f.emplace_back("amount", std::to_string(r.cost_fen));
  f.emplace_back("bal", std::to_string(balance));
  return f;
}

// Built outside the coroutines: GCC 12 warns falsely (array-bounds) on emplace_back inside them.
engine::field_pairs into_failed_fields(order_status from, const std::string& why) {
  engine::field_pairs f;
  f.emplace_back("f", std::to_string(engine::to_int(from)));
  f.emplace_back("t", "3");
  f.emplace_back("why", why);
  return f;
}

engine::field_pairs refund_fields(engine::fen_t amount, engine::fen_t balance) {
  engine::field_pairs f;
  f.emplace_back("f", "3");
  f.emplace_back("t", "4");
  f.emplace_back("amount", std::to_string(amount));
  f.emplace_back("bal", std::to_string(balance));
  return f;
}

engine::order_event shown_event(const memory_log::entry& e, std::size_t seq) {
  engine::order_event shown;
  shown.id = std::to_string(e.at_ms) + "-" + std::to_string(seq);
  shown.fields.emplace_back("type", e.type == "step" ? "transition" : e.type);
  shown.fields.emplace_back("at", std::to_string(e.at_ms));
  for (const auto& f : e.fields) shown.fields.push_back(f);
  return shown;
}

// Redis's order of the `work` set as recovery reads it (order_log::active_orders): the highest
// score (-created_at: the oldest) first, one score's numbers greatest first.
bool before_in_scan(std::int64_t score_a, const std::string& a, std::int64_t score_b,
                    const std::string& b) {
  return score_a != score_b ? score_a > score_b : a > b;
}

}  // namespace

engine::active_page memory_log::active_page_of(const std::map<key, std::int64_t>& work,
                                               std::int64_t merchant_id,
                                               const engine::active_cursor& after,
                                               std::int64_t limit) {
  std::vector<std::pair<std::int64_t, std::string>> found;  // score, number
  for (const auto& [k, score] : work)
    if (k.first == merchant_id && score < 0) found.emplace_back(score, k.second);
  std::ranges::sort(found, [](const auto& a, const auto& b) {
    return before_in_scan(a.first, a.second, b.first, b.second);
  });
  auto from = found.begin();
  if (!after.number.empty())
    from = std::ranges::find_if(found, [&after](const auto& e) {
      return before_in_scan(after.score, after.number, e.first, e.second);
    });
  engine::active_page page;
  page.next = after;
  auto it = from;
  for (; it != found.end() && static_cast<std::int64_t>(page.numbers.size()) < limit; ++it)
    page.numbers.push_back(it->second);
  page.end = it == found.end();
  if (!page.numbers.empty()) {
    const auto& last = *std::prev(it);
    page.next.score = last.first;
    page.next.number = last.second;
    page.next.at_score = std::ranges::count_if(
        found.begin(), it, [&last](const auto& e) { return e.first == last.first; });
  }
  return page;
}

engine::order_log::order_reads memory_log::reads_of(const std::map<key, order_record>& orders,
                                                    std::int64_t merchant_id,
                                                    const std::vector<std::string>& numbers) {
  order_reads out;
  for (const auto& number : numbers) {
    auto it = orders.find({merchant_id, number});
    if (it == orders.end())
      out.push_back(boost::system::result<order_record>(errc::order_not_found));
    else
      out.push_back(it->second);
  }
  return out;
}

void memory_log::set_balance(std::int64_t merchant_id, engine::fen_t balance) {
  auto& a = accounts_[merchant_id];
  a.credits += balance - a.balance;
  a.balance = balance;
}

void memory_log::fail_writes(boost::system::error_code error, int n) {
  fail_with_ = error;
  fail_left_ = n;
}

void memory_log::fail_reads(boost::system::error_code error, int n, int after) {
  fail_reads_with_ = error;
  fail_reads_left_ = n;
  reads_before_failing_ = after;
}

std::optional<boost::system::error_code> memory_log::read_fault() {
  if (fail_reads_left_ <= 0) return std::nullopt;
  if (reads_before_failing_ > 0) {
    --reads_before_failing_;
    return std::nullopt;
  }
  --fail_reads_left_;
  return fail_reads_with_;
}

std::optional<boost::system::error_code> memory_log::fault() {
  ++writes_;
  if (fail_left_ <= 0) return std::nullopt;
  --fail_left_;
  return fail_with_;
}

std::optional<order_record> memory_log::peek(std::int64_t merchant_id,
                                             const std::string& number) const {
  auto it = orders_.find({merchant_id, number});
  if (it == orders_.end()) return std::nullopt;
  return it->second;
}

std::vector<order_record> memory_log::orders(std::int64_t merchant_id) const {
  std::vector<order_record> out;
  for (const auto& [k, r] : orders_)
    if (k.first == merchant_id) out.push_back(r);
  return out;
}

void memory_log::append(std::int64_t merchant_id, std::string type, const std::string& number,
                        std::int64_t version, engine::field_pairs fields) {
  logs_[merchant_id].push_back(
      entry{clock_.wall_ms(), std::move(type), number, version, std::move(fields)});
}

void memory_log::apply_work(const key& k, engine::work_change work) {
  using kind = engine::work_change::kind;
  if (work.what == kind::remove) work_.erase(k);
  else if (work.what == kind::set) work_[k] = work.score;
}

boost::asio::awaitable<boost::system::result<engine::accept_result>> memory_log::accept(
    order_record record, std::int64_t now_ms, engine::field_pairs match) {
  if (!engine::form_accepted_record(record, now_ms, std::move(match))) co_return errc::internal;
  const auto failure = fault();
  if (failure && *failure != errc::outcome_unknown) co_return *failure;
  const std::int64_t m = record.merchant_id;
  auto& account = accounts_[m];
  const key by_no{m, record.order_no};
  if (auto seen = order_nos_.find(by_no); seen != order_nos_.end()) {
    if (seen->second.second != record.fingerprint) co_return errc::order_no_conflict;
    co_return engine::accept_result{true, seen->second.first, account.balance};
  }
  const key k{m, record.order_number};
  if (orders_.contains(k)) co_return errc::order_number_taken;
  if (account.balance < record.cost_fen) co_return errc::insufficient_balance;

  account.balance -= record.cost_fen;
  account.debits += record.cost_fen;
  append(m, "accepted", record.order_number, 1, accepted_fields(record, account.balance));
  order_nos_[by_no] = {record.order_number, record.fingerprint};
  work_[k] = -now_ms;
  engine::accept_result accepted{false, record.order_number, account.balance};
  orders_.emplace(k, std::move(record));
  if (failure) co_return *failure;  // applied, the answer lost
  co_return accepted;
}

boost::asio::awaitable<result_void> memory_log::commit(order_record& order, order_record after,
                                                       std::vector<engine::log_event> events,
                                                       engine::work_change work) {
  TOPUP_ASSERT(!events.empty());
  TOPUP_ASSERT(after.event_count == order.event_count + static_cast<std::int64_t>(events.size()));
  const auto failure = fault();
  if (failure && *failure != errc::outcome_unknown) co_return *failure;
  const key k{order.merchant_id, order.order_number};
  auto it = orders_.find(k);
  if (it == orders_.end()) co_return errc::order_not_found;
  order_record& cur = it->second;
  if (cur.event_count != order.event_count) co_return errc::stale_status;
  // What the append script refuses: money fields changed, status 4 entered or left.
  if (after.cost_fen != cur.cost_fen || after.refunded != cur.refunded ||
      (after.status == order_status::refunded) != (cur.status == order_status::refunded))
    co_return errc::storage_protocol;
  std::int64_t version = cur.event_count;
  for (auto& e : events) append(k.first, std::move(e.type), k.second, ++version, std::move(e.fields));
  cur = after;
  apply_work(k, work);
  if (failure) co_return *failure;
  order = std::move(after);
  co_return result_void{};
}

boost::asio::awaitable<result_void> memory_log::refund(const order_record& order,
                                                       const order_record& after,
                                                       engine::work_change work) {
  const auto failure = fault();
  if (failure && *failure != errc::outcome_unknown) co_return *failure;
  const key k{order.merchant_id, order.order_number};
  auto it = orders_.find(k);
  if (it == orders_.end()) co_return errc::order_not_found;
  order_record& cur = it->second;
  if (cur.event_count != order.event_count || cur.refunded) co_return errc::stale_status;
  const bool from_failed = cur.status == order_status::failed;
  TOPUP_ASSERT(engine::refund_starts_from(cur.status));
  TOPUP_ASSERT(after.status == order_status::refunded && after.refunded);
  TOPUP_ASSERT(after.event_count == cur.event_count + (from_failed ? 1 : 2));
  auto& account = accounts_[k.first];
  account.balance += cur.cost_fen;
  account.refunds += cur.cost_fen;
  std::int64_t version = cur.event_count;
  if (!from_failed)
    append(k.first, "step", k.second, ++version, into_failed_fields(cur.status, after.reason));
  append(k.first, "refund", k.second, ++version, refund_fields(cur.cost_fen, account.balance));
  cur = after;
  apply_work(k, work);
  if (failure) co_return *failure;
  co_return result_void{};
}

boost::asio::awaitable<boost::system::result<order_record>> memory_log::get(
    std::int64_t merchant_id, std::string order_number) {
  if (auto error = read_fault()) co_return *error;
  auto r = peek(merchant_id, order_number);
  if (!r) co_return errc::order_not_found;
  co_return std::move(*r);
}

boost::asio::awaitable<boost::system::result<engine::order_log::order_no_entry>>
memory_log::order_no_entry_of(std::int64_t merchant_id, std::string order_no) {
  auto it = order_nos_.find({merchant_id, order_no});
  if (it == order_nos_.end()) co_return errc::order_not_found;
  co_return order_no_entry{it->second.first, it->second.second};
}

boost::asio::awaitable<boost::system::result<engine::account_totals>> memory_log::account(
    std::int64_t merchant_id) {
  co_return accounts_[merchant_id];
}

boost::asio::awaitable<boost::system::result<engine::order_page>> memory_log::list(
    std::int64_t merchant_id, std::int64_t start_ms, std::int64_t end_ms,
    std::optional<order_status> status, std::int64_t page, std::int64_t page_size) {
  std::vector<order_record> matching;
  for (const auto& [k, r] : orders_)
    if (k.first == merchant_id && r.created_at_ms >= start_ms && r.created_at_ms <= end_ms &&
        (!status || r.status == *status))
      matching.push_back(r);
  std::ranges::sort(matching, [](const auto& a, const auto& b) {
    return a.created_at_ms > b.created_at_ms;
  });
  engine::order_page out;
  out.total = static_cast<std::int64_t>(matching.size());
  if (page < 1 || page_size < 1) co_return out;
  for (auto i = (page - 1) * page_size; i < out.total && i < page * page_size; ++i)
    out.orders.push_back(matching[static_cast<std::size_t>(i)]);
  co_return out;
}

boost::asio::awaitable<boost::system::result<engine::active_page>> memory_log::active_orders(
    std::int64_t merchant_id, engine::active_cursor after, std::int64_t limit) {
  TOPUP_ASSERT(limit > 0);
  if (active_read_hook_) active_read_hook_(merchant_id, after);
  if (auto f = read_fault()) co_return *f;
  co_return active_page_of(work_, merchant_id, after, limit);
}

boost::asio::awaitable<boost::system::result<engine::order_log::order_reads>> memory_log::get_many(
    std::int64_t merchant_id, std::vector<std::string> numbers) {
  most_records_read_ = std::max(most_records_read_, numbers.size());
  if (auto f = read_fault()) co_return *f;
  co_return reads_of(orders_, merchant_id, numbers);
}

boost::asio::awaitable<boost::system::result<std::vector<std::string>>> memory_log::due_callbacks(
    std::int64_t merchant_id, std::int64_t now_ms, std::int64_t limit) {
  std::vector<std::pair<std::int64_t, std::string>> found;  // due, number
  for (const auto& [k, score] : work_)
    if (k.first == merchant_id && score > 0 && score <= now_ms) found.emplace_back(score, k.second);
  std::ranges::sort(found);
  std::vector<std::string> out;
  for (auto& [due, number] : found) {
    if (static_cast<std::int64_t>(out.size()) >= limit) break;
    out.push_back(std::move(number));
  }
  co_return out;
}

boost::asio::awaitable<boost::system::result<std::vector<engine::order_event>>> memory_log::events(
    std::int64_t merchant_id, std::string order_number) {
  std::vector<engine::order_event> out;
  std::size_t seq = 0;
  for (const auto& e : logs_[merchant_id]) {
    ++seq;
    if (e.order_number == order_number) out.push_back(shown_event(e, seq));
  }
  co_return out;
}

boost::asio::awaitable<result_void> memory_log::flag_unresolved(std::int64_t merchant_id,
                                                                std::string order_number,
                                                                std::int64_t /*since_ms*/) {
  unresolved_.insert({merchant_id, std::move(order_number)});
  co_return result_void{};
}

boost::asio::awaitable<result_void> memory_log::clear_unresolved(std::int64_t merchant_id,
                                                                 std::string order_number) {
  unresolved_.erase({merchant_id, std::move(order_number)});
  co_return result_void{};
}

}  // namespace topup::test
