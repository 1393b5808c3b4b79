#pragma once
// Driving an io_context from a test's thread: until a condition holds, or until a coroutine ends.
#include <gtest/gtest.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <thread>

namespace topup::test {

/// Runs `io` until done() holds or `deadline` passes; returns done().
template <class Done>
bool run_until(boost::asio::io_context& io, Done done, std::chrono::milliseconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  io.restart();
  while (!done()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    if (io.run_one_for(std::chrono::milliseconds(10)) == 0 && io.stopped()) {
      io.restart();  // out of work for now; something else (the predicate) must change
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  return true;
}

/// Runs one coroutine to its end on `io`; an exception inside is rethrown here, a coroutine
/// still running at the deadline fails the test and gives nullopt.
template <class T>
std::optional<T> run(boost::asio::io_context& io, boost::asio::awaitable<T> coro,
                     std::chrono::milliseconds deadline = std::chrono::seconds(20)) {
  struct outcome {
    bool finished = false;
    std::exception_ptr error;
    std::optional<T> value;
  };
  auto out = std::make_shared<outcome>();
  boost::asio::co_spawn(io, std::move(coro), [out](std::exception_ptr e, T value) {
    out->finished = true;
    out->error = e;
    if (!e) out->value.emplace(std::move(value));
  });
  if (!run_until(io, [&] { return out->finished; }, deadline)) {
    ADD_FAILURE() << "coroutine did not finish within " << deadline.count() << " ms";
    return std::nullopt;
  }
  if (out->error) std::rethrow_exception(out->error);
  return std::move(out->value);
}

}  // namespace topup::test
