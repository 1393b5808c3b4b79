#pragma once
// Persistence of merchant callback deliveries: attempts, outcome, next due time.
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/order/order_record.hpp"
#include "engine/store/order_log.hpp"

namespace topup::engine {

/// One delivery attempt as recorded (and shown by GET /admin/orders/<n>).
struct callback_attempt {
  std::int64_t attempt = 0;
  std::int64_t at_ms = 0;
  unsigned http_status = 0;
  std::string body_excerpt;
  std::string error;
  bool delivered = false;
  /// The order's cb_renotify_seq when the delivery started: an operator's re-notify since then
  /// keeps the callback pending whatever this attempt's outcome (not stored in the stream).
  std::int64_t renotify_seq = 0;
};

/// The callback half of an order record: `cb_status` (pending / delivered / failed),
/// `cb_attempts`, the order's `cb`/`renotify` events in the merchant's log and its `work` entry
/// (docs/STORAGE.md). Each write is one compare-and-set append through order_store (tried again
/// on the order as it now is when another writer got there first); shard-local like order_store.
class callback_store {
 public:
  explicit callback_store(order_log& store);

  /// Records attempt `attempt` (must be cb_attempts + 1: a compare-and-set, so two deliverers
  /// never both count) and either reschedules the order at `next_due_ms` or, when
  /// `next_due_ms` is 0, takes it off the due set with cb_status delivered or failed.
  /// Errors: stale_status (someone else recorded this attempt), order_not_found.
  boost::asio::awaitable<boost::system::result<void>> record_attempt(
      std::int64_t merchant_id, std::string order_number, callback_attempt attempt,
      std::int64_t next_due_ms);

  /// Operator's "notify again now": cb_status pending, attempts counted afresh, due now.
  /// Errors: order_not_found; cannot_cancel when the order is not final or has no notify_url.
  /// `by`: the operator, recorded in the `renotify` event when not empty.
  boost::asio::awaitable<boost::system::result<void>> renotify(std::int64_t merchant_id,
                                                               std::string order_number,
                                                               std::int64_t now_ms,
                                                               std::string by = {});

  /// Every recorded attempt, oldest first.
  boost::asio::awaitable<boost::system::result<std::vector<callback_attempt>>> attempts(
      std::int64_t merchant_id, std::string order_number);

 private:
  order_log& store_;
};

}  // namespace topup::engine
