#pragma once
// The merchant side of spec §5 for the lifecycle scenario: an HTTP server on loopback that
// answers every callback with `success` and notes when each order's callback arrived.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace topup::bench {

/// Listens on 127.0.0.1 (a free port) on its own thread and io_context, keep-alive, answering
/// every POST with HTTP 200 `success`. For each callback it reads `order_no` (the bench's
/// "<tag>-<index>") and `status`; the first status-2 callback of an order stores its arrival time
/// (now_ns clock) in arrival_ns()[index]. Counters may be read while it runs; arrival_ns() only
/// after stop().
class callback_sink {
 public:
  explicit callback_sink(std::size_t orders);
  ~callback_sink();
  callback_sink(const callback_sink&) = delete;
  callback_sink& operator=(const callback_sink&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  void start();
  void stop();

  std::uint64_t succeeded() const noexcept { return succeeded_.load(std::memory_order_relaxed); }
  std::uint64_t received() const noexcept { return received_.load(std::memory_order_relaxed); }
  std::uint64_t other_status() const noexcept { return other_status_.load(); }
  std::uint64_t duplicates() const noexcept { return duplicates_.load(); }
  std::uint64_t unknown() const noexcept { return unknown_.load(); }
  const std::vector<std::int64_t>& arrival_ns() const noexcept { return arrival_ns_; }

  /// Notes one callback; called by the sink's sessions on its thread.
  void record(std::string_view order_no, std::string_view status, std::int64_t at_ns);

  struct server;  // the Asio part, private to the .cpp

 private:
  std::vector<std::int64_t> arrival_ns_;
  std::atomic<std::uint64_t> received_{0};
  std::atomic<std::uint64_t> succeeded_{0};  // distinct orders called back with status 2
  std::atomic<std::uint64_t> other_status_{0};
  std::atomic<std::uint64_t> duplicates_{0};
  std::atomic<std::uint64_t> unknown_{0};
  std::uint16_t port_ = 0;
  std::unique_ptr<server> server_;
  std::thread thread_;
};

}  // namespace topup::bench
