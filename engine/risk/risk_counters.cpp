#include "engine/risk/risk_counters.hpp"

#include <chrono>
#include <cstdio>
#include <string_view>

#include "engine/redis/script.hpp"
#include "engine/retention/business_day.hpp"
#include "engine/support/errc.hpp"

namespace topup::engine {
namespace {

using redis::reply;

// Per number: drop the claims older than the window, then check and count this one (a claim
// already counted, by a retried call, passes as it is). Numbers are decimal strings from C++.
// KEYS: 1 the number's sorted set. ARGV: 1 now_ms 2 window_ms 3 max orders (0: none)
// 4 max face value (0: none) 5 claim ("<order_number>|<yuan>") 6 its yuan.
constexpr const char* k_claim_number_lua = R"lua(
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now - window))
if redis.call('ZSCORE', KEYS[1], ARGV[5]) then return 'ok' end
local max_orders, max_amount, amount = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[6])
local claims = redis.call('ZRANGE', KEYS[1], 0, -1)
if max_orders > 0 and #claims >= max_orders then return 'orders' end
if max_amount > 0 then
  local sum = 0
  for _, c in ipairs(claims) do sum = sum + tonumber(string.match(c, '|(%d+)$')) end
  if sum + amount > max_amount then return 'amount' end
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 'ok'
)lua";

// Per merchant and business day. KEYS: 1 the day's hash. ARGV: 1 order_number 2 yuan 3 cap
// 4 ttl_s.
constexpr const char* k_claim_day_lua = R"lua(
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 'ok' end
local total = tonumber(redis.call('HGET', KEYS[1], '#total') or '0')
if total + tonumber(ARGV[2]) > tonumber(ARGV[3]) then return 'amount' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[1], '#total', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 'ok'
)lua";

// KEYS: 1 the day's hash. ARGV: 1 order_number.
constexpr const char* k_release_day_lua = R"lua(
local amount = redis.call('HGET', KEYS[1], ARGV[1])
if not amount then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HINCRBY', KEYS[1], '#total', '-' .. amount)
return 1
)lua";

const redis::script& claim_number_script() {
  static const redis::script s{k_claim_number_lua};
  return s;
}
const redis::script& claim_day_script() {
  static const redis::script s{k_claim_day_lua};
  return s;
}
const redis::script& release_day_script() {
  static const redis::script s{k_release_day_lua};
  return s;
}

std::string number_claim(const risk_claim& c) {
  return c.order_number + "|" + std::to_string(c.amount_yuan);
}

/// 'ok' / a rule's word, or storage_protocol for anything else.
boost::system::result<std::string_view> word_of(const boost::system::result<reply>& r) {
  if (!r) return r.error();
  if (r->type != reply::kind::string && r->type != reply::kind::status)
    return make_error_code(errc::storage_protocol);
  return std::string_view(r->str);
}

constexpr std::int64_t k_day_key_ttl_s = 3 * 86400;  // the day, and some margin for clocks

}  // namespace

redis_risk_counters::redis_risk_counters(redis::connection& conn, std::string prefix,
                                         const config& cfg)
    : conn_(conn), prefix_(std::move(prefix)), cfg_(cfg) {}

bool redis_risk_counters::any_limit(const config& cfg) noexcept {
  if (cfg.risk.per_mobile_orders > 0 || cfg.risk.per_mobile_amount > 0) return true;
  if (cfg.risk.daily_amount > 0) return true;
  for (const auto& m : cfg.merchants)
    if (m.daily_amount.value_or(0) > 0) return true;
  return false;
}

std::int64_t redis_risk_counters::daily_limit(std::int64_t merchant_id) const noexcept {
  for (const auto& m : cfg_.merchants)
    if (m.id == merchant_id) return m.daily_amount.value_or(cfg_.risk.daily_amount);
  return cfg_.risk.daily_amount;
}

std::string redis_risk_counters::day_key(const risk_claim& c) const {
  return prefix_ + ":{m" + std::to_string(c.merchant_id) + "}:risk:day:" + business_day(c.now_ms);
}

std::string redis_risk_counters::business_day(std::int64_t ms) const {
  return engine::business_day::day_of(ms, cfg_.risk.day_offset_s).to_string();
}

boost::asio::awaitable<boost::system::result<risk_verdict>> redis_risk_counters::claim_number(
    const risk_claim& c) {
  const auto& r = cfg_.risk;
  if (r.per_mobile_orders == 0 && r.per_mobile_amount == 0) co_return risk_verdict::allowed;
  // Built before the co_await: GCC 12 mishandles temporaries inside a co_await expression.
  std::vector<std::string> keys{prefix_ + ":risk:m:" + c.mobile};
  std::vector<std::string> args{std::to_string(c.now_ms), std::to_string(r.window_s * 1000),
                                std::to_string(r.per_mobile_orders),
                                std::to_string(r.per_mobile_amount), number_claim(c),
                                std::to_string(c.amount_yuan)};
  auto answer = co_await claim_number_script().run(conn_, std::move(keys), std::move(args));
  auto word = word_of(answer);
  if (!word) co_return word.error();
  if (*word == "ok") co_return risk_verdict::allowed;
  if (*word == "orders") co_return risk_verdict::per_mobile_orders;
  if (*word == "amount") co_return risk_verdict::per_mobile_amount;
  co_return make_error_code(errc::storage_protocol);
}

boost::asio::awaitable<boost::system::result<risk_verdict>> redis_risk_counters::claim_day(
    const risk_claim& c) {
  const std::int64_t cap = daily_limit(c.merchant_id);
  if (cap == 0) co_return risk_verdict::allowed;
  std::vector<std::string> keys{day_key(c)};
  std::vector<std::string> args{c.order_number, std::to_string(c.amount_yuan), std::to_string(cap),
                                std::to_string(k_day_key_ttl_s)};
  auto answer = co_await claim_day_script().run(conn_, std::move(keys), std::move(args));
  auto word = word_of(answer);
  if (!word) co_return word.error();
  if (*word == "ok") co_return risk_verdict::allowed;
  if (*word == "amount") co_return risk_verdict::daily_amount;
  co_return make_error_code(errc::storage_protocol);
}

boost::asio::awaitable<boost::system::result<risk_verdict>> redis_risk_counters::claim(
    risk_claim c) {
  auto number = co_await claim_number(c);
  if (!number || *number != risk_verdict::allowed) co_return number;
  auto day = co_await claim_day(c);
  // The number's claim stands only with the day's: a refusal (or an error) takes it back.
  if (!day || *day != risk_verdict::allowed) co_await release(c);
  co_return day;
}

boost::asio::awaitable<void> redis_risk_counters::release(risk_claim c) {
  const auto& r = cfg_.risk;
  // Best effort: a claim left counted ends with the window (or the day).
  if (r.per_mobile_orders > 0 || r.per_mobile_amount > 0) {
    std::vector<std::string> command{"ZREM", prefix_ + ":risk:m:" + c.mobile, number_claim(c)};
    auto removed = co_await conn_.command(std::move(command));
    (void)removed;
  }
  if (daily_limit(c.merchant_id) > 0) {
    std::vector<std::string> keys{day_key(c)};
    std::vector<std::string> args{c.order_number};
    auto released = co_await release_day_script().run(conn_, std::move(keys), std::move(args));
    (void)released;
  }
}

}  // namespace topup::engine
