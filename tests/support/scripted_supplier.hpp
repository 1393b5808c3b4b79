#pragma once
// A scripted supplier for tests of the dispatcher: per channel, a queue of what the supplier does
// with each submission (refuse, deliver, fail, accept then answer, time out placed or lost, stay
// silent), and a shared record of what it did — submissions, queries, and every delivery, so a
// test can check that no top-up was delivered twice.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <string>

#include "engine/config/config.hpp"
#include "engine/routing/channel_adapter.hpp"
#include "engine/support/errc.hpp"
#include "engine/support/timer.hpp"

namespace topup::test::scripted {

namespace engine = topup::engine;
namespace asio = boost::asio;
using engine::attempt_outcome;
using engine::attempt_request;
using engine::attempt_result;
using engine::channel_config;
using engine::supplier_callback;

/// What a scripted supplier does with one submission.
enum class act {
  refuse,          // submit: refused
  succeed,         // submit: succeeded (delivered)
  fail,            // submit: failed
  accept_succeed,  // submit: accepted; query: succeeded (delivered)
  accept_fail,     // submit: accepted; query: failed
  unknown_placed,  // submit: unknown, but placed and delivered; query: succeeded
  unknown_lost,    // submit: unknown, never placed; query: not_found
  accept_silent,   // submit: accepted; query: pending forever (a callback must decide)
  slow_unknown_lost,  // submit: answers unknown after 300 ms, never placed; query: not_found
};

/// Shared between the test and every adapter: scripts per channel and what happened.
struct supplier_world {
  std::map<std::string, std::deque<act>> script;
  std::map<std::string, int> submits, queries;
  std::map<std::string, act> placed;  // attempt id -> what the supplier did with it
  std::map<std::string, int> delivered_by_order;
  int deliveries = 0;
  std::function<void(const std::string& attempt_id)> during_query;  // e.g. a racing callback
  std::function<void()> during_submit;  // e.g. Redis dropping the shard's connection
  std::chrono::steady_clock::time_point submit_ended;                // of a slow submit
  std::map<std::string, std::chrono::steady_clock::time_point> first_submit_at;

  void deliver(const std::string& attempt_id) {
    ++deliveries;
    ++delivered_by_order[attempt_id.substr(0, attempt_id.rfind('-'))];
  }
};

class scripted_adapter final : public engine::channel_adapter {
 public:
  scripted_adapter(const channel_config& c, supplier_world& w) : config_(c), world_(w) {}
  const channel_config& config() const noexcept override { return config_; }

  asio::awaitable<attempt_result> submit(attempt_request req) override {
    ++world_.submits[config_.id];
    world_.first_submit_at.try_emplace(config_.id, std::chrono::steady_clock::now());
    auto& q = world_.script[config_.id];
    act a = q.empty() ? act::fail : q.front();
    if (!q.empty()) q.pop_front();
    world_.placed[req.attempt_id] = a;
    if (world_.during_submit) world_.during_submit();
    switch (a) {
      case act::refuse: co_return result(attempt_outcome::refused, "refused");
      case act::succeed: world_.deliver(req.attempt_id); co_return result(attempt_outcome::succeeded, "");
      case act::fail: co_return result(attempt_outcome::failed, "failed");
      case act::unknown_placed: world_.deliver(req.attempt_id); co_return result(attempt_outcome::unknown, "timeout");
      case act::unknown_lost: world_.placed.erase(req.attempt_id); co_return result(attempt_outcome::unknown, "timeout");
      case act::slow_unknown_lost: {
        world_.placed.erase(req.attempt_id);
        engine::timer slow(co_await asio::this_coro::executor, std::chrono::milliseconds(300));
        co_await slow.async_wait(asio::use_awaitable);
        world_.submit_ended = std::chrono::steady_clock::now();
        co_return result(attempt_outcome::unknown, "timeout");
      }
      case act::accept_succeed: world_.deliver(req.attempt_id); co_return result(attempt_outcome::accepted, "");
      case act::accept_fail:
      case act::accept_silent: co_return result(attempt_outcome::accepted, "");
    }
    co_return result(attempt_outcome::unknown, "");
  }

  asio::awaitable<attempt_result> query(attempt_request req) override {
    ++world_.queries[config_.id];
    if (world_.during_query) world_.during_query(req.attempt_id);
    auto it = world_.placed.find(req.attempt_id);
    if (it == world_.placed.end()) co_return result(attempt_outcome::not_found, "no such order");
    switch (it->second) {
      case act::accept_succeed:
      case act::unknown_placed:
      case act::succeed: co_return result(attempt_outcome::succeeded, "");
      case act::accept_fail:
      case act::fail: co_return result(attempt_outcome::failed, "failed at supplier");
      case act::accept_silent: co_return result(attempt_outcome::pending, "");
      default: co_return result(attempt_outcome::unknown, "");
    }
  }

  boost::system::result<supplier_callback> parse_callback(
      const std::vector<std::pair<std::string, std::string>>&) override {
    return boost::system::error_code(engine::errc::internal);
  }

 private:
  static attempt_result result(attempt_outcome o, std::string d) { return {o, std::move(d)}; }
  const channel_config& config_;
  supplier_world& world_;
};

inline channel_config make_channel(std::string id, std::int64_t cost_ppm) {
  channel_config c;
  c.id = std::move(id);
  c.kind = "scripted";
  c.carriers = {engine::carrier::cmcc, engine::carrier::cucc, engine::carrier::ctcc,
                engine::carrier::cbn};
  c.amounts = {50, 100};
  c.recharge_types = {0, 1};
  c.cost_rate_ppm = cost_ppm;
  c.query_interval_ms = 5;
  c.unknown_grace_ms = 0;
  return c;
}

}  // namespace topup::test::scripted
