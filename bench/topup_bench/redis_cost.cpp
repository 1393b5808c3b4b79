#include "bench/topup_bench/redis_cost.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

#include "bench/topup_bench/load_generator.hpp"
#include "engine/order/carrier.hpp"
#include "engine/store/ledger_scripts.hpp"
#include "engine/support/log.hpp"
#include "engine/order/order_number.hpp"
#include "engine/store/order_store.hpp"
#include "engine/redis/connection.hpp"
#include "engine/redis/script.hpp"

namespace topup::bench {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using engine::field_pairs;
using engine::order_record;
using engine::redis::reply;

enum class variant { floor, accept, plain, log };

struct variant_info {
  variant kind;
  const char* name;
  const char* what;
};

constexpr variant_info k_variants[] = {
    {variant::floor, "floor", "empty script, a one-order accept call's KEYS and ARGV"},
    {variant::accept, "accept", "the real accept step (order_store::accept)"},
    {variant::plain, "plain", "accept's six writes as plain commands, no Lua"},
    {variant::log, "log", "one XADD of the order to a per-merchant stream"},
};

constexpr engine::fen_t k_cost_fen = 995;                 // a 10-yuan order at 99.5%
constexpr engine::fen_t k_funds_fen = 1'000'000'000'000;  // per merchant: never runs out
constexpr const char* k_prefix = "cost";

/// One order as intake sends it (10 yuan, cmcc, no callback), already matched to a channel, so
/// accept stores it in 7 with its first attempt, as it does under the intake scenario.
struct order_case {
  order_record record;
  field_pairs match;
  std::int64_t now_ms = 0;
};

order_case make_case(std::size_t i, unsigned merchants, std::int64_t now_ms) {
  order_case c;
  c.now_ms = now_ms;
  order_record& r = c.record;
  r.merchant_id = 2001 + static_cast<std::int64_t>(i % merchants);
  engine::order_number_parts parts;
  parts.unix_ms = static_cast<std::uint64_t>(now_ms) + i / 100000;
  parts.instance = 1;
  parts.sequence = static_cast<std::uint32_t>(i % 100000);
  parts.merchant_id = r.merchant_id;
  r.order_number = engine::make_order_number(parts);
  r.order_no = "cost-" + std::to_string(i);
  r.store_id = "s1";
  r.mobile = std::to_string(13800000000LL + static_cast<long long>(i % 100000000));
  r.carrier = engine::carrier::cmcc;
  r.money_yuan = 10;
  r.recharge_type = 1;
  r.change = true;
  r.fingerprint = std::string(40, 'f');  // the shape of a hex SHA-1
  r.cost_fen = k_cost_fen;
  c.match = {{"channel", "sim-cost"},
             {"attempts", "1"},
             {"attempt_id", r.order_number + "-1"},
             {"tried", "sim-cost"},
             {"matched_at", std::to_string(now_ms)}};
  return c;
}

/// The record as order_store::accept stores it: in 7, version 1, with the match fields.
order_record accepted_record(const order_case& c) {
  order_record r = c.record;
  r.status = engine::order_status::matched;
  r.created_at_ms = r.updated_at_ms = c.now_ms;
  r.event_count = 1;
  for (const auto& [name, value] : c.match) engine::apply_field(r, name, value);
  return r;
}

bool is_reply(const boost::system::result<reply>& r) { return r && !r->is_error(); }

struct run_state {
  engine::redis::connection& conn;
  engine::order_store& store;
  const engine::fence_token& fence;
  variant kind;
  std::size_t orders;
  unsigned merchants;
  std::int64_t now_ms;
  std::size_t next = 0;
  std::size_t failed = 0;
  std::string first_failure;
  unsigned lanes_left = 0;
};

void note_failure(run_state& s, std::string what) {
  if (s.failed++ == 0) s.first_failure = std::move(what);
}

asio::awaitable<bool> write_plain(run_state& s, const order_case& c) {
  const engine::merchant_keys keys(k_prefix, c.record.merchant_id);
  const std::string& number = c.record.order_number;
  const std::string now = std::to_string(c.now_ms);
  const std::string cost = std::to_string(c.record.cost_fen);
  const std::string packed = engine::pack_order(accepted_record(c));
  std::vector<std::vector<std::string>> commands;
  commands.push_back({"HINCRBY", keys.acct(), "balance", "-" + cost});
  commands.push_back({"HINCRBY", keys.acct(), "debits", cost});
  commands.push_back({"XADD", keys.log(), "*", "e", "accepted", "o", number, "to", "7", "amount",
                      cost, "bal", "0"});
  commands.push_back({"HSET", keys.orders(), number, packed,
                      engine::order_no_field(c.record.order_no),
                      number + ":" + c.record.fingerprint});
  commands.push_back({"ZADD", keys.by_time(), now, number});
  commands.push_back({"ZADD", keys.work(), "-" + now, number});
  for (auto& command : commands) {
    auto answer = co_await s.conn.command(std::move(command));
    if (!is_reply(answer)) co_return false;
  }
  co_return true;
}

asio::awaitable<bool> write_one(run_state& s, std::size_t i) {
  order_case c = make_case(i, s.merchants, s.now_ms);
  const engine::merchant_keys keys(k_prefix, c.record.merchant_id);
  switch (s.kind) {
    case variant::accept: {
      field_pairs match = c.match;
      auto result = co_await s.store.accept(std::move(c.record), c.now_ms, std::move(match));
      co_return result && !result->duplicate;
    }
    case variant::floor: {
      static const engine::redis::script empty{"return 0"};
      const order_record accepted = accepted_record(c);
      auto call = engine::ledger_scripts::accept_call(keys, s.fence, std::span(&accepted, 1));
      auto answer = co_await empty.run(s.conn, std::move(call.keys), std::move(call.args));
      co_return is_reply(answer);
    }
    case variant::plain:
      co_return co_await write_plain(s, c);
    case variant::log: {
      // The order's accepted event alone, on a stream of its own.
      std::vector<std::string> command = {"XADD", keys.log() + ":alone", "*", "e", "accepted",
                                          "o", c.record.order_number, "r",
                                          engine::pack_order(accepted_record(c))};
      auto answer = co_await s.conn.command(std::move(command));
      co_return is_reply(answer);
    }
  }
  co_return false;
}

asio::awaitable<void> lane(run_state& s) {
  for (;;) {
    const std::size_t i = s.next++;
    if (i >= s.orders) break;
    if (!co_await write_one(s, i)) note_failure(s, "order " + std::to_string(i));
  }
}

/// Runs `io` until `done` or `limit` passes; false on time-out.
template <typename Done>
bool run_until(asio::io_context& io, Done done, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    io.restart();
    io.run_one_for(std::chrono::milliseconds(50));
  }
  return true;
}

// A command answers within the connection's command_timeout (then it fails), so a wait longer
// than that which still times out means the reactor is wedged: the whole run is given up.
constexpr std::chrono::seconds k_command_timeout{60};
constexpr std::chrono::seconds k_wait_limit{90};

/// Runs one coroutine on `io` to its end and gives its value; throws if it does not end within
/// k_wait_limit (its state is shared, so an abandoned coroutine never writes to a dead frame).
template <class T>
T finish(asio::io_context& io, asio::awaitable<T> coro, const std::string& what) {
  auto out = std::make_shared<std::optional<T>>();
  asio::co_spawn(io, std::move(coro), [out](std::exception_ptr e, T value) {
    if (e) std::rethrow_exception(e);
    out->emplace(std::move(value));
  });
  if (!run_until(
          io, [&] { return out->has_value(); }, k_wait_limit))
    throw std::runtime_error("redis-cost: no answer to " + what + " in 90 s");
  return std::move(**out);
}

/// One command's reply; throws on no reply or an error reply.
reply must(asio::io_context& io, engine::redis::connection& conn,
           std::vector<std::string> command) {
  const std::string name = command.empty() ? "" : command.front();
  auto answer = finish(io, conn.command(std::move(command)), name);
  if (!answer)
    throw std::runtime_error("redis-cost: " + name + " failed: " + answer.error().message());
  if (answer->is_error())
    throw std::runtime_error("redis-cost: " + name + " answered " + answer->str);
  return std::move(*answer);
}

/// A number field of an INFO answer ("aof_current_size"); throws if absent.
double info_number(const reply& info, std::string_view field) {
  const std::string key = "\n" + std::string(field) + ":";
  const auto at = info.str.find(key);
  if (at == std::string::npos)
    throw std::runtime_error("redis-cost: INFO has no " + std::string(field));
  return std::atof(info.str.c_str() + at + key.size());
}

/// What the server says of itself around one variant.
struct server_reading {
  double cpu_s = 0;  // used_cpu_user + used_cpu_sys: every thread, microsecond resolution
  double aof_bytes = 0;
  double aof_rewrites = 0;  // finished since start-up
  bool aof_rewriting = false;
};

server_reading read_server(asio::io_context& io, engine::redis::connection& conn) {
  const reply cpu = must(io, conn, {"INFO", "cpu"});
  const reply persistence = must(io, conn, {"INFO", "persistence"});
  return {info_number(cpu, "used_cpu_user") + info_number(cpu, "used_cpu_sys"),
          info_number(persistence, "aof_current_size"), info_number(persistence, "aof_rewrites"),
          info_number(persistence, "aof_rewrite_in_progress") != 0};
}

/// Refuses a server the figures would not be about: without AOF, or with other clients (whose
/// commands would be counted as ours).
void check_server(asio::io_context& io, engine::redis::connection& conn) {
  if (info_number(must(io, conn, {"INFO", "persistence"}), "aof_enabled") != 1)
    throw std::runtime_error("redis-cost: the server runs without AOF (appendonly yes needed)");
  const double clients = info_number(must(io, conn, {"INFO", "clients"}), "connected_clients");
  if (clients != 1) {
    throw std::runtime_error("redis-cost: " + std::to_string(static_cast<int>(clients) - 1) +
                             " other client(s) connected; their work would be counted");
  }
}

}  // namespace

int run_redis_cost(const redis_cost_options& o) {
  if (o.orders == 0 || o.inflight == 0 || o.merchants == 0) {
    std::cerr << "redis-cost: --orders, --inflight and --merchants must be positive\n";
    return 2;
  }
  topup::set_log_level("warn");  // the connection's notices would land in the table
  asio::io_context io(1);
  engine::redis::connection_options options;
  options.port = o.redis_port;
  options.command_timeout = k_command_timeout;
  engine::redis::connection conn(io, options);
  conn.start();
  if (!run_until(
          io, [&] { return conn.connected(); }, std::chrono::seconds(10))) {
    std::cerr << "redis-cost: cannot connect to redis on port " << o.redis_port << "\n";
    return 1;
  }
  check_server(io, conn);
  engine::fence_token fence;
  fence.instance = "1";
  fence.epoch = 1;
  engine::order_store store(conn, k_prefix, fence);
  const std::string fsync = must(io, conn, {"CONFIG", "GET", "appendfsync"}).elements.at(1).str;
  // No AOF rewrite may fork inside a variant (its bytes and CPU would be counted): off for the
  // run, the server's own setting back afterwards.
  const std::string rewrite_percentage =
      must(io, conn, {"CONFIG", "GET", "auto-aof-rewrite-percentage"}).elements.at(1).str;
  must(io, conn, {"CONFIG", "SET", "auto-aof-rewrite-percentage", "0"});

  json::array results;
  std::cout << "redis-cost: " << o.orders << " orders a variant, " << o.inflight
            << " in flight on one connection, " << o.merchants << " merchants, appendfsync "
            << fsync << "\n"
            << "  variant  redis_us/order  aof_bytes/order  orders/s  what\n";
  for (const auto& v : k_variants) {
    // Each variant starts from an empty database, so none pays for another's keys.
    must(io, conn, {"FLUSHALL"});
    const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
    if (v.kind == variant::accept) {
      for (unsigned m = 0; m < o.merchants; ++m) {
        const std::int64_t merchant = 2001 + m;
        must(io, conn, {"HSET", engine::merchant_keys(k_prefix, merchant).fence(), fence.instance,
                        "1"});
        if (!finish(io, store.credit(merchant, "cost-funds", k_funds_fen, now_ms), "a credit"))
          throw std::runtime_error("redis-cost: could not credit merchant " +
                                   std::to_string(merchant));
      }
    }
    run_state s{conn, store, fence, v.kind, o.orders, o.merchants, now_ms, 0, 0, {}, o.inflight};
    const server_reading before = read_server(io, conn);
    const std::int64_t start_ns = now_ns();
    for (unsigned l = 0; l < o.inflight; ++l) {
      asio::co_spawn(io, lane(s), [&s](std::exception_ptr e) {
        if (e) note_failure(s, "a lane threw");
        --s.lanes_left;
      });
    }
    // Every call answers or fails within the command timeout; 600 s is for a very large run.
    if (!run_until(
            io, [&] { return s.lanes_left == 0; }, std::chrono::seconds(600)))
      throw std::runtime_error(std::string("redis-cost: ") + v.name + " did not finish in 600 s");
    const double wall_s = static_cast<double>(now_ns() - start_ns) / 1e9;
    if (s.failed > 0) {
      std::cout << "  " << v.name << " FAILED\n";
      throw std::runtime_error("redis-cost: " + std::string(v.name) + ": " +
                               std::to_string(s.failed) +
                               " calls failed (first: " + s.first_failure + ")");
    }
    const server_reading after = read_server(io, conn);
    if (before.aof_rewriting || after.aof_rewriting || after.aof_rewrites != before.aof_rewrites)
      throw std::runtime_error(std::string("redis-cost: an AOF rewrite ran during ") + v.name);
    const double n = static_cast<double>(o.orders);
    const double us_per_order = (after.cpu_s - before.cpu_s) * 1e6 / n;
    const double aof_per_order = (after.aof_bytes - before.aof_bytes) / n;
    char line[256];
    std::snprintf(line, sizeof line, "  %-7s %15.1f %16.0f %9.0f  %s", v.name, us_per_order,
                  aof_per_order, n / wall_s, v.what);
    std::cout << line << "\n";
    results.push_back(json::object{{"variant", v.name},
                                   {"what", v.what},
                                   {"redis_us_per_order", us_per_order},
                                   {"aof_bytes_per_order", aof_per_order},
                                   {"orders_per_s", n / wall_s}});
  }
  must(io, conn, {"FLUSHALL"});
  must(io, conn, {"CONFIG", "SET", "auto-aof-rewrite-percentage", rewrite_percentage});
  conn.stop();

  if (!o.out.empty()) {
    json::object root{{"orders", o.orders},
                      {"inflight", o.inflight},
                      {"merchants", o.merchants},
                      {"appendfsync", fsync},
                      {"variants", std::move(results)}};
    std::ofstream file(o.out, std::ios::trunc);
    file << json::serialize(root) << "\n";
    if (!file) {
      std::cerr << "redis-cost: cannot write " << o.out << "\n";
      return 1;
    }
  }
  return 0;
}

}  // namespace topup::bench
