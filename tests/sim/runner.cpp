#include "tests/sim/runner.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <random>

namespace topup::sim {

namespace {

std::string_view liar_name(liar l) {
  switch (l) {
    case liar::none: return "";
    case liar::double_delivery: return " --liar double_delivery";
    case liar::drop_commits: return " --liar drop_commits";
  }
  return "";
}

std::string repro(const run_options& o, std::int64_t prefix) {
  return fmt::format("topup-sim --seed {} --steps {} --orders {}{}{}", o.seed, o.steps, o.orders,
                     prefix < 0 ? std::string() : fmt::format(" --prefix {}", prefix),
                     liar_name(o.broken));
}

std::string summary(const run_options& o, const run_result& r) {
  return fmt::format("seed {} {}: orders={} acked={} pushes={} crashes={} submits={} "
                     "deliveries={} storage_faults={} steps={} simulated={}s",
                     o.seed, r.failure ? "FAILED" : "ok", r.orders, r.acknowledged, r.pushes,
                     r.crashes, r.submits, r.deliveries, r.storage_faults, r.steps,
                     r.simulated_ms / 1000);
}

/// Prints the failure of `o`'s run, shrinks it and prints the shortest failing prefix's trace.
void report_failure(const run_options& o, const run_result& r) {
  const auto& v = *r.failure;
  fmt::print("FAILED seed={} invariant={} step={}: {}\n", o.seed, v.name, v.step, v.detail);
  fmt::print("repro: {}\n", repro(o, o.prefix));
  const std::int64_t shortest = shortest_failing_prefix(o, v.name);
  run_options again = o;
  again.prefix = shortest;
  again.level = trace::level::normal;
  const auto shrunk = run_world(again);
  fmt::print("shortest failing prefix: {} hostile steps: {}\n", shortest, repro(o, shortest));
  fmt::print("{}", shrunk.trace_text);
  if (shrunk.failure)
    fmt::print("FAILED seed={} invariant={} step={}: {}\n", o.seed, shrunk.failure->name,
               shrunk.failure->step, shrunk.failure->detail);
  std::fflush(stdout);
}

/// Runs one seed without a trace; prints its summary line; on failure reports it (shrunk unless
/// `shrink` is false). True if ok.
bool run_quiet(const run_options& base, std::uint64_t seed, bool shrink = true) {
  run_options o = base;
  o.seed = seed;
  o.level = trace::level::off;
  const auto r = run_world(o);
  fmt::print("{}\n", summary(o, r));
  if (r.failure && !shrink)
    fmt::print("FAILED seed={} invariant={} step={}: {}\nrepro: {}\n", o.seed, r.failure->name,
               r.failure->step, r.failure->detail, repro(o, o.prefix));
  std::fflush(stdout);
  if (r.failure && shrink) report_failure(o, r);
  return !r.failure;
}

}  // namespace

std::int64_t shortest_failing_prefix(const run_options& failing, const std::string& invariant) {
  run_options o = failing;
  o.level = trace::level::off;
  std::int64_t lo = 0;
  std::int64_t hi = failing.prefix < 0 ? failing.steps : std::min(failing.prefix, failing.steps);
  while (lo < hi) {
    o.prefix = lo + (hi - lo) / 2;
    const auto r = run_world(o);
    if (r.failure && r.failure->name == invariant) hi = o.prefix;
    else lo = o.prefix + 1;
  }
  return hi;
}

int run_one(const run_options& options) {
  const auto r = run_world(options);
  fmt::print("{}", r.trace_text);
  fmt::print("{}\n", summary(options, r));
  if (!r.failure) return 0;
  report_failure(options, r);
  return 1;
}

int run_seeds(std::uint64_t first, std::uint64_t last, const run_options& base,
              bool keep_going) {
  std::uint64_t failed = 0;
  for (std::uint64_t seed = first; seed <= last; ++seed) {
    if (run_quiet(base, seed, !keep_going)) continue;
    if (!keep_going) return 1;
    ++failed;
  }
  if (keep_going) fmt::print("{} of {} seeds failed\n", failed, last - first + 1);
  return failed == 0 ? 0 : 1;
}

int run_for_minutes(double minutes, const run_options& base) {
  // Wall time only decides when to stop and which seeds to try; each run is still a seed.
  using wall = std::chrono::steady_clock;
  const auto until = wall::now() + std::chrono::duration_cast<wall::duration>(
                                       std::chrono::duration<double, std::ratio<60>>(minutes));
  std::random_device entropy;
  std::uint64_t runs = 0;
  while (wall::now() < until) {
    const std::uint64_t seed = (static_cast<std::uint64_t>(entropy()) << 32 | entropy()) % 1'000'000'000'000ULL;
    ++runs;
    if (!run_quiet(base, seed)) return 1;
  }
  fmt::print("{} random seeds, all ok\n", runs);
  return 0;
}

}  // namespace topup::sim
