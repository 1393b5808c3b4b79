#pragma once
// The real build/bin/topupd, started on free loopback ports, for end-to-end tests.
#include <boost/json.hpp>

#include <chrono>
#include <cstdint>
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
};

/// A running topupd; SIGKILLed on destruction if still running.
class topupd_process {
 public:
  topupd_process() = default;
  /// Writes the config into a temp dir and starts the binary; waits for /healthz (throws if the
  /// process does not come up within `wait`).
  void start(const topupd_config& cfg, std::chrono::milliseconds wait = std::chrono::seconds(15));
  /// SIGTERM and wait; returns the exit status.
  int stop_gracefully();
  /// SIGKILL: a crash.
  void kill();
  bool running() { return process_.running(); }
  int port() const { return port_; }
  const std::string& log_path() const { return log_path_; }
  std::string log_tail(std::size_t bytes = 4000) const;

 private:
  child_process process_;
  int port_ = 0;
  std::string dir_;
  std::string log_path_;
};

/// Path of the built server binary.
std::string topupd_binary();

/// Runs `topupd args...` to completion (killed after 30 s); returns {exit status, stdout+stderr}.
/// Arguments are single-quoted for the shell: they must not contain a single quote.
std::pair<int, std::string> run_topupd(const std::vector<std::string>& args);

}  // namespace topup::test
