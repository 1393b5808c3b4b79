// topup-bench: the load generator and report writer behind bench/run.sh.
//   topup-bench config  --profile hold|instant|saturated_slow --port P --redis-port R [...]
//   topup-bench free-port
//   topup-bench wait    --port P [--timeout-s 15] [--tls]
//   topup-bench load    --scenario NAME --port P --target healthz|push [--tls ...] --out F.json
//                       [--redis-memory --redis-port R] [--paced-timestamps]   (soak)
//   topup-bench tls-cert --dir DIR   (DIR/bench.cert.pem + DIR/bench.key.pem, self-signed)
//   topup-bench redis-cost --redis-port R [--orders N] [--out FILE.json]
//   topup-bench report  --dir DIR --json latest.json --svg latest.svg
#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>

#include <unistd.h>

#include "bench/topup_bench/bench_report.hpp"
#include "bench/topup_bench/blocking_http.hpp"
#include "bench/topup_bench/callback_sink.hpp"
#include "bench/topup_bench/load_generator.hpp"
#include "bench/topup_bench/merchant_roster.hpp"
#include "bench/topup_bench/proc_stats.hpp"
#include "bench/topup_bench/redis_cost.hpp"
#include "bench/topup_bench/redis_memory_sampler.hpp"
#include "bench/topup_bench/request_pool.hpp"
#include "bench/topup_bench/topupd_config_writer.hpp"
#include "tests/support/self_signed_cert.hpp"

namespace {

namespace json = boost::json;
using namespace topup::bench;

struct load_options {
  std::string scenario = "run";
  std::uint16_t port = 0;
  bool tls = false;
  std::string target = "push";  // healthz | push
  std::string mode = "closed";  // closed | open | count
  unsigned connections = 64;
  unsigned threads = 1;
  double rate = 0;
  double warmup_s = 1;
  double duration_s = 5;
  std::size_t orders = 0;  // requests to prepare (count mode: to send)
  int recharge_type = 1;
  unsigned merchants = 8;
  bool callbacks = false;
  bool measure_rss = false;
  double drain_s = 20;
  double count_limit_s = 0;
  int topupd_pid = 0;
  int redis_pid = 0;
  std::uint16_t redis_port = 0;  // --redis-memory: the server to sample
  bool redis_memory = false;
  bool paced_timestamps = false;
  unsigned retention_s = 0;  // recorded in the result
  std::string admin_token = "bench-admin-token";
  std::string appendfsync;
  unsigned topupd_threads = 0;
  std::string out;
};

/// Waits until the RSS of `pid` stops moving (two reads 500 ms apart within 0.5%), at most 10 s:
/// the dispatcher adopts accepted orders asynchronously, so the last ones land after the last ack.
long settled_rss_kb(int pid) {
  long previous = rss_kb(pid);
  for (int i = 0; i < 20; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const long current = rss_kb(pid);
    if (std::abs(current - previous) * 200 <= previous) return current;
    previous = current;
  }
  return previous;
}

json::object latency_json(const latency_histogram& h) {
  json::object o;
  o["count"] = h.count();
  o["p50"] = static_cast<double>(h.percentile_ns(50)) / 1e6;
  o["p90"] = static_cast<double>(h.percentile_ns(90)) / 1e6;
  o["p99"] = static_cast<double>(h.percentile_ns(99)) / 1e6;
  o["p999"] = static_cast<double>(h.percentile_ns(99.9)) / 1e6;
  o["max"] = static_cast<double>(h.max_ns()) / 1e6;
  o["mean"] = h.mean_ns() / 1e6;
  return o;
}

double unix_now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

/// When an open-loop run with paced timestamps is to start (Unix seconds): after the pool of
/// `orders` requests is built, with room to spare (the build takes ~1.6 us a request here), so the
/// first requests are not already late when sent. The run waits for this moment.
double paced_start_s(std::size_t orders) {
  return std::ceil(unix_now_s() + 2.0 + static_cast<double>(orders) * 4e-6);
}

std::vector<std::int64_t> merchant_ids(unsigned count) {
  std::vector<std::int64_t> ids;
  for (const auto& m : merchant_roster(count)) ids.push_back(m.id);
  return ids;
}

std::string run_tag() {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  char buf[32];
  std::snprintf(buf, sizeof buf, "b%llx", static_cast<unsigned long long>(ms));
  return buf;
}

void credit_merchants(const load_options& o) {
  const std::string auth = "Authorization: Bearer " + o.admin_token + "\r\n";
  const std::string tag = run_tag();
  for (const auto& m : merchant_roster(o.merchants)) {
    const std::string body = "amount=100000000&ref=bench-" + tag + "-" + std::to_string(m.id);
    const auto answer =
        blocking_request(http_endpoint{o.port, o.tls}, "POST",
                         "/admin/merchants/" + std::to_string(m.id) + "/credit", body, auth);
    if (answer.status != 200 || answer.body.find("\"code\":\"0000\"") == std::string::npos) {
      throw std::runtime_error("credit of merchant " + std::to_string(m.id) + " failed: HTTP " +
                               std::to_string(answer.status) + " " + answer.body);
    }
  }
}

int run_load_command(const load_options& o) {
  if (o.target != "healthz" && o.target != "push")
    throw std::runtime_error("--target healthz|push");
  if (o.mode != "closed" && o.mode != "open" && o.mode != "count") {
    throw std::runtime_error("--mode closed|open|count");
  }
  if (o.callbacks && o.target != "push")
    throw std::runtime_error("--callbacks needs --target push");
  if (o.paced_timestamps && (o.mode != "open" || o.target != "push"))
    throw std::runtime_error("--paced-timestamps needs --mode open --target push");
  if (o.redis_memory && o.redis_port == 0)
    throw std::runtime_error("--redis-memory needs --redis-port");

  load_plan plan;
  plan.port = o.port;
  plan.tls = o.tls;
  plan.connections = o.connections;
  plan.threads = o.threads;
  plan.open_loop = o.mode == "open";
  plan.count_mode = o.mode == "count";
  plan.rate_per_s = o.rate;
  plan.warmup_s = o.warmup_s;
  plan.duration_s = o.duration_s;
  plan.expect_envelope = o.target == "push";
  plan.count_limit_s = o.count_limit_s;

  std::size_t orders = o.orders;
  if (orders == 0 && o.target == "push") {
    if (plan.count_mode) throw std::runtime_error("--mode count needs --orders");
    orders = plan.open_loop
                 ? static_cast<std::size_t>(o.rate * (o.warmup_s + o.duration_s) * 1.05) + 1000
                 : 200000;
  }

  if (o.target == "push") credit_merchants(o);
  const double start_s = o.paced_timestamps ? paced_start_s(orders) : 0;
  std::optional<redis_memory_sampler> sampler;
  if (o.redis_memory) sampler.emplace(o.redis_port, k_bench_redis_prefix, merchant_ids(o.merchants));

  std::optional<callback_sink> sink;
  if (o.callbacks) sink.emplace(orders);

  const auto prepare_start = std::chrono::steady_clock::now();
  const std::string host = "127.0.0.1:" + std::to_string(o.port);
  request_pool pool;
  if (o.target == "healthz") {
    // The same bytes every time: as many "requests" as the run can send.
    pool = request_pool::repeated_get("/healthz", host, std::size_t{1} << 40);
  } else {
    push_order_recipe recipe;
    recipe.merchants = merchant_roster(o.merchants);
    recipe.recharge_type = o.recharge_type;
    recipe.run_tag = run_tag();
    recipe.paced_start_s = start_s;
    recipe.paced_rate_per_s = o.rate;
    if (sink) recipe.notify_url = "http://127.0.0.1:" + std::to_string(sink->port()) + "/cb";
    pool = request_pool::push_orders(recipe, host, orders);
  }
  const double prepare_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - prepare_start).count();
  std::cerr << "topup-bench: " << o.scenario << ": prepared "
            << (o.target == "healthz" ? std::size_t{1} : pool.size()) << " requests ("
            << pool.bytes() / (1024 * 1024) << " MiB) in " << prepare_s << " s\n";

  if (sink) sink->start();
  long rss_before = 0;
  long redis_before = 0;
  double cpu_before[4] = {0, 0, 0, 0};  // topupd, redis-server, this process, whole machine
  std::int64_t clock_before_ns = 0;
  double start_late_s = 0;
  plan.on_connected = [&] {
    if (start_s > 0) {
      // The clock starts 20 ms after this returns: the first request is then due at start_s.
      std::this_thread::sleep_for(std::chrono::duration<double>(start_s - 0.02 - unix_now_s()));
      start_late_s = std::max(0.0, unix_now_s() + 0.02 - start_s);
    }
    if (sampler) sampler->start();
    rss_before = rss_kb(o.topupd_pid);
    redis_before = rss_kb(o.redis_pid);
    cpu_before[0] = cpu_s(o.topupd_pid);
    cpu_before[1] = cpu_s(o.redis_pid);
    cpu_before[2] = cpu_s(0);
    cpu_before[3] = machine_busy_s();
    clock_before_ns = now_ns();
  };

  std::vector<std::int64_t> send_ns;
  const load_outcome out = run_load(pool, plan, sink ? &send_ns : nullptr);
  const double run_s = static_cast<double>(now_ns() - clock_before_ns) / 1e9;
  const double cpu_after[4] = {cpu_s(o.topupd_pid), cpu_s(o.redis_pid), cpu_s(0), machine_busy_s()};
  // The series covers the sending only: after it retention empties Redis again.
  std::optional<json::object> redis_memory;
  if (sampler) redis_memory = sampler->stop();

  json::object result;
  result["scenario"] = o.scenario;
  result["target"] = o.target;
  result["tls"] = o.tls;
  result["mode"] = o.mode;
  result["connections"] = o.connections;
  result["generator_threads"] = o.threads;
  if (o.topupd_threads) result["topupd_threads"] = o.topupd_threads;
  if (!o.appendfsync.empty()) result["appendfsync"] = o.appendfsync;
  if (plan.open_loop) result["rate_target"] = o.rate;
  result["warmup_s"] = plan.count_mode ? 0.0 : o.warmup_s;
  result["duration_s"] = plan.count_mode ? out.window_s : o.duration_s;
  result["prepared"] = o.target == "healthz" ? std::size_t{1} : pool.size();
  result["prepare_s"] = prepare_s;
  result["sent"] = out.sent;
  result["ok"] = out.ok;
  result["ok_in_window"] = out.ok_in_window;
  result["failed"] = out.failed;
  result["transport_errors"] = out.transport_errors;
  result["reconnects"] = out.reconnects;
  result["unanswered"] = out.unanswered;
  json::object failures;
  for (const auto& [key, n] : out.failures) failures[key] = n;
  result["failures"] = std::move(failures);
  result["window_s"] = out.window_s;
  const double rate = out.window_s > 0 ? static_cast<double>(out.ok_in_window) / out.window_s : 0;
  result["rate"] = rate;
  result["pool_exhausted"] = out.pool_exhausted;
  result["max_send_lag_ms"] = static_cast<double>(out.max_send_lag_ns) / 1e6;
  if (plan.count_mode) result["count_limited"] = out.count_limited;
  if (o.retention_s) result["retention_s"] = o.retention_s;
  if (start_s > 0) result["paced_start_late_s"] = start_late_s;
  if (redis_memory) result["redis_memory"] = std::move(*redis_memory);
  json::array per_second;
  for (const auto n : out.ok_per_second) per_second.push_back(n);
  result["ok_per_second"] = std::move(per_second);
  result["latency_ms"] = latency_json(out.latency);
  {
    // Where the CPU went during the run (connections open -> last answer): the share of one
    // core each process used, and CPU microseconds per successful answer.
    json::object cpu;
    const char* names[3] = {"topupd", "redis", "bench"};
    const bool known[3] = {o.topupd_pid > 0, o.redis_pid > 0, true};
    for (int k = 0; k < 3; ++k) {
      if (!known[k] || cpu_before[k] < 0 || cpu_after[k] < 0) continue;
      const double used_s = cpu_after[k] - cpu_before[k];
      cpu[std::string(names[k]) + "_core_share"] = run_s > 0 ? used_s / run_s : 0.0;
      cpu[std::string(names[k]) + "_us_per_op"] =
          out.ok ? used_s * 1e6 / static_cast<double>(out.ok) : 0.0;
    }
    if (known[0] && known[1] && run_s > 0 && cpu_before[3] >= 0 && cpu_after[3] >= 0) {
      // Everything else that ran meanwhile (other builds and tests on a shared machine): a
      // large share means the figures of this run are pessimistic.
      double others = cpu_after[3] - cpu_before[3];
      for (int k = 0; k < 3; ++k) others -= cpu_after[k] - cpu_before[k];
      cpu["others_core_share"] = std::max(0.0, others / run_s);
    }
    cpu["run_s"] = run_s;
    result["cpu"] = std::move(cpu);
  }

  std::string summary;
  if (sink) {
    // Drain: wait for the callbacks of every acknowledged order, or until they stop coming.
    const auto drain_start = std::chrono::steady_clock::now();
    const auto deadline = drain_start + std::chrono::duration<double>(o.drain_s);
    std::uint64_t last = sink->succeeded();
    auto last_progress = std::chrono::steady_clock::now();
    while (sink->succeeded() < out.ok && std::chrono::steady_clock::now() < deadline &&
           std::chrono::steady_clock::now() - last_progress < std::chrono::seconds(5)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      if (sink->succeeded() != last) {
        last = sink->succeeded();
        last_progress = std::chrono::steady_clock::now();
      }
    }
    const double drain_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - drain_start).count();
    sink->stop();

    // Callbacks arriving in the push window measure the completion rate; the end-to-end latency
    // covers every order pushed in the window, whenever its callback came.
    const auto& arrival = sink->arrival_ns();
    std::uint64_t in_window = 0;
    latency_histogram e2e;
    for (std::size_t i = 0; i < arrival.size(); ++i) {
      if (arrival[i] == 0) continue;
      if (arrival[i] >= out.window_start_ns && arrival[i] < out.window_end_ns) ++in_window;
      if (i < send_ns.size() && send_ns[i] >= out.window_start_ns &&
          send_ns[i] < out.window_end_ns) {
        e2e.record(arrival[i] - send_ns[i]);
      }
    }
    json::object cb;
    cb["received"] = sink->received();
    cb["succeeded"] = sink->succeeded();
    cb["missing"] = out.ok > sink->succeeded() ? out.ok - sink->succeeded() : 0;
    cb["other_status"] = sink->other_status();
    cb["duplicates"] = sink->duplicates();
    cb["unknown"] = sink->unknown();
    cb["in_window"] = in_window;
    const double cb_rate = out.window_s > 0 ? static_cast<double>(in_window) / out.window_s : 0;
    cb["rate"] = cb_rate;
    cb["drain_s"] = drain_s;
    cb["e2e_ms"] = latency_json(e2e);
    result["callbacks"] = std::move(cb);
    summary = " callbacks=" + std::to_string(static_cast<long long>(cb_rate)) +
              "/s e2e_p99_ms=" + std::to_string(static_cast<double>(e2e.percentile_ns(99)) / 1e6) +
              " called_back=" + std::to_string(sink->succeeded()) + "/" + std::to_string(out.ok);
  }

  if (o.measure_rss && o.topupd_pid > 0) {
    const long rss_after = settled_rss_kb(o.topupd_pid);
    const long redis_after = rss_kb(o.redis_pid);
    json::object mem;
    mem["orders"] = out.ok;
    mem["rss_before_kb"] = rss_before;
    mem["rss_after_kb"] = rss_after;
    mem["bytes_per_order"] =
        out.ok ? static_cast<double>(rss_after - rss_before) * 1024.0 / static_cast<double>(out.ok)
               : 0.0;
    if (o.redis_pid > 0) {
      mem["redis_rss_before_kb"] = redis_before;
      mem["redis_rss_after_kb"] = redis_after;
    }
    summary += " rss_kb=" + std::to_string(rss_before) + "->" + std::to_string(rss_after);
    result["memory"] = std::move(mem);
  }

  std::cerr << "topup-bench: " << o.scenario << ": ok=" << out.ok << " failed=" << out.failed
            << " transport_errors=" << out.transport_errors
            << " rate=" << static_cast<long long>(rate)
            << "/s p50_ms=" << static_cast<double>(out.latency.percentile_ns(50)) / 1e6
            << " p99_ms=" << static_cast<double>(out.latency.percentile_ns(99)) / 1e6 << summary
            << "\n";
  for (const auto& [key, n] : out.failures) std::cerr << "  failure: " << key << " x" << n << "\n";

  const std::string text = json::serialize(result);
  if (o.out.empty()) {
    std::cout << text << "\n";
  } else {
    std::ofstream file(o.out, std::ios::trunc);
    file << text << "\n";
    if (!file) throw std::runtime_error("cannot write " + o.out);
  }
  // A run where nothing succeeded is a broken set-up, not a figure.
  return out.ok > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"topup-bench: load generator and report writer for topupd (see bench/README.md)"};
  app.require_subcommand(1);

  topupd_settings config_settings;
  std::string profile_name = "hold";
  auto* config_cmd = app.add_subcommand("config", "print the topupd config of a scenario");
  config_cmd->add_option("--profile", profile_name, "hold | instant | saturated_slow");
  config_cmd->add_option("--port", config_settings.port, "topupd port")->required();
  config_cmd->add_option("--redis-port", config_settings.redis_port, "redis port")->required();
  config_cmd->add_option("--threads", config_settings.threads, "server.threads");
  config_cmd->add_option("--merchants", config_settings.merchants, "merchants to configure");
  config_cmd->add_option("--log-level", config_settings.log_level, "server.log_level");
  config_cmd->add_option("--callback-concurrency", config_settings.callback_concurrency_per_host,
                         "callbacks.max_concurrent_per_host");
  auto* cert_opt =
      config_cmd->add_option("--tls-cert", config_settings.tls_cert_path, "server.tls.cert");
  auto* key_opt =
      config_cmd->add_option("--tls-key", config_settings.tls_key_path, "server.tls.key");
  config_cmd->add_option("--retention-s", config_settings.retention_s,
                         "storage.retention_s (lowers security.timestamp_skew_s below half of it)");
  config_cmd->add_option("--statements-dir", config_settings.statements_dir, "statements.dir");
  config_cmd->add_option("--min-replicas-acked", config_settings.min_replicas_acked,
                         "redis.min_replicas_acked");
  cert_opt->needs(key_opt);
  key_opt->needs(cert_opt);

  auto* port_cmd = app.add_subcommand("free-port", "print a free loopback TCP port");

  std::uint16_t wait_port = 0;
  double wait_timeout_s = 15;
  auto* wait_cmd = app.add_subcommand("wait", "wait until GET /healthz answers 200");
  wait_cmd->add_option("--port", wait_port, "topupd port")->required();
  wait_cmd->add_option("--timeout-s", wait_timeout_s, "give up after this many seconds");
  bool wait_tls = false;
  wait_cmd->add_flag("--tls", wait_tls, "the port speaks TLS (server.tls)");

  std::string cert_dir;
  auto* cert_cmd = app.add_subcommand(
      "tls-cert", "write a self-signed certificate for 127.0.0.1 and its key (no openssl needed)");
  cert_cmd->add_option("--dir", cert_dir, "writes bench.cert.pem and bench.key.pem here")
      ->required();

  load_options lo;
  auto* load_cmd = app.add_subcommand("load", "run one load scenario, write its JSON result");
  load_cmd->add_option("--scenario", lo.scenario, "name recorded in the result");
  load_cmd->add_option("--port", lo.port, "topupd port on 127.0.0.1")->required();
  load_cmd->add_flag("--tls", lo.tls,
                     "TLS to the port (server.tls), certificate not verified; set-up included");
  load_cmd->add_option("--target", lo.target, "healthz | push");
  load_cmd->add_option(
      "--mode", lo.mode,
      "closed (as fast as answered) | open (fixed rate) | count (send --orders once)");
  load_cmd->add_option("--connections", lo.connections, "keep-alive connections");
  load_cmd->add_option("--threads", lo.threads, "generator threads (1 or 2)");
  load_cmd->add_option("--rate", lo.rate, "open loop: requests per second");
  load_cmd->add_option("--warmup-s", lo.warmup_s, "seconds not measured");
  load_cmd->add_option("--duration-s", lo.duration_s, "seconds measured");
  load_cmd->add_option("--orders", lo.orders, "requests to prepare (count mode: to send)");
  load_cmd->add_option("--recharge-type", lo.recharge_type, "1 fast, 0 slow");
  load_cmd->add_option("--merchants", lo.merchants, "merchants to spread orders over");
  load_cmd->add_flag("--callbacks", lo.callbacks, "run the callback sink; orders carry notify_url");
  load_cmd->add_option("--drain-s", lo.drain_s, "callbacks: wait at most this long after the run");
  load_cmd->add_option("--limit-s", lo.count_limit_s,
                       "count mode: stop sending after this many seconds (0: none)");
  load_cmd->add_option("--topupd-pid", lo.topupd_pid,
                       "topupd's pid: CPU used (and RSS with --rss)");
  load_cmd->add_option("--redis-pid", lo.redis_pid, "redis-server's pid: CPU used (and RSS)");
  load_cmd->add_flag("--rss", lo.measure_rss,
                     "memory scenario: topupd RSS before/after, per order");
  load_cmd->add_option("--redis-port", lo.redis_port, "redis-server's port (--redis-memory)");
  load_cmd->add_flag("--redis-memory", lo.redis_memory,
                     "soak: Redis used_memory, orders and log entries every second, and the "
                     "memory of each key type at the end");
  load_cmd->add_flag("--paced-timestamps", lo.paced_timestamps,
                     "open loop: sign each request with the second it is due (for a topupd with a "
                     "short security.timestamp_skew_s); the run starts at a planned second");
  load_cmd->add_option("--retention-s", lo.retention_s, "recorded in the result");
  load_cmd->add_option("--admin-token", lo.admin_token, "for the credit API");
  load_cmd->add_option("--appendfsync", lo.appendfsync, "recorded in the result");
  load_cmd->add_option("--topupd-threads", lo.topupd_threads, "recorded in the result");
  load_cmd->add_option("--out", lo.out, "result file (default: stdout)");

  redis_cost_options co;
  auto* cost_cmd = app.add_subcommand(
      "redis-cost", "redis-server's CPU and AOF bytes per accepted order, four ways");
  cost_cmd->add_option("--redis-port", co.redis_port, "an empty redis-server (it is flushed)")
      ->required();
  cost_cmd->add_option("--orders", co.orders, "orders per variant");
  cost_cmd->add_option("--inflight", co.inflight, "calls pipelined on the connection");
  cost_cmd->add_option("--merchants", co.merchants, "merchants to spread orders over");
  cost_cmd->add_option("--out", co.out, "JSON result file");

  report_paths rp;
  auto* report_cmd = app.add_subcommand("report", "table, RESULT line, latest.json and SVG");
  report_cmd->add_option("--dir", rp.results_dir, "directory with the scenario JSON files")
      ->required();
  report_cmd->add_option("--json", rp.json_out, "latest.json to write")->required();
  report_cmd->add_option("--svg", rp.svg_out, "SVG chart to write")->required();

  CLI11_PARSE(app, argc, argv);

  try {
    if (config_cmd->parsed()) {
      if (!parse_channel_profile(profile_name, config_settings.profile)) {
        std::cerr << "topup-bench config: unknown --profile " << profile_name << "\n";
        return 2;
      }
      std::cout << topupd_config_json(config_settings) << "\n";
      return 0;
    }
    if (port_cmd->parsed()) {
      std::cout << free_loopback_port() << "\n";
      return 0;
    }
    if (wait_cmd->parsed()) {
      const auto wait = std::chrono::milliseconds(static_cast<long long>(wait_timeout_s * 1000));
      return wait_for_healthz(http_endpoint{wait_port, wait_tls}, wait) ? 0 : 1;
    }
    if (cert_cmd->parsed()) {
      const auto files = topup::test::write_self_signed_cert(cert_dir, "bench");
      std::cout << files.cert_path << "\n" << files.key_path << "\n";
      return 0;
    }
    if (load_cmd->parsed()) return run_load_command(lo);
    if (cost_cmd->parsed()) return run_redis_cost(co);
    if (report_cmd->parsed()) return write_report(rp);
  } catch (const std::exception& e) {
    std::cerr << "topup-bench: " << e.what() << "\n";
    return 1;
  }
  return 2;
}
