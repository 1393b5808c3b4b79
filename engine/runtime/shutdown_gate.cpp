#include "engine/runtime/shutdown_gate.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "engine/support/assert.hpp"

namespace topup::engine {

namespace asio = boost::asio;

/// Shared by the gate and its tickets, so that a ticket outliving the gate (its frame destroyed
/// with an io_context that outlived the gate's owner, as in tests) touches no freed memory.
struct shutdown_gate::count {
  std::size_t inside = 0;
  shutdown_gate* gate = nullptr;  // null once the gate is gone
};

shutdown_gate::ticket& shutdown_gate::ticket::operator=(ticket&& other) noexcept {
  if (this != &other) {
    leave();
    count_ = std::move(other.count_);
  }
  return *this;
}

void shutdown_gate::ticket::leave() noexcept {
  if (!count_) return;
  TOPUP_ASSERT(count_->inside > 0);
  if (--count_->inside == 0 && count_->gate) count_->gate->last_left();
  count_.reset();
}

shutdown_gate::shutdown_gate(asio::io_context& io)
    : count_(std::make_shared<count>()), wake_(io) {
  count_->gate = this;
}

shutdown_gate::~shutdown_gate() { count_->gate = nullptr; }

shutdown_gate::ticket shutdown_gate::enter() {
  ++count_->inside;
  return ticket(count_);
}

std::size_t shutdown_gate::inside() const noexcept { return count_->inside; }

void shutdown_gate::last_left() noexcept {
  if (closed_ && waiting_) wake_.cancel();
}

asio::awaitable<bool> shutdown_gate::drained(std::chrono::steady_clock::time_point deadline) {
  TOPUP_ASSERT(closed_ && !waiting_);
  // Cleared however the wait ends, also when the frame is destroyed with its io_context.
  struct waiting_flag {
    bool& flag;
    explicit waiting_flag(bool& f) : flag(f) { flag = true; }
    ~waiting_flag() { flag = false; }
  } flag(waiting_);
  while (count_->inside > 0) {
    wake_.expires_at(deadline);
    auto [ec] = co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
    // Cancelled: the last step left (one may have entered again since: the loop looks).
    if (!ec) break;  // the deadline passed
  }
  co_return count_->inside == 0;
}

asio::awaitable<bool> all_drained(std::vector<shutdown_gate*> gates,
                                  std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    bool waited = false;
    for (shutdown_gate* gate : gates) {
      TOPUP_ASSERT(gate->closed());
      if (gate->inside() == 0) continue;
      if (!co_await gate->drained(deadline)) co_return false;
      waited = true;
    }
    // A pass that found every gate empty without suspending: nothing can have entered meanwhile.
    if (!waited) co_return true;
  }
}

}  // namespace topup::engine
