#pragma once
// Child processes and loopback ports for integration and end-to-end tests.
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace topup::test {

/// A child process started with fork/exec; killed (SIGKILL) and reaped on destruction.
class child_process {
 public:
  child_process() = default;
  child_process(const std::vector<std::string>& argv, const std::string& log_path);
  child_process(child_process&& other) noexcept;
  child_process& operator=(child_process&& other) noexcept;
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process();

  pid_t pid() const { return pid_; }
  bool running();
  /// Sends `sig` and waits up to `wait` for the exit; returns the exit status (or -1).
  int stop(int sig, std::chrono::milliseconds wait = std::chrono::seconds(10));
  /// Waits up to `wait` for the process to exit on its own (no signal); returns its exit status
  /// (128 + signal when killed), nullopt while it still runs or when there is none to wait for.
  std::optional<int> wait_exit(std::chrono::milliseconds wait);

 private:
  pid_t pid_ = -1;
};

/// A TCP port on 127.0.0.1 that nothing listens on right now.
int free_loopback_port();

/// True once something accepts TCP connections on 127.0.0.1:port, polling up to `wait`.
bool wait_for_port(int port, std::chrono::milliseconds wait);

/// A fresh empty directory under the build tree for one test's files.
std::string make_temp_dir(const std::string& tag);

}  // namespace topup::test
