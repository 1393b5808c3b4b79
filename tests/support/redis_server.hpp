#pragma once
// A real redis-server for integration tests, on a free loopback port.
#include <chrono>
#include <string>
#include <vector>

#include "tests/support/process.hpp"

namespace topup::test {

struct redis_server_options {
  std::string appendfsync = "everysec";  // "always": every write is on disk before the reply
  std::string password;                  // non-empty: --requirepass; command() authenticates
  std::vector<std::string> extra_args;   // appended to the command line
};

/// Owns one `redis-server` child (binary from PATH) with its own temporary directory: AOF on,
/// RDB snapshots off, bound to 127.0.0.1 on a port picked at construction (never 0, which
/// turns TCP off). stop() and start() restart it on the same port and directory, so a client
/// can reconnect and the AOF data survives. Used from the test's thread only.
class redis_server {
 public:
  /// Starts the server; throws std::runtime_error if it does not answer PING.
  explicit redis_server(redis_server_options options = {});
  ~redis_server();
  redis_server(const redis_server&) = delete;
  redis_server& operator=(const redis_server&) = delete;

  int port() const noexcept { return port_; }
  const std::string& dir() const noexcept { return dir_; }
  bool running();

  /// Starts it again (same port, same directory) and waits until it answers PING.
  void start();
  /// SIGTERM (clean shutdown, AOF flushed) or, with kill, SIGKILL (a crash). Waits for the exit.
  void stop(bool kill = false);

  /// Runs one command on a fresh blocking connection and returns the reply flattened to text:
  /// strings, statuses and errors as they are, integers in decimal, nil as "", arrays joined by
  /// '\n'. Throws std::runtime_error if the server cannot be reached.
  std::string command(const std::vector<std::string>& args) const;
  void flushall() const { command({"FLUSHALL"}); }

 private:
  bool launch(std::chrono::milliseconds wait);

  redis_server_options options_;
  std::string dir_;
  int port_ = 0;
  child_process process_;
};

}  // namespace topup::test
