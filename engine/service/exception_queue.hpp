#pragma once
// The exception queue (spec §7 `GET /admin/exceptions`): orders that need a person.
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/config/config.hpp"
#include "engine/dispatch/exception_rules.hpp"
#include "engine/order/order_record.hpp"
#include "engine/store/order_store.hpp"

namespace topup::engine {

struct exception_filter {
  std::optional<exception_kind> kind;
  std::optional<std::int64_t> merchant_id;
  std::string channel;  ///< empty: any
};

struct listed_exception {
  order_record order;
  exception_entry entry;
};

struct exception_page {
  std::int64_t total = 0;  ///< entries matching the filter, all pages
  std::vector<listed_exception> entries;  ///< oldest `since` first
};

/// class exception_queue — reads the queue from Redis for the admin API. Bounded per merchant:
/// the `unresolved` and `cbfailed` indexes (each up to k_index_max entries) and the k_active_max
/// oldest orders not final (`work`: what an overdue order or one no driver flagged is found
/// by — a stuck order grows old, so it comes first), then one HMGET of those records, each
/// classified by classify_exception (an index entry whose order moved on is skipped). One per
/// shard, used on its thread.
class exception_queue {
 public:
  static constexpr std::int64_t k_index_max = 1000;
  static constexpr std::int64_t k_active_max = 500;

  exception_queue(order_store& store, const config& cfg);

  /// `page` from 1, `page_size` 1..100. Every configured merchant (or the one filtered).
  boost::asio::awaitable<boost::system::result<exception_page>> list(exception_filter filter,
                                                                     std::int64_t page,
                                                                     std::int64_t page_size,
                                                                     std::int64_t now_ms);

  /// How many entries of each kind the queue lists now (indexed by exception_kind), over every
  /// configured merchant: the same reads and rules as list(), so the same bounds (a kind past
  /// k_index_max or k_active_max per merchant is counted up to them). For the metrics
  /// (backlog_sampler, shard 0), not per scrape.
  boost::asio::awaitable<boost::system::result<std::array<std::int64_t, k_exception_kind_count>>> count_by_kind(
      std::int64_t now_ms);

 private:
  /// Every entry the filter keeps, unsorted.
  boost::asio::awaitable<boost::system::result<std::vector<listed_exception>>> collect(
      exception_filter filter, std::int64_t now_ms);

  order_store& store_;
  const config& cfg_;
};

}  // namespace topup::engine
