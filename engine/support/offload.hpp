#pragma once
// Blocking work (file writes with fsync, building a day's statement) off a shard's reactor: run
// on another executor (a thread pool), the awaiting coroutine resumed on its own executor with
// the result. With the shard's own executor the work runs there, inline (tests).
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <type_traits>
#include <utility>

namespace topup::engine {

/// `work()` on `where`; its result. `work` may hold references to the caller's locals: the
/// caller is suspended until it returns. It must not throw.
template <class Work>
boost::asio::awaitable<std::invoke_result_t<Work&>> offload(boost::asio::any_io_executor where,
                                                            Work work) {
  using result = std::invoke_result_t<Work&>;
  co_return co_await boost::asio::co_spawn(
      where,
      [work = std::move(work)]() mutable -> boost::asio::awaitable<result> { co_return work(); },
      boost::asio::use_awaitable);
}

}  // namespace topup::engine
