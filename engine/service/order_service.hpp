#pragma once
// The merchant-facing business operations of one shard: accept, query, cancel, list, balance.
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/order/carrier.hpp"
#include "engine/routing/channel_catalogue.hpp"
#include "engine/service/callback_kicker.hpp"
#include "engine/support/clock.hpp"
#include "engine/config/config.hpp"
#include "engine/runtime/metrics.hpp"
#include "engine/dispatch/order_dispatcher.hpp"
#include "engine/order/order_record.hpp"
#include "engine/risk/blacklist.hpp"
#include "engine/risk/risk_counters.hpp"
#include "engine/store/order_log.hpp"

namespace topup::engine {

/// A pushOrder after the protocol layer checked its shape and the merchant's credentials.
struct push_request {
  const merchant_config* merchant = nullptr;
  std::string store_id;
  std::string mobile;
  std::string order_no;
  std::int64_t money_yuan = 0;
  int recharge_type = 1;
  std::string notify_url;
  std::optional<bool> change;  // absent: the merchant's default_change
  std::string source;          // empty: any channel
};

/// Validates orders against what the channels serve, accepts them through the accept script
/// (idempotent, debit and record in one atomic step), cancels them (with their callback) and
/// answers merchants' reads. One per shard, used only on that shard's thread. Every accepted
/// order is handed to the dispatcher only after Redis has stored it. Bounded: at most
/// server.max_inflight_orders pushes in flight; beyond that errc::overloaded.
class order_service {
 public:
  /// With a `dispatcher`, a new order for which a channel is free now is stored matched (7) by
  /// the accept itself and handed to the dispatcher to submit; others are handed to it in 6.
  /// Without one (tests of intake alone, or a crash simulated) accepted orders are left in Redis
  /// for recovery to find. `kicker` has a cancelled order's callback sent; `metrics` may be null
  /// (not counted).
  order_service(const config& cfg, order_log& store, channel_catalogue& catalogue,
                order_dispatcher* dispatcher, callback_kicker& kicker, shard_metrics* metrics,
                unsigned shard, const engine::clock& clock = system_clock(),
                const blacklist* refused_numbers = nullptr, risk_counters* limits = nullptr);

  /// A merchant's pushOrder; an answer that is topupd's failure is counted in intake_errors.
  boost::asio::awaitable<boost::system::result<accept_result>> push(push_request request);
  /// By order_number when non-empty, else by order_no; only the merchant's own orders.
  boost::asio::awaitable<boost::system::result<order_record>> query(std::int64_t merchant_id,
                                                                    std::string order_number,
                                                                    std::string order_no);
  /// Withdraws an order still waiting (6): 6->3->4 with the refund, then, when the order has a
  /// notify_url, its owner is kicked to send the callback (spec §5: a refund is notified like
  /// every final status). Anything but 6 is cannot_cancel, and nothing is kicked on any error.
  boost::asio::awaitable<boost::system::result<order_record>> cancel(std::int64_t merchant_id,
                                                                     std::string order_number,
                                                                     std::string order_no);
  boost::asio::awaitable<boost::system::result<account_totals>> account(std::int64_t merchant_id);
  boost::asio::awaitable<boost::system::result<order_page>> list(
      std::int64_t merchant_id, std::int64_t start_ms, std::int64_t end_ms,
      std::optional<order_status> status, std::int64_t page, std::int64_t page_size);

  std::size_t inflight() const noexcept { return inflight_; }

  /// While closed, pushes are answered storage_unavailable (5000, nothing debited): the shard
  /// opens intake once it has read what it must know before routing (disabled channels).
  void set_intake_open(bool open) noexcept { intake_open_ = open; }
  bool intake_open() const noexcept { return intake_open_; }

  /// True once since an accept ended without a definite answer from Redis (a drop or an odd
  /// reply): the script may have run, leaving an order nobody drives. The shard then sweeps the
  /// active sets for such orphans (a full sweep on every tick would cost a read of every active
  /// order, a latency spike that grows with the load).
  bool take_uncertain_accept() noexcept { return std::exchange(uncertain_accept_, false); }

  /// The idempotency fingerprint of an order's business parameters as the merchant sent them
  /// (hex SHA-1): `change` as given, absent included, so that editing a merchant's
  /// default_change never turns a retry into a conflict.
  static std::string fingerprint(const push_request& request);

 private:
  /// push() before counting: the checks, then the accept.
  boost::asio::awaitable<boost::system::result<accept_result>> accept_or_refuse(
      push_request request);
  /// A push refused by a check that depends on the current configuration or capacity
  /// (`refusal`): unless its order_no was accepted before, in which case the merchant gets that
  /// order back, or order_no_conflict for other parameters (spec §3.1: idempotency first).
  boost::asio::awaitable<boost::system::result<accept_result>> refuse_unless_repeat(
      const push_request& request, boost::system::error_code refusal);

  std::string next_order_number(std::int64_t merchant_id, std::int64_t now_ms);

  const config& config_;
  order_log& store_;
  channel_catalogue& catalogue_;
  unsigned shard_;
  const engine::clock& clock_;
  std::uint32_t sequence_ = 0;
  std::size_t inflight_ = 0;
  std::size_t repeat_checks_ = 0;  // refuse_unless_repeat reads in flight (bounded like pushes)
  bool uncertain_accept_ = false;
  bool intake_open_ = true;
  order_dispatcher* dispatcher_;
  callback_kicker& kicker_;
  shard_metrics* metrics_;
  const blacklist* blacklist_;  // null: no risk rules (tests of other things)
  risk_counters* limits_;       // null: no counted limits configured
};

}  // namespace topup::engine
