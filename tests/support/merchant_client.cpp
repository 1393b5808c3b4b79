#include "tests/support/merchant_client.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "engine/order/money.hpp"
#include "protocol/form.hpp"
#include "protocol/signing.hpp"

namespace topup::test {

merchant_client::merchant_client(int port, std::string app_key, std::string secret,
                                 engine::sign_method method, transport how)
    : app_key_(std::move(app_key)),
      secret_(std::move(secret)),
      method_(method),
      http_(port, std::chrono::seconds(10), how) {}

api_answer merchant_client::parse(const http_result& r) {
  api_answer a;
  a.http_status = r.status;
  a.raw = r.body;
  boost::system::error_code ec;
  auto v = boost::json::parse(r.body, ec);
  if (!ec && v.is_object()) {
    const auto& o = v.as_object();
    if (auto* c = o.if_contains("code"); c && c->is_string()) a.code = c->as_string().c_str();
    if (auto* m = o.if_contains("msg"); m && m->is_string()) a.msg = m->as_string().c_str();
    if (auto* d = o.if_contains("data")) a.data = *d;
  }
  return a;
}

std::map<std::string, std::string> merchant_client::signed_params(
    std::map<std::string, std::string> params) const {
  params.try_emplace("app_key", app_key_);
  params.try_emplace("timestamp",
                     std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count()));
  if (method_ == engine::sign_method::hmac_sha256) params.try_emplace("sign_type", "HMAC-SHA256");
  if (!params.contains("sign")) {
    protocol::form_params form;
    for (auto& [k, v] : params) form.insert(k, v);
    params["sign"] = protocol::sign_params(form, method_, secret_);
  }
  return params;
}

api_answer merchant_client::call(const std::string& path,
                                 std::map<std::string, std::string> params) {
  protocol::form_params form;
  for (auto& [k, v] : signed_params(std::move(params))) form.insert(k, v);
  return parse(http_.post(path, protocol::form_encode(form)));
}

http_result merchant_client::call_raw(const std::string& path,
                                      std::map<std::string, std::string> params,
                                      const std::string& accept_encoding) {
  protocol::form_params form;
  for (auto& [k, v] : signed_params(std::move(params))) form.insert(k, v);
  return http_.request(http::verb::post, path, protocol::form_encode(form),
                       "application/x-www-form-urlencoded", {}, accept_encoding);
}

api_answer merchant_client::post_form(const std::string& path, const std::string& body) {
  return parse(http_.post(path, body));
}

api_answer merchant_client::query_by_order_no(const std::string& order_no) {
  return call("/rest/Recharge/query", {{"order_no", order_no}});
}

api_answer merchant_client::push(const std::string& order_no, const std::string& mobile, int money,
                                 std::map<std::string, std::string> extra) {
  std::map<std::string, std::string> p{{"store_id", "s1"},
                                       {"mobile", mobile},
                                       {"order_no", order_no},
                                       {"money", std::to_string(money)},
                                       {"recharge_type", "1"}};
  for (auto& [k, v] : extra) p[k] = v;
  return call("/rest/Recharge/pushOrder", std::move(p));
}

api_answer merchant_client::query(const std::string& order_number) {
  return call("/rest/Recharge/query", {{"order_number", order_number}});
}

long long merchant_client::balance_fen() {
  auto a = call("/rest/User/query", {});
  if (a.code != "0000") throw std::runtime_error("User/query failed: " + a.raw);
  auto fen = engine::parse_yuan(a.data.at("money").as_string().c_str());
  if (!fen) throw std::runtime_error("bad money: " + a.raw);
  return *fen;
}

void expect_json_envelope(const http_result& r, unsigned status, const std::string& code) {
  SCOPED_TRACE("answer: " + r.body);
  EXPECT_EQ(r.status, status);
  EXPECT_EQ(std::string(r.headers[http::field::content_type]), "application/json; charset=utf-8");
  const api_answer a = merchant_client::parse(r);
  EXPECT_EQ(a.code, code);
  EXPECT_FALSE(a.msg.empty());
  EXPECT_TRUE(a.data.is_null());
  boost::system::error_code ec;
  const auto v = boost::json::parse(r.body, ec);
  ASSERT_TRUE(!ec && v.is_object()) << "not a JSON object";
  const auto* time = v.as_object().if_contains("time");
  EXPECT_TRUE(time && time->is_string()) << "no string `time`";
}

void expect_raw_request_refused(int port, transport how, const std::string& raw_request,
                                unsigned status, const std::string& code) {
  http_client raw(port, std::chrono::seconds(10), how);
  raw.write_raw(raw_request);
  auto r = raw.read_response();
  ASSERT_TRUE(r.has_value()) << "no answer, wanted HTTP " << status << " " << code;
  expect_json_envelope(*r, status, code);
}

api_answer admin_get(http_client& http, const std::string& token, const std::string& target) {
  return merchant_client::parse(
      http.request(http::verb::get, target, {}, "application/x-www-form-urlencoded",
                   "Bearer " + token));
}

api_answer admin_call(int port, http::verb method, const std::string& target,
                      const std::string& body, const std::string& token) {
  http_client admin(port);
  return merchant_client::parse(admin.request(method, target, body,
                                              "application/x-www-form-urlencoded",
                                              token.empty() ? "" : "Bearer " + token));
}

std::string encode_pairs(const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::string out;
  for (const auto& [k, v] : pairs) {
    // Encode each pair on its own, so that a repeated key survives (form_params refuses it).
    protocol::form_params one;
    one.insert(k, v);
    if (!out.empty()) out.push_back('&');
    out += protocol::form_encode(one);
  }
  return out;
}

api_answer admin_credit(http_client& http, const std::string& token, long long merchant_id,
                        const std::string& amount_yuan, const std::string& ref) {
  protocol::form_params form;
  form.insert("amount", amount_yuan);
  form.insert("ref", ref);
  return merchant_client::parse(http.request(http::verb::post,
                                             "/admin/merchants/" + std::to_string(merchant_id) +
                                                 "/credit",
                                             protocol::form_encode(form),
                                             "application/x-www-form-urlencoded",
                                             "Bearer " + token));
}

api_answer admin_credit_when_ready(http_client& http, const std::string& token,
                                   long long merchant_id, const std::string& amount_yuan,
                                   const std::string& ref, std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    auto answer = admin_credit(http, token, merchant_id, amount_yuan, ref);
    if ((answer.code != "5000" && answer.code != "5002") ||
        std::chrono::steady_clock::now() >= deadline)
      return answer;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace topup::test
