#pragma once
// Driving an io_context from a test's thread: until a condition holds, for a while, or until a
// coroutine ends; and a Redis connection that is up before the test goes on.
#include <gtest/gtest.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "engine/redis/connection.hpp"
#include "tests/support/redis_server.hpp"

namespace topup::test {

/// Runs a coroutine that never waits on anything (an in-memory log's) to its end at once, on a
/// private io_context: also from inside a hook while another coroutine is running.
template <class T>
T at_once(boost::asio::awaitable<T> op) {
  boost::asio::io_context io;
  std::optional<T> out;
  std::exception_ptr failure;
  boost::asio::co_spawn(io, std::move(op), [&](std::exception_ptr e, T v) {
    failure = e;
    if (!e) out.emplace(std::move(v));
  });
  io.run();
  if (failure) std::rethrow_exception(failure);
  return std::move(*out);
}

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

/// Runs `io` for `duration` (lets timers and sweeps happen).
inline void run_for(boost::asio::io_context& io, std::chrono::milliseconds duration) {
  const auto until = std::chrono::steady_clock::now() + duration;
  run_until(
      io, [&] { return std::chrono::steady_clock::now() >= until; },
      duration + std::chrono::seconds(1));
}

/// A coroutine started with spawn(): `value` is set, and `finished` stamped, when it completes.
template <class T>
struct pending {
  std::optional<T> value;
  std::chrono::steady_clock::time_point finished{};
  bool done() const { return value.has_value(); }
};

/// Starts `coro` on `io` without waiting for it (several can then run concurrently). An exception
/// inside it is rethrown from the io_context's run call.
template <class T>
std::shared_ptr<pending<T>> spawn(boost::asio::io_context& io, boost::asio::awaitable<T> coro) {
  auto out = std::make_shared<pending<T>>();
  boost::asio::co_spawn(io, std::move(coro), [out](std::exception_ptr e, T value) {
    if (e) std::rethrow_exception(e);
    out->finished = std::chrono::steady_clock::now();
    out->value.emplace(std::move(value));
  });
  return out;
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

/// A connection to `server` on `io`, started; connected() tells whether it came up in `limit`.
inline std::unique_ptr<engine::redis::connection> connect_to(
    boost::asio::io_context& io, const redis_server& server,
    std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  engine::redis::connection_options options;
  options.port = server.port();
  auto conn = std::make_unique<engine::redis::connection>(io, options);
  conn->start();
  run_until(io, [&] { return conn->connected(); }, limit);
  return conn;
}

}  // namespace topup::test
