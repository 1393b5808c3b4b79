#pragma once
// topup-bench redis-cost: what one accepted order costs redis-server, taken apart. Redis's one
// thread bounds intake and lifecycle (bench/README.md), so this measures it alone, without
// topupd or HTTP: the same orders written four ways, each from an empty database, with the
// server's CPU time and AOF growth per order.
//   floor   an empty script given the accept call's KEYS and ARGV: the price of any script call
//           carrying one order
//   accept  the real step, order_store::accept (checks, debit, ledger, record, event, indexes)
//   plain   the accept script's nine writes sent as plain commands: no Lua, no checks
//   log     one XADD of the order's fields to one stream per merchant: Redis used only as a
//           write-ahead log, the least any design that keeps every order in Redis can write
#include <cstddef>
#include <cstdint>
#include <string>

namespace topup::bench {

struct redis_cost_options {
  std::uint16_t redis_port = 0;
  std::size_t orders = 100000;
  unsigned inflight = 64;  ///< calls pipelined on the one connection, as a shard does
  unsigned merchants = 8;
  std::string out;  ///< JSON result file (empty: none)
};

/// Runs the four variants against an empty redis-server (FLUSHALL before each: do not point it at
/// a server whose data matters), prints a table, writes the JSON. Redis's CPU time is its own
/// INFO cpu (every thread, microseconds), so the server must have no other client, and AOF on;
/// automatic AOF rewrites are off during the run. 0 on success; throws std::runtime_error (what
/// went wrong, no figures) if the server is unfit or any call fails.
int run_redis_cost(const redis_cost_options& options);

}  // namespace topup::bench
