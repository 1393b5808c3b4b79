#include "engine/store/takeover.hpp"

#include <algorithm>

#include "engine/order/order_number.hpp"
#include "engine/redis/command.hpp"
#include "engine/redis/script.hpp"
#include "engine/store/ledger_scripts.hpp"
#include "engine/store/order_store.hpp"
#include "engine/support/errc.hpp"
#include "engine/support/log.hpp"

namespace topup::engine {

namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using boost::system::result;
using redis::args;
using redis::reply;

// KEYS[1] P:foster:<dead>; ARGV[1] "instance=<self> ", ARGV[2] margin (ms), ARGV[3] ttl (ms). Sets the claim unless another instance holds it; the cutoff is Redis's
// clock + margin, never lowered when our own claim is extended. Answers {'taken', value} or
// {'claimed', cutoff}.
const redis::script& foster_script() {
  static const redis::script s(R"lua(
local held = redis.call('GET', KEYS[1])
local cutoff = 0
if held then
  if string.sub(held, 1, #ARGV[1]) ~= ARGV[1] then return {'taken', held} end
  cutoff = tonumber(string.match(held, 'cutoff=(%d+)')) or 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[2])
if now > cutoff then cutoff = now end
redis.call('SET', KEYS[1], ARGV[1] .. 'cutoff=' .. string.format('%d', cutoff) .. ' epoch=0',
           'PX', ARGV[3])
return {'claimed', string.format('%d', cutoff)}
)lua");
  return s;
}

// KEYS[1] P:foster:<dead>; ARGV[1] "instance=<self> ", ARGV[2] the epoch. Records the epoch the
// claim raised the fences to (for operators). 1: ours.
const redis::script& foster_epoch_script() {
  static const redis::script s(R"lua(
local held = redis.call('GET', KEYS[1])
if not held or string.sub(held, 1, #ARGV[1]) ~= ARGV[1] then return 0 end
local value = string.gsub(held, 'epoch=%d+', 'epoch=' .. ARGV[2])
redis.call('SET', KEYS[1], value, 'KEEPTTL')
return 1
)lua");
  return s;
}

// KEYS[1] P:foster:<dead>; ARGV[1] "instance=<self> ", ARGV[2] ttl (ms). 1: renewed.
const redis::script& foster_renew_script() {
  static const redis::script s(R"lua(
local held = redis.call('GET', KEYS[1])
if not held or string.sub(held, 1, #ARGV[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
)lua");
  return s;
}

// KEYS[1] P:foster:<dead>; ARGV[1] "instance=<self> ". 1: deleted.
const redis::script& foster_release_script() {
  static const redis::script s(R"lua(
local held = redis.call('GET', KEYS[1])
if not held or string.sub(held, 1, #ARGV[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
)lua");
  return s;
}

std::string claimer_prefix(std::uint32_t self) { return "instance=" + std::to_string(self) + " "; }

error_code unexpected(std::string_view operation, const reply& r) {
  return unexpected_store_reply(operation, r);
}

// An error as a result<bool> (an error_code converts to bool, so it must be said which).
result<bool> bool_error(error_code ec) { return result<bool>(boost::system::in_place_error, ec); }

result<bool> flag(std::string_view operation, const result<reply>& r) {
  if (!r) return bool_error(r.error());
  if (r->type == reply::kind::integer && (r->integer == 0 || r->integer == 1)) return r->integer == 1;
  return bool_error(unexpected(operation, *r));
}

/// "instance=<c> cutoff=<ms> epoch=<e>" as the scripts write it.
std::optional<foster_record> parse_foster(std::uint32_t instance, std::string_view text) {
  foster_record out;
  out.claim.instance = instance;
  bool have_claimer = false, have_cutoff = false;
  while (!text.empty()) {
    const auto space = text.find(' ');
    const std::string_view field = text.substr(0, space);
    text = space == std::string_view::npos ? std::string_view() : text.substr(space + 1);
    const auto eq = field.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    const auto value = redis::parse_int(field.substr(eq + 1));
    if (!value || *value < 0) return std::nullopt;
    const auto name = field.substr(0, eq);
    if (name == "instance" && *value <= 999) {
      out.claimer = static_cast<std::uint32_t>(*value);
      have_claimer = true;
    } else if (name == "cutoff") {
      out.claim.cutoff_ms = *value;
      have_cutoff = true;
    } else if (name == "epoch") {
      out.claim.epoch = *value;
    }
  }
  if (!have_claimer || !have_cutoff) return std::nullopt;
  return out;
}

}  // namespace

std::string instances_key(std::string_view prefix) { return std::string(prefix) + ":instances"; }

std::string foster_key(std::string_view prefix, std::uint32_t instance) {
  return std::string(prefix) + ":foster:" + std::to_string(instance);
}

asio::awaitable<result<void>> register_instance(redis::connection& conn, std::string prefix,
                                                std::uint32_t instance) {
  auto r = co_await conn.command(args("SADD", instances_key(prefix), std::to_string(instance)));
  if (!r) co_return r.error();
  if (r->type != reply::kind::integer) co_return unexpected("register", *r);
  co_return result<void>{};
}

asio::awaitable<result<std::vector<std::uint32_t>>> registered_instances(redis::connection& conn,
                                                                         std::string prefix) {
  auto r = co_await conn.command(args("SMEMBERS", instances_key(prefix)));
  if (!r) co_return r.error();
  if (r->type != reply::kind::array) co_return unexpected("instances", *r);
  std::vector<std::uint32_t> out;
  for (const auto& e : r->elements) {
    const auto id = redis::is_string(e) ? redis::parse_int(e.str) : std::nullopt;
    if (!id || *id < 0 || *id > 999) co_return unexpected("instances", e);
    out.push_back(static_cast<std::uint32_t>(*id));
  }
  std::sort(out.begin(), out.end());
  co_return out;
}

asio::awaitable<result<bool>> lease_held(redis::connection& conn, std::string prefix,
                                         std::uint32_t instance) {
  const lease_spec spec{std::move(prefix), instance, {}};
  auto r = co_await conn.command(args("EXISTS", spec.lease_key()));
  co_return flag("lease_held", r);
}

asio::awaitable<result<std::optional<foster_record>>> read_foster(redis::connection& conn,
                                                                  std::string prefix,
                                                                  std::uint32_t instance) {
  auto r = co_await conn.command(args("GET", foster_key(prefix, instance)));
  if (!r) co_return r.error();
  if (r->is_nil()) co_return std::optional<foster_record>{};
  if (!redis::is_string(*r)) co_return unexpected("read_foster", *r);
  auto parsed = parse_foster(instance, r->str);
  if (!parsed) co_return unexpected("read_foster", *r);
  co_return std::optional<foster_record>(std::move(*parsed));
}

asio::awaitable<result<claim_result>> claim_foster(redis::connection& conn, lease_spec dead,
                                                   std::uint32_t self, std::string self_token,
                                                   std::vector<std::int64_t> merchant_ids,
                                                   std::chrono::milliseconds margin) {
  const std::string ttl = std::to_string(dead.ttl.count());
  const std::string lease = dead.lease_key();
  const std::string foster = foster_key(dead.prefix, dead.instance_id);
  const std::string mine = claimer_prefix(self);
  // 1. The dead instance's lease, borrowed: a restart of it waits until it is given back.
  auto borrowed = co_await conn.command(args("SET", lease, self_token, "NX", "PX", ttl));
  if (!borrowed) co_return borrowed.error();
  if (borrowed->is_nil()) co_return claim_result{claim_outcome::alive, {}};
  if (!(borrowed->type == reply::kind::status && borrowed->str == "OK"))
    co_return unexpected("borrow", *borrowed);
  claim_result out{claim_outcome::claimed, {dead.instance_id, 0, 0}};
  error_code failed;
  // 2. The claim.
  auto set = co_await foster_script().run(conn, args(foster),
                                          args(mine, std::to_string(margin.count()), ttl));
  if (!set) {
    failed = set.error();
  } else if (set->type == reply::kind::array && set->elements.size() == 2 &&
             set->elements[0].str == "taken") {
    out.outcome = claim_outcome::taken;
  } else if (set->type == reply::kind::array && set->elements.size() == 2 &&
             set->elements[0].str == "claimed" && redis::parse_int(set->elements[1].str)) {
    out.claim.cutoff_ms = *redis::parse_int(set->elements[1].str);
  } else {
    failed = unexpected("claim", *set);
  }
  // 3. Fence the dead instance out: a new epoch, every merchant's fence raised to it.
  if (!failed && out.outcome == claim_outcome::claimed) {
    auto epoch = co_await conn.command(args("INCR", dead.epoch_key()));
    if (!epoch) failed = epoch.error();
    else if (epoch->type != reply::kind::integer) failed = unexpected("epoch", *epoch);
    else out.claim.epoch = epoch->integer;
  }
  if (!failed && out.outcome == claim_outcome::claimed) {
    auto fenced = co_await write_fences(
        conn, dead.prefix, fence_token{std::to_string(dead.instance_id), out.claim.epoch},
        merchant_ids);
    if (!fenced && fenced.error() == errc::fenced) {
      // A newer run of the instance raised its fences meanwhile (its lease expired while we
      // held it): it runs, and drives its orders itself.
      out.outcome = claim_outcome::superseded;
      auto released = co_await foster_release_script().run(conn, args(foster), args(mine));
      (void)released;
    } else if (!fenced) {
      failed = fenced.error();
    } else {
      auto noted = co_await foster_epoch_script().run(
          conn, args(foster), args(mine, std::to_string(out.claim.epoch)));
      (void)noted;  // the record's epoch is for operators; the fences are what count
    }
  }
  // 4. The lease given back, whatever happened: a restart may take it now.
  auto given = co_await release_lease(conn, lease, self_token);
  (void)given;  // if the answer is lost, the lease expires within its ttl
  if (failed) co_return failed;
  co_return out;
}

asio::awaitable<result<bool>> renew_foster(redis::connection& conn, std::string prefix,
                                           std::uint32_t instance, std::uint32_t self,
                                           std::chrono::milliseconds ttl) {
  auto r = co_await foster_renew_script().run(conn, args(foster_key(prefix, instance)),
                                              args(claimer_prefix(self), std::to_string(ttl.count())));
  co_return flag("renew_foster", r);
}

asio::awaitable<result<bool>> release_foster(redis::connection& conn, std::string prefix,
                                             std::uint32_t instance, std::uint32_t self) {
  auto r = co_await foster_release_script().run(conn, args(foster_key(prefix, instance)),
                                                args(claimer_prefix(self)));
  co_return flag("release_foster", r);
}

asio::awaitable<result<bool>> foster_work_left(redis::connection& conn, std::string prefix,
                                               foster_claim claim,
                                               std::vector<std::int64_t> merchant_ids) {
  constexpr std::int64_t k_page = 1000;
  for (const auto id : merchant_ids) {
    const std::string key = merchant_keys(prefix, id).work();
    for (std::int64_t start = 0;; start += k_page) {
      auto r = co_await conn.command(
          args("ZRANGE", key, std::to_string(start), std::to_string(start + k_page - 1)));
      if (!r) co_return bool_error(r.error());
      if (r->type != reply::kind::array) co_return bool_error(unexpected("work_left", *r));
      for (const auto& e : r->elements) {
        auto parts = parse_order_number(e.str);
        if (parts && parts->instance == claim.instance &&
            static_cast<std::int64_t>(parts->unix_ms) <= claim.cutoff_ms)
          co_return true;
      }
      if (static_cast<std::int64_t>(r->elements.size()) < k_page) break;
    }
  }
  co_return false;
}

bool claim_is_mine(std::uint32_t dead, std::uint32_t self, const std::vector<std::uint32_t>& live) {
  if (live.empty()) return false;
  return live[dead % live.size()] == self;
}

}  // namespace topup::engine
