#include "tests/sim/merchants.hpp"

#include <fmt/format.h>

#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>

#include "engine/support/errc.hpp"
#include "engine/support/timer.hpp"

namespace topup::sim {

namespace asio = boost::asio;
using engine::errc;

namespace {

// Mobile numbers of several carriers, few enough that many orders share one (the per-mobile
// delivery check then means something).
constexpr const char* k_mobile_prefixes[] = {"138", "139", "130", "133", "189"};
constexpr std::int64_t k_amounts[] = {10, 20, 50, 100};

std::string_view param(const std::vector<std::pair<std::string, std::string>>& params,
                       std::string_view name) {
  for (const auto& [k, v] : params)
    if (k == name) return v;
  return {};
}

}  // namespace

std::string wire_code(const boost::system::result<engine::accept_result>& r) {
  if (r) return "0000";
  const auto& e = r.error();
  if (e == errc::unsupported_amount) return "2002";
  if (e == errc::order_no_conflict) return "2003";
  if (e == errc::insufficient_balance) return "2004";
  if (e == errc::no_channel) return "2005";
  if (e == errc::overloaded) return "1008";
  if (e == errc::outcome_unknown) return "5002";
  if (e == errc::storage_unavailable) return "5000";
  return "5001 " + e.message();
}

void merchant_desk::new_order() {
  auto& rng = env_.rng;
  const auto& merchants = env_.cfg.merchants;
  intent it;
  auto& r = it.request;
  r.merchant = &merchants[rng.below(merchants.size())];
  r.store_id = r.merchant->store_ids.front();
  r.mobile = fmt::format("{}{:08}", k_mobile_prefixes[rng.below(std::size(k_mobile_prefixes))],
                         rng.below(12));
  r.order_no = fmt::format("m{}-{}", r.merchant->id, intents_.size() + 1);
  r.money_yuan = k_amounts[rng.below(std::size(k_amounts))];
  r.recharge_type = rng.chance(150) ? 0 : 1;
  if (rng.chance(400)) r.change = rng.chance(500);
  if (rng.chance(50)) r.source = env_.cfg.channels[rng.below(env_.cfg.channels.size())].id;
  if (rng.chance(800)) r.notify_url = fmt::format("http://m{}.example/notify?no={}", r.merchant->id, r.order_no);
  intents_.push_back(std::move(it));
  push(intents_.size() - 1);
}

void merchant_desk::push(std::size_t index) {
  auto& it = intents_[index];
  ++pushes_;
  node* process = live_();
  if (!process) {
    env_.out.line("m{} pushes {}: connection refused", it.request.merchant->id, it.request.order_no);
    env_.after(env_.rng.between(500, 5000), [this, index] { push(index); });
    return;
  }
  ++it.in_flight;
  it.incarnation = process->incarnation();
  const int incarnation = it.incarnation;
  const bool sent_after_0000 = !it.order_number.empty();
  process->push(it.request, [this, index, incarnation, sent_after_0000](auto result) {
    answered(index, incarnation, sent_after_0000, std::move(result));
  });
}

void merchant_desk::answered(std::size_t index, int incarnation, bool sent_after_0000,
                             boost::system::result<engine::accept_result> r) {
  auto& it = intents_[index];
  if (it.in_flight == 0 || it.incarnation != incarnation) return;
  --it.in_flight;
  const std::string code = wire_code(r);
  const std::string number = r ? r->order_number : std::string();
  env_.out.line("m{} push {} {}{} ({}): {} {}", it.request.merchant->id, it.request.order_no,
                it.request.money_yuan, it.request.recharge_type == 0 ? " slow" : "",
                it.request.mobile, code, number);
  env_.checks.push_answered(it.request.merchant->id, it.request.order_no, code, number,
                            sent_after_0000);
  if (code == "0000") {
    it.order_number = number;
    it.settled = true;
  } else if (code == "5000" || code == "5002" || code == "1008") {
    // Not a definite answer: the same request again (5002 must be retried to learn the outcome),
    // unless another push of it is still out.
    if (it.in_flight == 0 && !it.settled)
      env_.after(env_.rng.between(200, 10'000), [this, index] { push(index); });
  } else {
    it.settled = true;
  }
}

void merchant_desk::blind_retry() {
  if (intents_.empty()) return;
  // Mostly a recent order, often one whose first push is still out (a client-side timeout).
  const auto recent = std::min<std::uint64_t>(intents_.size(), 8);
  const auto index = intents_.size() - 1 - env_.rng.below(recent);
  env_.out.line("m{} pushes {} again, blindly", intents_[index].request.merchant->id,
                intents_[index].request.order_no);
  push(index);
}

void merchant_desk::cancel_one() {
  node* process = live_();
  if (intents_.empty() || !process) return;
  // Mostly a recent order: those are the ones still waiting in 6, if any.
  const auto recent = std::min<std::uint64_t>(intents_.size(), 12);
  const auto& it = intents_[intents_.size() - 1 - env_.rng.below(recent)];
  if (it.order_number.empty()) return;
  const std::int64_t m = it.request.merchant->id;
  const std::string number = it.order_number;
  process->cancel(m, number, [this, m, number](boost::system::result<engine::order_record> r) {
    env_.out.line("m{} cancels {}: {}", m, number, r ? std::string("refunded") : r.error().message());
  });
}

void merchant_desk::process_died(int incarnation) {
  for (std::size_t i = 0; i < intents_.size(); ++i) {
    auto& it = intents_[i];
    if (it.in_flight == 0 || it.incarnation != incarnation) continue;
    it.in_flight = 0;  // no answer will come: the merchant's requests time out
    env_.after(env_.rng.between(1000, 10'000), [this, i] { push(i); });
  }
}

bool merchant_desk::acknowledges(std::int64_t merchant_id) {
  // The first merchant nearly always, the second now and then, the third never (spec §5: it is
  // called back until max_attempts, then given up on).
  const auto& merchants = env_.cfg.merchants;
  if (merchant_id == merchants[0].id) return env_.rng.chance(900);
  if (merchants.size() > 1 && merchant_id == merchants[1].id) return env_.rng.chance(400);
  return false;
}

asio::awaitable<engine::callback_delivery> merchant_desk::endpoint(
    std::string url, std::vector<std::pair<std::string, std::string>> params, std::string,
    engine::sign_method) {
  const std::string number(param(params, "order_number"));
  const int status = param(params, "status") == "2" ? 2 : param(params, "status") == "4" ? 4 : -1;
  std::int64_t merchant_id = 0;
  for (const auto& m : env_.cfg.merchants)
    if (url.find(fmt::format("//m{}.", m.id)) != std::string::npos) merchant_id = m.id;
  const bool ack = acknowledges(merchant_id);
  const auto timeout_ms = static_cast<std::int64_t>(env_.cfg.callbacks.timeout_ms);
  const auto delay_ms = env_.rng.chance(50) ? timeout_ms : env_.rng.between(1, 300);
  env_.out.line("m{} endpoint gets {} status {}: {}", merchant_id, number, status,
                delay_ms >= timeout_ms ? "hangs" : ack ? "success" : "fail");
  env_.checks.merchant_called(number, merchant_id, status, ack && delay_ms < timeout_ms);
  engine::callback_delivery d;
  engine::timer wait(co_await asio::this_coro::executor, std::chrono::milliseconds(delay_ms));
  co_await wait.async_wait(asio::use_awaitable);
  if (delay_ms >= timeout_ms) {
    d.error = "timeout";  // the merchant may have taken it; topupd cannot know
    co_return d;
  }
  d.http_status = 200;
  d.body_excerpt = ack ? "success" : "fail";
  d.delivered = ack;
  co_return d;
}

bool merchant_desk::all_answered() const {
  return std::ranges::all_of(intents_,
                             [](const intent& it) { return it.settled && it.in_flight == 0; });
}

std::int64_t merchant_desk::acknowledged() const {
  return std::ranges::count_if(intents_, [](const intent& it) { return !it.order_number.empty(); });
}

}  // namespace topup::sim
