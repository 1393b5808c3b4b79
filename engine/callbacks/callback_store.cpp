#include "engine/callbacks/callback_store.hpp"

#include <charconv>

#include "engine/support/errc.hpp"
#include "engine/store/ledger_scripts.hpp"
#include "engine/redis/command.hpp"
#include "engine/redis/script.hpp"

namespace topup::engine {

namespace {

std::int64_t to_int(std::string_view s) {
  std::int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

std::string excerpt(std::string s) {
  constexpr std::size_t k_max = 200;
  if (s.size() > k_max) s.resize(k_max);
  return s;
}

// A step that lost its compare-and-set to another writer of the order (an operator's re-notify,
// another shard's delivery) is tried again on the order as it now is, this many times.
constexpr int k_tries = 4;

}  // namespace

callback_store::callback_store(order_log& store) : store_(store) {}

boost::asio::awaitable<boost::system::result<void>> callback_store::record_attempt(
    std::int64_t merchant_id, std::string order_number, callback_attempt a,
    std::int64_t next_due_ms) {
  for (int attempt = 0; attempt < k_tries; ++attempt) {
    auto order = co_await store_.get(merchant_id, order_number);
    if (!order) co_return order.error();
    // Someone else recorded this attempt: only one deliverer counts it.
    if (order->callback.attempts + 1 != a.attempt) co_return errc::stale_status;
    callback_status status = a.delivered      ? callback_status::delivered
                             : next_due_ms == 0 ? callback_status::failed
                                                : callback_status::pending;
    std::int64_t due = next_due_ms;
    // An operator's re-notify since this delivery started is owed a delivery of its own.
    if (status != callback_status::pending && order->callback.renotify_seq != a.renotify_seq) {
      status = callback_status::pending;
      due = a.at_ms;
    }
    order_record after = *order;
    after.callback.attempts = a.attempt;
    after.callback.status = status;
    after.callback.last_at_ms = a.at_ms;
    ++after.event_count;
    log_event event{"cb",
                    {{"n", std::to_string(a.attempt)},
                     {"ok", std::string(a.delivered ? "1" : "0")},
                     {"ms", std::to_string(a.at_ms)},
                     {"http", std::to_string(a.http_status)}}};
    if (!a.error.empty()) event.fields.emplace_back("err", excerpt(a.error));
    if (!a.body_excerpt.empty()) event.fields.emplace_back("body", excerpt(a.body_excerpt));
    work_change work = status == callback_status::pending
                           ? work_change::set(std::max<std::int64_t>(due, 1))
                           : work_change::remove();
    // Attempts used up: listed for an operator (the exception queue's callback_failed), in the
    // same step, since when the last one ended.
    if (status == callback_status::failed) work.cbfailed = std::max<std::int64_t>(a.at_ms, 1);
    std::vector<log_event> events;  // (not a braced list in the co_await: GCC 12 miscompiles it)
    events.push_back(std::move(event));
    auto saved = co_await store_.commit(*order, std::move(after), std::move(events), work);
    if (saved || saved.error() != errc::stale_status) co_return saved;
  }
  co_return errc::stale_status;
}

boost::asio::awaitable<boost::system::result<void>> callback_store::renotify(
    std::int64_t merchant_id, std::string order_number, std::int64_t now_ms, std::string by) {
  for (int attempt = 0; attempt < k_tries; ++attempt) {
    auto order = co_await store_.get(merchant_id, order_number);
    if (!order) co_return order.error();
    if (!is_terminal(order->status) || order->notify_url.empty()) co_return errc::cannot_cancel;
    order_record after = *order;
    after.callback.status = callback_status::pending;
    after.callback.round_base = order->callback.attempts;
    ++after.callback.renotify_seq;
    ++after.event_count;
    std::vector<log_event> events(1, log_event{"renotify", {}});
    if (!by.empty()) events.front().fields.emplace_back("by", by);
    work_change work = work_change::set(std::max<std::int64_t>(now_ms, 1));
    // A callback that had failed leaves the exception queue: the operator acted on it.
    if (order->callback.status == callback_status::failed) work.cbfailed = -1;
    auto saved = co_await store_.commit(*order, std::move(after), std::move(events), work);
    if (saved || saved.error() != errc::stale_status) co_return saved;
  }
  co_return errc::stale_status;
}

boost::asio::awaitable<boost::system::result<std::vector<callback_attempt>>>
callback_store::attempts(std::int64_t merchant_id, std::string order_number) {
  auto events = co_await store_.events(merchant_id, std::move(order_number));
  if (!events) co_return events.error();
  std::vector<callback_attempt> out;
  for (const auto& e : *events) {
    if (e.field("type") != std::optional<std::string_view>("cb")) continue;
    callback_attempt a;
    a.attempt = to_int(e.field("n").value_or("0"));
    a.at_ms = to_int(e.field("ms").value_or("0"));
    a.http_status = static_cast<unsigned>(to_int(e.field("http").value_or("0")));
    a.body_excerpt = std::string(e.field("body").value_or(""));
    a.error = std::string(e.field("err").value_or(""));
    a.delivered = e.field("ok") == std::optional<std::string_view>("1");
    out.push_back(std::move(a));
  }
  co_return out;
}

}  // namespace topup::engine
