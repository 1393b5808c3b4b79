#pragma once
// A signing merchant client for end-to-end tests.
#include <boost/json.hpp>

#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/config/sign_method.hpp"
#include "tests/support/http_client.hpp"

namespace topup::test {

struct api_answer {
  unsigned http_status = 0;
  std::string code;  // "0000", "2004", ... (empty when the body is not an envelope)
  std::string msg;
  boost::json::value data;
  std::string raw;
};

/// Signs and posts merchant API calls (spec §2, §3) over one keep-alive connection, plain or TLS.
class merchant_client {
 public:
  merchant_client(int port, std::string app_key, std::string secret,
                  engine::sign_method method = engine::sign_method::md5,
                  transport how = transport::plain);

  /// Adds app_key, timestamp (now unless given) and sign, then POSTs the form.
  api_answer call(const std::string& path, std::map<std::string, std::string> params);
  /// `call`, answered as it came (status, headers, body as sent: not unzipped), for answers
  /// that are not envelopes (a statement download); `accept_encoding` is sent when not empty.
  http_result call_raw(const std::string& path, std::map<std::string, std::string> params,
                       const std::string& accept_encoding = {});
  /// pushOrder with the usual parameters; `extra` may override or add any.
  api_answer push(const std::string& order_no, const std::string& mobile, int money,
                  std::map<std::string, std::string> extra = {});
  api_answer query(const std::string& order_number);
  /// Query by the merchant's own order_no.
  api_answer query_by_order_no(const std::string& order_no);
  /// The parameters as `call` would send them (app_key, timestamp, sign_type, sign added), for
  /// tests that build a body by hand (e.g. with a repeated key).
  std::map<std::string, std::string> signed_params(std::map<std::string, std::string> params) const;
  /// POSTs `body` as is (already form-encoded) and parses the envelope.
  api_answer post_form(const std::string& path, const std::string& body);
  /// Current balance in fen, from User/query (throws if the call fails).
  long long balance_fen();

  http_client& http() { return http_; }
  static api_answer parse(const http_result& r);

 private:
  std::string app_key_;
  std::string secret_;
  engine::sign_method method_;
  http_client http_;
};

/// Adds a test failure unless `r` is a spec §1 JSON envelope (`application/json;
/// charset=utf-8`, string `code`, `msg` and `time`, `data` null) with HTTP `status` and `code`:
/// refusals must never be plain-text pages.
void expect_json_envelope(const http_result& r, unsigned status, const std::string& code);

/// Writes `raw_request` on a fresh connection to 127.0.0.1:port and adds a test failure unless
/// the answer is the envelope expect_json_envelope checks (the HTTP layer's refusals: 400, 413,
/// 431 as JSON, never a plain-text page or a silent close).
void expect_raw_request_refused(int port, transport how, const std::string& raw_request,
                                unsigned status, const std::string& code);

/// A pushOrder whose body is 100 bytes over the default 16 KiB limit: 413 / 4013.
inline const std::string k_oversized_body_request = [] {
  const std::string body = "x=" + std::string(16 * 1024 + 100, 'a');
  return "POST /rest/Recharge/pushOrder HTTP/1.1\r\nHost: 127.0.0.1\r\n"
         "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}();
/// A request whose Content-Length is not a number: 400 / 4000.
inline const std::string k_malformed_request =
    "POST /rest/User/query HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: nope\r\n\r\n";

/// GET `target` (e.g. "/admin/orders/T...") with the admin bearer token.
api_answer admin_get(http_client& http, const std::string& token, const std::string& target);

/// An admin request on a fresh connection: `body` form-encoded already, `token` sent as the
/// bearer token unless empty.
api_answer admin_call(int port, boost::beast::http::verb method, const std::string& target,
                      const std::string& body, const std::string& token);

/// "k1=v1&k2=v2" in map order, every value form-encoded; for hand-built bodies.
std::string encode_pairs(const std::vector<std::pair<std::string, std::string>>& pairs);

/// POST /admin/merchants/<id>/credit.
api_answer admin_credit(http_client& http, const std::string& token, long long merchant_id,
                        const std::string& amount_yuan, const std::string& ref);
/// admin_credit, sent again while topupd answers 5000/5002 (just started: a shard opens intake
/// once Redis is up and it has read what it must know; a repeated ref is applied once), for up
/// to `wait`. The last answer.
api_answer admin_credit_when_ready(http_client& http, const std::string& token,
                                   long long merchant_id, const std::string& amount_yuan,
                                   const std::string& ref,
                                   std::chrono::milliseconds wait = std::chrono::seconds(10));

}  // namespace topup::test
