// libFuzzer: a merchant request up to the engine boundary (spec §1-§3), in the order
// protocol::merchant_api::handle takes it: decode_form over query and body (input:
// "query\nbody"), app_key lookup and IP allow-list (merchant_directory), sign_type, timestamp
// window, signature check, then the parameter validators the endpoints use before calling the
// engine: mobile (valid_mobile_format, detect_carrier), money and amounts (parse_yuan),
// order_number (parse_order_number), notify_url (is_http_url), status. merchant_api itself needs a
// running engine (order_service over Redis), so its steps are called here one by one, and every
// step runs even where the real flow would have answered already, to reach the later ones.
//
// Beyond "no crash": a sign made by sign_params always verifies and a flipped one never does;
// parsed values survive their formatting (format_fen, make_order_number, carrier_code).
#include <boost/asio/ip/address.hpp>

#include <cctype>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/order/carrier.hpp"
#include "engine/config/config.hpp"
#include "engine/order/money.hpp"
#include "engine/order/order_number.hpp"
#include "engine/order/order_status.hpp"
#include "engine/config/sign_method.hpp"
#include "protocol/errc.hpp"
#include "protocol/form.hpp"
#include "protocol/merchant_directory.hpp"
#include "protocol/signing.hpp"
#include "protocol/wire_codes.hpp"
#include "tests/fuzz/fuzz_input.hpp"

namespace {

namespace engine = topup::engine;
namespace protocol = topup::protocol;

constexpr std::int64_t k_now_s = 1'700'000'000;  // the spec's example timestamp
constexpr std::int64_t k_skew_s = 300;

// The merchants of deploy/topupd.example.json, as the server would hold them.
std::vector<engine::merchant_config> make_merchants() {
  engine::merchant_config m1;
  m1.id = 1001;
  m1.app_key = "k1";
  m1.app_secret = "s3cret";
  m1.store_ids = {"s1"};
  m1.price_rate_ppm = 995'000;
  engine::merchant_config m2;
  m2.id = 1002;
  m2.app_key = "k2";
  m2.app_secret = "another-s3cret";
  m2.store_ids = {"shop-a", "shop-b"};
  m2.sign_types = {engine::sign_method::hmac_sha256};
  m2.price_rate_ppm = 1'002'000;
  m2.allowed_ips = {"203.0.113.7", "198.51.100.0/24", "2001:db8::/32"};
  return {m1, m2};
}

const std::vector<engine::merchant_config>& merchants() {
  static const std::vector<engine::merchant_config> instance = make_merchants();
  return instance;
}

const protocol::merchant_directory& directory() {
  static const protocol::merchant_directory instance(merchants());
  return instance;
}

const std::string* param(const protocol::form_params& params, std::string_view key) {
  const std::string* v = params.find(key);
  return (v && !v->empty()) ? v : nullptr;
}

void check_sign_round_trip(const protocol::form_params& params, engine::sign_method method,
                           const std::string& secret) {
  const std::string sign = protocol::sign_params(params, method, secret);
  TOPUP_FUZZ_CHECK(sign.size() == (method == engine::sign_method::md5 ? 32u : 64u));
  TOPUP_FUZZ_CHECK(protocol::verify_sign(params, method, secret, sign));
  std::string lower = sign;  // spec §2: the hex digits may come in either case
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  TOPUP_FUZZ_CHECK(protocol::verify_sign(params, method, secret, lower));
  std::string flipped = sign;
  flipped[0] = flipped[0] == 'A' ? 'B' : 'A';
  TOPUP_FUZZ_CHECK(!protocol::verify_sign(params, method, secret, flipped));
}

void check_validators(const protocol::form_params& params) {
  if (const auto* mobile = param(params, "mobile")) {
    const bool valid = engine::valid_mobile_format(*mobile);
    if (const auto carrier = engine::detect_carrier(*mobile)) {
      TOPUP_FUZZ_CHECK(valid);
      TOPUP_FUZZ_CHECK(engine::carrier_from_code(engine::carrier_code(*carrier)) == carrier);
      TOPUP_FUZZ_CHECK(!engine::carrier_name_zh(*carrier).empty());
    }
  }
  for (std::string_view key : {"money", "amount"}) {
    if (const auto* money = param(params, key)) {
      if (const auto fen = engine::parse_yuan(*money))
        TOPUP_FUZZ_CHECK(engine::parse_yuan(engine::format_fen(*fen)) == fen);
    }
  }
  for (std::string_view key : {"order_number", "order_no"}) {
    if (const auto* number = param(params, key)) {
      if (const auto parts = engine::parse_order_number(*number))
        TOPUP_FUZZ_CHECK(engine::make_order_number(*parts) == *number);
    }
  }
  if (const auto* url = param(params, "notify_url")) (void)engine::is_http_url(*url);
  if (const auto* status = param(params, "status")) {
    int value = 0;
    auto [end, ec] = std::from_chars(status->data(), status->data() + status->size(), value);
    if (ec == std::errc{} && end == status->data() + status->size()) {
      if (const auto s = engine::status_from_int(value)) {
        TOPUP_FUZZ_CHECK(engine::to_int(*s) == value);
        TOPUP_FUZZ_CHECK(!engine::status_name(*s).empty());
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto [query, body] = topup::fuzz::split_first_line(topup::fuzz::as_text(data, size));
  auto decoded = protocol::decode_form(query, body);
  if (!decoded) {
    // The 1001 answer names the parameter.
    (void)protocol::bad_param_msg(decoded.error().key);
    return 0;
  }
  const protocol::form_params& params = *decoded;

  // Authentication, in merchant_api's order; an unknown app_key continues as merchant k1.
  const std::string* app_key = params.find("app_key");
  const engine::merchant_config* merchant = app_key ? directory().by_app_key(*app_key) : nullptr;
  if (!merchant) merchant = &merchants().front();
  for (const char* ip : {"127.0.0.1", "203.0.113.7", "198.51.100.9", "2001:db8::1"})
    (void)directory().ip_allowed(*merchant, boost::asio::ip::make_address(ip));
  const auto method = protocol::requested_sign_method(params);
  if (const std::string* timestamp = params.find("timestamp"))
    (void)protocol::timestamp_within(*timestamp, k_now_s, k_skew_s);
  if (const std::string* sign = params.find("sign")) {
    (void)protocol::verify_sign(params, method.value_or(engine::sign_method::md5),
                                merchant->app_secret, *sign);
  }
  check_sign_round_trip(params, engine::sign_method::md5, merchant->app_secret);
  check_sign_round_trip(params, engine::sign_method::hmac_sha256, merchant->app_secret);

  check_validators(params);
  return 0;
}
