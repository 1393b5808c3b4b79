#pragma once
// The real build/bin/topupd, started on free loopback ports, for end-to-end tests.
#include <boost/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>

#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"

namespace topup::test {

/// A configuration for tests: two merchants (1001 "k1"/"s3cret", store "s1", rate 0.995,
/// balance granted by tests; 1002 "k2"/"other-secret", store "s2", rate 1.0) and one channel
/// "sim1" serving every carrier, amounts 10..500, both recharge types. Edit `json` freely
/// before starting.
struct topupd_config {
  boost::json::object json;
  topupd_config(int http_port, int redis_port, unsigned threads = 2);
  std::string admin_token() const;
  /// Appends a merchant (both sign types, default_change 1) and returns its object for further
  /// edits (allowed_ips, sign_types, ...).
  boost::json::object& add_merchant(std::int64_t id, const std::string& app_key,
                                    const std::string& app_secret, const std::string& store_id,
                                    double price_rate);
  /// The merchant object with this id (throws std::out_of_range if there is none).
  boost::json::object& merchant(std::int64_t id);
  /// Appends a `wikeyun` channel whose supplier never answers (its URL is a port nothing listens
  /// on: every push and query is a transport error, an unknown outcome), dearer than sim1 so
  /// only orders naming it as `source` go there; with `unknown_max_s` its orders enter the
  /// exception queue (GET /admin/exceptions) that long after their push.
  void add_unanswered_channel(const std::string& id, int unknown_max_s);
  /// Serves the merchant port over TLS (`server.tls`) with a self-signed certificate for
  /// 127.0.0.1 made now in a temporary directory; topupd_process then probes it over TLS.
  void use_tls();

  /// For tests that need accepted orders to stay in 6 (waiting) while the order dispatcher runs:
  /// every channel gets latency_ms [600000, 600000] and max_inflight 1, and merchant
  /// k_plug_merchant ("plug" / "plug-secret", store "s1", rate 1.0) is added. Once plug_shards()
  /// has parked one order per shard in a 10-minute submit, every other order on that channel
  /// finds it busy and waits in 6 (fast orders up to 60 s, slow ones up to slow_deadline_s).
  void hold_orders_waiting();
  static constexpr std::int64_t k_plug_merchant = 9999;
};

/// A running topupd; SIGKILLed on destruction if still running.
class topupd_process {
 public:
  topupd_process() = default;
  /// Writes the config into a temp dir and starts the binary; waits for /healthz and, with
  /// `storage_up`, for /readyz on every shard: the port opens before the instance has taken its
  /// lease and its shards have connected to Redis. Throws if that does not happen within `wait`.
  /// Without `storage_up` (a test that starts topupd with Redis down) only /healthz is awaited.
  void start(const topupd_config& cfg, std::chrono::milliseconds wait = std::chrono::seconds(15),
             bool storage_up = true);
  /// SIGTERM and wait; returns the exit status.
  int stop_gracefully();
  /// SIGKILL: a crash.
  void kill();
  /// Waits up to `wait` for topupd to exit on its own; its exit status, nullopt if still running.
  std::optional<int> wait_exit(std::chrono::milliseconds wait) { return process_.wait_exit(wait); }
  int pid() const { return process_.pid(); }
  /// `statements.dir` of the running config (the test's temp directory unless it set one).
  const std::string& statements_dir() const { return statements_dir_; }
  bool running() { return process_.running(); }
  int port() const { return port_; }
  /// How the merchant port speaks: TLS when the started config has server.tls.
  test::transport transport() const { return transport_; }
  const std::string& log_path() const { return log_path_; }
  /// The config file written by the last start().
  std::string config_path() const { return dir_ + "/topupd.json"; }
  std::string log_tail(std::size_t bytes = 4000) const;

 private:
  child_process process_;
  int port_ = 0;
  test::transport transport_ = test::transport::plain;
  std::string dir_;
  std::string log_path_;
  std::string statements_dir_;
};

/// With topupd_config::hold_orders_waiting(): pushes one order of the plug merchant on each of
/// the `shards` shards (fresh connections until every shard has accepted one; the order number
/// names its shard), then waits briefly for them to leave 6. Throws std::runtime_error if some
/// shard cannot be reached within the bound. Harmless without a dispatcher (they stay in 6).
void plug_shards(int port, const std::string& admin_token, unsigned shards);

/// GETs `target` on fresh connections until every shard in [0, shards) has answered with
/// `want_status` (the shard named by X-Topup-Shard), or `within` passes. Returns the shards that
/// did.
std::set<int> shards_answering(int port, const std::string& target, unsigned want_status,
                               int shards, std::chrono::milliseconds within,
                               transport how = transport::plain);

/// The accepting shard encoded in an order number ("T" + 13-digit ms + 3-digit instance +
/// 3-digit shard + ...), or -1 if it is too short.
int order_number_shard(const std::string& order_number);

/// Starts `process` with the config `make_config(port)` on a free loopback port, trying another
/// port (up to 5 in all) if topupd cannot start on the first, e.g. because a parallel test took
/// it meanwhile. Returns the port; rethrows the last start failure. `storage_up` as in start().
int start_on_free_port(topupd_process& process,
                       const std::function<topupd_config(int port)>& make_config,
                       bool storage_up = true);

/// Path of the built server binary.
std::string topupd_binary();

/// Runs `topupd args...` to completion (killed after 30 s); returns {exit status, stdout+stderr}.
/// Arguments are single-quoted for the shell: they must not contain a single quote.
std::pair<int, std::string> run_topupd(const std::vector<std::string>& args);

}  // namespace topup::test
