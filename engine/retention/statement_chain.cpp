#include "engine/retention/statement_chain.hpp"

#include <utility>

#include "engine/redis/command.hpp"
#include "engine/redis/script.hpp"
#include "engine/store/order_store.hpp"
#include "engine/support/errc.hpp"

namespace topup::engine {
namespace {
using redis::reply;

// Days are YYYYMMDD: compared as strings they compare as days.
constexpr const char* k_claim_lua = R"lua(
-- statement claim: the lock to make one day's statement of one merchant, and the day sealed: when
-- the log's last entry is before the day's end, a `seal` entry is appended at exactly the day's
-- end, so that no entry can ever be appended inside the day (stream ids only grow), even if
-- Redis's clock steps back (NTP, a failover to a replica whose clock is behind).
-- KEYS: 1 fence  2 stmt  3 log
-- ARGV: 1 instance  2 epoch  3 day  4 prev (the last day made, '' for none: then the day
--       must be the chain's first)  5 day_end_ms  6 lock_ms
-- Answers {'fenced'} | {'early'} | {'made'} | {'moved'} | {'busy'} | {'ok'}
-- A lock is another maker's while it is unexpired and its holder's epoch is still the fence's
-- (a holder that restarted, or was fenced out, holds nothing).
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return {'fenced'} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now < tonumber(ARGV[5]) then return {'early'} end
local s = redis.call('HMGET', KEYS[2], 'day', 'first', 'lock', 'lock_until')
local last, first = s[1] or '', s[2]
if last ~= '' and last >= ARGV[3] then return {'made'} end
if last ~= ARGV[4] then return {'moved'} end
if last == '' and first ~= ARGV[3] then return {'moved'} end
local me = ARGV[1] .. ':' .. ARGV[2]
local holder = s[3]
if holder and holder ~= me and tonumber(s[4] or '0') > now then
  local instance, epoch = string.match(holder, '^(.*):(%d+)$')
  if instance and redis.call('HGET', KEYS[1], instance) == epoch then return {'busy'} end
end
redis.call('HSET', KEYS[2], 'lock', me, 'lock_until', tostring(now + tonumber(ARGV[6])))
local tail = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
if not tail[1] or tonumber(string.match(tail[1][1], '^(%d+)')) < tonumber(ARGV[5]) then
  redis.call('XADD', KEYS[3], ARGV[5] .. '-0', 'e', 'seal', 'day', ARGV[3])
end
return {'ok'}
)lua";

constexpr const char* k_made_lua = R"lua(
-- statement made: the day's file is written; the chain moves to it (only from the day before:
-- compare-and-set), and the lock is given back if it is the caller's. Whoever holds the lock, a
-- maker that made the day moves the chain: a day made twice is the same bytes, and a maker
-- slower than the lock's life must not be kept from ever finishing.
-- KEYS: 1 fence  2 stmt
-- ARGV: 1 instance  2 epoch  3 day  4 prev ('' for the chain's first day)  5 closing (fen)
--       6 sha256 of the file
-- Answers {'fenced'} | {'moved'} | {'ok'}
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return {'fenced'} end
local s = redis.call('HMGET', KEYS[2], 'day', 'lock')
if (s[1] or '') ~= ARGV[4] then return {'moved'} end
local t = redis.call('TIME')
redis.call('HSET', KEYS[2], 'day', ARGV[3], 'closing', ARGV[5], 'sha256', ARGV[6], 'made_at',
  tostring(tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)))
if s[2] == ARGV[1] .. ':' .. ARGV[2] then redis.call('HDEL', KEYS[2], 'lock', 'lock_until') end
return {'ok'}
)lua";

constexpr const char* k_begin_lua = R"lua(
-- statement begin: the chain's first day and the UTC offset its days are cut at, set together,
-- once. The first day may not start after the log's first entry (its money would be in no
-- statement), nor, for a merchant without entries, after Redis's clock (its first entry, to
-- come, would be before it).
-- KEYS: 1 fence  2 stmt  3 log
-- ARGV: 1 instance  2 epoch  3 day  4 day_start_ms  5 tz (seconds)
-- Answers {'fenced'} | {'moved'} (the day is too late: choose again) | {'ok'}
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return {'fenced'} end
if redis.call('HEXISTS', KEYS[2], 'first') == 1 then return {'ok'} end
local start = tonumber(ARGV[4])
local head = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', 1)
if head[1] then
  if tonumber(string.match(head[1][1], '^(%d+)')) < start then return {'moved'} end
else
  local t = redis.call('TIME')
  if tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) < start then return {'moved'} end
end
redis.call('HSET', KEYS[2], 'first', ARGV[3], 'tz', ARGV[5])
return {'ok'}
)lua";

const redis::script& begin_script() {
  static const redis::script instance{k_begin_lua};
  return instance;
}

const redis::script& claim_script() {
  static const redis::script instance{k_claim_lua};
  return instance;
}

const redis::script& made_script() {
  static const redis::script instance{k_made_lua};
  return instance;
}

std::string day_text(const std::optional<business_day>& day) {
  return day ? day->to_string() : std::string();
}

/// `{'<word>'}` as a chain_claim; nullopt for anything else.
std::optional<chain_claim> claim_answer(const reply& r) {
  if (r.type != reply::kind::array || r.elements.size() != 1 || !redis::is_string(r.elements[0]))
    return std::nullopt;
  const std::string& word = r.elements[0].str;
  if (word == "ok") return chain_claim::ok;
  if (word == "made") return chain_claim::made;
  if (word == "busy") return chain_claim::busy;
  if (word == "early") return chain_claim::early;
  if (word == "moved") return chain_claim::moved;
  if (word == "fenced") return chain_claim::fenced;
  return std::nullopt;
}

}  // namespace

std::optional<business_day> statement_chain::next() const {
  if (last) return last->next();
  return first;
}

statement_chain_store::statement_chain_store(redis::connection& conn, std::string prefix,
                                             const fence_token& fence)
    : conn_(conn), prefix_(std::move(prefix)), fence_(fence) {}

boost::asio::awaitable<boost::system::result<statement_chain>> statement_chain_store::read(
    std::int64_t merchant_id) {
  const merchant_keys keys(prefix_, merchant_id);
  auto answer =
      co_await conn_.command(redis::args("HMGET", keys.statements(), "first", "day", "closing", "tz"));
  if (!answer) co_return answer.error();
  const reply& r = *answer;
  if (r.type != reply::kind::array || r.elements.size() != 4)
    co_return unexpected_store_reply("statement chain", r);
  // Each field may be absent (a chain not begun, no day made yet); present, it must read.
  bool readable = true;
  const auto field = [&](std::size_t i, auto parse) {
    using value = typename decltype(parse(std::string_view{}))::value_type;
    if (r.elements[i].type == reply::kind::nil) return std::optional<value>{};
    auto parsed = redis::is_string(r.elements[i]) ? parse(r.elements[i].str) : std::nullopt;
    if (!parsed) readable = false;
    return parsed;
  };
  statement_chain chain;
  chain.first = field(0, &business_day::parse);
  chain.last = field(1, &business_day::parse);
  const auto closing = field(2, &redis::parse_int);
  chain.offset_s = field(3, &redis::parse_int);
  if (!readable || (chain.last && !closing)) co_return unexpected_store_reply("statement chain", r);
  chain.closing_fen = closing.value_or(0);
  co_return chain;
}

boost::asio::awaitable<boost::system::result<chain_claim>> statement_chain_store::begin(
    std::int64_t merchant_id, business_day day, std::int64_t offset_s) {
  const merchant_keys keys(prefix_, merchant_id);
  std::vector<std::string> script_keys{keys.fence(), keys.statements(), keys.log()};
  std::vector<std::string> args{fence_.instance,
                                std::to_string(fence_.epoch.load(std::memory_order_relaxed)),
                                day.to_string(), std::to_string(day.start_ms(offset_s)),
                                std::to_string(offset_s)};
  auto answer = co_await begin_script().run(conn_, std::move(script_keys), std::move(args));
  if (!answer) co_return answer.error();
  const auto begun = claim_answer(*answer);
  if (!begun || (*begun != chain_claim::ok && *begun != chain_claim::moved &&
                 *begun != chain_claim::fenced))
    co_return unexpected_store_reply("statement begin", *answer);
  co_return *begun;
}

boost::asio::awaitable<boost::system::result<chain_claim>> statement_chain_store::claim(
    std::int64_t merchant_id, const statement_chain& chain, business_day day,
    std::int64_t day_end_ms) {
  const merchant_keys keys(prefix_, merchant_id);
  std::vector<std::string> script_keys{keys.fence(), keys.statements(), keys.log()};
  std::vector<std::string> args{fence_.instance,
                                std::to_string(fence_.epoch.load(std::memory_order_relaxed)),
                                day.to_string(),
                                day_text(chain.last),
                                std::to_string(day_end_ms),
                                std::to_string(k_lock_ms)};
  auto answer = co_await claim_script().run(conn_, std::move(script_keys), std::move(args));
  if (!answer) co_return answer.error();
  const auto claim = claim_answer(*answer);
  if (!claim) co_return unexpected_store_reply("statement claim", *answer);
  co_return *claim;
}

boost::asio::awaitable<boost::system::result<chain_claim>> statement_chain_store::made(
    std::int64_t merchant_id, const statement_chain& chain, business_day day, fen_t closing_fen,
    std::string sha256_hex) {
  const merchant_keys keys(prefix_, merchant_id);
  std::vector<std::string> script_keys{keys.fence(), keys.statements()};
  std::vector<std::string> args{fence_.instance,
                                std::to_string(fence_.epoch.load(std::memory_order_relaxed)),
                                day.to_string(),
                                day_text(chain.last),
                                std::to_string(closing_fen),
                                std::move(sha256_hex)};
  auto answer = co_await made_script().run(conn_, std::move(script_keys), std::move(args));
  if (!answer) co_return answer.error();
  const auto done = claim_answer(*answer);
  if (!done || (*done != chain_claim::ok && *done != chain_claim::moved &&
                *done != chain_claim::fenced))
    co_return unexpected_store_reply("statement made", *answer);
  co_return *done;
}

}  // namespace topup::engine
