#include "engine/store/ledger_scripts.hpp"

#include <string>
#include <utility>

#include "engine/support/assert.hpp"

namespace topup::engine {

merchant_keys::merchant_keys(std::string_view prefix, std::int64_t merchant_id) {
  base_.reserve(prefix.size() + 28);
  base_.append(prefix);
  base_.append(":{m");
  base_.append(std::to_string(merchant_id));
  base_.append("}:");
}

std::string order_no_field(std::string_view order_no) {
  std::string field;
  field.reserve(order_no.size() + 1);
  field.push_back('#');
  field.append(order_no);
  return field;
}

namespace ledger_scripts {
namespace {

// Every script runs for every order: keep it to the commands the step needs. Numbers cross into
// Lua as decimal strings and are handed back to Redis as strings (a Lua number passed to
// redis.call may be spelled with an exponent); only comparisons and version arithmetic use Lua
// numbers, exact below 2^53. "\31" is the packed record's separator (0x1f).

// The money scripts' check of an account total, ahead of each of them: HINCRBY takes only a
// canonical decimal integer (no sign '+', no leading zero, no space, '.', exponent or hex), while
// tonumber() also reads '1.5', '1e9', '0x10', ' 5' or '007'. A total checked with tonumber()
// alone would stop the script at its HINCRBY, after its first write, and Redis does not roll a
// script back. At most 18 characters: HINCRBY never overflows by the amounts the scripts allow.
constexpr const char* k_account_total_lua = R"lua(
local function total(s)
  if not s then return 0 end
  if s == '0' or (#s <= 18 and string.find(s, '^%-?[1-9]%d*$')) then return tonumber(s) end
  return nil
end
)lua";

constexpr const char* k_accept_lua = R"lua(
-- accept: a batch of new orders of one merchant (group commit: the accepts one shard issued for
-- it in one turn of its reactor), decided one after the other in the order given, each exactly
-- as if it had come alone after the ones before it: idempotency (the order_no seen before, also
-- earlier in this batch), collision, balance check against the balance the earlier orders left.
-- Then, for the accepted ones: the debit (one HINCRBY per total, for their sum), one `accepted`
-- event each (the money and the status, `bal` after its own debit; the record itself is the
-- projection's), the records with their order_no entries in one HSET, the time index and the
-- work set in one ZADD each. Each record is C++'s, checked here: version 1, the status asked,
-- the cost debited, not refunded, this order number. Every order is checked before anything is
-- written: one malformed order refuses the whole call.
-- KEYS: 1 fence  2 acct  3 log  4 o  5 t  6 work
-- ARGV: 1 instance  2 epoch  3 n (orders), then 7 per order: order_no  order_number  fingerprint
--       cost (fen)  created_at (ms)  status (6 or 7)  packed record
-- Answers {'fenced'}, or n answers in the order of the orders: {'ok', bal} | {'dup', number, bal}
-- | {'conflict', number} | {'insufficient', bal} | {'collision'} | {'corrupt'} (its order_no entry)
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return {'fenced'} end
-- A canonical count (tonumber() would also read '1.0' or ' 1'), at most 1000: the HSET below
-- unpacks 2 + 4n values, and Lua's stack holds 8000.
local n = string.find(ARGV[3] or '', '^[1-9]%d?%d?%d?$') and tonumber(ARGV[3])
if not n or n > 1000 or #ARGV ~= 3 + 7 * n then
  return redis.error_reply('ERR accept: bad arguments')
end
local lookups = {}  -- '#<order_no>', number, ... for one HMGET
for i = 0, n - 1 do
  local a = 4 + 7 * i
  local order_no, number, cost, now, status, rec =
    ARGV[a], ARGV[a + 1], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5], ARGV[a + 6]
  local head = '1\31' .. status .. '\31' .. cost .. '\31' .. '0\31' .. number .. '\31'
  if not (cost == '0' or string.find(cost, '^[1-9]%d*$')) or #cost > 15
      or not string.find(now, '^%d+$') or not string.find(number, '^%w+$') or order_no == ''
      or (status ~= '6' and status ~= '7') or string.sub(rec, 1, #head) ~= head then
    return redis.error_reply('ERR accept: bad arguments')
  end
  lookups[2 * i + 1] = '#' .. order_no
  lookups[2 * i + 2] = number
end
local stored = redis.call('HMGET', KEYS[4], unpack(lookups))
local acct = redis.call('HMGET', KEYS[2], 'balance', 'debits')
local balance, debits = total(acct[1]), total(acct[2])
-- The running balance is Lua arithmetic: exact below 2^53 fen (90 trillion yuan).
if not balance or not debits or balance >= 9007199254740992 then
  return redis.error_reply('ERR accept: corrupt account')
end

local answers, taken, numbers, ok = {}, {}, {}, {}
local sum = 0
for i = 0, n - 1 do
  local a = 4 + 7 * i
  local order_no, number, fp, cost = ARGV[a], ARGV[a + 1], ARGV[a + 2], tonumber(ARGV[a + 3])
  local seen = taken[order_no] or stored[2 * i + 1]
  if seen then
    -- "<order_number>:<fingerprint>" (order numbers never contain ':')
    local sep = string.find(seen, ':', 1, true)
    if not sep then
      answers[i + 1] = {'corrupt'}
    elseif string.sub(seen, sep + 1) ~= fp then
      answers[i + 1] = {'conflict', string.sub(seen, 1, sep - 1)}
    else
      answers[i + 1] = {'dup', string.sub(seen, 1, sep - 1), string.format('%d', balance)}
    end
  elseif stored[2 * i + 2] or numbers[number] then
    answers[i + 1] = {'collision'}
  elseif balance < cost then
    answers[i + 1] = {'insufficient', string.format('%d', balance)}
  else
    balance = balance - cost
    sum = sum + cost
    taken[order_no] = number .. ':' .. fp
    numbers[number] = true
    local bal = string.format('%d', balance)
    ok[#ok + 1] = {a, bal}
    answers[i + 1] = {'ok', bal}
  end
end
if #ok == 0 then return answers end

local sums = string.format('%d', sum)
redis.call('HINCRBY', KEYS[2], 'balance', sum == 0 and '0' or '-' .. sums)
redis.call('HINCRBY', KEYS[2], 'debits', sums)
local records, by_time, work = {'HSET', KEYS[4]}, {'ZADD', KEYS[5]}, {'ZADD', KEYS[6]}
for _, o in ipairs(ok) do
  local a, bal = o[1], o[2]
  local order_no, number, fp, cost, now, status, rec =
    ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5], ARGV[a + 6]
  redis.call('XADD', KEYS[3], '*', 'e', 'accepted', 'o', number, 'to', status, 'amount', cost,
             'bal', bal)
  records[#records + 1] = number
  records[#records + 1] = rec
  records[#records + 1] = '#' .. order_no
  records[#records + 1] = number .. ':' .. fp
  by_time[#by_time + 1] = now
  by_time[#by_time + 1] = number
  work[#work + 1] = '-' .. now
  work[#work + 1] = number
end
redis.call(unpack(records))
redis.call(unpack(by_time))
redis.call(unpack(work))
return answers
)lua";

constexpr const char* k_append_lua = R"lua(
-- append: a batch of steps of one merchant's orders (group commit: the steps one shard made for
-- the merchant while its previous call was out: order_store's lanes, engine/store/group_commit), each applied as if
-- it had come alone after the ones before it: the events of the step and the order's new
-- record, compare-and-set on the order's version. Money fields (cost, refunded) and status 4
-- belong to accept and refund: a record changing them is refused. Every step's arguments are
-- checked before anything is written: one malformed step refuses the whole call.
-- KEYS: 1 fence  2 log  3 o  4 work  5 cbfailed
-- ARGV: 1 instance  2 epoch  3 count (steps), then per step: order_number  expected version
--       packed record  work ('' keep, 'rem' remove, else the new score)  cbfailed (the
--       exception queue's failed callbacks: '' keep, 'rem' remove, else since when, ms)
--       n (events), then per event: type, k, k field/value pairs
-- Answers {'fenced'}, or count answers in the order of the steps: {'ok'} | {'stale', status}
-- | {'notfound'} | {'corrupt'} (the stored record is unreadable) | {'broken'} (the new record
-- breaks the rules above)
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return {'fenced'} end
local count = string.find(ARGV[3] or '', '^[1-9]%d?%d?%d?$') and tonumber(ARGV[3])
if not count or count > 1000 then return redis.error_reply('ERR append: bad arguments') end
local starts = {}  -- where each step's arguments begin
local i = 4
for s = 1, count do
  local expected, work, cbfailed = ARGV[i + 1], ARGV[i + 3], ARGV[i + 4]
  local n = tonumber(ARGV[i + 5] or '')
  if not cbfailed or not string.find(expected, '^%d+$') or not n or n < 1 or n % 1 ~= 0
      or (work ~= '' and work ~= 'rem' and not string.find(work, '^%-?%d+$'))
      or (cbfailed ~= '' and cbfailed ~= 'rem' and not string.find(cbfailed, '^%d+$')) then
    return redis.error_reply('ERR append: bad arguments')
  end
  starts[s] = i
  i = i + 6
  for _ = 1, n do
    local k = tonumber(ARGV[i + 1] or '')
    if not ARGV[i] or ARGV[i] == '' or not k or k < 0 or k % 1 ~= 0 or i + 1 + 2 * k > #ARGV then
      return redis.error_reply('ERR append: bad events')
    end
    i = i + 2 + 2 * k
  end
end
if i ~= #ARGV + 1 then return redis.error_reply('ERR append: bad events') end

local answers = {}
for s = 1, count do
  local a = starts[s]
  local number, expected, rec, work, cbfailed = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3],
      ARGV[a + 4]
  local n = tonumber(ARGV[a + 5])
  local cur = redis.call('HGET', KEYS[3], number)
  local v, st, cost, refunded
  if cur then v, st, cost, refunded = string.match(cur, '^(%d+)\31(%d)\31(%d+)\31([01])\31') end
  local nv, nst, ncost, nrefunded = string.match(rec, '^(%d+)\31(%d)\31(%d+)\31([01])\31')
  if not cur then
    answers[s] = {'notfound'}
  elseif not v then
    answers[s] = {'corrupt'}
  elseif v ~= expected then
    answers[s] = {'stale', st}
  elseif not nv or tonumber(nv) ~= tonumber(v) + n or ncost ~= cost or nrefunded ~= refunded
      or (nst == '4') ~= (st == '4') then
    answers[s] = {'broken'}
  else
    local ver = tonumber(v)
    local e = a + 6
    for _ = 1, n do
      local k = tonumber(ARGV[e + 1])
      ver = ver + 1
      local entry = {'XADD', KEYS[2], '*', 'e', ARGV[e], 'o', number, 'v', string.format('%d', ver)}
      for j = e + 2, e + 1 + 2 * k do entry[#entry + 1] = ARGV[j] end
      redis.call(unpack(entry))
      e = e + 2 + 2 * k
    end
    redis.call('HSET', KEYS[3], number, rec)
    if work == 'rem' then redis.call('ZREM', KEYS[4], number)
    elseif work ~= '' then redis.call('ZADD', KEYS[4], work, number) end
    if cbfailed == 'rem' then redis.call('ZREM', KEYS[5], number)
    elseif cbfailed ~= '' then redis.call('ZADD', KEYS[5], cbfailed, number) end
    answers[s] = {'ok'}
  end
end
return answers
)lua";

constexpr const char* k_refund_lua = R"lua(
-- refund: from 1, 6, 7 (with the step to 3) or 3, to 4 with the stored cost credited back, once.
-- KEYS: 1 fence  2 acct  3 log  4 o  5 work
-- ARGV: 1 instance  2 epoch  3 order_number  4 expected version  5 from  6 reason
--       7 packed record (status 4, refunded)  8 work: '' keep, 'rem' remove, else the new score
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return {'fenced'} end
local number, expected, from, reason, rec, work = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
if (from ~= '1' and from ~= '6' and from ~= '7' and from ~= '3')
    or not string.find(expected, '^%d+$')
    or (work ~= '' and work ~= 'rem' and not string.find(work, '^%-?%d+$')) then
  return redis.error_reply('ERR refund: bad arguments')
end
local cur = redis.call('HGET', KEYS[4], number)
if not cur then return {'notfound'} end
local v, st, cost, refunded = string.match(cur, '^(%d+)\31(%d)\31(%d+)\31([01])\31')
if not v then return redis.error_reply('ERR refund: corrupt record') end
if v ~= expected or st ~= from or refunded == '1' then return {'stale', st} end
local steps = from == '3' and 1 or 2
local nv, nst, ncost, nrefunded = string.match(rec, '^(%d+)\31(%d)\31(%d+)\31([01])\31')
if not nv or tonumber(nv) ~= tonumber(v) + steps or nst ~= '4' or ncost ~= cost
    or nrefunded ~= '1' or #cost > 15 then
  return redis.error_reply('ERR refund: record breaks the rules')
end
local acct = redis.call('HMGET', KEYS[2], 'balance', 'refunds')
if not total(acct[1]) or not total(acct[2]) then
  return redis.error_reply('ERR refund: corrupt account')
end

local ver = tonumber(v)
if from ~= '3' then
  ver = ver + 1
  redis.call('XADD', KEYS[3], '*', 'e', 'step', 'o', number, 'v', string.format('%d', ver),
             'f', from, 't', '3', 'why', reason)
end
local nb = string.format('%d', redis.call('HINCRBY', KEYS[2], 'balance', cost))
redis.call('HINCRBY', KEYS[2], 'refunds', cost)
redis.call('XADD', KEYS[3], '*', 'e', 'refund', 'o', number, 'v', string.format('%d', ver + 1),
           'f', '3', 't', '4', 'why', reason, 'amount', cost, 'bal', nb)
redis.call('HSET', KEYS[4], number, rec)
if work == 'rem' then redis.call('ZREM', KEYS[5], number)
elseif work ~= '' then redis.call('ZADD', KEYS[5], work, number) end
return {'ok', nb}
)lua";

constexpr const char* k_credit_lua = R"lua(
-- credit: a balance top-up or correction, applied once per ref (the same ref with another
-- amount is a conflict); never takes the balance below 0.
-- KEYS: 1 fence  2 acct  3 log  4 crefs
-- ARGV: 1 instance  2 epoch  3 ref  4 amount (fen, may be negative)  5 by (the operator, or '')
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return {'fenced'} end
local ref, amount = ARGV[3], ARGV[4]
if not (amount == '0' or string.find(amount, '^%-?[1-9]%d*$')) or #amount > 17 or ref == '' then
  return redis.error_reply('ERR credit: bad arguments')
end
local applied = redis.call('HGET', KEYS[4], ref)
if applied then
  -- The same ref with another amount is not a repeat but a mistake: refused, nothing moves.
  if applied ~= amount then return {'conflict', applied} end
  return {'repeat', redis.call('HGET', KEYS[2], 'balance') or '0'}
end
local acct = redis.call('HMGET', KEYS[2], 'balance', 'credits')
local balance = total(acct[1])
if not balance or not total(acct[2]) then
  return redis.error_reply('ERR credit: corrupt account')
end
if balance + tonumber(amount) < 0 then return {'insufficient', acct[1] or '0'} end

local nb = string.format('%d', redis.call('HINCRBY', KEYS[2], 'balance', amount))
redis.call('HINCRBY', KEYS[2], 'credits', amount)
redis.call('HSET', KEYS[4], ref, amount)
if ARGV[5] and ARGV[5] ~= '' then
  redis.call('XADD', KEYS[3], '*', 'e', 'credit', 'ref', ref, 'amount', amount, 'bal', nb,
             'by', ARGV[5])
else
  redis.call('XADD', KEYS[3], '*', 'e', 'credit', 'ref', ref, 'amount', amount, 'bal', nb)
end
return {'ok', nb}
)lua";

std::string work_arg(work_change w) {
  switch (w.what) {
    case work_change::kind::keep: return {};
    case work_change::kind::remove: return "rem";
    case work_change::kind::set: return std::to_string(w.score);
  }
  return {};
}

}  // namespace

const redis::script& accept() {
  static const redis::script instance{std::string(k_account_total_lua) + k_accept_lua};
  return instance;
}

const redis::script& append() {
  static const redis::script instance{k_append_lua};
  return instance;
}

const redis::script& refund() {
  static const redis::script instance{std::string(k_account_total_lua) + k_refund_lua};
  return instance;
}

constexpr const char* k_retire_lua = R"lua(
-- retire: final orders past retention leave the projections (their archive file was written
-- first, engine/retention/order_archiver). Each order only while its record is the one archived
-- (its version), final (2 or 4) and has no work left (no pending callback in `work`); otherwise
-- it is kept, untouched, for a later pass. Its `#<order_no>` entry goes only if it names it,
-- and its `cbfailed` entry with it (a final order whose callback failed leaves the exception
-- queue when it leaves Redis: docs/DECISIONS.md "The exception queue").
-- KEYS: 1 fence  2 o  3 t  4 work  5 cbfailed
-- ARGV: 1 instance  2 epoch, then 3 per order: order_number  version  order_no
-- Answers {'fenced'} or {'ok', removed, kept}
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return {'fenced'} end
if #ARGV < 5 or (#ARGV - 2) % 3 ~= 0 then return redis.error_reply('ERR retire: bad arguments') end
local removed, kept = 0, 0
for a = 3, #ARGV, 3 do
  local number, version, order_no = ARGV[a], ARGV[a + 1], ARGV[a + 2]
  local rec = redis.call('HGET', KEYS[2], number)
  local head = version .. '\31'
  local status = rec and string.sub(rec, #head + 1, #head + 2)
  if rec and string.sub(rec, 1, #head) == head and (status == '2\31' or status == '4\31')
      and not redis.call('ZSCORE', KEYS[4], number) then
    redis.call('HDEL', KEYS[2], number)
    local entry = redis.call('HGET', KEYS[2], '#' .. order_no)
    if entry and string.sub(entry, 1, #number + 1) == number .. ':' then
      redis.call('HDEL', KEYS[2], '#' .. order_no)
    end
    redis.call('ZREM', KEYS[3], number)
    redis.call('ZREM', KEYS[5], number)
    removed = removed + 1
  else
    kept = kept + 1
  end
end
return {'ok', removed, kept}
)lua";

const redis::script& retire() {
  static const redis::script instance{k_retire_lua};
  return instance;
}

constexpr const char* k_trim_lua = R"lua(
-- trim: the log's oldest entries leave it behind the checkpoint, in the step that writes the
-- checkpoint's new totals (engine/retention/log_trimmer folded them, and wrote them to a file,
-- first). Compare-and-set on the checkpoint's position: a pass that read an older checkpoint
-- (another instance, or its own earlier pass) writes nothing. The entries removed must be
-- exactly the ones folded: the log's first entry is the chunk's first, and nothing lies between
-- the chunk's last and the new position (an entry appended since the chunk was read would be
-- trimmed without being counted).
-- KEYS: 1 fence  2 ckpt  3 log
-- ARGV: 1 instance  2 epoch  3 the checkpoint's position read ('0-0': none)  4 the chunk's first
--       id  5 its last id  6 the new position, then the new values of balance credits debits
--       refunds refs refs_fen entries money_entries orders at (ARGV 7..16)
-- Answers {'fenced'} | {'moved'} | {'ok', entries trimmed}
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return {'fenced'} end
local function id_of(s)
  local ms, seq = string.match(s or '', '^(%d+)%-(%d+)$')
  if not ms or #ms > 15 or #seq > 15 then return nil end
  return {tonumber(ms), tonumber(seq)}
end
local function before(a, b) return a[1] < b[1] or (a[1] == b[1] and a[2] < b[2]) end
local expected, first, last, position = id_of(ARGV[3]), id_of(ARGV[4]), id_of(ARGV[5]), id_of(ARGV[6])
local bad = #ARGV ~= 16 or not expected or not first or not last or not position
    or before(last, first) or not before(last, position) or before(first, expected)
for i = 7, 16 do
  if not bad and not (ARGV[i] == '0' or string.find(ARGV[i], '^%-?[1-9]%d*$')) then bad = true end
end
if bad then return redis.error_reply('ERR trim: bad arguments') end
if (redis.call('HGET', KEYS[2], 'id') or '0-0') ~= ARGV[3] then return {'moved'} end
local head = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', 1)
if not head[1] or head[1][1] ~= ARGV[4] then return {'moved'} end
if #redis.call('XRANGE', KEYS[3], '(' .. ARGV[5], '(' .. ARGV[6], 'COUNT', 1) > 0 then
  return {'moved'}
end
redis.call('HSET', KEYS[2], 'id', ARGV[6], 'balance', ARGV[7], 'credits', ARGV[8],
           'debits', ARGV[9], 'refunds', ARGV[10], 'refs', ARGV[11], 'refs_fen', ARGV[12],
           'entries', ARGV[13], 'money_entries', ARGV[14], 'orders', ARGV[15], 'at', ARGV[16])
return {'ok', redis.call('XTRIM', KEYS[3], 'MINID', ARGV[6])}
)lua";

const redis::script& trim() {
  static const redis::script instance{k_trim_lua};
  return instance;
}

const redis::script& credit() {
  static const redis::script instance{std::string(k_account_total_lua) + k_credit_lua};
  return instance;
}

call accept_call(const merchant_keys& keys, const fence_token& fence) {
  call c;
  c.keys = {keys.fence(), keys.acct(), keys.log(), keys.orders(), keys.by_time(), keys.work()};
  c.args = {fence.instance, std::to_string(fence.epoch), "0"};
  return c;
}

std::size_t add_accept_order(call& c, const order_record& order) {
  TOPUP_ASSERT(c.args.size() >= k_accept_head_args &&
               (c.args.size() - k_accept_head_args) % k_accept_args_per_order == 0);
  const std::size_t size_before = c.args.size();
  c.args.push_back(order.order_no);
  c.args.push_back(order.order_number);
  c.args.push_back(order.fingerprint);
  c.args.push_back(std::to_string(order.cost_fen));
  c.args.push_back(std::to_string(order.created_at_ms));
  c.args.push_back(std::to_string(to_int(order.status)));
  c.args.push_back(pack_order(order));
  c.args[2] = std::to_string((c.args.size() - k_accept_head_args) / k_accept_args_per_order);
  std::size_t bytes = 0;
  for (std::size_t i = size_before; i < c.args.size(); ++i) bytes += c.args[i].size();
  return bytes;
}

call accept_call(const merchant_keys& keys, const fence_token& fence,
                 std::span<const order_record> orders) {
  call c = accept_call(keys, fence);
  c.args.reserve(k_accept_head_args + k_accept_args_per_order * orders.size());
  for (const auto& order : orders) add_accept_order(c, order);
  return c;
}

call append_call(const merchant_keys& keys, const fence_token& fence) {
  call c;
  c.keys = {keys.fence(), keys.log(), keys.orders(), keys.work(), keys.cbfailed()};
  c.args = {fence.instance, std::to_string(fence.epoch), "0"};
  return c;
}

std::size_t add_append_step(call& c, std::int64_t expected_version, const order_record& after,
                             const std::vector<log_event>& events, work_change work) {
  TOPUP_ASSERT(!events.empty() && c.args.size() >= k_append_head_args);
  const std::size_t size_before = c.args.size();
  c.args.push_back(after.order_number);
  c.args.push_back(std::to_string(expected_version));
  c.args.push_back(pack_order(after));
  c.args.push_back(work_arg(work));
  c.args.push_back(work.cbfailed == 0  ? std::string()
                   : work.cbfailed < 0 ? std::string("rem")
                                       : std::to_string(work.cbfailed));
  c.args.push_back(std::to_string(events.size()));
  for (const auto& e : events) {
    c.args.push_back(e.type);
    c.args.push_back(std::to_string(e.fields.size()));
    for (const auto& [name, value] : e.fields) {
      c.args.push_back(name);
      c.args.push_back(value);
    }
  }
  c.args[2] = std::to_string(std::stoll(c.args[2]) + 1);
  std::size_t bytes = 0;
  for (std::size_t i = size_before; i < c.args.size(); ++i) bytes += c.args[i].size();
  return bytes;
}

call append_call(const merchant_keys& keys, const fence_token& fence, std::int64_t expected_version,
                 const order_record& after, const std::vector<log_event>& events,
                 work_change work) {
  call c = append_call(keys, fence);
  add_append_step(c, expected_version, after, events, work);
  return c;
}

call refund_call(const merchant_keys& keys, const fence_token& fence, std::int64_t expected_version,
                 int from, const std::string& reason, const order_record& after, work_change work) {
  call c;
  c.keys = {keys.fence(), keys.acct(), keys.log(), keys.orders(), keys.work()};
  c.args = {fence.instance,
            std::to_string(fence.epoch),
            after.order_number,
            std::to_string(expected_version),
            std::to_string(from),
            reason,
            pack_order(after),
            work_arg(work)};
  return c;
}

call credit_call(const merchant_keys& keys, const fence_token& fence, std::string ref,
                 fen_t amount_fen, std::string by) {
  call c;
  c.keys = {keys.fence(), keys.acct(), keys.log(), keys.crefs()};
  c.args = {fence.instance, std::to_string(fence.epoch), std::move(ref),
            std::to_string(amount_fen), std::move(by)};
  return c;
}

call retire_call(const merchant_keys& keys, const fence_token& fence,
                 const std::vector<retiring_order>& orders) {
  call c;
  c.keys = {keys.fence(), keys.orders(), keys.by_time(), keys.work(), keys.cbfailed()};
  c.args = {fence.instance, std::to_string(fence.epoch)};
  c.args.reserve(2 + 3 * orders.size());
  for (const auto& o : orders) {
    c.args.push_back(o.order_number);
    c.args.push_back(std::to_string(o.version));
    c.args.push_back(o.order_no);
  }
  return c;
}

call trim_call(const merchant_keys& keys, const fence_token& fence, std::string expected_id,
               std::string first_id, std::string last_id, const log_checkpoint& next) {
  call c;
  c.keys = {keys.fence(), keys.checkpoint(), keys.log()};
  std::vector<std::string> values = checkpoint_values(next);
  c.args = {fence.instance, std::to_string(fence.epoch), std::move(expected_id),
            std::move(first_id), std::move(last_id)};
  c.args.insert(c.args.end(), std::make_move_iterator(values.begin()),
                std::make_move_iterator(values.end()));
  return c;
}

}  // namespace ledger_scripts
}  // namespace topup::engine
