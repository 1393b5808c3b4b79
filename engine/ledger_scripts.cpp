#include "engine/ledger_scripts.hpp"

#include <utility>

namespace topup::engine {

merchant_keys::merchant_keys(std::string_view prefix, std::int64_t merchant_id) {
  base_.reserve(prefix.size() + 28);
  base_.append(prefix);
  base_.append(":{m");
  base_.append(std::to_string(merchant_id));
  base_.append("}:");
}

std::string merchant_keys::order(std::string_view order_number) const {
  std::string key = base_ + "o:";
  key.append(order_number);
  return key;
}

std::string merchant_keys::events(std::string_view order_number) const {
  std::string key = base_ + "ev:";
  key.append(order_number);
  return key;
}

namespace ledger_scripts {
namespace {

// The Lua runs for every order: keep it to the commands the step needs, one HMGET for all reads.
// Numbers cross into Lua as decimal strings and are handed back to Redis as strings (a Lua number
// passed to redis.call may be spelled with an exponent); only comparisons use Lua numbers, exact
// below 2^53 fen.
constexpr const char* k_accept_lua = R"lua(
-- accept: idempotency, collision and balance checks, debit, order record, its event, indexes.
-- With match pairs (the channel already chosen, its slot taken) the order goes on to 7 in the
-- same step. One `accepted` event records the whole step (from 0 to 6, or to 7 through 6) with
-- every field the record was created with, so the record is the events' projection.
-- KEYS: 1 acct  2 ledger  3 ono  4 o:<number>  5 ev:<number>  6 all  7 st:6 or st:7  8 active
-- ARGV: 1 order_no  2 order_number  3 fingerprint  4 cost (fen)  5 now_ms
--       6 m: number of match field/value pairs (0: the order waits in 6)
--       7..6+2m match pairs (stored on the record and in the event)
--       7+2m.. field/value pairs of the record's business fields
-- Every check comes before the first write: Redis does not roll a script back.
local cost, now = ARGV[4], ARGV[5]
local m = tonumber(ARGV[6] or '')
if not (cost == '0' or string.find(cost, '^[1-9]%d*$')) or #cost > 15
    or not string.find(now, '^%d+$') or not string.find(ARGV[2], '^%w+$') or ARGV[1] == ''
    or not m or m < 0 or m % 1 ~= 0 or #ARGV < 6 + 2 * m or #ARGV % 2 ~= 0 then
  return redis.error_reply('ERR accept: bad arguments')
end
local seen = redis.call('HGET', KEYS[3], ARGV[1])
if seen then
  -- ono value: "<order_number>:<fingerprint>" (order numbers never contain ':')
  local sep = string.find(seen, ':', 1, true)
  if not sep then return redis.error_reply('ERR accept: corrupt ono entry') end
  local number = string.sub(seen, 1, sep - 1)
  if string.sub(seen, sep + 1) ~= ARGV[3] then return {'conflict', number} end
  return {'dup', number, redis.call('HGET', KEYS[1], 'balance') or '0'}
end
if redis.call('EXISTS', KEYS[4]) == 1 then return {'collision'} end
local acct = redis.call('HMGET', KEYS[1], 'balance', 'debits')
local balance, debits = tonumber(acct[1] or '0'), tonumber(acct[2] or '0')
if not balance or not debits then return redis.error_reply('ERR accept: corrupt account') end
if balance < tonumber(cost) then return {'insufficient', acct[1] or '0'} end

local number = ARGV[2]
local status = m > 0 and '7' or '6'
local nb = redis.call('HINCRBY', KEYS[1], 'balance', cost == '0' and '0' or '-' .. cost)
redis.call('HINCRBY', KEYS[1], 'debits', cost)
local nbs = string.format('%d', nb)
redis.call('XADD', KEYS[2], '*', 'type', 'debit', 'amount', cost, 'balance', nbs,
           'order', number, 'at', now)
-- The event: its own fields, then the record's business, identity and match fields.
local e = {'XADD', KEYS[5], '*', 'type', 'accepted', 'from', '0', 'to', status, 'reason', '',
           'at', now}
local h = {'HSET', KEYS[4]}
local function both(name, value)
  e[#e + 1], e[#e + 2] = name, value
  h[#h + 1], h[#h + 2] = name, value
end
for i = 7 + 2 * m, #ARGV, 2 do both(ARGV[i], ARGV[i + 1]) end
both('order_number', number)
both('order_no', ARGV[1])
both('fingerprint', ARGV[3])
both('cost', cost)
for i = 7, 6 + 2 * m, 2 do both(ARGV[i], ARGV[i + 1]) end
redis.call(unpack(e))
-- Script-owned fields come last, so they win over a same-named pair.
local n = #h
h[n + 1], h[n + 2] = 'status', status
h[n + 3], h[n + 4] = 'reason', ''
h[n + 5], h[n + 6] = 'created_at', now
h[n + 7], h[n + 8] = 'updated_at', now
h[n + 9], h[n + 10] = 'events', '1'
redis.call(unpack(h))
redis.call('HSET', KEYS[3], ARGV[1], number .. ':' .. ARGV[3])
redis.call('ZADD', KEYS[6], now, number)
redis.call('ZADD', KEYS[7], now, number)
redis.call('SADD', KEYS[8], number)
return {'ok', number, nbs}
)lua";

constexpr const char* k_transition_lua = R"lua(
-- transition: compare-and-set of an order's status along spec §4, with its events and indexes.
-- KEYS: 1 o:<number>  2 ev:<number>  3 st:<from>  4 st:<to>  5 active  6 cbdue
-- ARGV: 1 order_number  2 from  3 to  4 reason  5 now_ms  6 answer: '1' the updated record,
--       '0' just ok (the caller applies the step to its copy)
--       7 via: '' (from->to) or '1' to pass through 1 from 7 (7->1->2 or 7->1->6: two events,
--         one step, when the supplier's answer to the submit is already final); nothing else
--       8 k: field/value pairs of the from->via event  9..8+2k those pairs
--       9+2k.. field/value pairs of the (last) step; every pair is also stored on the record
-- 0->6 belongs to accept and 3->4 to fail_refund (4 means the money is back), so neither is
-- allowed here.
local allowed = {['6>7'] = true, ['7>1'] = true, ['7>6'] = true, ['1>2'] = true,
                 ['1>6'] = true, ['1>3'] = true, ['6>3'] = true, ['7>3'] = true}
if #ARGV < 8 then return redis.error_reply('ERR transition: bad arguments') end
local from, to, via, now = ARGV[2], ARGV[3], ARGV[7], ARGV[5]
local k = tonumber(ARGV[8])
if via == '' then
  if not allowed[from .. '>' .. to] then return {'illegal'} end
elseif not (from == '7' and via == '1' and (to == '2' or to == '6')) then
  return {'illegal'}
end
if not string.find(now, '^%d+$') or #ARGV % 2 ~= 0 or (ARGV[6] ~= '0' and ARGV[6] ~= '1')
    or not k or k < 0 or k % 1 ~= 0 or #ARGV < 8 + 2 * k or (via == '' and k ~= 0) then
  return redis.error_reply('ERR transition: bad arguments')
end
local reserved = {order_number = 1, order_no = 1, merchant_id = 1, store_id = 1, mobile = 1,
                  carrier = 1, money = 1, recharge_type = 1, notify_url = 1, change = 1,
                  source = 1, fingerprint = 1, cost = 1, status = 1, reason = 1, created_at = 1,
                  updated_at = 1, finished_at = 1, events = 1, refunded = 1, type = 1,
                  from = 1, to = 1, at = 1}
for i = 9, #ARGV, 2 do
  if reserved[ARGV[i]] then return redis.error_reply('ERR transition: reserved field') end
end
local cur = redis.call('HMGET', KEYS[1], 'status', 'events', 'created_at', 'notify_url')
if not cur[1] then return {'notfound'} end
if cur[1] ~= from then return {'stale', cur[1]} end
local events = tonumber(cur[2] or '0')
if not events or not tonumber(cur[3] or '') then
  return redis.error_reply('ERR transition: corrupt order')
end

local number = ARGV[1]
local last = 9 + 2 * k  -- the first pair of the last step
local step_from = from
if via ~= '' then
  local e = {'XADD', KEYS[2], '*', 'type', 'transition', 'from', from, 'to', via,
             'reason', '', 'at', now}
  for i = 9, last - 1 do e[#e + 1] = ARGV[i] end
  redis.call(unpack(e))
  step_from, events = via, events + 1
end
local e = {'XADD', KEYS[2], '*', 'type', 'transition', 'from', step_from, 'to', to,
           'reason', ARGV[4], 'at', now}
for i = last, #ARGV do e[#e + 1] = ARGV[i] end
redis.call(unpack(e))
local h = {'HSET', KEYS[1]}
for i = 9, #ARGV do h[#h + 1] = ARGV[i] end
local n = #h
h[n + 1], h[n + 2] = 'status', to
h[n + 3], h[n + 4] = 'reason', ARGV[4]
h[n + 5], h[n + 6] = 'updated_at', now
h[n + 7], h[n + 8] = 'events', string.format('%d', events + 1)
local terminal = to == '2'
if terminal then
  h[n + 9], h[n + 10] = 'finished_at', now
  -- Scheduled in the same step as the final status, so a crash cannot lose the callback.
  if cur[4] and cur[4] ~= '' then
    h[n + 11], h[n + 12], h[n + 13], h[n + 14] = 'cb_status', 'pending', 'cb_attempts', '0'
    redis.call('ZADD', KEYS[6], now, number)
  end
  redis.call('SREM', KEYS[5], number)
end
redis.call(unpack(h))
redis.call('ZREM', KEYS[3], number)
redis.call('ZADD', KEYS[4], cur[3], number)
if ARGV[6] == '0' then return {'ok'} end
return {'ok', redis.call('HGETALL', KEYS[1])}
)lua";

constexpr const char* k_fail_refund_lua = R"lua(
-- fail_refund: from 1, 6, 7 (via ->3) or 3, to 4 with the debit credited back, once per order.
-- KEYS: 1 o:<number>  2 ev:<number>  3 st:<from>  4 st:4  5 active  6 cbdue  7 acct  8 ledger
-- ARGV: 1 order_number  2 from  3 reason  4 now_ms
local from, now = ARGV[2], ARGV[4]
if from ~= '1' and from ~= '6' and from ~= '7' and from ~= '3' then return {'illegal'} end
if not string.find(now, '^%d+$') then return redis.error_reply('ERR fail_refund: bad arguments') end
local cur = redis.call('HMGET', KEYS[1], 'status', 'events', 'created_at', 'notify_url', 'cost',
                       'refunded', 'reason')
if not cur[1] then return {'notfound'} end
if cur[1] ~= from or cur[6] == '1' then return {'stale', cur[1]} end
local cost, events = cur[5], tonumber(cur[2] or '0')
local acct = redis.call('HMGET', KEYS[7], 'balance', 'refunds')
if not events or not tonumber(cur[3] or '') or not cost
    or not (cost == '0' or string.find(cost, '^[1-9]%d*$')) or #cost > 15
    or not tonumber(acct[1] or '0') or not tonumber(acct[2] or '0') then
  return redis.error_reply('ERR fail_refund: corrupt order or account')
end

local number, reason = ARGV[1], ARGV[3]
if from == '3' then
  -- Keep the reason the order failed with; the caller (recovery) may not know it.
  if cur[7] and cur[7] ~= '' then reason = cur[7] end
else
  redis.call('XADD', KEYS[2], '*', 'type', 'transition', 'from', from, 'to', '3',
             'reason', reason, 'at', now)
  events = events + 1
end
local nb = redis.call('HINCRBY', KEYS[7], 'balance', cost)
redis.call('HINCRBY', KEYS[7], 'refunds', cost)
redis.call('XADD', KEYS[8], '*', 'type', 'refund', 'amount', cost,
           'balance', string.format('%d', nb), 'order', number, 'at', now)
redis.call('XADD', KEYS[2], '*', 'type', 'transition', 'from', '3', 'to', '4',
           'reason', reason, 'at', now, 'refund', cost)
local h = {'HSET', KEYS[1], 'status', '4', 'reason', reason, 'updated_at', now,
           'finished_at', now, 'refunded', '1', 'events', string.format('%d', events + 1)}
if cur[4] and cur[4] ~= '' then
  h[#h + 1], h[#h + 2], h[#h + 3], h[#h + 4] = 'cb_status', 'pending', 'cb_attempts', '0'
  redis.call('ZADD', KEYS[6], now, number)
end
redis.call(unpack(h))
redis.call('ZREM', KEYS[3], number)
redis.call('ZADD', KEYS[4], cur[3], number)
redis.call('SREM', KEYS[5], number)
return {'ok', redis.call('HGETALL', KEYS[1])}
)lua";

constexpr const char* k_credit_lua = R"lua(
-- credit: a balance top-up or correction, applied once per ref (the same ref with another
-- amount is a conflict); never takes the balance below 0.
-- KEYS: 1 acct  2 ledger  3 crefs
-- ARGV: 1 ref  2 amount (fen, may be negative)  3 now_ms
local amount, now = ARGV[2], ARGV[3]
if not (amount == '0' or string.find(amount, '^%-?[1-9]%d*$')) or #amount > 17
    or not string.find(now, '^%d+$') then
  return redis.error_reply('ERR credit: bad arguments')
end
local applied = redis.call('HGET', KEYS[3], ARGV[1])
if applied then
  -- The same ref with another amount is not a repeat but a mistake: refused, nothing moves.
  if applied ~= amount then return {'conflict', applied} end
  return {'repeat', redis.call('HGET', KEYS[1], 'balance') or '0'}
end
local acct = redis.call('HMGET', KEYS[1], 'balance', 'credits')
local balance = tonumber(acct[1] or '0')
if not balance or not tonumber(acct[2] or '0') then
  return redis.error_reply('ERR credit: corrupt account')
end
if balance + tonumber(amount) < 0 then return {'insufficient', acct[1] or '0'} end

local nb = string.format('%d', redis.call('HINCRBY', KEYS[1], 'balance', amount))
redis.call('HINCRBY', KEYS[1], 'credits', amount)
redis.call('HSET', KEYS[3], ARGV[1], amount)
redis.call('XADD', KEYS[2], '*', 'type', 'credit', 'amount', amount, 'balance', nb,
           'ref', ARGV[1], 'at', now)
return {'ok', nb}
)lua";

constexpr const char* k_list_page_lua = R"lua(
-- list_page: total and one page of full order records, newest first, in one round trip.
-- KEYS: 1 all or st:<status>
-- ARGV: 1 min created_at (ms)  2 max created_at (ms)  3 offset  4 count  5 order key prefix
-- Read-only; it derives order keys from ARGV[5] ("P:{m<id>}:o:"), which share KEYS[1]'s hash
-- tag and so its slot: the one documented exception to "every key in KEYS".
local total = redis.call('ZCOUNT', KEYS[1], ARGV[1], ARGV[2])
local out = {total}
if total > 0 then
  local numbers = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[2], ARGV[1], 'LIMIT', ARGV[3],
                             ARGV[4])
  for i = 1, #numbers do out[i + 1] = redis.call('HGETALL', ARGV[5] .. numbers[i]) end
end
return out
)lua";

/// Field/value pairs as consecutive script arguments.
void append_pairs(std::vector<std::string>& args, const field_pairs& pairs) {
  for (const auto& [name, value] : pairs) {
    args.push_back(name);
    args.push_back(value);
  }
}

}  // namespace

const redis::script& accept() {
  static const redis::script instance{k_accept_lua};
  return instance;
}

const redis::script& transition() {
  static const redis::script instance{k_transition_lua};
  return instance;
}

const redis::script& fail_refund() {
  static const redis::script instance{k_fail_refund_lua};
  return instance;
}

const redis::script& credit() {
  static const redis::script instance{k_credit_lua};
  return instance;
}

const redis::script& list_page() {
  static const redis::script instance{k_list_page_lua};
  return instance;
}

call accept_call(const merchant_keys& keys, std::string order_no, std::string order_number,
                 std::string fingerprint, fen_t cost_fen, std::int64_t now_ms,
                 const field_pairs& business, const field_pairs& match) {
  call c;
  c.keys = {keys.acct(),
            keys.ledger(),
            keys.ono(),
            keys.order(order_number),
            keys.events(order_number),
            keys.all(),
            keys.by_status(match.empty() ? 6 : 7),
            keys.active()};
  c.args.reserve(6 + 2 * (business.size() + match.size()));
  c.args.push_back(std::move(order_no));
  c.args.push_back(std::move(order_number));
  c.args.push_back(std::move(fingerprint));
  c.args.push_back(std::to_string(cost_fen));
  c.args.push_back(std::to_string(now_ms));
  c.args.push_back(std::to_string(match.size()));
  append_pairs(c.args, match);
  append_pairs(c.args, business);
  return c;
}

call transition_call(const merchant_keys& keys, std::string order_number, int from, int to,
                     std::string reason, const field_pairs& extra, std::int64_t now_ms,
                     bool answer_record, std::optional<int> via, const field_pairs& via_extra) {
  call c;
  c.keys = {keys.order(order_number),
            keys.events(order_number),
            keys.by_status(from),
            keys.by_status(to),
            keys.active(),
            keys.cbdue()};
  c.args.reserve(8 + 2 * (via_extra.size() + extra.size()));
  c.args.push_back(std::move(order_number));
  c.args.push_back(std::to_string(from));
  c.args.push_back(std::to_string(to));
  c.args.push_back(std::move(reason));
  c.args.push_back(std::to_string(now_ms));
  c.args.push_back(answer_record ? "1" : "0");
  c.args.push_back(via ? std::to_string(*via) : std::string());
  c.args.push_back(std::to_string(via ? via_extra.size() : 0));
  if (via) append_pairs(c.args, via_extra);
  append_pairs(c.args, extra);
  return c;
}

call fail_refund_call(const merchant_keys& keys, std::string order_number, int from,
                      std::string reason, std::int64_t now_ms) {
  call c;
  c.keys = {keys.order(order_number),
            keys.events(order_number),
            keys.by_status(from),
            keys.by_status(4),
            keys.active(),
            keys.cbdue(),
            keys.acct(),
            keys.ledger()};
  c.args = {std::move(order_number), std::to_string(from), std::move(reason),
            std::to_string(now_ms)};
  return c;
}

call credit_call(const merchant_keys& keys, std::string ref, fen_t amount_fen,
                 std::int64_t now_ms) {
  call c;
  c.keys = {keys.acct(), keys.ledger(), keys.crefs()};
  c.args = {std::move(ref), std::to_string(amount_fen), std::to_string(now_ms)};
  return c;
}

call list_page_call(const merchant_keys& keys, std::optional<int> status, std::int64_t min_ms,
                    std::int64_t max_ms, std::int64_t offset, std::int64_t count) {
  call c;
  c.keys = {status ? keys.by_status(*status) : keys.all()};
  c.args = {std::to_string(min_ms), std::to_string(max_ms), std::to_string(offset),
            std::to_string(count), keys.order_prefix()};
  return c;
}

}  // namespace ledger_scripts
}  // namespace topup::engine
