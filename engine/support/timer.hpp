#pragma once
// The engine's timers (engine::timer): Asio timers on a clock a test or the simulator can
// replace, so that a service's waits (query intervals, back-off, pumps) pass in simulated time.
#include <boost/asio/basic_waitable_timer.hpp>

#include <chrono>

#include "engine/support/clock.hpp"

namespace topup::engine {

/// The monotonic clock the engine's timers run on: the system's steady clock, unless
/// use_timer_clock() installed another — then timers expire when that clock's steady_now()
/// reaches them.
struct timer_clock {
  using duration = std::chrono::steady_clock::duration;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<timer_clock, duration>;
  static constexpr bool is_steady = true;
  static time_point now() noexcept;
};

/// How long the reactor may sleep for a timer: as long as it takes on the system clock; not at
/// all with an installed clock, which moves when its owner moves it (tests poll the io_context
/// between moves; a blocking run() would spin).
struct timer_wait_traits {
  static timer_clock::duration to_wait_duration(const timer_clock::duration& d);
  static timer_clock::duration to_wait_duration(const timer_clock::time_point& t);
};

using timer = boost::asio::basic_waitable_timer<timer_clock, timer_wait_traits>;

/// Installs the clock every engine::timer in the process runs on (nullptr: the system's). One
/// process-wide setting, for single-threaded tests and the simulator: set it before any timer is
/// armed and put it back (nullptr) before `c` goes.
void use_timer_clock(const clock* c) noexcept;

}  // namespace topup::engine
