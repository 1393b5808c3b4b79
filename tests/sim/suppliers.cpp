#include "tests/sim/suppliers.hpp"

#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <iterator>
#include <utility>

#include "engine/support/errc.hpp"
#include "engine/support/timer.hpp"

namespace topup::sim {

namespace asio = boost::asio;
using engine::attempt_outcome;
using engine::attempt_result;

namespace {

std::string_view plan_name(supplier_plan p) {
  switch (p) {
    case supplier_plan::refuse: return "refuse";
    case supplier_plan::sync_success: return "sync_success";
    case supplier_plan::sync_fail: return "sync_fail";
    case supplier_plan::accepted: return "accepted";
    case supplier_plan::timeout_placed: return "timeout_placed";
    case supplier_plan::late_placed: return "late_placed";
    case supplier_plan::lost: return "lost";
    case supplier_plan::garbage: return "garbage";
    case supplier_plan::silent_hours: return "silent_hours";
  }
  return "?";
}

constexpr std::int64_t k_minute_ms = 60'000;
constexpr std::int64_t k_hour_ms = 60 * k_minute_ms;

}  // namespace

supplier_plan supplier_desk::draw_plan() {
  const auto r = env_.rng.below(100);
  if (env_.honest) return r < 70 ? supplier_plan::accepted : r < 90 ? supplier_plan::sync_success
                                                                    : supplier_plan::sync_fail;
  if (r < 8) return supplier_plan::refuse;
  if (r < 18) return supplier_plan::sync_success;
  if (r < 25) return supplier_plan::sync_fail;
  if (r < 60) return supplier_plan::accepted;
  if (r < 70) return supplier_plan::timeout_placed;
  if (r < 78) return supplier_plan::late_placed;
  if (r < 85) return supplier_plan::lost;
  if (r < 90) return supplier_plan::garbage;
  return supplier_plan::silent_hours;
}

std::int64_t supplier_desk::draw_answer_delay(const engine::channel_config& channel) {
  const auto timeout_ms = static_cast<std::int64_t>(channel.timeout_ms);
  if (!env_.honest && env_.rng.chance(80)) return timeout_ms + env_.rng.between(1, 5000);
  return env_.rng.chance(100) ? env_.rng.between(300, timeout_ms - 1) : env_.rng.between(5, 300);
}

std::string supplier_desk::open_attempt_of(const std::string& order_number,
                                           const std::string& except) const {
  auto it = attempts_of_.find(order_number);
  if (it == attempts_of_.end()) return {};
  for (const auto& id : it->second) {
    if (id == except) continue;
    const auto& b = books_.at(id);
    // Settled as failed, refused, or never to be placed: closed. Anything else may deliver.
    const bool closed = b.settled ? !b.succeeded : !b.placed && !b.will_place;
    if (!closed) return id + "@" + b.channel;
  }
  return {};
}

supplier_desk::answer supplier_desk::submit(const engine::channel_config& channel,
                                            const engine::attempt_request& request) {
  ++submits_;
  const std::string& id = request.attempt_id;
  auto [it, fresh] = books_.try_emplace(id);
  attempt_book& book = it->second;
  ++book.submits;
  if (fresh) attempts_of_[request.order_number].push_back(id);
  env_.checks.submitted(channel.id, request.order_number, id, book.submits,
                        open_attempt_of(request.order_number, id));
  if (!fresh) return {{attempt_outcome::unknown, "duplicate submit"}, 10};
  book.channel = channel.id;
  book.order_number = request.order_number;
  book.mobile = request.mobile;
  book.plan = draw_plan();
  book.will_succeed = env_.rng.chance(env_.honest ? 800 : 700);
  env_.out.line("supplier {} gets {} ({}), plan {}", channel.id, id, request.mobile,
                plan_name(book.plan));

  answer a{{attempt_outcome::accepted, ""}, draw_answer_delay(channel)};
  const auto timeout_ms = static_cast<std::int64_t>(channel.timeout_ms);
  switch (book.plan) {
    case supplier_plan::refuse:
      a.result = {attempt_outcome::refused, "refused"};
      return a;
    case supplier_plan::sync_success:
    case supplier_plan::sync_fail:
      book.will_succeed = book.plan == supplier_plan::sync_success;
      place(id);
      settle(id);
      a.result = {book.succeeded ? attempt_outcome::succeeded : attempt_outcome::failed,
                  book.succeeded ? "" : "failed at supplier"};
      return a;
    case supplier_plan::accepted:
      place(id);
      settle_at(id, env_.honest ? env_.rng.between(500, 5000) : env_.rng.between(500, k_minute_ms));
      return a;
    case supplier_plan::timeout_placed:
      place(id);
      settle_at(id, env_.rng.between(1000, 2 * k_minute_ms));
      a.delay_ms = timeout_ms + env_.rng.between(1, 3000);
      return a;
    case supplier_plan::late_placed: {
      // Within the contract: placed before the push is unknown_grace_ms old, less one timeout
      // (the longest a "not found" can take to reach the engine).
      const auto latest_ms = static_cast<std::int64_t>(channel.unknown_grace_ms) - timeout_ms - 1;
      book.will_place = true;
      env_.after(env_.rng.between(1, std::max<std::int64_t>(1, latest_ms)), [this, id] {
        place(id);
        settle_at(id, env_.rng.between(500, 30'000));
      });
      a.delay_ms = timeout_ms + env_.rng.between(1, 3000);
      return a;
    }
    case supplier_plan::lost:
      a.delay_ms = timeout_ms + env_.rng.between(1, 3000);
      return a;
    case supplier_plan::garbage:
      place(id);
      settle_at(id, env_.rng.between(1000, k_minute_ms));
      a.result = {attempt_outcome::unknown, "unreadable answer"};
      return a;
    case supplier_plan::silent_hours:
      place(id);
      settle_at(id, env_.rng.between(k_hour_ms, 5 * k_hour_ms));
      return a;
  }
  return a;
}

supplier_desk::answer supplier_desk::query(const engine::channel_config& channel,
                                           const engine::attempt_request& request) {
  ++queries_;
  answer a{{attempt_outcome::not_found, "no such order"}, draw_answer_delay(channel)};
  auto it = books_.find(request.attempt_id);
  if (it != books_.end() && it->second.channel == channel.id && it->second.placed) {
    const attempt_book& b = it->second;
    a.result = !b.settled     ? attempt_result{attempt_outcome::pending, "charging"}
               : b.succeeded ? attempt_result{attempt_outcome::succeeded, ""}
                             : attempt_result{attempt_outcome::failed, "failed at supplier"};
  }
  if (!env_.honest && env_.rng.chance(60)) a.result = {attempt_outcome::unknown, "HTTP 502"};
  env_.out.detail("supplier {} asked about {}: {}", channel.id, request.attempt_id,
                  engine::outcome_name(a.result.outcome));
  return a;
}

void supplier_desk::place(const std::string& attempt_id) {
  auto& b = books_.at(attempt_id);
  b.placed = true;
  b.will_place = false;
}

void supplier_desk::settle_at(const std::string& attempt_id, std::int64_t delay_ms) {
  auto& b = books_.at(attempt_id);
  // A charging callback now and then while it works (it may also arrive after the result).
  if (!env_.honest && env_.rng.chance(300))
    send(b.channel, attempt_id, attempt_outcome::pending, env_.rng.between(0, 2 * delay_ms), 1);
  env_.after(delay_ms, [this, attempt_id] { settle(attempt_id); });
}

void supplier_desk::settle(const std::string& attempt_id) {
  auto& b = books_.at(attempt_id);
  if (b.settled || !b.placed) return;  // settled already (an earlier, honest, schedule)
  b.settled = true;
  b.succeeded = b.will_succeed;
  env_.out.line("supplier {} settles {}: {}", b.channel, attempt_id,
                b.succeeded ? "DELIVERED" : "failed");
  if (b.succeeded) {
    env_.checks.delivered(b.order_number, attempt_id, b.mobile);
    if (env_.broken == liar::double_delivery) env_.checks.delivered(b.order_number, attempt_id, b.mobile);
  }
  tell_engine(attempt_id, b);
}

void supplier_desk::tell_engine(const std::string& attempt_id, const attempt_book& b) {
  const auto outcome = b.succeeded ? attempt_outcome::succeeded : attempt_outcome::failed;
  if (env_.honest) {
    send(b.channel, attempt_id, outcome, env_.rng.between(100, 2000), 3);
    return;
  }
  // None (queries must find it), one, or the same result two or three times; some late.
  const auto r = env_.rng.below(100);
  const int copies = r < 20 ? 0 : r < 70 ? 1 : r < 90 ? 2 : 3;
  for (int i = 0; i < copies; ++i) {
    const auto delay_ms = env_.rng.chance(100) ? env_.rng.between(k_minute_ms, 10 * k_minute_ms)
                                               : env_.rng.between(0, 30'000);
    send(b.channel, attempt_id, outcome, delay_ms, 3);
  }
}

void supplier_desk::send(std::string via, std::string attempt_id, attempt_outcome outcome,
                         std::int64_t delay_ms, int tries) {
  env_.after(delay_ms, [this, via, attempt_id, outcome, tries] {
    engine::supplier_callback cb{attempt_id, {outcome, outcome == attempt_outcome::failed ? "failed at supplier" : ""}, via};
    env_.out.line("supplier {} calls back {}: {}", via, attempt_id, engine::outcome_name(outcome));
    link_(via, std::move(cb), [this, via, attempt_id, outcome, tries](engine::supplier_receipt r) {
      // Anything but "success" is called again later, as suppliers do.
      if (r != engine::supplier_receipt::taken && tries > 1)
        send(via, attempt_id, outcome, env_.rng.between(5000, 60'000), tries - 1);
    });
  });
}

void supplier_desk::become_honest() {
  for (auto& [id, b] : books_)
    if (b.placed && !b.settled) env_.after(env_.rng.between(500, 5000), [this, id] { settle(id); });
}

void supplier_desk::send_stray_callback() {
  if (books_.empty() || env_.cfg.channels.size() < 2) return;
  auto it = std::next(books_.begin(), static_cast<std::ptrdiff_t>(env_.rng.below(books_.size())));
  const std::string attempt_id = it->first;
  std::string via = it->second.channel;
  while (via == it->second.channel)
    via = env_.cfg.channels[env_.rng.below(env_.cfg.channels.size())].id;
  const auto outcome = env_.rng.chance(500) ? attempt_outcome::succeeded : attempt_outcome::failed;
  env_.out.line("stray callback through {} about {} (held by {}): {}", via, attempt_id,
                it->second.channel, engine::outcome_name(outcome));
  engine::supplier_callback cb{attempt_id, {outcome, ""}, via};
  link_(via, std::move(cb), [this, attempt_id](engine::supplier_receipt r) {
    env_.checks.wrong_channel_answered(attempt_id, r == engine::supplier_receipt::taken);
  });
}

asio::awaitable<attempt_result> sim_adapter::in_time(supplier_desk::answer a) {
  const auto timeout_ms = static_cast<std::int64_t>(config_.timeout_ms);
  const bool late = a.delay_ms >= timeout_ms;
  engine::timer wait(co_await asio::this_coro::executor,
                     std::chrono::milliseconds(late ? timeout_ms : a.delay_ms));
  co_await wait.async_wait(asio::use_awaitable);
  if (late) co_return attempt_result{attempt_outcome::unknown, "timeout"};
  co_return a.result;
}

asio::awaitable<attempt_result> sim_adapter::submit(engine::attempt_request request) {
  auto a = desk_.submit(config_, request);
  co_return co_await in_time(std::move(a));
}

asio::awaitable<attempt_result> sim_adapter::query(engine::attempt_request request) {
  auto a = desk_.query(config_, request);
  co_return co_await in_time(std::move(a));
}

boost::system::result<engine::supplier_callback> sim_adapter::parse_callback(
    const std::vector<std::pair<std::string, std::string>>&) {
  return boost::system::error_code(engine::errc::internal);
}

}  // namespace topup::sim
