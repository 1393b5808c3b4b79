#include "engine/store/instance_inbox.hpp"

#include <algorithm>

#include "engine/order/order_number.hpp"
#include "engine/redis/command.hpp"
#include "engine/store/takeover.hpp"
#include "engine/support/errc.hpp"
#include "engine/support/log.hpp"

namespace topup::engine {

namespace {

namespace asio = boost::asio;
using boost::system::result;
using redis::args;
using redis::reply;

constexpr char k_sep = '\x1f';
constexpr std::size_t k_inbox_max = 10'000;
constexpr const char* k_inbox_ttl_ms = "600000";

std::string without_separator(std::string s) {
  s.erase(std::remove(s.begin(), s.end(), k_sep), s.end());
  return s;
}

}  // namespace

std::string inbox_key(std::string_view prefix, std::uint32_t instance) {
  return std::string(prefix) + ":inbox:" + std::to_string(instance);
}

std::string encode_relay(const relayed_callback& r) {
  std::string out = r.order_number;
  out.push_back(k_sep);
  out += r.callback.attempt_id;
  out.push_back(k_sep);
  out += r.callback.channel_id;
  out.push_back(k_sep);
  out += std::to_string(static_cast<int>(r.callback.result.outcome));
  out.push_back(k_sep);
  out += without_separator(r.callback.result.detail);
  return out;
}

std::optional<relayed_callback> decode_relay(std::string_view line) {
  std::vector<std::string_view> f;
  while (f.size() < 4) {
    const auto sep = line.find(k_sep);
    if (sep == std::string_view::npos) return std::nullopt;
    f.push_back(line.substr(0, sep));
    line.remove_prefix(sep + 1);
  }
  const auto outcome = redis::parse_int(f[3]);
  if (!outcome || *outcome < 0 || *outcome > static_cast<int>(attempt_outcome::unknown) ||
      !parse_order_number(f[0]) || f[1].empty() || f[2].empty())
    return std::nullopt;
  relayed_callback r;
  r.order_number = std::string(f[0]);
  r.callback.attempt_id = std::string(f[1]);
  r.callback.channel_id = std::string(f[2]);
  r.callback.result.outcome = static_cast<attempt_outcome>(*outcome);
  r.callback.result.detail = std::string(line);
  return r;
}

asio::awaitable<std::optional<std::uint32_t>> driver_of(redis::connection& conn, std::string prefix,
                                                        std::string order_number) {
  const auto parts = parse_order_number(order_number);
  if (!parts) co_return std::nullopt;
  auto foster = co_await read_foster(conn, prefix, parts->instance);
  if (!foster) co_return std::nullopt;
  if (*foster && static_cast<std::int64_t>(parts->unix_ms) <= (*foster)->claim.cutoff_ms)
    co_return (*foster)->claimer;
  co_return parts->instance;
}

asio::awaitable<result<void>> relay_to(redis::connection& conn, std::string prefix,
                                       std::uint32_t instance, relayed_callback r) {
  const std::string key = inbox_key(prefix, instance);
  auto pushed = co_await conn.command(args("RPUSH", key, encode_relay(r)));
  if (!pushed) co_return pushed.error();
  if (pushed->type != reply::kind::integer) co_return errc::storage_protocol;
  // Bounded and forgotten: an inbox nobody reads (its instance gone for good) does not grow.
  auto trimmed = co_await conn.command(args("LTRIM", key, "-" + std::to_string(k_inbox_max), "-1"));
  if (!trimmed) co_return trimmed.error();
  auto expiring = co_await conn.command(args("PEXPIRE", key, k_inbox_ttl_ms));
  if (!expiring) co_return expiring.error();
  co_return result<void>{};
}

asio::awaitable<result<std::vector<relayed_callback>>> take_relays(redis::connection& conn,
                                                                   std::string prefix,
                                                                   std::uint32_t instance,
                                                                   std::size_t max) {
  auto popped =
      co_await conn.command(args("LPOP", inbox_key(prefix, instance), std::to_string(max)));
  if (!popped) co_return popped.error();
  std::vector<relayed_callback> out;
  if (popped->is_nil()) co_return out;
  if (popped->type != reply::kind::array) co_return errc::storage_protocol;
  for (const auto& e : popped->elements) {
    auto r = redis::is_string(e) ? decode_relay(e.str) : std::nullopt;
    if (!r) {
      logger("engine")->warn("inbox instance={} dropped a relay that does not decode", instance);
      continue;
    }
    out.push_back(std::move(*r));
  }
  co_return out;
}

}  // namespace topup::engine
