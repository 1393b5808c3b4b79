#include "protocol/errc.hpp"

#include <string>

namespace topup::protocol {
namespace {

class category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "topup.protocol"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::ok: return "ok";
      case errc::bad_param: return "bad parameter";
      case errc::bad_signature: return "signature invalid";
      case errc::missing_app_key: return "app_key missing";
      case errc::timestamp_out_of_window: return "timestamp outside the allowed window";
      case errc::unknown_app_key: return "unknown or disabled app_key";
      case errc::store_not_allowed: return "store_id not allowed";
      case errc::ip_not_allowed: return "source IP not allowed";
      case errc::rate_limited: return "rate limit exceeded";
      case errc::invalid_notify_url: return "invalid notify_url";
      case errc::bad_admin_token: return "admin token missing or wrong";
      case errc::forbidden: return "the operator's role does not allow this action";
      case errc::not_found: return "not found";
      case errc::method_not_allowed: return "method not allowed";
      case errc::body_too_large: return "body too large";
      case errc::header_too_large: return "request header too large";
      case errc::bad_request: return "malformed HTTP request";
    }
    return "unknown protocol error";
  }
};

}  // namespace

const boost::system::error_category& error_category() noexcept {
  static const category instance;
  return instance;
}

}  // namespace topup::protocol
