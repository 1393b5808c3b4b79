#include "protocol/admin_console.hpp"

#include <boost/json/array.hpp>

#include "engine/dispatch/exception_rules.hpp"
#include "engine/order/money.hpp"
#include "engine/support/clock.hpp"
#include "protocol/console_files.hpp"

namespace topup::protocol {

namespace {

/// Only the console's own files, nothing inline, no frames: a token typed into it cannot be
/// sent anywhere else by injected markup.
constexpr std::string_view k_console_csp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

constexpr std::size_t k_outcome_succeeded = 2, k_outcome_failed = 3, k_outcome_refused = 1;

boost::json::object channel_json(const engine::channel_config& config,
                                 const engine::metrics_snapshot::channel_figures& f,
                                 const engine::channel_latency& latency, bool enabled,
                                 unsigned shards) {
  boost::json::object c;
  c["id"] = config.id;
  c["kind"] = config.kind;
  c["simulated"] = config.simulated();
  c["enabled"] = enabled;
  c["max_inflight"] = config.max_inflight;
  c["in_flight"] = f.in_flight;
  // Each shard has its own breaker: "open" on every shard, "partly" on some, else "closed".
  c["breaker"] = f.breaker_open_shards == 0        ? "closed"
                 : f.breaker_open_shards >= shards ? "open"
                                                   : "partly";
  c["breaker_open_shards"] = f.breaker_open_shards;
  c["submits"] = f.submits;
  boost::json::object outcomes;
  for (std::size_t o = 0; o < f.outcomes.size(); ++o)
    outcomes[engine::outcome_name(static_cast<engine::attempt_outcome>(o))] = f.outcomes[o];
  c["outcomes"] = std::move(outcomes);
  // Of the definite answers, the share that delivered; null before the first one.
  const auto definite = f.outcomes[k_outcome_succeeded] + f.outcomes[k_outcome_failed] +
                        f.outcomes[k_outcome_refused];
  if (definite > 0)
    c["success_rate"] =
        static_cast<double>(f.outcomes[k_outcome_succeeded]) / static_cast<double>(definite);
  else
    c["success_rate"] = nullptr;
  c["latency_p50_ms"] = latency.p50_ms;
  c["latency_p99_ms"] = latency.p99_ms;
  return c;
}

}  // namespace

std::optional<http_response> console_file_answer(std::string_view name, unsigned version,
                                                 bool keep_alive) {
  if (name.empty()) name = "index.html";
  const console_file* file = find_console_file(name);
  if (!file) return std::nullopt;
  auto res = make_response(http::status::ok, std::string(file->body), file->content_type, version,
                           keep_alive);
  res.set("Content-Security-Policy", k_console_csp);
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Referrer-Policy", "no-referrer");
  // index.html names the other files; a new binary must never pair it with a cached old one.
  res.set(http::field::cache_control, "no-cache");
  return res;
}

boost::json::object summary_json(const api_context& ctx) {
  const auto f = engine::collect_figures(ctx.metrics, engine::wall_clock_ms());
  const auto& n = f.counts;
  boost::json::object data;
  data["at_ms"] = f.at_ms;
  data["instance_id"] = ctx.cfg.server.instance_id;
  data["shards"] = ctx.shard_count;
  data["live_instances"] = ctx.live_instances.load(std::memory_order_relaxed);
  data["lease_held"] = n.lease_held;
  // The business day's offset (statements.timezone): the console shows every time in it, as
  // the exception queue's `since` and the statements do.
  data["tz_offset_s"] = ctx.cfg.statements.offset_s;
  boost::json::object orders;
  orders["accepted"] = n.orders_accepted;
  orders["duplicate"] = n.orders_duplicate;
  orders["refused"] = n.orders_refused;
  orders["succeeded"] = n.orders_succeeded;
  orders["refunded"] = n.orders_refunded;
  orders["in_flight"] = n.orders_in_flight;
  data["orders"] = std::move(orders);
  boost::json::object callbacks;
  callbacks["delivered"] = n.callbacks_delivered;
  callbacks["given_up"] = n.callbacks_given_up;
  callbacks["in_flight"] = n.callbacks_in_flight;
  // The backlog in Redis (every instance's), as shard 0 last sampled it.
  callbacks["owed"] = n.callbacks_owed;
  callbacks["due"] = n.callbacks_due;
  data["callbacks"] = std::move(callbacks);
  boost::json::object exceptions;
  std::int64_t exceptions_total = 0;
  for (std::size_t k = 0; k < n.exceptions.size(); ++k) {
    exceptions[engine::exception_kind_name(static_cast<engine::exception_kind>(k))] = n.exceptions[k];
    exceptions_total += n.exceptions[k];
  }
  exceptions["total"] = exceptions_total;
  data["exceptions"] = std::move(exceptions);
  boost::json::object redis;
  redis["p50_ms"] = f.redis_p50_ms;
  redis["p99_ms"] = f.redis_p99_ms;
  data["redis"] = std::move(redis);
  boost::json::array channels;
  for (std::size_t i = 0; i < ctx.cfg.channels.size() && i < n.channels.size(); ++i) {
    const auto& config = ctx.cfg.channels[i];
    channels.push_back(channel_json(config, n.channels[i], f.latency[i],
                                    ctx.catalogue.enabled(config.id), ctx.shard_count));
  }
  data["channels"] = std::move(channels);
  boost::json::array history;
  for (const auto& s : ctx.history.samples()) {
    boost::json::object h;
    h["at_ms"] = s.at_ms;
    h["accepted"] = s.accepted;
    h["refused"] = s.refused;
    h["succeeded"] = s.succeeded;
    h["refunded"] = s.refunded;
    history.push_back(std::move(h));
  }
  data["history"] = std::move(history);
  return data;
}

boost::asio::awaitable<boost::system::result<boost::json::object>> merchants_json(
    api_context& ctx) {
  boost::json::array list;
  for (const auto& m : ctx.cfg.merchants) {
    auto account = co_await ctx.store.account(m.id);
    if (!account) co_return account.error();
    boost::json::object o;
    o["id"] = m.id;
    o["enabled"] = m.enabled;
    o["sandbox"] = m.sandbox;
    o["balance"] = engine::format_fen(account->balance);
    o["credits"] = engine::format_fen(account->credits);
    o["debits"] = engine::format_fen(account->debits);
    o["refunds"] = engine::format_fen(account->refunds);
    list.push_back(std::move(o));
  }
  boost::json::object data;
  data["list"] = std::move(list);
  co_return data;
}

}  // namespace topup::protocol
