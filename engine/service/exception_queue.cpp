#include "engine/service/exception_queue.hpp"

#include <algorithm>
#include <unordered_set>

namespace topup::engine {

exception_queue::exception_queue(order_store& store, const config& cfg)
    : store_(store), cfg_(cfg) {}

boost::asio::awaitable<boost::system::result<std::vector<listed_exception>>>
exception_queue::collect(exception_filter filter, std::int64_t now_ms) {
  std::vector<listed_exception> found;
  for (const auto& m : cfg_.merchants) {
    if (filter.merchant_id && *filter.merchant_id != m.id) continue;
    std::vector<std::string> numbers;
    std::unordered_set<std::string> seen;
    auto add = [&](std::string number) {
      if (seen.insert(number).second) numbers.push_back(std::move(number));
    };
    auto flagged = co_await store_.unresolved(m.id, k_index_max);
    if (!flagged) co_return flagged.error();
    for (auto& [number, since] : *flagged) add(std::move(number));
    auto failed = co_await store_.callback_failed(m.id, k_index_max);
    if (!failed) co_return failed.error();
    for (auto& [number, since] : *failed) add(std::move(number));
    const active_cursor from_oldest;
    auto active = co_await store_.active_orders(m.id, from_oldest, k_active_max);
    if (!active) co_return active.error();
    for (auto& number : active->numbers) add(std::move(number));
    if (numbers.empty()) continue;

    auto records = co_await store_.get_many(m.id, std::move(numbers));
    if (!records) co_return records.error();
    for (auto& r : *records) {
      if (!r) continue;  // gone (archived, settled meanwhile) or unreadable: nothing to settle
      auto entry = classify_exception(*r, cfg_, now_ms);
      if (!entry) continue;
      if (filter.kind && *filter.kind != entry->kind) continue;
      if (!filter.channel.empty() && r->attempt.channel != filter.channel) continue;
      found.push_back(listed_exception{std::move(*r), std::move(*entry)});
    }
  }
  co_return found;
}

boost::asio::awaitable<boost::system::result<std::array<std::int64_t, k_exception_kind_count>>>
exception_queue::count_by_kind(std::int64_t now_ms) {
  const exception_filter all;
  auto found = co_await collect(all, now_ms);
  if (!found) co_return found.error();
  std::array<std::int64_t, k_exception_kind_count> counts{};
  for (const auto& e : *found) ++counts.at(static_cast<std::size_t>(e.entry.kind));
  co_return counts;
}

boost::asio::awaitable<boost::system::result<exception_page>> exception_queue::list(
    exception_filter filter, std::int64_t page, std::int64_t page_size, std::int64_t now_ms) {
  auto collected = co_await collect(std::move(filter), now_ms);
  if (!collected) co_return collected.error();
  std::vector<listed_exception> found = std::move(*collected);
  std::sort(found.begin(), found.end(), [](const listed_exception& a, const listed_exception& b) {
    if (a.entry.since_ms != b.entry.since_ms) return a.entry.since_ms < b.entry.since_ms;
    return a.order.order_number < b.order.order_number;
  });
  exception_page out;
  out.total = static_cast<std::int64_t>(found.size());
  if (page >= 1 && page_size >= 1 && page - 1 <= out.total / page_size) {
    const auto first = static_cast<std::size_t>((page - 1) * page_size);
    for (std::size_t i = first; i < found.size() && i < first + static_cast<std::size_t>(page_size); ++i)
      out.entries.push_back(std::move(found[i]));
  }
  co_return out;
}

}  // namespace topup::engine
