#pragma once
// Blocking work (file writes with fsync, building a day's statement) off a shard's reactor: run
// on another executor (a thread pool), the awaiting coroutine resumed on its own executor with
// the result. With the shard's own executor the work runs there, inline (tests).
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <string>
#include <type_traits>
#include <utility>

namespace topup::engine {

/// `work()` on `where`; its result. `work` may hold references to the caller's locals: the
/// caller is suspended until it returns. An exception it throws (a filesystem error, bad_alloc)
/// never crosses back: the result is then `on_exception(what)`, so a failed file step is an
/// error the caller handles like any other, not the end of its loop.
template <class Work, class OnException>
boost::asio::awaitable<std::invoke_result_t<Work&>> offload(boost::asio::any_io_executor where,
                                                            Work work, OnException on_exception) {
  using result = std::invoke_result_t<Work&>;
  co_return co_await boost::asio::co_spawn(
      where,
      [work = std::move(work),
       on_exception = std::move(on_exception)]() mutable -> boost::asio::awaitable<result> {
        try {
          co_return work();
        } catch (const std::exception& e) {
          co_return on_exception(std::string(e.what()));
        } catch (...) {
          co_return on_exception("an exception of unknown type");
        }
      },
      boost::asio::use_awaitable);
}

}  // namespace topup::engine
