#pragma once
// Expected failures of the business layer, as values (STYLE.md "Errors").
#include <boost/system/error_code.hpp>
#include <system_error>

namespace topup::engine {

enum class errc {
  ok = 0,
  invalid_mobile = 1,      // wire 2001
  unsupported_amount,      // wire 2002
  order_no_conflict,       // wire 2003: same order_no, other business parameters
  insufficient_balance,    // wire 2004
  no_channel,              // wire 2005
  cannot_cancel,           // wire 2007
  order_not_found,         // wire 3001
  unknown_merchant,        // wire 1005
  illegal_transition,      // a status change that spec §4 does not allow
  stale_status,            // compare-and-set lost: the order moved meanwhile
  order_number_taken,      // generated order_number already exists (clock went back): retry
  storage_unavailable,     // wire 5000 / HTTP 503: nothing was accepted
  outcome_unknown,         // wire 5002 / HTTP 503: a write was sent and its answer lost; it may
                           // have been applied (retry the same request to learn)
  storage_protocol,        // Redis answered something we did not expect: wire 5001
  overloaded,              // wire 1008 / HTTP 429: shard over its in-flight bound
  shutting_down,           // the shard is draining
  internal,                // wire 5001
  store_not_allowed,       // wire 1006: store_id not one of the merchant's
  fenced,                  // this instance's lease epoch is no longer the merchant's fence: it
                           // must stop writing (wire 5000; nothing written)
  layout_mismatch,         // Redis holds another storage layout version (start-up refuses)
  range_too_wide,          // wire 1001: a list range holding more orders than one request scans
  risk_blacklisted,        // wire 2008: the mobile number is on the operators' blacklist
  risk_mobile_orders,      // wire 2008: the number's orders in the rolling window are used up
  risk_mobile_amount,      // wire 2008: the number's face value in the rolling window is used up
  risk_daily_amount,       // wire 2008: the merchant's face value for the business day is used up
};

const boost::system::error_category& error_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

}  // namespace topup::engine

template <>
struct boost::system::is_error_code_enum<topup::engine::errc> : std::true_type {};
