#pragma once
// The operator's business actions of one shard (spec §7): credit a merchant, notify an order's
// merchant again, switch a channel on or off.
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include <cstdint>
#include <string>

#include "engine/callbacks/callback_store.hpp"
#include "engine/order/money.hpp"
#include "engine/routing/channel_catalogue.hpp"
#include "engine/service/callback_kicker.hpp"
#include "engine/service/channel_switchboard.hpp"
#include "engine/service/exception_queue.hpp"
#include "engine/service/order_settler.hpp"
#include "engine/store/order_store.hpp"
#include "engine/support/clock.hpp"

namespace topup::engine {

/// What the admin API asks of the engine besides reads: each method is one operator action with
/// every step it takes (stored first, then applied or kicked), so the protocol layer only parses
/// and renders. One per shard, used only on that shard's thread; the shard-crossing steps go
/// through the injected kicker, switchboard and settler.
class operations_service {
 public:
  operations_service(const config& cfg, order_store& store, callback_store& callbacks,
                     const channel_catalogue& catalogue, callback_kicker& kicker,
                     channel_switchboard& switchboard, order_settler& settler,
                     const engine::clock& clock);

  /// Credits (negative: corrects) a merchant's balance once per `ref`. Errors as
  /// order_store::credit (order_no_conflict: the ref was used with another amount).
  /// `by`: the operator, recorded in the credit's log entry.
  boost::asio::awaitable<boost::system::result<credit_result>> credit(std::int64_t merchant_id,
                                                                      std::string ref,
                                                                      fen_t amount_fen,
                                                                      std::string by);

  /// "Notify the merchant again": the callback is pending and due now (stored), then the owning
  /// shard is kicked. Errors: order_not_found (also for a malformed number), cannot_cancel when
  /// the order is not final or has no notify_url; nothing is kicked on any error.
  boost::asio::awaitable<boost::system::result<void>> renotify(std::string order_number,
                                                               std::string by);

  /// Enables or disables a configured channel: stored first, so a restart keeps the operator's
  /// choice, then applied on every shard. Errors: no_channel (not configured); a storage error
  /// leaves every shard as it was.
  boost::asio::awaitable<boost::system::result<void>> switch_channel(std::string channel_id,
                                                                     bool enabled);

  /// Adds a mobile number to the blacklist or removes it (spec §7): stored, with the version
  /// every shard of every instance polls (within a second). Errors: invalid_mobile (not a
  /// number of any carrier's segments), storage errors (the operator sends it again: both
  /// steps are idempotent). Answers the list's new version.
  boost::asio::awaitable<boost::system::result<std::int64_t>> change_blacklist(std::string mobile,
                                                                               bool add);

  /// The exception queue (spec §7), as exception_queue::list reads it now.
  boost::asio::awaitable<boost::system::result<exception_page>> exceptions(exception_filter filter,
                                                                           std::int64_t page,
                                                                           std::int64_t page_size);

  /// An operator settles an order of the exception queue (spec §7): applied by the order's
  /// owning shard (order_dispatcher::settle); a refusal is a value (nothing written), with a log
  /// line naming the operator either way. `s.evidence` must be 1..k_evidence_max bytes (the
  /// caller's check). Errors: order_not_found, shutting_down, storage's.
  boost::asio::awaitable<boost::system::result<settle_outcome>> settle(std::string order_number,
                                                                       manual_settlement s);

 private:
  order_store& store_;
  callback_store& callbacks_;
  const channel_catalogue& catalogue_;
  callback_kicker& kicker_;
  channel_switchboard& switchboard_;
  order_settler& settler_;
  exception_queue exceptions_;
  const engine::clock& clock_;
};

}  // namespace topup::engine
