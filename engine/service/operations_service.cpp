#include "engine/service/operations_service.hpp"

#include "engine/order/carrier.hpp"
#include "engine/order/order_number.hpp"
#include "engine/support/errc.hpp"
#include "engine/support/log.hpp"

namespace topup::engine {

operations_service::operations_service(const config& cfg, order_store& store,
                                       callback_store& callbacks,
                                       const channel_catalogue& catalogue,
                                       callback_kicker& kicker, channel_switchboard& switchboard,
                                       order_settler& settler, const engine::clock& clock)
    : store_(store),
      callbacks_(callbacks),
      catalogue_(catalogue),
      kicker_(kicker),
      switchboard_(switchboard),
      settler_(settler),
      exceptions_(store, cfg),
      clock_(clock) {}

boost::asio::awaitable<boost::system::result<credit_result>> operations_service::credit(
    std::int64_t merchant_id, std::string ref, fen_t amount_fen, std::string by) {
  co_return co_await store_.credit(merchant_id, std::move(ref), amount_fen, clock_.wall_ms(),
                                   std::move(by));
}

boost::asio::awaitable<boost::system::result<void>> operations_service::renotify(
    std::string order_number, std::string by) {
  // The number names its merchant (and so the keys); one that does not parse names no order.
  auto parts = parse_order_number(order_number);
  if (!parts) co_return errc::order_not_found;
  const std::int64_t merchant_id = parts->merchant_id;
  auto armed =
      co_await callbacks_.renotify(merchant_id, order_number, clock_.wall_ms(), std::move(by));
  if (!armed) co_return armed.error();
  // Stored as due now: the kick only spares the wait for the owner's next scan.
  kicker_.kick(std::move(order_number), merchant_id);
  co_return boost::system::result<void>{};
}

boost::asio::awaitable<boost::system::result<void>> operations_service::switch_channel(
    std::string channel_id, bool enabled) {
  if (!catalogue_.exists(channel_id)) co_return errc::no_channel;
  // Stored first: a switch applied but not stored would be undone by the next restart.
  auto saved = co_await store_.set_channel_disabled(channel_id, !enabled);
  if (!saved) co_return saved.error();
  switchboard_.set_enabled_everywhere(std::move(channel_id), enabled);
  co_return boost::system::result<void>{};
}

boost::asio::awaitable<boost::system::result<std::int64_t>> operations_service::change_blacklist(
    std::string mobile, bool add) {
  if (!detect_carrier(mobile)) co_return errc::invalid_mobile;
  co_return co_await store_.change_blacklist(std::move(mobile), add);
}

boost::asio::awaitable<boost::system::result<exception_page>> operations_service::exceptions(
    exception_filter filter, std::int64_t page, std::int64_t page_size) {
  co_return co_await exceptions_.list(std::move(filter), page, page_size, clock_.wall_ms());
}

boost::asio::awaitable<boost::system::result<settle_outcome>> operations_service::settle(
    std::string order_number, manual_settlement s) {
  if (!parse_order_number(order_number)) co_return errc::order_not_found;
  const bool success = s.success;
  std::string by = s.by;
  auto settled = co_await settler_.settle_on_owner(order_number, std::move(s));
  // Every operator action is recorded with who made it (spec §7): the step's `by` when applied,
  // and this line either way.
  if (settled && settled->refused == settle_refusal::none)
    logger("engine")->info("settle operator={} order={} result={} status={}", by, order_number,
                           success ? "success" : "failed", to_int(settled->order.status));
  else if (settled)
    logger("engine")->info("settle operator={} order={} result={} refused status={}", by,
                           order_number, success ? "success" : "failed",
                           to_int(settled->order.status));
  co_return settled;
}

}  // namespace topup::engine
