#pragma once
// Expected failures at the wire: request shape, authentication, limits.
#include <boost/system/error_code.hpp>
#include <system_error>

namespace topup::protocol {

enum class errc {
  ok = 0,
  bad_param = 1,           // wire 1001: missing, repeated or malformed parameter
  bad_signature,           // wire 1002
  missing_app_key,         // wire 1003
  timestamp_out_of_window, // wire 1004
  unknown_app_key,         // wire 1005
  store_not_allowed,       // wire 1006
  ip_not_allowed,          // wire 1007
  rate_limited,            // wire 1008 / HTTP 429
  invalid_notify_url,      // wire 2006
  bad_admin_token,         // wire 4001 / HTTP 401
  forbidden,               // wire 4003 / HTTP 403: the operator's role does not allow the action
  not_found,               // HTTP 404
  method_not_allowed,      // HTTP 405
  body_too_large,          // HTTP 413
  header_too_large,        // HTTP 431
  bad_request,             // HTTP 400: a request the HTTP parser refuses
};

const boost::system::error_category& error_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

}  // namespace topup::protocol

template <>
struct boost::system::is_error_code_enum<topup::protocol::errc> : std::true_type {};
