#include <gtest/gtest.h>

#include "engine/support/errc.hpp"
#include "protocol/errc.hpp"
#include "protocol/wire_codes.hpp"

#include <boost/system/errc.hpp>

#include <string>
#include <vector>

using topup::protocol::bad_param_msg;
using topup::protocol::to_wire;

namespace {

struct row {
  boost::system::error_code ec;
  std::string_view code;
  unsigned http_status;
};

void expect_rows(const std::vector<row>& rows) {
  for (const auto& r : rows) {
    const auto answer = to_wire(r.ec);
    EXPECT_EQ(answer.code, r.code) << r.ec.message();
    EXPECT_EQ(answer.http_status, r.http_status) << r.ec.message();
    EXPECT_FALSE(answer.msg.empty()) << r.ec.message();
  }
}

}  // namespace

TEST(WireCodes, EveryProtocolErrcMapsToItsSpecRow) {
  using topup::protocol::errc;
  expect_rows({
      {errc::ok, "0000", 200},
      {errc::bad_param, "1001", 200},
      {errc::bad_signature, "1002", 200},
      {errc::missing_app_key, "1003", 200},
      {errc::timestamp_out_of_window, "1004", 200},
      {errc::unknown_app_key, "1005", 200},
      {errc::store_not_allowed, "1006", 200},
      {errc::ip_not_allowed, "1007", 200},
      {errc::rate_limited, "1008", 429},
      {errc::invalid_notify_url, "2006", 200},
      {errc::bad_admin_token, "4001", 401},
      {errc::forbidden, "4003", 403},
      {errc::not_found, "4004", 404},
      {errc::method_not_allowed, "4005", 405},
      {errc::body_too_large, "4013", 413},
      {errc::header_too_large, "4031", 431},
      {errc::bad_request, "4000", 400},
  });
}

TEST(WireCodes, EveryEngineErrcMapsToItsSpecRow) {
  using topup::engine::errc;
  expect_rows({
      {errc::ok, "0000", 200},
      {errc::invalid_mobile, "2001", 200},
      {errc::unsupported_amount, "2002", 200},
      {errc::order_no_conflict, "2003", 200},
      {errc::insufficient_balance, "2004", 200},
      {errc::no_channel, "2005", 200},
      {errc::cannot_cancel, "2007", 200},
      {errc::risk_blacklisted, "2008", 200},
      {errc::risk_mobile_orders, "2008", 200},
      {errc::risk_mobile_amount, "2008", 200},
      {errc::risk_daily_amount, "2008", 200},
      {errc::order_not_found, "3001", 200},
      {errc::unknown_merchant, "1005", 200},
      {errc::illegal_transition, "5001", 200},
      {errc::stale_status, "5001", 200},
      {errc::order_number_taken, "5001", 200},
      {errc::storage_unavailable, "5000", 503},
      {errc::storage_protocol, "5001", 200},
      {errc::overloaded, "1008", 429},
      {errc::shutting_down, "5000", 503},
      {errc::internal, "5001", 200},
  });
}

TEST(WireCodes, NoEnumeratorFallsThroughToTheUnknownRow) {
  // Walks every value up to the last enumerator: only the engine rows that are 5001 on purpose
  // may reach it, so a value added to either errc without its own row fails here.
  using topup::engine::errc;
  for (int v = 1; v <= static_cast<int>(topup::protocol::errc::bad_request); ++v) {
    const auto answer = to_wire(static_cast<topup::protocol::errc>(v));
    EXPECT_NE(answer.code, "5001") << v;
  }
  for (int v = 1; v <= static_cast<int>(errc::internal); ++v) {
    const auto e = static_cast<errc>(v);
    const bool deliberate_5001 = e == errc::illegal_transition || e == errc::stale_status ||
                                 e == errc::order_number_taken || e == errc::storage_protocol ||
                                 e == errc::internal;
    EXPECT_EQ(to_wire(e).code == "5001", deliberate_5001) << v;
  }
}

TEST(WireCodes, SpecMessagesAreChinese) {
  EXPECT_EQ(to_wire(topup::protocol::errc::bad_signature).msg, "签名错误");
  EXPECT_EQ(to_wire(topup::protocol::errc::missing_app_key).msg, "app_key不能为空");
  EXPECT_EQ(to_wire(topup::engine::errc::insufficient_balance).msg, "余额不足");
}

TEST(WireCodes, ClearedErrorIsSuccess) {
  EXPECT_EQ(to_wire(boost::system::error_code{}).code, "0000");
  EXPECT_EQ(to_wire(boost::system::error_code{}).http_status, 200u);
}

TEST(WireCodes, UnknownErrorsAreInternal) {
  const auto foreign = to_wire(make_error_code(boost::system::errc::timed_out));
  EXPECT_EQ(foreign.code, "5001");
  EXPECT_EQ(foreign.http_status, 200u);
  EXPECT_EQ(foreign.msg, "internal error");
  EXPECT_EQ(to_wire(static_cast<topup::protocol::errc>(999)).code, "5001");
  EXPECT_EQ(to_wire(static_cast<topup::engine::errc>(-3)).code, "5001");
}

TEST(WireCodes, BadParamMsgNamesTheParameter) {
  EXPECT_EQ(bad_param_msg("mobile"), "参数错误: mobile");
  EXPECT_EQ(bad_param_msg(""), "参数错误");
}
