#include "tests/sim/delayed_log.hpp"

#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <utility>

#include "engine/support/errc.hpp"
#include "engine/support/timer.hpp"

namespace topup::sim {

namespace asio = boost::asio;
using engine::errc;
using result_void = boost::system::result<void>;

std::int64_t delayed_log::draw_delay() {
  if (faults_.delay_per_mille == 0 || !rng_.chance(faults_.delay_per_mille)) return 0;
  ++counts_.delayed;
  // Mostly a few ms (a busy Redis), now and then up to the maximum (a failover, a long pause).
  return rng_.chance(100) ? rng_.between(1, faults_.delay_ms_max)
                          : rng_.between(1, std::min<std::int64_t>(50, faults_.delay_ms_max));
}

asio::awaitable<void> delayed_log::pause(std::int64_t delay_ms) {
  if (delay_ms <= 0) co_return;
  engine::timer wait(co_await asio::this_coro::executor, std::chrono::milliseconds(delay_ms));
  co_await wait.async_wait(asio::use_awaitable);
}

bool delayed_log::refuse(const char* what) {
  if (faults_.refuse_per_mille == 0 || !rng_.chance(faults_.refuse_per_mille)) return false;
  ++counts_.refused;
  out_.detail("redis refuses {} (not applied)", what);
  return true;
}

bool delayed_log::lose(const char* what) {
  if (faults_.lose_per_mille == 0 || !rng_.chance(faults_.lose_per_mille)) return false;
  ++counts_.lost;
  out_.detail("redis applies {}, answer lost", what);
  return true;
}

template <class T>
asio::awaitable<T> delayed_log::read(asio::awaitable<T> op) {
  co_await pause(draw_delay());
  if (faults_.read_fail_per_mille != 0 && rng_.chance(faults_.read_fail_per_mille)) {
    ++counts_.read_failed;
    out_.detail("redis read fails");
    co_return T(boost::system::error_code(errc::storage_unavailable));
  }
  T answer = co_await std::move(op);
  co_await pause(draw_delay());
  co_return answer;
}

asio::awaitable<boost::system::result<engine::accept_result>> delayed_log::accept(
    engine::order_record record, std::int64_t now_ms, engine::field_pairs match) {
  co_await pause(draw_delay());  // a crash here: never applied
  if (refuse("accept")) co_return errc::storage_unavailable;
  auto answer = co_await inner_.accept(std::move(record), now_ms, std::move(match));
  co_await pause(draw_delay());  // a crash here: applied, the answer lost with the process
  if (lose("accept")) co_return errc::outcome_unknown;
  co_return answer;
}

asio::awaitable<result_void> delayed_log::commit(engine::order_record& order,
                                                 engine::order_record after,
                                                 std::vector<engine::log_event> events,
                                                 engine::work_change work) {
  co_await pause(draw_delay());
  if (refuse("step")) co_return errc::storage_unavailable;
  if (drop_commits_) {
    order = std::move(after);  // the liar: "stored", and nothing was
    co_return result_void{};
  }
  // The caller's copy changes only when the answer reaches it (a lost answer leaves it as it was).
  engine::order_record stored = order;
  auto answer = co_await inner_.commit(stored, std::move(after), std::move(events), work);
  co_await pause(draw_delay());
  if (lose("step")) co_return errc::outcome_unknown;
  if (answer) order = std::move(stored);
  co_return answer;
}

asio::awaitable<result_void> delayed_log::refund(const engine::order_record& order,
                                                 const engine::order_record& after,
                                                 engine::work_change work) {
  co_await pause(draw_delay());
  if (refuse("refund")) co_return errc::storage_unavailable;
  auto answer = co_await inner_.refund(order, after, work);
  co_await pause(draw_delay());
  if (lose("refund")) co_return errc::outcome_unknown;
  co_return answer;
}

asio::awaitable<boost::system::result<engine::order_record>> delayed_log::get(
    std::int64_t merchant_id, std::string order_number) {
  co_return co_await read(inner_.get(merchant_id, std::move(order_number)));
}

asio::awaitable<boost::system::result<engine::order_log::order_no_entry>>
delayed_log::order_no_entry_of(std::int64_t merchant_id, std::string order_no) {
  co_return co_await read(inner_.order_no_entry_of(merchant_id, std::move(order_no)));
}

asio::awaitable<boost::system::result<engine::account_totals>> delayed_log::account(
    std::int64_t merchant_id) {
  co_return co_await read(inner_.account(merchant_id));
}

asio::awaitable<boost::system::result<engine::order_page>> delayed_log::list(
    std::int64_t merchant_id, std::int64_t start_ms, std::int64_t end_ms,
    std::optional<engine::order_status> status, std::int64_t page, std::int64_t page_size) {
  co_return co_await read(inner_.list(merchant_id, start_ms, end_ms, status, page, page_size));
}

asio::awaitable<boost::system::result<engine::active_page>> delayed_log::active_orders(
    std::int64_t merchant_id, engine::active_cursor after, std::int64_t limit) {
  co_return co_await read(inner_.active_orders(merchant_id, std::move(after), limit));
}

asio::awaitable<boost::system::result<engine::order_log::order_reads>> delayed_log::get_many(
    std::int64_t merchant_id, std::vector<std::string> numbers) {
  co_return co_await read(inner_.get_many(merchant_id, std::move(numbers)));
}

asio::awaitable<boost::system::result<std::vector<std::string>>> delayed_log::due_callbacks(
    std::int64_t merchant_id, std::int64_t now_ms, std::int64_t limit) {
  co_return co_await read(inner_.due_callbacks(merchant_id, now_ms, limit));
}

asio::awaitable<boost::system::result<std::vector<engine::order_event>>> delayed_log::events(
    std::int64_t merchant_id, std::string order_number) {
  co_return co_await read(inner_.events(merchant_id, std::move(order_number)));
}

asio::awaitable<result_void> delayed_log::flag_unresolved(std::int64_t merchant_id,
                                                          std::string order_number,
                                                          std::int64_t since_ms) {
  co_return co_await read(inner_.flag_unresolved(merchant_id, std::move(order_number), since_ms));
}

asio::awaitable<result_void> delayed_log::clear_unresolved(std::int64_t merchant_id,
                                                           std::string order_number) {
  co_return co_await read(inner_.clear_unresolved(merchant_id, std::move(order_number)));
}

}  // namespace topup::sim
