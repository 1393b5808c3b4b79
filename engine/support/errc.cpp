#include "engine/support/errc.hpp"

#include <string>

namespace topup::engine {
namespace {

class category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "topup.engine"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::ok: return "ok";
      case errc::invalid_mobile: return "invalid mobile number";
      case errc::unsupported_amount: return "unsupported amount";
      case errc::order_no_conflict: return "order_no already used with other parameters";
      case errc::insufficient_balance: return "insufficient balance";
      case errc::no_channel: return "no channel can serve this order";
      case errc::cannot_cancel: return "order cannot be cancelled in its current status";
      case errc::order_not_found: return "order not found";
      case errc::unknown_merchant: return "unknown or disabled merchant";
      case errc::illegal_transition: return "illegal status transition";
      case errc::stale_status: return "order status changed concurrently";
      case errc::order_number_taken: return "order number already taken";
      case errc::storage_unavailable: return "storage unavailable";
      case errc::storage_protocol: return "unexpected storage answer";
      case errc::overloaded: return "shard overloaded";
      case errc::shutting_down: return "shutting down";
      case errc::internal: return "internal error";
      case errc::fenced: return "fenced: this instance's lease epoch is no longer current";
      case errc::range_too_wide: return "the range holds more orders than one request scans";
      case errc::risk_blacklisted: return "refused by risk control: the number is blacklisted";
      case errc::risk_mobile_orders: return "refused by risk control: the number's order limit";
      case errc::risk_mobile_amount: return "refused by risk control: the number's amount limit";
      case errc::risk_daily_amount: return "refused by risk control: the merchant's daily limit";
      case errc::layout_mismatch: return "storage layout version mismatch";
      case errc::outcome_unknown: return "storage answered nothing: the write may have been applied";
      case errc::store_not_allowed: return "store_id not allowed for this merchant";
    }
    return "unknown engine error";
  }
};

}  // namespace

const boost::system::error_category& error_category() noexcept {
  static const category instance;
  return instance;
}

}  // namespace topup::engine
