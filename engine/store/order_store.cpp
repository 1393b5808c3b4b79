#include "engine/store/order_store.hpp"

#include "engine/redis/command.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <string_view>
#include <system_error>
#include <utility>

#include "engine/support/assert.hpp"
#include "engine/support/errc.hpp"
#include "engine/store/ledger_scripts.hpp"
#include "engine/support/log.hpp"

namespace topup::engine {

namespace {

using boost::system::error_code;
using redis::reply;

using redis::args;
using redis::is_string;
using redis::is_transient_refusal;
using redis::parse_int;

// A number the scripts answer as a decimal string (or Redis as an integer).
std::optional<std::int64_t> reply_int(const reply& r) noexcept {
  if (r.type == reply::kind::integer) return r.integer;
  if (is_string(r)) return parse_int(r.str);
  return std::nullopt;
}


// The first element of a script's answer: "ok", "dup", "stale", ...
std::string_view outcome(const reply& r) noexcept {
  if (r.type != reply::kind::array || r.elements.empty() || !is_string(r.elements[0])) return {};
  return r.elements[0].str;
}

boost::system::result<order_record> record_or_protocol(std::string_view operation,
                                                       const reply& packed) {
  if (!is_string(packed)) return unexpected_store_reply(operation, packed);
  auto record = unpack_order(packed.str);
  if (!record)
    logger("engine")->error("store op={} malformed packed record ({} bytes)", operation,
                            packed.str.size());
  return record;
}

// The order's fields as the accepted event shows them (the v1 field names).
void add_record_fields(field_pairs& out, const order_record& r) {
  out.emplace_back("order_number", r.order_number);
  out.emplace_back("order_no", r.order_no);
  out.emplace_back("merchant_id", std::to_string(r.merchant_id));
  out.emplace_back("store_id", r.store_id);
  out.emplace_back("mobile", r.mobile);
  out.emplace_back("carrier", std::string(carrier_code(r.carrier)));
  out.emplace_back("money", std::to_string(r.money_yuan));
  out.emplace_back("recharge_type", std::to_string(r.recharge_type));
  out.emplace_back("notify_url", r.notify_url);
  out.emplace_back("change", r.change ? "1" : "0");
  out.emplace_back("source", r.source);
  out.emplace_back("fingerprint", r.fingerprint);
  out.emplace_back("cost", std::to_string(r.cost_fen));
  for (const auto& pair : r.extra) out.push_back(pair);
}

// An accept into 7 started attempt 1 (the order's first tried channel) at its creation: the
// accepted event shows it as a 6->7 step would.
void add_first_attempt_fields(field_pairs& out, const order_record& r) {
  if (r.attempt.tried.empty()) return;
  out.emplace_back("channel", r.attempt.tried.front());
  out.emplace_back("attempts", "1");
  out.emplace_back("attempt_id", r.order_number + "-1");
  out.emplace_back("tried", r.attempt.tried.front());
  out.emplace_back("matched_at", std::to_string(r.created_at_ms));
}

// A log entry as the admin view shows an order's event: type from to reason at, then the rest
// (the accepted event with the order's fields, from its record).
order_event shown_event(order_event raw, const order_record& order) {
  order_event shown;
  shown.id = raw.id;
  auto get = [&raw](std::string_view name) { return std::string(raw.field(name).value_or("")); };
  const std::string type = get("e");
  const std::string raw_to = get("to");
  shown.fields.emplace_back("type", type == "step" ? "transition" : type);
  if (type == "accepted") {
    shown.fields.emplace_back("from", "0");
    shown.fields.emplace_back("to", get("to"));
    shown.fields.emplace_back("reason", "");
  } else if (raw.field("f")) {
    shown.fields.emplace_back("from", get("f"));
    shown.fields.emplace_back("to", get("t"));
    shown.fields.emplace_back("reason", get("why"));
  }
  shown.fields.emplace_back("at", std::to_string(raw.at_ms()));
  for (auto& [name, value] : raw.fields) {
    if (name == "e" || name == "o" || name == "f" || name == "t" || name == "why" ||
        name == "to")
      continue;
    shown.fields.emplace_back(std::move(name), std::move(value));
  }
  if (type == "accepted") {
    add_record_fields(shown.fields, order);
    if (raw_to == "7") add_first_attempt_fields(shown.fields, order);
  }
  return shown;
}

// A write script's refusals that every write shares.
error_code refusal(std::string_view operation, const reply& r) {
  const auto word = outcome(r);
  if (word == "stale") return errc::stale_status;
  if (word == "notfound") return errc::order_not_found;
  if (word == "fenced") {
    logger("engine")->error("store op={} refused: this instance is fenced out (its lease epoch is "
                            "no longer current)",
                            operation);
    return errc::fenced;
  }
  return unexpected_store_reply(operation, r);
}

constexpr std::int64_t k_scan_chunk = 1000;
constexpr std::int64_t k_scan_chunks_max = 100;  // 100,000 entries per request at most

}  // namespace

error_code unexpected_store_reply(std::string_view operation, const reply& r) {
  if (r.is_error() && is_transient_refusal(r.str)) return errc::storage_unavailable;
  std::string_view what = r.is_error() ? std::string_view(r.str) : "unexpected reply shape";
  logger("engine")->error("store op={} redis_answer=\"{}\"", operation, what);
  return errc::storage_protocol;
}

// A batch of steps is bounded as a batch of accepts is.
order_store::order_store(redis::connection& conn, std::string prefix, const fence_token& fence)
    : conn_(conn),
      prefix_(std::move(prefix)),
      fence_(fence),
      accepts_(conn, prefix_, fence),
      steps_([this](std::int64_t merchant_id) {
               return ledger_scripts::append_call(merchant_keys(prefix_, merchant_id), fence_);
             },
             [this](std::int64_t merchant_id, ledger_scripts::call call, std::size_t steps) {
               return send_steps(merchant_id, std::move(call), steps);
             },
             accept_batcher::k_max_orders, accept_batcher::k_max_arg_bytes) {}

boost::asio::awaitable<std::vector<group_commit::answer>> order_store::send_steps(
    std::int64_t /*merchant_id*/, ledger_scripts::call call, std::size_t steps) {
  auto answer =
      co_await ledger_scripts::append().run(conn_, std::move(call.keys), std::move(call.args));
  co_return group_commit::split(std::move(answer), steps);
}

boost::system::error_code order_store::refused(std::string_view operation, const reply& r) {
  const auto error = refusal(operation, r);
  if (error == errc::fenced && on_fenced_) on_fenced_();
  return error;
}

boost::asio::awaitable<boost::system::result<accept_result>> order_store::accept(
    order_record record, std::int64_t now_ms, field_pairs match) {
  if (!form_accepted_record(record, now_ms, std::move(match))) co_return errc::internal;
  // Not yet allowed to write (the epoch is not taken): as if Redis were not reachable.
  if (fence_.epoch.load(std::memory_order_relaxed) == 0) co_return errc::storage_unavailable;
  auto answer = co_await accepts_.submit(record);
  if (!answer) co_return answer.error();
  const reply& r = *answer;
  const auto word = outcome(r);
  if (word == "ok" && r.elements.size() == 2) {
    if (auto balance = reply_int(r.elements[1])) {
      TOPUP_ASSERT(*balance >= 0);  // the script checked before debiting
      co_return accept_result{false, std::move(record.order_number), *balance};
    }
  }
  if (word == "dup" && r.elements.size() == 3 && is_string(r.elements[1])) {
    if (auto balance = reply_int(r.elements[2]))
      co_return accept_result{true, r.elements[1].str, *balance};
  }
  if (word == "conflict") co_return errc::order_no_conflict;
  if (word == "insufficient") co_return errc::insufficient_balance;
  if (word == "collision") co_return errc::order_number_taken;
  if (word == "corrupt") {
    logger("engine")->error("store op=accept order={} refused: the order_no entry of {} is corrupt",
                            record.order_number, record.order_no);
    co_return errc::storage_protocol;
  }
  co_return refused("accept", r);
}

boost::asio::awaitable<boost::system::result<void>> order_store::commit(
    order_record& order, order_record after, std::vector<log_event> events, work_change work) {
  TOPUP_ASSERT(!events.empty());
  TOPUP_ASSERT(after.event_count == order.event_count + static_cast<std::int64_t>(events.size()));
  TOPUP_ASSERT(after.order_number == order.order_number && after.cost_fen == order.cost_fen &&
               after.refunded == order.refunded);
  // Not yet allowed to write (the epoch is not taken): as if Redis were not reachable.
  if (fence_.epoch.load(std::memory_order_relaxed) == 0) co_return errc::storage_unavailable;
  auto add_step = [&](ledger_scripts::call& c) {
    return ledger_scripts::add_append_step(c, order.event_count, after, events, work);
  };
  auto step = steps_.submit(order.merchant_id, add_step);  // reads its arguments here
  auto answer = co_await std::move(step);
  if (!answer) co_return answer.error();
  const auto word = outcome(*answer);
  if (word == "ok") {
    order = std::move(after);
    co_return boost::system::result<void>{};
  }
  if (word == "corrupt" || word == "broken") {
    logger("engine")->error("store op=append order={} refused: {}", order.order_number,
                            word == "corrupt" ? "its stored record is unreadable"
                                              : "the new record breaks the rules");
    co_return errc::storage_protocol;
  }
  co_return refused("append", *answer);
}

boost::asio::awaitable<boost::system::result<void>> order_store::refund(const order_record& order,
                                                                       const order_record& after,
                                                                       work_change work) {
  const merchant_keys keys(prefix_, order.merchant_id);
  // Not yet allowed to write (the epoch is not taken): as if Redis were not reachable.
  if (fence_.epoch.load(std::memory_order_relaxed) == 0) co_return errc::storage_unavailable;
  auto call = ledger_scripts::refund_call(keys, fence_, order.event_count, to_int(order.status),
                                          after.reason, after, work);
  auto answer =
      co_await ledger_scripts::refund().run(conn_, std::move(call.keys), std::move(call.args));
  if (!answer) co_return answer.error();
  const reply& r = *answer;
  if (outcome(r) == "ok" && r.elements.size() == 2 && reply_int(r.elements[1]))
    co_return boost::system::result<void>{};
  co_return refused("refund", r);
}

boost::asio::awaitable<boost::system::result<credit_result>> order_store::credit(
    std::int64_t merchant_id, std::string ref, fen_t amount_fen, std::int64_t /*now_ms*/,
    std::string by) {
  const merchant_keys keys(prefix_, merchant_id);
  // Not yet allowed to write (the epoch is not taken): as if Redis were not reachable.
  if (fence_.epoch.load(std::memory_order_relaxed) == 0) co_return errc::storage_unavailable;
  auto call = ledger_scripts::credit_call(keys, fence_, std::move(ref), amount_fen, std::move(by));
  auto answer =
      co_await ledger_scripts::credit().run(conn_, std::move(call.keys), std::move(call.args));
  if (!answer) co_return answer.error();
  const reply& r = *answer;
  const auto word = outcome(r);
  if ((word == "ok" || word == "repeat") && r.elements.size() == 2) {
    if (auto balance = reply_int(r.elements[1])) {
      TOPUP_ASSERT(*balance >= 0);  // the script refuses to go below 0
      // redis.min_replicas_acked: the operator is told "credited" only once replicas have it.
      const bool confirmed = co_await accepts_.replicated(keys.acct());
      if (!confirmed) co_return errc::outcome_unknown;
      co_return credit_result{word == "repeat", *balance};
    }
  }
  if (word == "insufficient") co_return errc::insufficient_balance;
  if (word == "conflict") co_return errc::order_no_conflict;
  co_return refused("credit", r);
}

boost::asio::awaitable<boost::system::result<account_totals>> order_store::account(
    std::int64_t merchant_id) {
  const merchant_keys keys(prefix_, merchant_id);
  auto answer =
      co_await conn_.command(args("HMGET", keys.acct(), "balance", "credits", "debits", "refunds"));
  if (!answer) co_return answer.error();
  const reply& r = *answer;
  if (r.type != reply::kind::array || r.elements.size() != 4) co_return unexpected_store_reply("account", r);
  std::array<fen_t, 4> values{};
  for (std::size_t i = 0; i < 4; ++i) {
    if (r.elements[i].is_nil()) continue;
    auto v = reply_int(r.elements[i]);
    if (!v) co_return unexpected_store_reply("account", r);
    values[i] = *v;
  }
  co_return account_totals{values[0], values[1], values[2], values[3]};
}

boost::asio::awaitable<boost::system::result<order_record>> order_store::get(
    std::int64_t merchant_id, std::string order_number) {
  const merchant_keys keys(prefix_, merchant_id);
  auto answer = co_await conn_.command(args("HGET", keys.orders(), std::move(order_number)));
  if (!answer) co_return answer.error();
  if (answer->is_nil()) co_return errc::order_not_found;
  co_return record_or_protocol("get", *answer);
}

boost::asio::awaitable<boost::system::result<order_log::order_no_entry>>
order_store::order_no_entry_of(std::int64_t merchant_id, std::string order_no) {
  const merchant_keys keys(prefix_, merchant_id);
  auto answer = co_await conn_.command(args("HGET", keys.orders(), order_no_field(order_no)));
  if (!answer) co_return answer.error();
  const reply& r = *answer;
  if (r.is_nil()) co_return errc::order_not_found;
  // "<order_number>:<fingerprint>"
  const auto sep = is_string(r) ? r.str.find(':') : std::string::npos;
  if (sep == std::string::npos || sep == 0) co_return unexpected_store_reply("order_no index", r);
  co_return order_no_entry{r.str.substr(0, sep), r.str.substr(sep + 1)};
}

namespace {
/// The strings of an array answer; anything else shaped is storage_protocol.
boost::system::result<std::vector<std::string>> string_members(std::string_view operation,
                                                               const reply& r) {
  if (r.type != reply::kind::array) return unexpected_store_reply(operation, r);
  std::vector<std::string> members;
  members.reserve(r.elements.size());
  for (const auto& e : r.elements) {
    if (!is_string(e)) return unexpected_store_reply(operation, r);
    members.push_back(e.str);
  }
  return members;
}
}  // namespace

boost::asio::awaitable<boost::system::result<std::vector<order_record>>> order_store::records(
    std::int64_t merchant_id, const std::vector<std::string>& numbers) {
  std::vector<order_record> out;
  if (numbers.empty()) co_return out;
  const merchant_keys keys(prefix_, merchant_id);
  std::vector<std::string> command;
  command.reserve(numbers.size() + 2);
  command.emplace_back("HMGET");
  command.push_back(keys.orders());
  for (const auto& n : numbers) command.push_back(n);
  auto answer = co_await conn_.command(std::move(command));
  if (!answer) co_return answer.error();
  const reply& r = *answer;
  if (r.type != reply::kind::array || r.elements.size() != numbers.size())
    co_return unexpected_store_reply("records", r);
  out.reserve(numbers.size());
  for (const auto& packed : r.elements) {
    if (packed.is_nil()) {
      // An index entry without its record: no script leaves one, so someone edited Redis by
      // hand. Reading the rest is more useful than failing every page.
      logger("engine")->warn("store merchant={} index entry without order record", merchant_id);
      continue;
    }
    auto record = record_or_protocol("records", packed);
    if (!record) co_return record.error();
    out.push_back(std::move(*record));
  }
  co_return out;
}

boost::asio::awaitable<boost::system::result<order_page>> order_store::list(
    std::int64_t merchant_id, std::int64_t start_ms, std::int64_t end_ms,
    std::optional<order_status> status, std::int64_t page, std::int64_t page_size) {
  // Bounded: a page is at most this many full records, whatever the caller asks.
  constexpr std::int64_t k_page_size_max = 1000;
  std::int64_t count = std::min(page_size, k_page_size_max);
  std::int64_t offset = 0;
  if (page < 1 || count < 1 || page - 1 > (INT64_MAX / count))
    count = 0;  // total only
  else
    offset = (page - 1) * count;
  const merchant_keys keys(prefix_, merchant_id);
  const std::string min = std::to_string(start_ms), max = std::to_string(end_ms);
  order_page result;
  if (!status) {
    auto total = co_await conn_.command(args("ZCOUNT", keys.by_time(), min, max));
    if (!total) co_return total.error();
    if (total->type != reply::kind::integer) co_return unexpected_store_reply("list", *total);
    result.total = total->integer;
    if (count == 0 || offset >= result.total) co_return result;
    auto numbers = co_await conn_.command(args("ZREVRANGEBYSCORE", keys.by_time(), max, min,
                                               "LIMIT", std::to_string(offset),
                                               std::to_string(count)));
    if (!numbers) co_return numbers.error();
    auto members = string_members("list", *numbers);
    if (!members) co_return members.error();
    auto page_records = co_await records(merchant_id, *members);
    if (!page_records) co_return page_records.error();
    result.orders = std::move(*page_records);
    co_return result;
  }
  // With a status filter: the range in chunks, newest first, each record's status looked at.
  for (std::int64_t chunk = 0;; ++chunk) {
    if (chunk == k_scan_chunks_max) co_return errc::range_too_wide;
    auto numbers = co_await conn_.command(args("ZREVRANGEBYSCORE", keys.by_time(), max, min,
                                               "LIMIT", std::to_string(chunk * k_scan_chunk),
                                               std::to_string(k_scan_chunk)));
    if (!numbers) co_return numbers.error();
    auto members = string_members("list", *numbers);
    if (!members) co_return members.error();
    auto chunk_records = co_await records(merchant_id, *members);
    if (!chunk_records) co_return chunk_records.error();
    for (auto& record : *chunk_records) {
      if (record.status != *status) continue;
      if (result.total >= offset && result.total < offset + count)
        result.orders.push_back(std::move(record));
      ++result.total;
    }
    if (static_cast<std::int64_t>(members->size()) < k_scan_chunk) break;
  }
  co_return result;
}

namespace {
/// The page in a WITHSCORES answer of `work` read from `after`'s score down: the entries of that
/// score the scan read before (numbers not below the cursor's, which Redis lists first) are
/// skipped; `asked` is how many entries were asked for (fewer in the answer: its end).
boost::system::result<active_page> active_page_of(const reply& r, const active_cursor& after,
                                                  std::int64_t limit, std::int64_t asked) {
  if (r.type != reply::kind::array || r.elements.size() % 2 != 0)
    return unexpected_store_reply("active_orders", r);
  active_page page;
  page.next = after;
  const std::size_t entries = r.elements.size() / 2;
  std::size_t same_score = 0;  // entries so far with the score of the one at hand
  std::int64_t previous = 0;
  for (std::size_t i = 0; i < entries; ++i) {
    const reply& member = r.elements[2 * i];
    const reply& score_text = r.elements[2 * i + 1];
    double score_value = 0;
    if (!is_string(member) || !is_string(score_text) ||
        std::from_chars(score_text.str.data(), score_text.str.data() + score_text.str.size(),
                        score_value)
                .ec != std::errc{})
      return unexpected_store_reply("active_orders", r);
    // -created_at (ms): a whole number well inside a double's exact range.
    const auto score = static_cast<std::int64_t>(score_value);
    same_score = (i > 0 && score == previous) ? same_score + 1 : 1;
    previous = score;
    const bool read_before =
        !after.number.empty() && score == after.score && member.str >= after.number;
    if (read_before) {
      if (page.numbers.empty()) page.next.at_score = static_cast<std::int64_t>(same_score);
      continue;
    }
    if (static_cast<std::int64_t>(page.numbers.size()) == limit) return page;  // more follow
    page.numbers.push_back(member.str);
    page.next = active_cursor{score, member.str, static_cast<std::int64_t>(same_score)};
  }
  page.end = static_cast<std::int64_t>(entries) < asked;
  return page;
}
}  // namespace

boost::asio::awaitable<boost::system::result<active_page>> order_store::active_orders(
    std::int64_t merchant_id, active_cursor after, std::int64_t limit) {
  TOPUP_ASSERT(limit > 0 && after.at_score >= 0);
  const merchant_keys keys(prefix_, merchant_id);
  // Not final: scored -created_at, so the highest score is the oldest; a final order's entry
  // (its callback's due time) is above 0. From the cursor's score inclusive: members of one
  // score come by number, greatest first, and the ones read before are skipped by number, not
  // by an offset that an order finishing meanwhile would shift.
  const std::string from = after.number.empty() ? "0" : std::to_string(after.score);
  const std::int64_t asked = limit + after.at_score;
  auto answer = co_await conn_.command(args("ZREVRANGEBYSCORE", keys.work(), from, "-inf",
                                            "WITHSCORES", "LIMIT", "0", std::to_string(asked)));
  if (!answer) co_return answer.error();
  co_return active_page_of(*answer, after, limit, asked);
}

namespace {
/// One answer per element of an HMGET of `o`: a nil is order_not_found, an unreadable record
/// storage_protocol (logged), each on its own.
order_log::order_reads order_reads_of(const reply& r) {
  order_log::order_reads out;
  out.reserve(r.elements.size());
  for (const auto& packed : r.elements) {
    if (packed.is_nil()) {
      out.push_back(boost::system::result<order_record>(errc::order_not_found));
      continue;
    }
    out.push_back(record_or_protocol("get_many", packed));
  }
  return out;
}
}  // namespace

boost::asio::awaitable<boost::system::result<order_log::order_reads>> order_store::get_many(
    std::int64_t merchant_id, std::vector<std::string> numbers) {
  if (numbers.empty()) co_return order_reads{};
  const merchant_keys keys(prefix_, merchant_id);
  const std::size_t count = numbers.size();
  std::vector<std::string> command;
  command.reserve(count + 2);
  command.push_back("HMGET");
  command.push_back(keys.orders());
  for (auto& n : numbers) command.push_back(std::move(n));
  auto answer = co_await conn_.command(std::move(command));
  if (!answer) co_return answer.error();
  if (answer->type != reply::kind::array || answer->elements.size() != count)
    co_return unexpected_store_reply("get_many", *answer);
  co_return order_reads_of(*answer);
}

boost::asio::awaitable<boost::system::result<std::vector<std::string>>>
order_store::disabled_channels() {
  auto answer = co_await conn_.command(args("SMEMBERS", prefix_ + ":channels:disabled"));
  if (!answer) co_return answer.error();
  co_return string_members("disabled_channels", *answer);
}

boost::asio::awaitable<boost::system::result<std::int64_t>> order_store::blacklist_version() {
  auto answer = co_await conn_.command(args("GET", prefix_ + ":risk:blacklist:v"));
  if (!answer) co_return answer.error();
  if (answer->type == reply::kind::nil) co_return std::int64_t{0};
  std::int64_t version = 0;
  const auto& s = answer->str;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), version);
  if (!is_string(*answer) || ec != std::errc{} || end != s.data() + s.size())
    co_return unexpected_store_reply("blacklist_version", *answer);
  co_return version;
}

boost::asio::awaitable<boost::system::result<order_store::blacklist_read>>
order_store::blacklist() {
  auto version = co_await blacklist_version();
  if (!version) co_return version.error();
  auto answer = co_await conn_.command(args("SMEMBERS", prefix_ + ":risk:blacklist"));
  if (!answer) co_return answer.error();
  auto mobiles = string_members("blacklist", *answer);
  if (!mobiles) co_return mobiles.error();
  co_return blacklist_read{*version, std::move(*mobiles)};
}

boost::asio::awaitable<boost::system::result<std::int64_t>> order_store::change_blacklist(
    std::string mobile, bool add) {
  auto changed = co_await conn_.command(
      args(add ? "SADD" : "SREM", prefix_ + ":risk:blacklist", std::move(mobile)));
  if (!changed) co_return changed.error();
  if (changed->type != reply::kind::integer) co_return unexpected_store_reply("change_blacklist", *changed);
  auto version = co_await conn_.command(args("INCR", prefix_ + ":risk:blacklist:v"));
  if (!version) co_return version.error();
  if (version->type != reply::kind::integer) co_return unexpected_store_reply("change_blacklist", *version);
  co_return version->integer;
}

boost::asio::awaitable<boost::system::result<void>> order_store::set_channel_disabled(
    std::string channel_id, bool disabled) {
  auto answer = co_await conn_.command(args(disabled ? "SADD" : "SREM",
                                            prefix_ + ":channels:disabled", channel_id));
  if (!answer) co_return answer.error();
  if (answer->type != reply::kind::integer) co_return unexpected_store_reply("set_channel_disabled", *answer);
  co_return boost::system::result<void>();
}

boost::asio::awaitable<boost::system::result<void>> order_store::flag_unresolved(
    std::int64_t merchant_id, std::string order_number, std::int64_t since_ms) {
  const merchant_keys keys(prefix_, merchant_id);
  auto answer = co_await conn_.command(
      args("ZADD", keys.unresolved(), "NX", std::to_string(since_ms), std::move(order_number)));
  if (!answer) co_return answer.error();
  if (answer->type != reply::kind::integer) co_return unexpected_store_reply("flag_unresolved", *answer);
  co_return boost::system::result<void>();
}

boost::asio::awaitable<boost::system::result<void>> order_store::clear_unresolved(
    std::int64_t merchant_id, std::string order_number) {
  const merchant_keys keys(prefix_, merchant_id);
  auto answer = co_await conn_.command(args("ZREM", keys.unresolved(), std::move(order_number)));
  if (!answer) co_return answer.error();
  if (answer->type != reply::kind::integer) co_return unexpected_store_reply("clear_unresolved", *answer);
  co_return boost::system::result<void>();
}

boost::asio::awaitable<boost::system::result<std::vector<std::pair<std::string, std::int64_t>>>>
order_store::unresolved(std::int64_t merchant_id, std::int64_t limit) {
  std::string key = merchant_keys(prefix_, merchant_id).unresolved();
  co_return co_await scored_page(std::move(key), "unresolved", limit);
}

boost::asio::awaitable<boost::system::result<std::vector<std::pair<std::string, std::int64_t>>>>
order_store::callback_failed(std::int64_t merchant_id, std::int64_t limit) {
  std::string key = merchant_keys(prefix_, merchant_id).cbfailed();
  co_return co_await scored_page(std::move(key), "cbfailed", limit);
}

boost::asio::awaitable<boost::system::result<std::vector<std::pair<std::string, std::int64_t>>>>
order_store::scored_page(std::string key, std::string_view operation, std::int64_t limit) {
  auto answer = co_await conn_.command(args("ZRANGE", std::move(key), "0",
                                            std::to_string(std::max<std::int64_t>(limit, 1) - 1),
                                            "WITHSCORES"));
  if (!answer) co_return answer.error();
  if (answer->type != reply::kind::array || answer->elements.size() % 2 != 0)
    co_return unexpected_store_reply(operation, *answer);
  std::vector<std::pair<std::string, std::int64_t>> out;
  for (std::size_t i = 0; i + 1 < answer->elements.size(); i += 2) {
    std::int64_t since = 0;
    const auto& score = answer->elements[i + 1].str;
    std::from_chars(score.data(), score.data() + score.size(), since);
    out.emplace_back(answer->elements[i].str, since);
  }
  co_return out;
}

boost::asio::awaitable<boost::system::result<std::vector<order_event>>> order_store::log_range(
    std::int64_t merchant_id, std::string start, std::int64_t count) {
  const merchant_keys keys(prefix_, merchant_id);
  auto answer = co_await conn_.command(
      args("XRANGE", keys.log(), std::move(start), "+", "COUNT", std::to_string(count)));
  if (!answer) co_return answer.error();
  if (answer->is_error()) co_return unexpected_store_reply("log", *answer);
  auto entries = order_events_from_reply(*answer);
  if (!entries) co_return unexpected_store_reply("log", *answer);
  co_return std::move(*entries);
}

boost::asio::awaitable<boost::system::result<std::vector<order_event>>> order_store::events(
    std::int64_t merchant_id, std::string order_number) {
  std::vector<order_event> out;
  auto order = co_await get(merchant_id, order_number);
  if (!order) {
    if (order.error() == errc::order_not_found) co_return out;
    co_return order.error();
  }
  // The log from a minute before the order's creation (Redis's clock and ours may differ).
  std::string start = std::to_string(std::max<std::int64_t>(order->created_at_ms - 60'000, 0));
  std::int64_t seen = 0;
  for (std::int64_t chunk = 0; chunk < k_scan_chunks_max; ++chunk) {
    auto entries = co_await log_range(merchant_id, start, k_scan_chunk);
    if (!entries) co_return entries.error();
    if (entries->empty()) break;
    std::string next = "(" + entries->back().id;  // before the entries are moved from
    for (auto& e : *entries)
      if (e.field("o") == std::optional<std::string_view>(order_number)) {
        out.push_back(shown_event(std::move(e), *order));
        ++seen;
      }
    if (static_cast<std::int64_t>(entries->size()) < k_scan_chunk || seen >= order->event_count)
      break;
    start = std::move(next);
  }
  co_return out;
}

boost::asio::awaitable<boost::system::result<order_store::ledger_page>> order_store::ledger(
    std::int64_t merchant_id, std::string after_id, std::int64_t limit) {
  limit = std::max<std::int64_t>(limit, 1);
  std::string start = after_id.empty() ? std::string("-") : "(" + after_id;
  const std::int64_t read = std::min<std::int64_t>(limit * 10, 100'000);
  auto raw = co_await log_range(merchant_id, std::move(start), read);
  if (!raw) co_return raw.error();
  ledger_page page;
  if (static_cast<std::int64_t>(raw->size()) == read) page.next_id = raw->back().id;
  for (auto& e : *raw) {
    const auto type = e.field("e").value_or("");
    if (type != "accepted" && type != "refund" && type != "credit") continue;
    auto amount = parse_int(e.field("amount").value_or(""));
    auto balance = parse_int(e.field("bal").value_or(""));
    if (!amount || !balance) {
      logger("engine")->error("store op=ledger merchant={} entry={} malformed", merchant_id, e.id);
      co_return errc::storage_protocol;
    }
    ledger_entry entry;
    entry.type = type == "accepted" ? "debit" : std::string(type);
    entry.amount_fen = *amount;
    entry.balance_fen = *balance;
    entry.at_ms = e.at_ms();
    if (auto order = e.field("o")) entry.order_number = std::string(*order);
    if (auto ref = e.field("ref")) entry.ref = std::string(*ref);
    entry.id = std::move(e.id);
    page.entries.push_back(std::move(entry));
    if (static_cast<std::int64_t>(page.entries.size()) == limit) {
      page.next_id = page.entries.back().id;
      break;
    }
  }
  co_return page;
}

boost::asio::awaitable<boost::system::result<std::vector<std::string>>> order_store::due_callbacks(
    std::int64_t merchant_id, std::int64_t now_ms, std::int64_t limit) {
  const merchant_keys keys(prefix_, merchant_id);
  auto answer =
      co_await conn_.command(args("ZRANGEBYSCORE", keys.work(), "(0", std::to_string(now_ms),
                                  "LIMIT", "0", std::to_string(std::max<std::int64_t>(limit, 0))));
  if (!answer) co_return answer.error();
  co_return string_members("due_callbacks", *answer);
}

boost::asio::awaitable<boost::system::result<order_store::callback_backlog>>
order_store::callbacks_owed(std::int64_t merchant_id, std::int64_t now_ms) {
  const merchant_keys keys(prefix_, merchant_id);
  // Scores above 0 are callback due times; a not-final order's is -created_at.
  auto owed = co_await conn_.command(args("ZCOUNT", keys.work(), "(0", "+inf"));
  if (!owed) co_return owed.error();
  if (owed->type != reply::kind::integer) co_return unexpected_store_reply("callbacks_owed", *owed);
  auto due = co_await conn_.command(args("ZCOUNT", keys.work(), "(0", std::to_string(now_ms)));
  if (!due) co_return due.error();
  if (due->type != reply::kind::integer) co_return unexpected_store_reply("callbacks_owed", *due);
  co_return callback_backlog{owed->integer, due->integer};
}

}  // namespace topup::engine
