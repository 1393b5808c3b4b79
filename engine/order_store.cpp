#include "engine/order_store.hpp"

#include "engine/redis/command.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <string_view>
#include <utility>

#include "engine/assert.hpp"
#include "engine/errc.hpp"
#include "engine/ledger_scripts.hpp"
#include "engine/log.hpp"

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

// The one place an unexpected answer is logged: callers only see storage_protocol.
error_code unexpected(std::string_view operation, const reply& r) {
  if (r.is_error() && is_transient_refusal(r.str)) return errc::storage_unavailable;
  std::string_view what = r.is_error() ? std::string_view(r.str) : "unexpected reply shape";
  logger("engine")->error("store op={} redis_answer=\"{}\"", operation, what);
  return errc::storage_protocol;
}

// The first element of a script's answer: "ok", "dup", "stale", ...
std::string_view outcome(const reply& r) noexcept {
  if (r.type != reply::kind::array || r.elements.empty() || !is_string(r.elements[0])) return {};
  return r.elements[0].str;
}

// Reserved in transition extras: the record's own fields and the event's fixed ones.
bool reserved_extra(std::string_view name) noexcept {
  return is_core_order_field(name) || name == "type" || name == "from" || name == "to" ||
         name == "at";
}

const std::string* first_reserved(const field_pairs& fields) noexcept {
  for (const auto& [name, value] : fields)
    if (reserved_extra(name)) return &name;
  return nullptr;
}

const field_pairs k_no_fields;

boost::system::result<order_record> record_or_protocol(std::string_view operation,
                                                       const reply& flat) {
  auto record = order_record_from_reply(flat);
  if (!record) {
    logger("engine")->error("store op={} malformed order record ({} elements)", operation,
                            flat.elements.size());
  }
  return record;
}

// Shared answer handling of transition and fail_refund.
boost::system::result<order_record> decode_order_answer(std::string_view operation,
                                                        const reply& r) {
  const auto word = outcome(r);
  if (word == "ok" && r.elements.size() == 2) return record_or_protocol(operation, r.elements[1]);
  if (word == "stale") return make_error_code(errc::stale_status);
  if (word == "illegal") return make_error_code(errc::illegal_transition);
  if (word == "notfound") return make_error_code(errc::order_not_found);
  return unexpected(operation, r);
}

}  // namespace

order_store::order_store(redis::connection& conn, std::string prefix, const fence_token& fence)
    : conn_(conn), prefix_(std::move(prefix)), fence_(fence) {}

boost::asio::awaitable<boost::system::result<accept_result>> order_store::accept(
    order_record record, std::int64_t now_ms, field_pairs match) {
  if (record.fingerprint.empty() || record.order_no.empty() || record.order_number.empty() ||
      record.merchant_id <= 0 || record.cost_fen < 0) {
    // A caller bug: an empty fingerprint would make every repeat of the order_no a duplicate.
    logger("engine")->error("store op=accept order={} refused: incomplete record",
                            record.order_number);
    co_return errc::internal;
  }
  const merchant_keys keys(prefix_, record.merchant_id);
  field_pairs business = {
      {"merchant_id", std::to_string(record.merchant_id)},
      {"store_id", std::move(record.store_id)},
      {"mobile", std::move(record.mobile)},
      {"carrier", std::string(carrier_code(record.carrier))},
      {"money", std::to_string(record.money_yuan)},
      {"recharge_type", record.recharge_type == 0 ? "0" : "1"},
      {"notify_url", std::move(record.notify_url)},
      {"change", record.change ? "1" : "0"},
      {"source", std::move(record.source)},
  };
  for (auto& [name, value] : record.extra)
    if (!is_core_order_field(name)) business.emplace_back(std::move(name), std::move(value));
  for (const auto& [name, value] : match)
    TOPUP_ASSERT(!is_core_order_field(name) && "a match field may not shadow a core field");

  auto call =
      ledger_scripts::accept_call(keys, std::move(record.order_no), std::move(record.order_number),
                                  std::move(record.fingerprint), record.cost_fen, now_ms, business,
                                  match);
  auto answer =
      co_await ledger_scripts::accept().run(conn_, std::move(call.keys), std::move(call.args));
  if (!answer) co_return answer.error();
  const reply& r = *answer;
  const auto word = outcome(r);
  if ((word == "ok" || word == "dup") && r.elements.size() == 3 && is_string(r.elements[1])) {
    if (auto balance = reply_int(r.elements[2])) {
      TOPUP_ASSERT(*balance >= 0);  // the script checked before debiting
      co_return accept_result{word == "dup", r.elements[1].str, *balance};
    }
  }
  if (word == "conflict") co_return errc::order_no_conflict;
  if (word == "insufficient") co_return errc::insufficient_balance;
  if (word == "collision") co_return errc::order_number_taken;
  co_return unexpected("accept", r);
}

boost::asio::awaitable<boost::system::result<redis::reply>> order_store::run_transition(
    std::int64_t merchant_id, std::string order_number, order_status from, order_status to,
    std::string reason, const field_pairs& extra_fields, std::int64_t now_ms,
    bool answer_record, const hop* via) {
  // The script checks the same; asking Redis would only cost a round trip.
  // Through a status only on the one path the dispatcher takes: a final answer to the submit.
  const bool path_ok =
      via ? from == order_status::matched && via->status == order_status::recharging &&
                (to == order_status::success || to == order_status::waiting)
          : transition_allowed(from, to) && to != order_status::refunded &&
                from != order_status::pending_payment;
  if (!path_ok) co_return errc::illegal_transition;
  const std::string* reserved = first_reserved(extra_fields);
  if (!reserved && via) reserved = first_reserved(via->extra);
  if (reserved) {
    logger("engine")->error("store op=transition order={} refused: reserved extra field {}",
                            order_number, *reserved);
    co_return errc::internal;
  }
  const merchant_keys keys(prefix_, merchant_id);
  std::optional<int> via_status;
  if (via) via_status = to_int(via->status);
  auto call = ledger_scripts::transition_call(
      keys, std::move(order_number), to_int(from), to_int(to), std::move(reason), extra_fields,
      now_ms, answer_record, via_status, via ? via->extra : k_no_fields);
  co_return co_await ledger_scripts::transition().run(conn_, std::move(call.keys),
                                                      std::move(call.args));
}

boost::asio::awaitable<boost::system::result<order_record>> order_store::transition(
    std::int64_t merchant_id, std::string order_number, order_status from, order_status to,
    std::string reason, field_pairs extra_fields, std::int64_t now_ms) {
  auto answer = co_await run_transition(merchant_id, std::move(order_number), from, to,
                                        std::move(reason), extra_fields, now_ms, true);
  if (!answer) co_return answer.error();
  auto moved = decode_order_answer("transition", *answer);
  if (moved) TOPUP_ASSERT(moved->status == to);
  co_return moved;
}

boost::asio::awaitable<boost::system::result<void>> order_store::advance(
    order_record& order, order_status to, std::string reason, field_pairs extra_fields,
    std::int64_t now_ms, std::optional<hop> via) {
  const hop* through = via ? &*via : nullptr;
  auto answer = co_await run_transition(order.merchant_id, order.order_number, order.status, to,
                                        reason, extra_fields, now_ms, false, through);
  if (!answer) co_return answer.error();
  const reply& r = *answer;
  const auto word = outcome(r);
  if (word != "ok" || r.elements.size() != 1) {
    auto refused = decode_order_answer("transition", r);
    TOPUP_ASSERT(!refused);  // an "ok" with a record was not asked for
    co_return refused.error();
  }
  // What the script wrote, applied to the caller's copy (docs/STORAGE.md "transition").
  if (via) {
    for (auto& [name, value] : via->extra) set_extra(order, std::move(name), std::move(value));
    ++order.event_count;
  }
  for (auto& [name, value] : extra_fields) set_extra(order, std::move(name), std::move(value));
  order.status = to;
  order.reason = std::move(reason);
  order.updated_at_ms = now_ms;
  ++order.event_count;
  if (to == order_status::success) {
    order.finished_at_ms = now_ms;
    if (!order.notify_url.empty()) {
      set_extra(order, "cb_status", "pending");
      set_extra(order, "cb_attempts", "0");
    }
  }
  co_return boost::system::result<void>{};
}

boost::asio::awaitable<boost::system::result<order_record>> order_store::fail_refund(
    std::int64_t merchant_id, std::string order_number, order_status expected_from,
    std::string reason, std::int64_t now_ms) {
  switch (expected_from) {
    case order_status::recharging:
    case order_status::waiting:
    case order_status::matched:
    case order_status::failed:
      break;
    default:
      co_return errc::illegal_transition;
  }
  const merchant_keys keys(prefix_, merchant_id);
  auto call = ledger_scripts::fail_refund_call(keys, std::move(order_number), to_int(expected_from),
                                               std::move(reason), now_ms);
  auto answer =
      co_await ledger_scripts::fail_refund().run(conn_, std::move(call.keys), std::move(call.args));
  if (!answer) co_return answer.error();
  auto refunded = decode_order_answer("fail_refund", *answer);
  if (refunded) TOPUP_ASSERT(refunded->status == order_status::refunded && refunded->refunded);
  co_return refunded;
}

boost::asio::awaitable<boost::system::result<credit_result>> order_store::credit(
    std::int64_t merchant_id, std::string ref, fen_t amount_fen, std::int64_t now_ms) {
  const merchant_keys keys(prefix_, merchant_id);
  auto call = ledger_scripts::credit_call(keys, std::move(ref), amount_fen, now_ms);
  auto answer =
      co_await ledger_scripts::credit().run(conn_, std::move(call.keys), std::move(call.args));
  if (!answer) co_return answer.error();
  const reply& r = *answer;
  const auto word = outcome(r);
  if ((word == "ok" || word == "repeat") && r.elements.size() == 2) {
    if (auto balance = reply_int(r.elements[1])) {
      TOPUP_ASSERT(*balance >= 0);  // the script refuses to go below 0
      co_return credit_result{word == "repeat", *balance};
    }
  }
  if (word == "insufficient") co_return errc::insufficient_balance;
  if (word == "conflict") co_return errc::order_no_conflict;
  co_return unexpected("credit", r);
}

boost::asio::awaitable<boost::system::result<account_totals>> order_store::account(
    std::int64_t merchant_id) {
  const merchant_keys keys(prefix_, merchant_id);
  auto answer =
      co_await conn_.command(args("HMGET", keys.acct(), "balance", "credits", "debits", "refunds"));
  if (!answer) co_return answer.error();
  const reply& r = *answer;
  if (r.type != reply::kind::array || r.elements.size() != 4) co_return unexpected("account", r);
  std::array<fen_t, 4> values{};
  for (std::size_t i = 0; i < 4; ++i) {
    if (r.elements[i].is_nil()) continue;
    auto v = reply_int(r.elements[i]);
    if (!v) co_return unexpected("account", r);
    values[i] = *v;
  }
  co_return account_totals{values[0], values[1], values[2], values[3]};
}

boost::asio::awaitable<boost::system::result<order_record>> order_store::get(
    std::int64_t merchant_id, std::string order_number) {
  const merchant_keys keys(prefix_, merchant_id);
  auto answer = co_await conn_.command(args("HGETALL", keys.order(order_number)));
  if (!answer) co_return answer.error();
  const reply& r = *answer;
  if (r.type != reply::kind::array) co_return unexpected("get", r);
  if (r.elements.empty()) co_return errc::order_not_found;
  co_return record_or_protocol("get", r);
}

boost::asio::awaitable<boost::system::result<order_record>> order_store::find_by_order_no(
    std::int64_t merchant_id, std::string order_no) {
  auto entry = co_await order_no_entry_of(merchant_id, std::move(order_no));
  if (!entry) co_return entry.error();
  co_return co_await get(merchant_id, std::move(entry->order_number));
}

boost::asio::awaitable<boost::system::result<order_store::order_no_entry>>
order_store::order_no_entry_of(std::int64_t merchant_id, std::string order_no) {
  const merchant_keys keys(prefix_, merchant_id);
  auto answer = co_await conn_.command(args("HGET", keys.ono(), std::move(order_no)));
  if (!answer) co_return answer.error();
  const reply& r = *answer;
  if (r.is_nil()) co_return errc::order_not_found;
  // "<order_number>:<fingerprint>"
  const auto sep = is_string(r) ? r.str.find(':') : std::string::npos;
  if (sep == std::string::npos || sep == 0) co_return unexpected("order_no index", r);
  co_return order_no_entry{r.str.substr(0, sep), r.str.substr(sep + 1)};
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
  auto call = ledger_scripts::list_page_call(
      keys, status ? std::optional<int>(to_int(*status)) : std::nullopt, start_ms, end_ms, offset,
      count);
  auto answer =
      co_await ledger_scripts::list_page().run(conn_, std::move(call.keys), std::move(call.args));
  if (!answer) co_return answer.error();
  const reply& r = *answer;
  if (r.type != reply::kind::array || r.elements.empty()) co_return unexpected("list", r);
  auto total = reply_int(r.elements[0]);
  if (!total) co_return unexpected("list", r);
  order_page result;
  result.total = *total;
  result.orders.reserve(r.elements.size() - 1);
  for (std::size_t i = 1; i < r.elements.size(); ++i) {
    const reply& flat = r.elements[i];
    if (flat.type != reply::kind::array) co_return unexpected("list", r);
    if (flat.elements.empty()) {
      // An index entry without its record: no script leaves one, so someone edited Redis by
      // hand. Listing the rest is more useful to the merchant than failing every page.
      logger("engine")->warn("store op=list merchant={} index entry without order record",
                             merchant_id);
      continue;
    }
    auto record = record_or_protocol("list", flat);
    if (!record) co_return record.error();
    result.orders.push_back(std::move(*record));
  }
  co_return result;
}

namespace {
/// The members of a SMEMBERS answer; anything else shaped is storage_protocol.
boost::system::result<std::vector<std::string>> set_members(std::string_view operation,
                                                            const reply& r) {
  if (r.type != reply::kind::array) return unexpected(operation, r);
  std::vector<std::string> members;
  members.reserve(r.elements.size());
  for (const auto& e : r.elements) {
    if (!is_string(e)) return unexpected(operation, r);
    members.push_back(e.str);
  }
  return members;
}
}  // namespace

boost::asio::awaitable<boost::system::result<std::vector<std::string>>> order_store::active_orders(
    std::int64_t merchant_id) {
  const merchant_keys keys(prefix_, merchant_id);
  auto answer = co_await conn_.command(args("SMEMBERS", keys.active()));
  if (!answer) co_return answer.error();
  co_return set_members("active_orders", *answer);
}

boost::asio::awaitable<boost::system::result<std::vector<std::string>>>
order_store::disabled_channels() {
  auto answer = co_await conn_.command(args("SMEMBERS", prefix_ + ":channels:disabled"));
  if (!answer) co_return answer.error();
  co_return set_members("disabled_channels", *answer);
}

boost::asio::awaitable<boost::system::result<void>> order_store::set_channel_disabled(
    std::string channel_id, bool disabled) {
  auto answer = co_await conn_.command(args(disabled ? "SADD" : "SREM",
                                            prefix_ + ":channels:disabled", channel_id));
  if (!answer) co_return answer.error();
  if (answer->type != reply::kind::integer) co_return unexpected("set_channel_disabled", *answer);
  co_return boost::system::result<void>();
}

boost::asio::awaitable<boost::system::result<void>> order_store::flag_unresolved(
    std::int64_t merchant_id, std::string order_number, std::int64_t since_ms) {
  const merchant_keys keys(prefix_, merchant_id);
  auto answer = co_await conn_.command(
      args("ZADD", keys.unresolved(), "NX", std::to_string(since_ms), std::move(order_number)));
  if (!answer) co_return answer.error();
  if (answer->type != reply::kind::integer) co_return unexpected("flag_unresolved", *answer);
  co_return boost::system::result<void>();
}

boost::asio::awaitable<boost::system::result<void>> order_store::clear_unresolved(
    std::int64_t merchant_id, std::string order_number) {
  const merchant_keys keys(prefix_, merchant_id);
  auto answer = co_await conn_.command(args("ZREM", keys.unresolved(), std::move(order_number)));
  if (!answer) co_return answer.error();
  if (answer->type != reply::kind::integer) co_return unexpected("clear_unresolved", *answer);
  co_return boost::system::result<void>();
}

boost::asio::awaitable<boost::system::result<std::vector<std::pair<std::string, std::int64_t>>>>
order_store::unresolved(std::int64_t merchant_id, std::int64_t limit) {
  const merchant_keys keys(prefix_, merchant_id);
  auto answer = co_await conn_.command(args("ZRANGE", keys.unresolved(), "0",
                                            std::to_string(std::max<std::int64_t>(limit, 1) - 1),
                                            "WITHSCORES"));
  if (!answer) co_return answer.error();
  if (answer->type != reply::kind::array || answer->elements.size() % 2 != 0)
    co_return unexpected("unresolved", *answer);
  std::vector<std::pair<std::string, std::int64_t>> out;
  for (std::size_t i = 0; i + 1 < answer->elements.size(); i += 2) {
    std::int64_t since = 0;
    const auto& score = answer->elements[i + 1].str;
    std::from_chars(score.data(), score.data() + score.size(), since);
    out.emplace_back(answer->elements[i].str, since);
  }
  co_return out;
}

boost::asio::awaitable<boost::system::result<std::vector<order_event>>> order_store::events(
    std::int64_t merchant_id, std::string order_number) {
  const merchant_keys keys(prefix_, merchant_id);
  auto answer = co_await conn_.command(args("XRANGE", keys.events(order_number), "-", "+"));
  if (!answer) co_return answer.error();
  if (answer->is_error()) co_return unexpected("events", *answer);
  auto events = order_events_from_reply(*answer);
  if (!events) co_return unexpected("events", *answer);
  co_return std::move(*events);
}

boost::asio::awaitable<boost::system::result<std::vector<ledger_entry>>> order_store::ledger(
    std::int64_t merchant_id, std::string after_id, std::int64_t limit) {
  const merchant_keys keys(prefix_, merchant_id);
  std::string start = after_id.empty() ? std::string("-") : "(" + after_id;
  auto answer = co_await conn_.command(args("XRANGE", keys.ledger(), std::move(start), "+", "COUNT",
                                            std::to_string(std::max<std::int64_t>(limit, 1))));
  if (!answer) co_return answer.error();
  if (answer->is_error()) co_return unexpected("ledger", *answer);
  auto raw = order_events_from_reply(*answer);
  if (!raw) co_return unexpected("ledger", *answer);
  std::vector<ledger_entry> entries;
  entries.reserve(raw->size());
  for (auto& e : *raw) {
    ledger_entry entry;
    entry.id = std::move(e.id);
    auto type = e.field("type");
    auto amount = e.field("amount");
    auto balance = e.field("balance");
    auto at = e.field("at");
    std::optional<std::int64_t> amount_fen = amount ? parse_int(*amount) : std::nullopt;
    std::optional<std::int64_t> balance_fen = balance ? parse_int(*balance) : std::nullopt;
    std::optional<std::int64_t> at_ms = at ? parse_int(*at) : std::nullopt;
    if (!type || !amount_fen || !balance_fen || !at_ms) co_return unexpected("ledger", *answer);
    entry.type = std::string(*type);
    entry.amount_fen = *amount_fen;
    entry.balance_fen = *balance_fen;
    entry.at_ms = *at_ms;
    if (auto order = e.field("order")) entry.order_number = std::string(*order);
    if (auto ref = e.field("ref")) entry.ref = std::string(*ref);
    entries.push_back(std::move(entry));
  }
  co_return entries;
}

boost::asio::awaitable<boost::system::result<std::vector<std::string>>> order_store::due_callbacks(
    std::int64_t merchant_id, std::int64_t now_ms, std::int64_t limit) {
  const merchant_keys keys(prefix_, merchant_id);
  auto answer =
      co_await conn_.command(args("ZRANGEBYSCORE", keys.cbdue(), "-inf", std::to_string(now_ms),
                                  "LIMIT", "0", std::to_string(std::max<std::int64_t>(limit, 0))));
  if (!answer) co_return answer.error();
  const reply& r = *answer;
  if (r.type != reply::kind::array) co_return unexpected("due_callbacks", r);
  std::vector<std::string> numbers;
  numbers.reserve(r.elements.size());
  for (const auto& e : r.elements) {
    if (!is_string(e)) co_return unexpected("due_callbacks", r);
    numbers.push_back(e.str);
  }
  co_return numbers;
}

}  // namespace topup::engine
