// End-to-end: order intake over HTTP (issue 3) — every answer code of spec §1, the money each
// call moves, idempotency, query/cancel/list, the operations API. One topupd (2 shards) and one
// redis-server serve the whole suite; each test uses merchants of its own, so balances are exact.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <cctype>
#include <chrono>
#include <latch>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/admin_order_view.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/merchant_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/topupd_process.hpp"
#include "tests/support/topupd_suite.hpp"

namespace topup::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using params = std::map<std::string, std::string>;

constexpr const char* k_push = "/rest/Recharge/pushOrder";
constexpr const char* k_query = "/rest/Recharge/query";
constexpr const char* k_cancel = "/rest/Recharge/cancel";
constexpr const char* k_list = "/rest/Recharge/list";
constexpr const char* k_mobile_info = "/rest/Recharge/mobileInfo";
constexpr const char* k_user_query = "/rest/User/query";
constexpr const char* k_cmcc = "13800138000";

long long now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// A string member of an answer's data object, or "<missing>".
std::string field(const json::value& data, std::string_view key) { return json_text(data, key); }

std::string app_key_of(long long id) { return "m" + std::to_string(id); }
std::string secret_of(long long id) { return "secret-" + std::to_string(id); }

class Intake : public shared_topupd_suite<Intake> {
 protected:
  static void SetUpTestSuite() {
    start_suite(make_config);
    plug_shards(port_, token_, 2);
  }
  static topupd_config make_config(int port, int redis_port) {
    topupd_config cfg(port, redis_port, 2);
    token_ = cfg.admin_token();
    // Merchant 1002 may sign only with MD5: an HMAC-SHA256 signature from it gets 1002.
    cfg.merchant(1002)["sign_types"] = json::array{"MD5"};
    // One merchant per test, all with store "s1" and rate 0.995, so balances are absolute.
    for (long long id = 2001; id <= 2030; ++id)
      cfg.add_merchant(id, app_key_of(id), secret_of(id), "s1", 0.995);
    cfg.add_merchant(3001, app_key_of(3001), secret_of(3001), "s1", 0.9951);
    cfg.add_merchant(3002, app_key_of(3002), secret_of(3002), "s1", 0.9955);
    cfg.add_merchant(3003, app_key_of(3003), secret_of(3003), "s1", 0.995)["allowed_ips"] =
        json::array{"10.0.0.0/8"};
    cfg.add_merchant(3004, app_key_of(3004), secret_of(3004), "s1", 0.995);
    // A second channel that serves only 1000 yuan, only slow, only 广电: makes 1000 a supported
    // amount, so 1000 fast (or on another carrier) is "no channel" (2005), not 2002.
    cfg.json["channels"].as_array().push_back(json::object{
        {"id", "slow1"},
        {"kind", "sim"},
        {"carriers", json::array{"cbn"}},
        {"amounts", json::array{1000}},
        {"recharge_types", json::array{0}},
        {"cost_rate", 0.99},
        {"priority", 1},
        {"success_rate", 1.0},
        {"latency_ms", json::array{0, 0}}});
    // Accepted orders stay in 6 even with the dispatcher running (see hold_orders_waiting).
    cfg.hold_orders_waiting();
    return cfg;
  }

  static merchant_client client(long long id,
                                engine::sign_method method = engine::sign_method::md5) {
    return merchant_client(port_, app_key_of(id), secret_of(id), method);
  }

  /// Credits `amount` yuan; fails the test unless the answer is 0000. Returns data.money.
  static std::string credit(long long id, const std::string& amount, const std::string& ref) {
    http_client admin(port_);
    auto a = admin_credit(admin, token_, id, amount, ref);
    EXPECT_EQ(a.http_status, 200u) << a.raw;
    EXPECT_EQ(a.code, "0000") << a.raw;
    return field(a.data, "money");
  }

  static inline std::string token_;
};

// ---- risk control: the blacklist (spec §3.8, §7) ----------------------------------------

TEST_F(Intake, BlacklistRefusesNewOrdersOfTheNumberOnEveryShardWithinASecond) {
  const std::string listed = "13912340001";
  credit(3004, "1000", "c3004-a");
  auto m = client(3004);
  http_client admin(port_);
  auto blacklist = [&](const std::string& mobile, const std::string& action,
                       const std::string& bearer) {
    return merchant_client::parse(admin.request(
        http::verb::post, "/admin/risk/blacklist", "mobile=" + mobile + "&action=" + action,
        "application/x-www-form-urlencoded", "Bearer " + bearer));
  };
  const auto before = m.push("bl-before", listed, 100);
  ASSERT_EQ(before.code, "0000") << before.raw;

  EXPECT_EQ(blacklist(listed, "add", "not-the-token").http_status, 401u);
  EXPECT_EQ(blacklist("12345", "add", token_).code, "2001");
  EXPECT_EQ(blacklist(listed, "ban", token_).code, "1001");
  auto added = blacklist(listed, "add", token_);
  ASSERT_EQ(added.code, "0000") << added.raw;
  const auto balance = m.balance_fen();

  // Within a second every shard refuses it (fresh connections land on either shard).
  std::this_thread::sleep_for(1100ms);
  for (int i = 0; i < 6; ++i) {
    auto refused = client(3004).push("bl-new-" + std::to_string(i), listed, 100);
    EXPECT_EQ(refused.code, "2008") << refused.raw;
    // The kind of rule, never a threshold.
    EXPECT_NE(refused.msg.find("黑名单"), std::string::npos) << refused.raw;
  }
  EXPECT_EQ(m.balance_fen(), balance);  // nothing debited
  auto repeat = m.push("bl-before", listed, 100);  // accepted before the listing
  EXPECT_EQ(repeat.code, "0000") << repeat.raw;
  EXPECT_EQ(field(repeat.data, "order_number"), field(before.data, "order_number"));
  EXPECT_EQ(m.push("bl-other", "13912340002", 100).code, "0000");  // another number

  auto listing = merchant_client::parse(admin.request(
      http::verb::get, "/admin/risk/blacklist", {}, "application/x-www-form-urlencoded",
      "Bearer " + token_));
  EXPECT_EQ(listing.code, "0000") << listing.raw;
  EXPECT_NE(listing.raw.find(listed), std::string::npos) << listing.raw;
  const auto metrics = http_client(port_).get("/metrics").body;
  EXPECT_NE(metrics.find("topup_risk_refusals_total{rule=\"blacklist\"} 6"), std::string::npos)
      << metrics;

  ASSERT_EQ(blacklist(listed, "remove", token_).code, "0000");
  std::this_thread::sleep_for(1100ms);
  for (int i = 0; i < 4; ++i) {
    auto accepted = client(3004).push("bl-after-" + std::to_string(i), listed, 100);
    EXPECT_EQ(accepted.code, "0000") << accepted.raw;
  }
}

// ---- operations API: credit -------------------------------------------------------------

TEST_F(Intake, AdminCreditAppliesEachRefOnce) {
  auto m = client(2001);
  EXPECT_EQ(m.balance_fen(), 0);
  EXPECT_EQ(credit(2001, "100", "c2001-a"), "100.00");
  EXPECT_EQ(credit(2001, "100", "c2001-a"), "100.00") << "a repeated ref was applied twice";
  EXPECT_EQ(m.balance_fen(), 10000);
  // A negative correction.
  EXPECT_EQ(credit(2001, "-30.50", "c2001-b"), "69.50");
  EXPECT_EQ(m.balance_fen(), 6950);

  // Below zero: refused with 2004, nothing moves, and the ref is not consumed.
  http_client admin(port_);
  auto refused = admin_credit(admin, token_, 2001, "-100", "c2001-c");
  EXPECT_EQ(refused.http_status, 200u);
  EXPECT_EQ(refused.code, "2004") << refused.raw;
  EXPECT_EQ(m.balance_fen(), 6950);
  EXPECT_EQ(credit(2001, "-69.50", "c2001-c"), "0.00");
  EXPECT_EQ(m.balance_fen(), 0);
}

TEST_F(Intake, AdminCreditNeedsTheToken) {
  auto m = client(2002);
  http_client admin(port_);
  auto wrong = admin_credit(admin, "not-the-token", 2002, "100", "c2002-a");
  EXPECT_EQ(wrong.http_status, 401u);
  EXPECT_EQ(wrong.code, "4001") << wrong.raw;

  auto missing = merchant_client::parse(admin.request(
      http::verb::post, "/admin/merchants/2002/credit", "amount=100&ref=c2002-b"));
  EXPECT_EQ(missing.http_status, 401u);
  EXPECT_EQ(missing.code, "4001") << missing.raw;

  auto not_bearer = merchant_client::parse(
      admin.request(http::verb::post, "/admin/merchants/2002/credit", "amount=100&ref=c2002-c",
                    "application/x-www-form-urlencoded", token_));
  EXPECT_EQ(not_bearer.http_status, 401u);
  EXPECT_EQ(m.balance_fen(), 0) << "an unauthorised credit moved money";
}

TEST_F(Intake, AdminCreditRepeatedRefWithAnotherAmountIs2003) {
  auto m = client(2021);
  EXPECT_EQ(credit(2021, "100", "c2021-a"), "100.00");
  http_client admin(port_);
  // The same ref with another amount is refused with 2003 and moves nothing.
  for (const char* other : {"50", "100.01", "-100"}) {
    auto conflict = admin_credit(admin, token_, 2021, other, "c2021-a");
    EXPECT_EQ(conflict.http_status, 200u) << conflict.raw;
    EXPECT_EQ(conflict.code, "2003") << other << ": " << conflict.raw;
  }
  EXPECT_EQ(m.balance_fen(), 10000);
  // The same ref with the same amount is still a repeat, applied once ("100" and "100.00" are
  // the same amount).
  auto repeat = admin_credit(admin, token_, 2021, "100.00", "c2021-a");
  ASSERT_EQ(repeat.code, "0000") << repeat.raw;
  EXPECT_EQ(field(repeat.data, "money"), "100.00");
  EXPECT_EQ(field(repeat.data, "repeat"), "true") << repeat.raw;
  EXPECT_EQ(m.balance_fen(), 10000);
}

// ---- pushOrder: money ----------------------------------------------------------------------

TEST_F(Intake, PushDebitsMoneyTimesPriceRate) {
  auto m = client(2003);
  credit(2003, "1000", "c2003");
  auto a = m.push("p2003-1", k_cmcc, 100);
  ASSERT_EQ(a.code, "0000") << a.raw;
  EXPECT_EQ(a.http_status, 200u);
  const std::string number = field(a.data, "order_number");
  EXPECT_EQ(number.substr(0, 1), "T") << number;
  EXPECT_EQ(m.balance_fen(), 100000 - 9950);  // 100 x 0.995 = 99.50

  auto b = m.push("p2003-2", k_cmcc, 30);
  ASSERT_EQ(b.code, "0000") << b.raw;
  EXPECT_NE(field(b.data, "order_number"), number);
  EXPECT_EQ(m.balance_fen(), 100000 - 9950 - 2985);  // 30 x 0.995 = 29.85

  auto q = m.query(field(b.data, "order_number"));
  ASSERT_EQ(q.code, "0000") << q.raw;
  EXPECT_EQ(field(q.data, "cost"), "29.85");
  EXPECT_EQ(field(q.data, "amount"), "30");
}

TEST_F(Intake, PushRoundsTheDebitHalfUp) {
  // 10 x 0.9951 = 9.951 -> 9.95; 10 x 0.9955 = 9.955 -> 9.96.
  auto down = client(3001);
  credit(3001, "100", "c3001");
  auto a = down.push("r3001", k_cmcc, 10);
  ASSERT_EQ(a.code, "0000") << a.raw;
  EXPECT_EQ(down.balance_fen(), 10000 - 995);
  EXPECT_EQ(field(down.query(field(a.data, "order_number")).data, "cost"), "9.95");

  auto up = client(3002);
  credit(3002, "100", "c3002");
  auto b = up.push("r3002", k_cmcc, 10);
  ASSERT_EQ(b.code, "0000") << b.raw;
  EXPECT_EQ(up.balance_fen(), 10000 - 996);
  EXPECT_EQ(field(up.query(field(b.data, "order_number")).data, "cost"), "9.96");
}

TEST_F(Intake, RepeatedPushIsIdempotent) {
  auto m = client(2004);
  credit(2004, "500", "c2004");
  auto first = m.push("idem-1", k_cmcc, 100, {{"notify_url", "http://127.0.0.1:1/cb"}});
  ASSERT_EQ(first.code, "0000") << first.raw;
  const std::string number = field(first.data, "order_number");
  for (int i = 0; i < 3; ++i) {
    auto again = m.push("idem-1", k_cmcc, 100, {{"notify_url", "http://127.0.0.1:1/cb"}});
    EXPECT_EQ(again.code, "0000") << again.raw;
    EXPECT_EQ(field(again.data, "order_number"), number);
  }
  EXPECT_EQ(m.balance_fen(), 50000 - 9950) << "a repeated push was debited again";

  // Same order_no, other business parameters: 2003, nothing moves, the order is unchanged.
  auto other_money = m.push("idem-1", k_cmcc, 50, {{"notify_url", "http://127.0.0.1:1/cb"}});
  EXPECT_EQ(other_money.code, "2003") << other_money.raw;
  auto other_mobile =
      m.push("idem-1", "13900139000", 100, {{"notify_url", "http://127.0.0.1:1/cb"}});
  EXPECT_EQ(other_mobile.code, "2003") << other_mobile.raw;
  auto other_url = m.push("idem-1", k_cmcc, 100);
  EXPECT_EQ(other_url.code, "2003") << other_url.raw;
  EXPECT_EQ(m.balance_fen(), 50000 - 9950);
  auto q = m.query_by_order_no("idem-1");
  ASSERT_EQ(q.code, "0000") << q.raw;
  EXPECT_EQ(field(q.data, "order_number"), number);
  EXPECT_EQ(field(q.data, "amount"), "100");
}

TEST_F(Intake, InsufficientBalanceDebitsAndStoresNothing) {
  auto m = client(2005);
  credit(2005, "50", "c2005");
  auto a = m.push("poor-1", k_cmcc, 100);
  EXPECT_EQ(a.http_status, 200u);
  EXPECT_EQ(a.code, "2004") << a.raw;
  EXPECT_TRUE(a.data.is_null());
  EXPECT_EQ(m.balance_fen(), 5000);
  EXPECT_EQ(m.query_by_order_no("poor-1").code, "3001");

  // 50 x 0.995 = 49.75 fits exactly; then even 10 does not.
  auto b = m.push("poor-2", k_cmcc, 50);
  ASSERT_EQ(b.code, "0000") << b.raw;
  EXPECT_EQ(m.balance_fen(), 25);
  EXPECT_EQ(m.push("poor-3", k_cmcc, 10).code, "2004");
  EXPECT_EQ(m.balance_fen(), 25);
  // The refused order_no is free to use once the money is there.
  credit(2005, "100", "c2005-b");
  EXPECT_EQ(m.push("poor-1", k_cmcc, 100).code, "0000");
  EXPECT_EQ(m.balance_fen(), 25 + 10000 - 9950);
}

// ---- pushOrder: refusals, each with nothing debited or stored ------------------------------

TEST_F(Intake, MalformedParametersAre1001) {
  auto m = client(2006);
  credit(2006, "100", "c2006");

  params missing_mobile{{"store_id", "s1"}, {"order_no", "bad-1"}, {"money", "10"},
                        {"recharge_type", "1"}};
  auto a = m.call(k_push, missing_mobile);
  EXPECT_EQ(a.http_status, 200u);
  EXPECT_EQ(a.code, "1001") << a.raw;
  EXPECT_NE(a.msg.find("mobile"), std::string::npos) << "msg does not name the parameter: " << a.msg;

  // `mobile` twice in the body (correctly signed over the first): no "last one wins".
  auto signed_p = m.signed_params({{"store_id", "s1"}, {"mobile", k_cmcc}, {"order_no", "bad-2"},
                                   {"money", "10"}, {"recharge_type", "1"}});
  std::vector<std::pair<std::string, std::string>> pairs(signed_p.begin(), signed_p.end());
  pairs.emplace_back("mobile", k_cmcc);
  auto twice = m.post_form(k_push, encode_pairs(pairs));
  EXPECT_EQ(twice.code, "1001") << twice.raw;
  // The same key once in the query string and once in the body.
  std::vector<std::pair<std::string, std::string>> once(signed_p.begin(), signed_p.end());
  auto across = m.post_form(std::string(k_push) + "?mobile=" + k_cmcc, encode_pairs(once));
  EXPECT_EQ(across.code, "1001") << across.raw;

  EXPECT_EQ(m.push("bad order!", k_cmcc, 10).code, "1001");
  EXPECT_EQ(m.push("bad/3", k_cmcc, 10).code, "1001");
  EXPECT_EQ(m.push(std::string(65, 'a'), k_cmcc, 10).code, "1001");
  EXPECT_EQ(m.push("bad-4", k_cmcc, 10, {{"recharge_type", "2"}}).code, "1001");
  EXPECT_EQ(m.push("bad-5", k_cmcc, 10, {{"recharge_type", "fast"}}).code, "1001");
  EXPECT_EQ(m.push("bad-6", k_cmcc, 10, {{"change", "yes"}}).code, "1001");

  EXPECT_EQ(m.balance_fen(), 10000);
  for (std::string no : {"bad-1", "bad-2", "bad-4", "bad-5", "bad-6"})
    EXPECT_EQ(m.query_by_order_no(no).code, "3001") << no;
  // A 64-character order_no is fine.
  EXPECT_EQ(m.push(std::string(64, 'a'), k_cmcc, 10).code, "0000");
}

TEST_F(Intake, BadSignaturesAre1002) {
  auto m = client(2007);
  credit(2007, "100", "c2007");
  auto wrong = m.push("sig-1", k_cmcc, 10, {{"sign", std::string(32, 'A')}});
  EXPECT_EQ(wrong.http_status, 200u);
  EXPECT_EQ(wrong.code, "1002") << wrong.raw;

  merchant_client wrong_secret(port_, app_key_of(2007), "not-the-secret");
  EXPECT_EQ(wrong_secret.push("sig-2", k_cmcc, 10).code, "1002");

  // Signed, then a parameter changed in transit.
  auto p = m.signed_params({{"store_id", "s1"}, {"mobile", k_cmcc}, {"order_no", "sig-3"},
                            {"money", "10"}, {"recharge_type", "1"}});
  p["money"] = "20";
  std::vector<std::pair<std::string, std::string>> pairs(p.begin(), p.end());
  EXPECT_EQ(m.post_form(k_push, encode_pairs(pairs)).code, "1002");

  // Merchant 1002 may sign only with MD5: a valid HMAC-SHA256 signature is refused.
  merchant_client hmac_1002(port_, "k2", "other-secret", engine::sign_method::hmac_sha256);
  EXPECT_EQ(hmac_1002.call(k_user_query, {}).code, "1002");
  merchant_client md5_1002(port_, "k2", "other-secret");
  EXPECT_EQ(md5_1002.call(k_user_query, {}).code, "0000");
  // An unknown sign_type.
  EXPECT_EQ(m.call(k_user_query, {{"sign_type", "SHA1"}}).code, "1002");

  EXPECT_EQ(m.balance_fen(), 10000);
  for (std::string no : {"sig-1", "sig-2", "sig-3"})
    EXPECT_EQ(m.query_by_order_no(no).code, "3001") << no;
}

TEST_F(Intake, SignAndSignTypeAreCaseInsensitive) {
  // Spec §2: PHP's md5() is lower case; sign_type names are case-insensitive too.
  credit(2022, "100", "c2022");
  const auto lower = [](std::string text) {
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
  };
  const auto post_with_lower_sign = [&](merchant_client& m, const params& p) {
    auto signed_p = m.signed_params(p);
    signed_p["sign"] = lower(signed_p["sign"]);
    std::vector<std::pair<std::string, std::string>> pairs(signed_p.begin(), signed_p.end());
    return m.post_form(k_user_query, encode_pairs(pairs));
  };

  auto md5 = client(2022);
  auto a = post_with_lower_sign(md5, {});
  EXPECT_EQ(a.code, "0000") << "lower-case MD5 sign: " << a.raw;
  EXPECT_EQ(md5.call(k_user_query, {{"sign_type", "md5"}}).code, "0000");
  EXPECT_EQ(post_with_lower_sign(md5, {{"sign_type", "Md5"}}).code, "0000");

  auto hmac = client(2022, engine::sign_method::hmac_sha256);
  auto b = post_with_lower_sign(hmac, {{"sign_type", "hmac-sha256"}});
  EXPECT_EQ(b.code, "0000") << "lower-case HMAC-SHA256 sign and sign_type: " << b.raw;
  EXPECT_EQ(hmac.call(k_user_query, {{"sign_type", "Hmac-Sha256"}}).code, "0000");

  // A pushOrder signed in lower case is accepted and debited once.
  auto order = md5.signed_params({{"store_id", "s1"}, {"mobile", k_cmcc}, {"order_no", "lc-1"},
                                  {"money", "10"}, {"recharge_type", "1"}});
  order["sign"] = lower(order["sign"]);
  std::vector<std::pair<std::string, std::string>> pairs(order.begin(), order.end());
  auto pushed = md5.post_form(k_push, encode_pairs(pairs));
  EXPECT_EQ(pushed.code, "0000") << pushed.raw;
  EXPECT_EQ(md5.balance_fen(), 10000 - 995);

  // Still a real check: a lower-case sign made with another secret, or over other values, is
  // refused; a method topupd does not know is refused in any case.
  merchant_client wrong_secret(port_, app_key_of(2022), "not-the-secret");
  EXPECT_EQ(post_with_lower_sign(wrong_secret, {}).code, "1002");
  EXPECT_EQ(md5.call(k_user_query, {{"sign_type", "sha1"}}).code, "1002");
  // Merchant 1002 allows only MD5, whatever case HMAC-SHA256 is named in.
  merchant_client hmac_1002(port_, "k2", "other-secret", engine::sign_method::hmac_sha256);
  EXPECT_EQ(hmac_1002.call(k_user_query, {{"sign_type", "hmac-sha256"}}).code, "1002");
}

TEST_F(Intake, HmacSha256SigningWorks) {
  auto m = client(2008, engine::sign_method::hmac_sha256);
  credit(2008, "100", "c2008");
  auto a = m.push("hmac-1", k_cmcc, 100);
  ASSERT_EQ(a.code, "0000") << a.raw;
  EXPECT_EQ(m.balance_fen(), 10000 - 9950);
  EXPECT_EQ(m.query(field(a.data, "order_number")).code, "0000");
}

TEST_F(Intake, AuthenticationRefusalsAre1003To1007) {
  auto m = client(2009);
  credit(2009, "100", "c2009");
  const params order{{"store_id", "s1"}, {"mobile", k_cmcc}, {"order_no", "auth-1"},
                     {"money", "10"}, {"recharge_type", "1"}};

  // 1003: no app_key at all, and an empty one.
  auto p = m.signed_params(order);
  p.erase("app_key");
  std::vector<std::pair<std::string, std::string>> pairs(p.begin(), p.end());
  auto no_key = m.post_form(k_push, encode_pairs(pairs));
  EXPECT_EQ(no_key.http_status, 200u);
  EXPECT_EQ(no_key.code, "1003") << no_key.raw;
  pairs.emplace_back("app_key", "");
  EXPECT_EQ(m.post_form(k_push, encode_pairs(pairs)).code, "1003");

  // 1004: a timestamp 1000 s off, either way (correctly signed).
  auto old = order;
  old["timestamp"] = std::to_string(now_s() - 1000);
  EXPECT_EQ(m.call(k_push, old).code, "1004");
  auto future = order;
  future["timestamp"] = std::to_string(now_s() + 1000);
  EXPECT_EQ(m.call(k_push, future).code, "1004");

  // 1005: an app_key nobody has.
  merchant_client stranger(port_, "no-such-key", "whatever");
  EXPECT_EQ(stranger.push("auth-2", k_cmcc, 10).code, "1005");

  // 1006: a store of another merchant.
  EXPECT_EQ(m.push("auth-3", k_cmcc, 10, {{"store_id", "s2"}}).code, "1006");

  // 1007: a merchant allowed only from 10.0.0.0/8, calling from 127.0.0.1.
  credit(3003, "100", "c3003");
  auto fenced = client(3003);
  EXPECT_EQ(fenced.push("auth-4", k_cmcc, 10).code, "1007");
  EXPECT_EQ(fenced.call(k_user_query, {}).code, "1007");

  EXPECT_EQ(m.balance_fen(), 10000);
  for (std::string no : {"auth-1", "auth-3"})
    EXPECT_EQ(m.query_by_order_no(no).code, "3001") << no;
  // 3003's own balance cannot be read over the merchant API from here (1007); a repeat of its
  // credit's ref answers the current balance: nothing was debited.
  EXPECT_EQ(credit(3003, "100", "c3003"), "100.00");
}

TEST_F(Intake, BusinessRefusalsAre2001To2006) {
  auto m = client(2010);
  credit(2010, "2000", "c2010");

  // 2001
  EXPECT_EQ(m.push("biz-1", "12345678901", 10).code, "2001");
  EXPECT_EQ(m.push("biz-2", "14000000000", 10).code, "2001");  // data-only segment
  EXPECT_EQ(m.push("biz-3", "1380013800", 10).code, "2001");
  // 2002
  EXPECT_EQ(m.push("biz-4", k_cmcc, 7).code, "2002");
  EXPECT_EQ(m.push("biz-5", k_cmcc, 10, {{"money", "abc"}}).code, "2002");
  EXPECT_EQ(m.push("biz-6", k_cmcc, 0).code, "2002");
  EXPECT_EQ(m.push("biz-7", k_cmcc, 10, {{"money", "10.5"}}).code, "2002");
  // 2005: unknown source; an amount only a slow 广电 channel serves; a source that cannot serve.
  EXPECT_EQ(m.push("biz-8", k_cmcc, 100, {{"source", "nosuch"}}).code, "2005");
  EXPECT_EQ(m.push("biz-9", "19200000000", 1000).code, "2005");  // fast: no channel
  EXPECT_EQ(m.push("biz-10", k_cmcc, 1000, {{"recharge_type", "0"}}).code, "2005");  // cmcc
  EXPECT_EQ(m.push("biz-11", k_cmcc, 100, {{"source", "slow1"}}).code, "2005");
  // 2006
  EXPECT_EQ(m.push("biz-12", k_cmcc, 10, {{"notify_url", "ftp://x"}}).code, "2006");
  EXPECT_EQ(m.push("biz-13", k_cmcc, 10, {{"notify_url", "example.com/cb"}}).code, "2006");

  EXPECT_EQ(m.balance_fen(), 200000) << "a refused push moved money";
  for (int i = 1; i <= 13; ++i) {
    const auto no = "biz-" + std::to_string(i);
    EXPECT_EQ(m.query_by_order_no(no).code, "3001") << no << " was stored";
  }

  // The positive controls: what the refusals were near does work.
  auto slow = m.push("biz-ok-1", "19200000000", 1000, {{"recharge_type", "0"}});
  EXPECT_EQ(slow.code, "0000") << slow.raw;
  auto sourced = m.push("biz-ok-2", k_cmcc, 100, {{"source", "sim1"}});
  EXPECT_EQ(sourced.code, "0000") << sourced.raw;
  auto https_url = m.push("biz-ok-3", k_cmcc, 10, {{"notify_url", "https://example.com/cb"}});
  EXPECT_EQ(https_url.code, "0000") << https_url.raw;
  auto http_url = m.push("biz-ok-4", k_cmcc, 10, {{"notify_url", "http://example.com:8080/a/b"}});
  EXPECT_EQ(http_url.code, "0000") << http_url.raw;
  EXPECT_EQ(m.balance_fen(), 200000 - 99500 - 9950 - 995 - 995);
}

TEST_F(Intake, NotifyUrlKeepsItsQueryStringUpTo512Bytes) {
  auto m = client(2023);
  credit(2023, "100", "c2023");
  http_client admin(port_);
  const auto stored_url = [&](const api_answer& pushed) {
    auto r = admin_get(admin, token_, "/admin/orders/" + field(pushed.data, "order_number"));
    return field(r.data, "notify_url");
  };

  // Spec §3.1: a query string is allowed and kept exactly as given.
  const std::string with_query = "https://shop.example/cb?shop=7&sig=a%2Fb";
  auto a = m.push("nq-1", k_cmcc, 10, {{"notify_url", with_query}});
  ASSERT_EQ(a.code, "0000") << a.raw;
  EXPECT_EQ(stored_url(a), with_query);
  auto bare = m.push("nq-2", k_cmcc, 10, {{"notify_url", "http://shop.example?x=1"}});
  ASSERT_EQ(bare.code, "0000") << bare.raw;
  EXPECT_EQ(stored_url(bare), "http://shop.example?x=1");

  // Up to 512 bytes, query included; 513 is 2006.
  const std::string head = "https://shop.example/cb?pad=";
  const std::string url_512 = head + std::string(512 - head.size(), 'p');
  ASSERT_EQ(url_512.size(), 512u);
  auto longest = m.push("nq-3", k_cmcc, 10, {{"notify_url", url_512}});
  ASSERT_EQ(longest.code, "0000") << longest.raw;
  EXPECT_EQ(stored_url(longest), url_512);
  EXPECT_EQ(m.push("nq-4", k_cmcc, 10, {{"notify_url", url_512 + "p"}}).code, "2006");

  // Still refused: a fragment (never sent, so not "exactly as given"), spaces, no host.
  EXPECT_EQ(m.push("nq-5", k_cmcc, 10, {{"notify_url", "https://shop.example/cb#top"}}).code,
            "2006");
  EXPECT_EQ(m.push("nq-6", k_cmcc, 10, {{"notify_url", "https://shop.example/cb?a=b c"}}).code,
            "2006");
  EXPECT_EQ(m.push("nq-7", k_cmcc, 10, {{"notify_url", "https://?shop=7"}}).code, "2006");
  EXPECT_EQ(m.balance_fen(), 10000 - 3 * 995);
}

// ---- query, cancel, balance, mobileInfo -------------------------------------------------

TEST_F(Intake, QueryShowsTheOrderObject) {
  auto m = client(2011);
  credit(2011, "200", "c2011");
  const long long before = now_s();
  auto a = m.push("q-1", k_cmcc, 100);
  ASSERT_EQ(a.code, "0000") << a.raw;
  const std::string number = field(a.data, "order_number");

  for (auto q : {m.query(number), m.query_by_order_no("q-1")}) {
    ASSERT_EQ(q.code, "0000") << q.raw;
    EXPECT_EQ(q.http_status, 200u);
    EXPECT_EQ(field(q.data, "order_number"), number);
    EXPECT_EQ(field(q.data, "order_no"), "q-1");
    EXPECT_EQ(field(q.data, "status"), "6");
    EXPECT_EQ(field(q.data, "mobile"), k_cmcc);
    EXPECT_EQ(field(q.data, "amount"), "100");
    EXPECT_EQ(field(q.data, "cost"), "99.50");
    EXPECT_EQ(field(q.data, "finished_at"), "");
    EXPECT_EQ(field(q.data, "reason"), "");
    const auto created = std::stoll(field(q.data, "created_at"));
    EXPECT_GE(created, before - 1);
    EXPECT_LE(created, now_s() + 1);
    // The channel used is never disclosed.
    EXPECT_FALSE(q.data.as_object().contains("channel")) << q.raw;
    EXPECT_EQ(q.raw.find("sim1"), std::string::npos) << q.raw;
  }
}

TEST_F(Intake, QueryFindsOnlyTheMerchantsOwnOrders) {
  auto owner = client(2012);
  auto other = client(2013);
  credit(2012, "100", "c2012");
  credit(2013, "100", "c2013");
  auto a = owner.push("mine-1", k_cmcc, 10);
  ASSERT_EQ(a.code, "0000") << a.raw;
  const std::string number = field(a.data, "order_number");

  EXPECT_EQ(other.query(number).code, "3001");
  EXPECT_EQ(other.query_by_order_no("mine-1").code, "3001");
  EXPECT_EQ(other.call(k_cancel, {{"order_number", number}}).code, "3001");
  EXPECT_EQ(other.call(k_cancel, {{"order_no", "mine-1"}}).code, "3001");
  EXPECT_EQ(other.query("T999999999999900000000000M2013").code, "3001");
  EXPECT_EQ(other.query("not-an-order-number").code, "3001");
  EXPECT_EQ(other.query_by_order_no("never-pushed").code, "3001");
  EXPECT_EQ(other.call(k_query, {}).code, "1001");

  // The owner's order is untouched by the foreign cancel attempts.
  auto q = owner.query(number);
  EXPECT_EQ(field(q.data, "status"), "6");
  EXPECT_EQ(owner.balance_fen(), 10000 - 995);
  EXPECT_EQ(other.balance_fen(), 10000);
}

TEST_F(Intake, CancelOfAWaitingOrderRefundsIt) {
  auto m = client(2014);
  credit(2014, "100", "c2014");
  auto a = m.push("cx-1", k_cmcc, 100, {{"recharge_type", "0"}});
  ASSERT_EQ(a.code, "0000") << a.raw;
  const std::string number = field(a.data, "order_number");
  EXPECT_EQ(m.balance_fen(), 50);

  auto c = m.call(k_cancel, {{"order_number", number}});
  ASSERT_EQ(c.code, "0000") << c.raw;
  EXPECT_EQ(field(c.data, "order_number"), number);
  EXPECT_EQ(field(c.data, "status"), "4");
  EXPECT_NE(field(c.data, "finished_at"), "");
  EXPECT_EQ(m.balance_fen(), 10000) << "cancel did not refund the debit";

  auto q = m.query_by_order_no("cx-1");
  EXPECT_EQ(field(q.data, "status"), "4");

  // Cancelled already: 2007, and no second refund.
  auto again = m.call(k_cancel, {{"order_number", number}});
  EXPECT_EQ(again.code, "2007") << again.raw;
  EXPECT_EQ(m.call(k_cancel, {{"order_no", "cx-1"}}).code, "2007");
  EXPECT_EQ(m.balance_fen(), 10000);
  EXPECT_EQ(m.call(k_cancel, {{"order_no", "cx-unknown"}}).code, "3001");

  // A cancel by order_no works the same.
  auto b = m.push("cx-2", k_cmcc, 50);
  ASSERT_EQ(b.code, "0000") << b.raw;
  EXPECT_EQ(m.balance_fen(), 10000 - 4975);
  auto cb = m.call(k_cancel, {{"order_no", "cx-2"}});
  EXPECT_EQ(cb.code, "0000") << cb.raw;
  EXPECT_EQ(field(cb.data, "status"), "4");
  EXPECT_EQ(m.balance_fen(), 10000);
}

TEST_F(Intake, UserQueryShowsTheBalance) {
  auto m = client(2015);
  auto zero = m.call(k_user_query, {});
  ASSERT_EQ(zero.code, "0000") << zero.raw;
  EXPECT_EQ(field(zero.data, "money"), "0.00");
  EXPECT_EQ(field(zero.data, "id"), "2015");
  credit(2015, "1234.56", "c2015");
  auto a = m.call(k_user_query, {});
  EXPECT_EQ(field(a.data, "money"), "1234.56");
  ASSERT_EQ(m.push("u-1", k_cmcc, 20).code, "0000");
  EXPECT_EQ(field(m.call(k_user_query, {}).data, "money"), "1214.66");  // 20 x 0.995 = 19.90
}

TEST_F(Intake, MobileInfoNamesCarrierAndAmounts) {
  auto m = client(2016);
  const std::string all = "[10,20,30,50,100,200,300,500]";
  struct want {
    const char* mobile;
    const char* carrier;
    const char* code;
    std::string amounts;
  };
  for (const auto& w : {want{k_cmcc, "移动", "cmcc", all}, want{"13012345678", "联通", "cucc", all},
                        want{"18912345678", "电信", "ctcc", all},
                        want{"19212345678", "广电", "cbn", "[10,20,30,50,100,200,300,500,1000]"}}) {
    auto a = m.call(k_mobile_info, {{"mobile", w.mobile}});
    ASSERT_EQ(a.code, "0000") << a.raw;
    EXPECT_EQ(field(a.data, "mobile"), w.mobile);
    EXPECT_EQ(field(a.data, "carrier"), w.carrier) << a.raw;
    EXPECT_EQ(field(a.data, "carrier_code"), w.code);
    EXPECT_EQ(field(a.data, "amounts"), w.amounts);
  }
  EXPECT_EQ(m.call(k_mobile_info, {{"mobile", "12345678901"}}).code, "2001");
  EXPECT_EQ(m.call(k_mobile_info, {{"mobile", "14000000000"}}).code, "2001");
  EXPECT_EQ(m.call(k_mobile_info, {}).code, "1001");
}

// ---- list ----------------------------------------------------------------------------------

TEST_F(Intake, ListPagesNewestFirstWithFilters) {
  auto m = client(2017);
  credit(2017, "1000", "c2017");
  const long long start = now_s() - 60;
  std::vector<std::string> pushed;
  for (int i = 0; i < 25; ++i) {
    const auto no = "L-" + std::to_string(100 + i);
    auto a = m.push(no, k_cmcc, 10);
    ASSERT_EQ(a.code, "0000") << a.raw;
    pushed.push_back(no);
  }
  const long long end = now_s() + 60;
  auto page = [&](int n, std::map<std::string, std::string> extra = {}) {
    params p{{"start_time", std::to_string(start)}, {"end_time", std::to_string(end)},
             {"page", std::to_string(n)}, {"page_size", "10"}};
    for (auto& [k, v] : extra) p[k] = v;
    return m.call(k_list, p);
  };

  std::vector<std::string> listed;
  long long last_created = end;
  const std::size_t sizes[] = {10, 10, 5, 0};
  for (int n = 1; n <= 4; ++n) {
    auto a = page(n);
    ASSERT_EQ(a.code, "0000") << a.raw;
    EXPECT_EQ(field(a.data, "total"), "25");
    EXPECT_EQ(field(a.data, "page"), std::to_string(n));
    const auto& list = a.data.at("list").as_array();
    EXPECT_EQ(list.size(), sizes[n - 1]) << "page " << n;
    for (const auto& o : list) {
      listed.push_back(field(o, "order_no"));
      EXPECT_EQ(field(o, "status"), "6");
      EXPECT_EQ(field(o, "cost"), "9.95");
      const long long created = std::stoll(field(o, "created_at"));
      EXPECT_LE(created, last_created) << "not newest first";
      last_created = created;
    }
  }
  EXPECT_EQ(listed, std::vector<std::string>(pushed.rbegin(), pushed.rend()));

  // Status filter: cancel three, list status 4 and status 6.
  const std::set<std::string> cancelled{"L-103", "L-107", "L-111"};
  for (const auto& no : cancelled) ASSERT_EQ(m.call(k_cancel, {{"order_no", no}}).code, "0000");
  auto refunded = page(1, {{"status", "4"}});
  ASSERT_EQ(refunded.code, "0000") << refunded.raw;
  EXPECT_EQ(field(refunded.data, "total"), "3");
  std::set<std::string> seen;
  for (const auto& o : refunded.data.at("list").as_array()) {
    seen.insert(field(o, "order_no"));
    EXPECT_EQ(field(o, "status"), "4");
  }
  EXPECT_EQ(seen, cancelled);
  auto waiting = page(1, {{"status", "6"}});
  ASSERT_EQ(waiting.code, "0000") << waiting.raw;
  EXPECT_EQ(field(waiting.data, "total"), "22");
  EXPECT_EQ(waiting.data.at("list").as_array().size(), 10u);
  EXPECT_EQ(field(page(1, {{"status", "2"}}).data, "total"), "0");

  // A range before every order: nothing.
  auto before = m.call(k_list, {{"start_time", std::to_string(start - 7200)},
                                {"end_time", std::to_string(start - 3600)}});
  ASSERT_EQ(before.code, "0000") << before.raw;
  EXPECT_EQ(field(before.data, "total"), "0");
  EXPECT_TRUE(before.data.at("list").as_array().empty());

  // 31 days is allowed, one second more is 1001; so are a reversed range and a bad page_size.
  const long long now = now_s();
  auto month = m.call(k_list, {{"start_time", std::to_string(now + 10 - 31LL * 86400)},
                               {"end_time", std::to_string(now + 10)}});
  ASSERT_EQ(month.code, "0000") << month.raw;
  EXPECT_EQ(field(month.data, "total"), "25");
  EXPECT_EQ(month.data.at("list").as_array().size(), 20u) << "default page_size is 20";
  EXPECT_EQ(m.call(k_list, {{"start_time", std::to_string(now + 10 - 31LL * 86400 - 1)},
                            {"end_time", std::to_string(now + 10)}})
                .code,
            "1001");
  EXPECT_EQ(m.call(k_list, {{"start_time", std::to_string(now)},
                            {"end_time", std::to_string(now - 10)}})
                .code,
            "1001");
  EXPECT_EQ(page(1, {{"page_size", "101"}}).code, "1001");
  EXPECT_EQ(page(1, {{"page_size", "0"}}).code, "1001");
  EXPECT_EQ(m.call(k_list, {{"end_time", std::to_string(now)}}).code, "1001");
}

// ---- concurrency ---------------------------------------------------------------------------

TEST_F(Intake, ConcurrentIdenticalPushesDebitOnce) {
  credit(2018, "100", "c2018");
  constexpr int k_threads = 16;
  std::vector<api_answer> answers(k_threads);
  std::vector<std::string> errors(k_threads);
  std::latch go(k_threads);
  std::vector<std::thread> threads;
  for (int t = 0; t < k_threads; ++t) {
    threads.emplace_back([&, t] {
      try {
        auto m = client(2018);
        m.http().get("/healthz");  // connect before the start line
        go.arrive_and_wait();
        answers[static_cast<std::size_t>(t)] = m.push("race-1", k_cmcc, 50);
      } catch (const std::exception& e) {
        errors[static_cast<std::size_t>(t)] = e.what();
      }
    });
  }
  for (auto& th : threads) th.join();

  std::set<std::string> numbers;
  for (int t = 0; t < k_threads; ++t) {
    const auto& a = answers[static_cast<std::size_t>(t)];
    EXPECT_EQ(errors[static_cast<std::size_t>(t)], "");
    EXPECT_EQ(a.code, "0000") << "thread " << t << ": " << a.raw;
    numbers.insert(field(a.data, "order_number"));
  }
  EXPECT_EQ(numbers.size(), 1u) << "one order_no got several order numbers";
  auto m = client(2018);
  EXPECT_EQ(m.balance_fen(), 10000 - 4975) << "concurrent identical pushes debited more than once";
  EXPECT_EQ(field(m.query_by_order_no("race-1").data, "order_number"), *numbers.begin());
  EXPECT_EQ(redis_->command({"HGET", "t:{m2018}:acct", "debits"}), "4975");
  EXPECT_EQ(redis_->command({"ZCARD", "t:{m2018}:t"}), "1");
}

TEST_F(Intake, ConcurrentDistinctPushesAreAllDebited) {
  credit(2019, "1000", "c2019");
  constexpr int k_threads = 8;
  constexpr int k_each = 10;
  std::vector<int> ok(k_threads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < k_threads; ++t) {
    threads.emplace_back([&, t] {
      auto m = client(2019);
      for (int i = 0; i < k_each; ++i) {
        try {
          auto no = "cd-" + std::to_string(t) + "-" + std::to_string(i);
          if (m.push(no, k_cmcc, 10).code == "0000") ++ok[static_cast<std::size_t>(t)];
        } catch (const std::exception&) {
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  int total = 0;
  for (int n : ok) total += n;
  EXPECT_EQ(total, k_threads * k_each);
  auto m = client(2019);
  EXPECT_EQ(m.balance_fen(), 100000 - total * 995);
}

// ---- operations API: order record ----------------------------------------------------------

TEST_F(Intake, AdminOrderShowsRecordAndEvents) {
  auto m = client(2020);
  credit(2020, "100", "c2020");
  auto a = m.push("adm-1", k_cmcc, 100, {{"notify_url", "http://127.0.0.1:1/cb"}});
  ASSERT_EQ(a.code, "0000") << a.raw;
  const std::string number = field(a.data, "order_number");

  http_client admin(port_);
  auto r = admin_get(admin, token_, "/admin/orders/" + number);
  ASSERT_EQ(r.code, "0000") << r.raw;
  EXPECT_EQ(field(r.data, "order_number"), number);
  EXPECT_EQ(field(r.data, "order_no"), "adm-1");
  EXPECT_EQ(field(r.data, "status"), "6");
  EXPECT_EQ(field(r.data, "cost"), "99.50");
  EXPECT_EQ(field(r.data, "merchant_id"), "2020");
  EXPECT_EQ(field(r.data, "notify_url"), "http://127.0.0.1:1/cb");
  ASSERT_TRUE(r.data.is_object() && r.data.as_object().contains("events")) << r.raw;
  const auto& events = r.data.at("events").as_array();
  ASSERT_EQ(events.size(), 1u) << r.raw;
  EXPECT_EQ(field(events[0], "type"), "accepted");
  EXPECT_EQ(field(events[0], "mobile"), k_cmcc) << "the accepted event carries the record";
  EXPECT_EQ(field(events[0], "from"), "0");
  EXPECT_EQ(field(events[0], "to"), "6");

  // After a cancel the history shows the moves 0->6 (accepted), 6->3, 3->4, in that order.
  ASSERT_EQ(m.call(k_cancel, {{"order_number", number}}).code, "0000");
  auto after = admin_get(admin, token_, "/admin/orders/" + number);
  ASSERT_EQ(after.code, "0000") << after.raw;
  EXPECT_EQ(field(after.data, "status"), "4");
  std::vector<std::string> moves;
  // The first callback attempt (a "cb" event, no move) may already be logged after them.
  for (const auto& e : after.data.at("events").as_array()) {
    if (field(e, "type") == "cb") continue;
    moves.push_back(field(e, "from") + "->" + field(e, "to"));
  }
  EXPECT_EQ(moves, (std::vector<std::string>{"0->6", "6->3", "3->4"})) << after.raw;

  auto bad_token = admin_get(admin, "wrong", "/admin/orders/" + number);
  EXPECT_EQ(bad_token.http_status, 401u);
  EXPECT_EQ(bad_token.code, "4001");
  EXPECT_EQ(admin_get(admin, token_, "/admin/orders/T999999999999900000000000M2020").code, "3001");
}

}  // namespace
}  // namespace topup::test
