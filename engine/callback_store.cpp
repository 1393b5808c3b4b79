#include "engine/callback_store.hpp"

#include <charconv>

#include "engine/errc.hpp"
#include "engine/ledger_scripts.hpp"
#include "engine/redis/command.hpp"
#include "engine/redis/script.hpp"

namespace topup::engine {

namespace {

// KEYS: 1 o:<number>  2 o:<number>:cb  3 cbdue
// ARGV: 1 number  2 attempt  3 at_ms  4 http_status  5 body  6 error  7 delivered(0|1)
//       8 next_due_ms (0: finished)  9 cb_renotify_seq when the delivery started
const redis::script k_record_attempt(R"lua(
local attempts = redis.call('HGET', KEYS[1], 'cb_attempts')
if not attempts then return {'missing'} end
if tonumber(attempts) + 1 ~= tonumber(ARGV[2]) then return {'stale', attempts} end
local status
local next_due = ARGV[8]
if ARGV[7] == '1' then status = 'delivered'
elseif ARGV[8] == '0' then status = 'failed'
else status = 'pending' end
-- An operator's re-notify made after this delivery started is owed a delivery of its own: the
-- attempt's outcome must not end the schedule it re-armed. A counter, not a time: the two may
-- come from instances whose clocks differ.
if status ~= 'pending' and (redis.call('HGET', KEYS[1], 'cb_renotify_seq') or '0') ~= ARGV[9] then
  status = 'pending'
  next_due = ARGV[3]
end
redis.call('HSET', KEYS[1], 'cb_attempts', ARGV[2], 'cb_status', status, 'cb_last_at', ARGV[3])
redis.call('XADD', KEYS[2], '*', 'attempt', ARGV[2], 'at', ARGV[3], 'http_status', ARGV[4],
           'body', ARGV[5], 'error', ARGV[6], 'delivered', ARGV[7])
if status == 'pending' then
  redis.call('ZADD', KEYS[3], next_due, ARGV[1])
else
  redis.call('ZREM', KEYS[3], ARGV[1])
end
return {'ok', status}
)lua");

// KEYS: 1 o:<number>  2 cbdue   ARGV: 1 number  2 now_ms
const redis::script k_renotify(R"lua(
local f = redis.call('HMGET', KEYS[1], 'status', 'notify_url')
if not f[1] then return {'missing'} end
if (f[1] ~= '2' and f[1] ~= '4') or not f[2] or f[2] == '' then return {'not_final'} end
-- Attempts keep their numbers; the new round counts max_attempts from here (cb_round_base).
local done = redis.call('HGET', KEYS[1], 'cb_attempts') or '0'
redis.call('HSET', KEYS[1], 'cb_status', 'pending', 'cb_attempts', done, 'cb_round_base', done)
redis.call('HINCRBY', KEYS[1], 'cb_renotify_seq', 1)
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return {'ok'}
)lua");

std::int64_t to_int(std::string_view s) {
  std::int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

std::string excerpt(std::string s) {
  constexpr std::size_t k_max = 200;
  if (s.size() > k_max) s.resize(k_max);
  return s;
}

/// The first element of a script's array answer, or "" when the answer is not one.
std::string_view head(const redis::reply& r) {
  if (r.type != redis::reply::kind::array || r.elements.empty()) return {};
  return r.elements[0].str;
}

using redis::args;

std::vector<std::string> record_keys(const std::string& prefix, std::int64_t merchant_id,
                                     const std::string& order_number) {
  merchant_keys keys(prefix, merchant_id);
  return args(keys.order(order_number), keys.order(order_number) + ":cb", keys.cbdue());
}

std::vector<std::string> record_args(const std::string& order_number, callback_attempt a,
                                     std::int64_t next_due_ms) {
  return args(order_number, std::to_string(a.attempt), std::to_string(a.at_ms),
                 std::to_string(a.http_status), excerpt(std::move(a.body_excerpt)),
                 excerpt(std::move(a.error)), std::string(a.delivered ? "1" : "0"),
                 std::to_string(next_due_ms), std::to_string(a.renotify_seq));
}

}  // namespace

callback_store::callback_store(redis::connection& conn, std::string prefix)
    : conn_(conn), prefix_(std::move(prefix)) {}

boost::asio::awaitable<boost::system::result<void>> callback_store::record_attempt(
    std::int64_t merchant_id, std::string order_number, callback_attempt a,
    std::int64_t next_due_ms) {
  auto r = co_await k_record_attempt.run(conn_, record_keys(prefix_, merchant_id, order_number),
                                         record_args(order_number, std::move(a), next_due_ms));
  if (!r) co_return r.error();
  const auto tag = head(*r);
  if (tag == "ok") co_return boost::system::result<void>();
  if (tag == "stale") co_return errc::stale_status;
  if (tag == "missing") co_return errc::order_not_found;
  co_return errc::storage_protocol;
}

boost::asio::awaitable<boost::system::result<void>> callback_store::renotify(
    std::int64_t merchant_id, std::string order_number, std::int64_t now_ms) {
  merchant_keys keys(prefix_, merchant_id);
  auto r = co_await k_renotify.run(conn_, args(keys.order(order_number), keys.cbdue()),
                                   args(order_number, std::to_string(now_ms)));
  if (!r) co_return r.error();
  const auto tag = head(*r);
  if (tag == "ok") co_return boost::system::result<void>();
  if (tag == "missing") co_return errc::order_not_found;
  if (tag == "not_final") co_return errc::cannot_cancel;
  co_return errc::storage_protocol;
}

boost::asio::awaitable<boost::system::result<std::vector<callback_attempt>>>
callback_store::attempts(std::int64_t merchant_id, std::string order_number) {
  merchant_keys keys(prefix_, merchant_id);
  auto r = co_await conn_.command(
      args("XRANGE", keys.order(order_number) + ":cb", std::string("-"), std::string("+")));
  if (!r) co_return r.error();
  if (r->type != redis::reply::kind::array) co_return errc::storage_protocol;
  std::vector<callback_attempt> out;
  for (const auto& entry : r->elements) {
    if (entry.elements.size() != 2) co_return errc::storage_protocol;
    callback_attempt a;
    const auto& f = entry.elements[1].elements;
    for (std::size_t i = 0; i + 1 < f.size(); i += 2) {
      const auto& name = f[i].str;
      const auto& value = f[i + 1].str;
      if (name == "attempt") a.attempt = to_int(value);
      else if (name == "at") a.at_ms = to_int(value);
      else if (name == "http_status") a.http_status = static_cast<unsigned>(to_int(value));
      else if (name == "body") a.body_excerpt = value;
      else if (name == "error") a.error = value;
      else if (name == "delivered") a.delivered = value == "1";
    }
    out.push_back(std::move(a));
  }
  co_return out;
}

}  // namespace topup::engine
