#pragma once
// What a shard's graceful stop waits for: the steps in flight that must end first.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <vector>

namespace topup::engine {

/// Counts the steps in flight that a shard's shutdown must let finish — an order's coroutine, a
/// callback delivery, a request being handled — and wakes whoever awaits drained() when the last
/// one leaves after close(): shutdown waits on this gate instead of polling. A step holds a
/// ticket from enter() for as long as it runs (typically captured by its co_spawn completion
/// handler, so it leaves when the coroutine ends or its frame is destroyed). A ticket may outlive
/// its gate; it then counts nothing. Lives on one shard's thread, with every ticket.
class shutdown_gate {
  struct count;

 public:
  /// One step inside the gate; leaves when destroyed. Move-only; an empty ticket counts nothing.
  class ticket {
   public:
    ticket() = default;
    ticket(ticket&&) noexcept = default;
    ticket& operator=(ticket&& other) noexcept;
    ticket(const ticket&) = delete;
    ticket& operator=(const ticket&) = delete;
    ~ticket() { leave(); }

   private:
    friend class shutdown_gate;
    explicit ticket(std::shared_ptr<count> c) noexcept : count_(std::move(c)) {}
    void leave() noexcept;
    std::shared_ptr<count> count_;
  };

  explicit shutdown_gate(boost::asio::io_context& io);
  ~shutdown_gate();
  shutdown_gate(const shutdown_gate&) = delete;
  shutdown_gate& operator=(const shutdown_gate&) = delete;

  /// A step begins. Allowed after close(): work already admitted may still need a step (a
  /// request read before the listener closed), and drained() waits for it too.
  [[nodiscard]] ticket enter();
  /// The owner starts no new work from now on; drained() may be awaited.
  void close() noexcept { closed_ = true; }
  bool closed() const noexcept { return closed_; }
  std::size_t inside() const noexcept;

  /// After close(): completes once no step is inside, or at `deadline`; true when drained. One
  /// waiter at a time.
  boost::asio::awaitable<bool> drained(std::chrono::steady_clock::time_point deadline);

 private:
  void last_left() noexcept;

  std::shared_ptr<count> count_;
  boost::asio::steady_timer wake_;
  bool closed_ = false;
  bool waiting_ = false;
};

/// Waits until every gate is empty at the same time, or `deadline`; true when they are. A step of
/// one gate may start a step of another (an accept hands its order to the dispatcher), so each
/// gate is awaited in turn until one pass finds them all empty. Every gate must be closed.
boost::asio::awaitable<bool> all_drained(std::vector<shutdown_gate*> gates,
                                         std::chrono::steady_clock::time_point deadline);

}  // namespace topup::engine
