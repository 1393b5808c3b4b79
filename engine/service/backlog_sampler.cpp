#include "engine/service/backlog_sampler.hpp"

namespace topup::engine {

backlog_sampler::backlog_sampler(order_store& store, const config& cfg, instance_metrics& gauges)
    : store_(store), cfg_(cfg), exceptions_(store, cfg), gauges_(gauges) {}

boost::asio::awaitable<boost::system::error_code> backlog_sampler::sample(std::int64_t now_ms) {
  order_store::callback_backlog callbacks;
  for (const auto& m : cfg_.merchants) {
    auto one = co_await store_.callbacks_owed(m.id, now_ms);
    if (!one) co_return one.error();
    callbacks.owed += one->owed;
    callbacks.due += one->due;
  }
  auto kinds = co_await exceptions_.count_by_kind(now_ms);
  if (!kinds) co_return kinds.error();
  gauges_.callbacks_owed.store(callbacks.owed, std::memory_order_relaxed);
  gauges_.callbacks_due.store(callbacks.due, std::memory_order_relaxed);
  for (std::size_t k = 0; k < kinds->size(); ++k)
    gauges_.exceptions[k].store((*kinds)[k], std::memory_order_relaxed);
  co_return boost::system::error_code{};
}

}  // namespace topup::engine
