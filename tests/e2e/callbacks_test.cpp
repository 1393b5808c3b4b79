// End-to-end: merchant result callbacks (spec §5, §7, §8 `callbacks`), issue "Merchant callbacks
// that always arrive, exactly as the spec says". A real topupd delivers to a local receiver
// (tests/support/callback_receiver) that answers as each test scripts: acknowledge, refuse N
// times, never acknowledge, hang, reset, answer garbage. The tests count deliveries as the
// merchant sees them, check their form and signature, and read the recorded attempts back from
// GET /admin/orders/<n>.
//
// Callback settings of this file: 4 deliveries in all, 0 ms before the first, 200 ms between
// the others, 500 ms per delivery, loopback targets allowed (the receiver is on 127.0.0.1). The
// scheduler scans its due set every second, so a repeat comes 200 ms .. ~1.2 s after the one it
// follows; "past the schedule" waits are sized from that.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/admin_order_view.hpp"
#include "tests/support/callback_receiver.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/merchant_client.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/topupd_process.hpp"

namespace topup::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

constexpr const char* k_mobile = "13800138000";
constexpr const char* k_cancel = "/rest/Recharge/cancel";
constexpr std::size_t k_max_attempts = 4;
constexpr auto k_backoff = 200ms;
/// Longer than any repeat can take to come (backoff + one scan interval + slack): waiting this
/// long after the last expected delivery shows that no further one is on its way.
constexpr auto k_past_schedule = 2500ms;

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

long long ms_between(clock_type::time_point from, clock_type::time_point to) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count();
}

/// Polls `ok` every 20 ms until it holds or `within` passed; returns its last value.
bool eventually(const std::function<bool()>& ok, std::chrono::milliseconds within) {
  const auto deadline = clock_type::now() + within;
  for (;;) {
    if (ok()) return true;
    if (clock_type::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
}

/// "1,2,3" from the attempt numbers, for messages and comparisons.
std::string numbering(const std::vector<shown_attempt>& attempts) {
  std::string out;
  for (const auto& a : attempts) out += (out.empty() ? "" : ",") + std::to_string(a.attempt);
  return out;
}

std::string expected_numbering(std::size_t n) {
  std::string out;
  for (std::size_t i = 1; i <= n; ++i) out += (out.empty() ? "" : ",") + std::to_string(i);
  return out;
}

class Callbacks : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { redis_ = std::make_unique<redis_server>(); }
  static void TearDownTestSuite() { redis_.reset(); }

  void SetUp() override {
    ASSERT_TRUE(redis_ && redis_->running()) << "the suite's redis-server did not start";
    redis_->flushall();  // each test starts its own topupd on an empty store
  }
  void TearDown() override {
    if (started_ && HasFailure()) std::cerr << "topupd log tail:\n" << topupd_.log_tail() << "\n";
    if (started_ && !killed_on_purpose_) {
      EXPECT_TRUE(topupd_.running()) << "topupd died during the test:\n" << topupd_.log_tail();
    }
  }

  /// The configuration of this file: the stock test config, `threads` shards, and the callback
  /// settings above.
  static topupd_config base_config(int port, unsigned threads) {
    topupd_config c(port, redis_->port(), threads);
    c.json["callbacks"] = json::object{{"max_attempts", k_max_attempts},
                                       {"backoff_ms", json::array{0, 200, 200, 200}},
                                       {"timeout_ms", 500},
                                       {"allow_private_targets", true}};
    return c;
  }
  static json::object& callbacks_of(topupd_config& c) { return c.json["callbacks"].as_object(); }
  /// A sim channel that serves every carrier and amount but costs more than the stock one, so
  /// only orders naming it as `source` go to it.
  static json::object source_only_sim(const std::string& id, double success_rate,
                                      int latency_ms) {
    return json::object{{"id", id},
                        {"kind", "sim"},
                        {"carriers", json::array{"cmcc", "cucc", "ctcc", "cbn"}},
                        {"amounts", json::array{10, 20, 30, 50, 100}},
                        {"recharge_types", json::array{0, 1}},
                        {"cost_rate", 0.999},
                        {"priority", 1},
                        {"success_rate", success_rate},
                        {"latency_ms", json::array{latency_ms, latency_ms}}};
  }

  /// Starts topupd with base_config edited by `edit`, waits until it is ready, and credits
  /// merchants 1001 and 1002.
  void start(unsigned threads, const std::function<void(topupd_config&)>& edit = {}) {
    port_ = start_on_free_port(topupd_, [&](int p) {
      topupd_config c = base_config(p, threads);
      if (edit) edit(c);
      config_.emplace(c);
      return c;
    });
    started_ = true;
    token_ = config_->admin_token();
    ASSERT_TRUE(wait_ready(threads)) << "topupd did not reach Redis on every shard";
    http_client admin(port_);
    auto a = admin_credit(admin, token_, 1001, "5000", "cb-credit-1001");
    ASSERT_EQ(a.code, "0000") << a.raw;
    auto b = admin_credit(admin, token_, 1002, "5000", "cb-credit-1002");
    ASSERT_EQ(b.code, "0000") << b.raw;
  }
  /// Restarts the (killed) topupd with `cfg` on the same port and Redis; waits until ready.
  void restart(const topupd_config& cfg) {
    ASSERT_NO_THROW(topupd_.start(cfg));
    const auto threads = cfg.json.at("server").at("threads").to_number<unsigned>();
    ASSERT_TRUE(wait_ready(threads)) << "topupd did not reach Redis on every shard";
  }
  /// /healthz answers as soon as a shard serves; Redis may connect a moment later (5000 until
  /// then). Waits until /readyz is 200 on `shards` distinct shards (fresh connections), bounded.
  bool wait_ready(unsigned shards) const {
    std::set<std::string> seen;
    return eventually(
        [&] {
          try {
            http_client fresh(port_, 2s);
            auto r = fresh.get("/readyz");
            if (r.status == 200) seen.insert(std::string(r.headers["X-Topup-Shard"]));
          } catch (const std::exception&) {
          }
          return seen.size() >= shards;
        },
        10s);
  }

  merchant_client merchant_1001() const { return merchant_client(port_, "k1", "s3cret"); }
  merchant_client merchant_1002() const { return merchant_client(port_, "k2", "other-secret"); }

  /// pushOrder with `notify_url` (none when empty); the order_number, or "" after a failure.
  static std::string push(merchant_client& m, const std::string& order_no,
                          const std::string& notify_url, int money = 100,
                          std::map<std::string, std::string> extra = {}) {
    if (!notify_url.empty()) extra["notify_url"] = notify_url;
    auto a = m.push(order_no, k_mobile, money, std::move(extra));
    EXPECT_EQ(a.code, "0000") << order_no << ": " << a.raw;
    return a.code == "0000" ? json_text(a.data, "order_number") : std::string();
  }
  /// The same for merchant 1002, whose store is "s2".
  static std::string push_1002(merchant_client& m, const std::string& order_no,
                               const std::string& notify_url, int money = 100) {
    return push(m, order_no, notify_url, money, {{"store_id", "s2"}});
  }

  shown_order admin_order(const std::string& number) const {
    return topup::test::admin_order(port_, token_, number);
  }
  /// Polls GET /admin/orders/<n> until `ok` holds (bounded); returns the last view.
  shown_order admin_order_when(const std::string& number,
                               const std::function<bool(const shown_order&)>& ok,
                               std::chrono::milliseconds within) const {
    shown_order last;
    eventually(
        [&] {
          last = admin_order(number);
          return ok(last);
        },
        within);
    return last;
  }
  /// POST /admin/orders/<n>/notify with `authorization` as the header value ("" = none).
  api_answer admin_notify(const std::string& number, const std::string& authorization) const {
    http_client http(port_);
    return merchant_client::parse(http.request(http::verb::post,
                                               "/admin/orders/" + number + "/notify", {},
                                               "application/x-www-form-urlencoded", authorization));
  }
  /// Polls Recharge/query until the order's status is one of `wanted`; returns the last status.
  static std::string status_when(merchant_client& m, const std::string& number,
                                 const std::vector<std::string>& wanted,
                                 std::chrono::milliseconds within) {
    std::string status;
    eventually(
        [&] {
          status = json_text(m.query(number).data, "status");
          for (const auto& w : wanted)
            if (status == w) return true;
          return false;
        },
        within);
    return status;
  }

  static inline std::unique_ptr<redis_server> redis_;
  // The receiver outlives topupd (declared first, destroyed last).
  callback_receiver receiver_;
  topupd_process topupd_;
  std::optional<topupd_config> config_;
  int port_ = 0;
  std::string token_;
  bool started_ = false;
  bool killed_on_purpose_ = false;
};

/// Checks one delivery of the order `number` against spec §5 and §2: the seven fields, the
/// values the merchant needs, and a signature made with `secret` and `method`.
void expect_signed_callback(const received_callback& d, const std::string& number,
                            const std::string& order_no, const std::string& status,
                            const std::string& amount, const std::string& secret,
                            engine::sign_method method) {
  SCOPED_TRACE("callback body: " + d.body);
  EXPECT_EQ(d.method, "POST");
  EXPECT_TRUE(d.content_type.starts_with("application/x-www-form-urlencoded")) << d.content_type;
  ASSERT_TRUE(d.form.has_value()) << "the body is not a form";
  for (const char* key :
       {"order_no", "order_number", "status", "amount", "mobile", "timestamp", "sign"}) {
    EXPECT_TRUE(d.param(key).has_value()) << "missing " << key;
  }
  EXPECT_EQ(d.param("order_number").value_or(""), number);
  EXPECT_EQ(d.param("order_no").value_or(""), order_no);
  EXPECT_EQ(d.param("status").value_or(""), status);
  EXPECT_EQ(d.param("amount").value_or(""), amount);
  EXPECT_EQ(d.param("mobile").value_or(""), k_mobile);
  const std::string ts = d.param("timestamp").value_or("0");
  std::int64_t ts_s = 0;
  try {
    ts_s = std::stoll(ts);
  } catch (const std::exception&) {
  }
  EXPECT_LE(std::llabs(ts_s - now_s()), 60) << "timestamp " << ts << " is not the current time";
  // Spec §5: sign_type is added (and signed) when the method is not MD5, so the merchant never
  // has to guess the method from the length of the sign.
  if (method == engine::sign_method::md5) {
    EXPECT_FALSE(d.param("sign_type").has_value()) << "sign_type sent for MD5";
  } else {
    EXPECT_EQ(d.param("sign_type").value_or("<missing>"), engine::sign_method_name(method));
  }
  const std::string sign = d.param("sign").value_or("");
  EXPECT_EQ(sign.size(), method == engine::sign_method::md5 ? 32u : 64u) << sign;
  EXPECT_TRUE(d.signed_with(secret, method)) << "the sign does not verify with the secret";
  EXPECT_FALSE(d.signed_with(secret + "x", method)) << "verification accepts any secret";
}

// ---- acknowledgement and repeats ---------------------------------------------------------

TEST_F(Callbacks, RefusedTwiceThenDeliveredExactlyThreeTimes) {
  ASSERT_NO_FATAL_FAILURE(start(2));
  // Two refusals of different kinds, then `success` with surrounding whitespace.
  std::vector<callback_reply> refusals;
  refusals.push_back(callback_reply::refuse("fail"));
  refusals.push_back(callback_reply::refuse("error", 500));
  receiver_.script("r2", std::move(refusals), callback_reply::success("  success\n"));

  auto m = merchant_1001();
  const std::string number = push(m, "cb-r2", receiver_.url("r2"));
  ASSERT_FALSE(number.empty());
  ASSERT_EQ(receiver_.wait_for("r2", 3, 10s), 3u)
      << "the callback was not repeated until acknowledged";
  std::this_thread::sleep_for(k_past_schedule);
  const auto deliveries = receiver_.deliveries("r2");
  EXPECT_EQ(deliveries.size(), 3u) << "deliveries went on after the acknowledgement";
  for (const auto& d : deliveries) {
    EXPECT_EQ(d.param("order_number").value_or(""), number);
    EXPECT_EQ(d.param("status").value_or(""), "2");
    EXPECT_TRUE(d.signed_with("s3cret"));
  }

  const auto shown = admin_order_when(
      number, [](const shown_order& o) { return o.callbacks.size() >= 3; }, 3s);
  ASSERT_EQ(shown.code, "0000") << shown.raw;
  ASSERT_EQ(shown.callbacks.size(), 3u) << shown.raw;
  EXPECT_EQ(numbering(shown.callbacks), "1,2,3");
  const auto& c = shown.callbacks;
  EXPECT_EQ(c[0].http_status, 200);
  EXPECT_EQ(c[0].body, "fail");
  EXPECT_FALSE(c[0].delivered);
  EXPECT_EQ(c[1].http_status, 500);
  EXPECT_EQ(c[1].body, "error");
  EXPECT_FALSE(c[1].delivered);
  EXPECT_EQ(c[2].http_status, 200);
  EXPECT_EQ(c[2].body, "  success\n");
  EXPECT_TRUE(c[2].delivered) << "\"  success\\n\" must count as an acknowledgement";
  for (std::size_t i = 0; i < c.size() && i < deliveries.size(); ++i) {
    EXPECT_EQ(c[i].error, "");
    // at_ms is taken just before sending: not after the receiver saw it, not long before.
    EXPECT_LE(c[i].at_ms, deliveries[i].wall_ms + 5);
    EXPECT_GE(c[i].at_ms, deliveries[i].wall_ms - 1000);
  }
  EXPECT_EQ(shown.cb_status, "delivered");
}

TEST_F(Callbacks, NeverAcknowledgedIsGivenUpAfterMaxAttempts) {
  ASSERT_NO_FATAL_FAILURE(start(2));
  receiver_.always("never", callback_reply::refuse("fail"));

  auto m = merchant_1001();
  const auto pushed_at = clock_type::now();
  const std::string number = push(m, "cb-never", receiver_.url("never"));
  ASSERT_FALSE(number.empty());
  ASSERT_EQ(receiver_.wait_for("never", k_max_attempts, 10s), k_max_attempts);
  std::this_thread::sleep_for(k_past_schedule);
  const auto d = receiver_.deliveries("never");
  ASSERT_EQ(d.size(), k_max_attempts) << "more deliveries than callbacks.max_attempts";
  EXPECT_LT(ms_between(pushed_at, d[0].at), 1000) << "backoff_ms[0] is 0: the first comes at once";
  for (std::size_t i = 1; i < d.size(); ++i)
    EXPECT_GE(ms_between(d[i - 1].at, d[i].at), k_backoff.count())
        << "deliveries " << i << " and " << i + 1 << " closer than backoff_ms";

  const auto shown = admin_order_when(
      number, [](const shown_order& o) { return o.cb_status == "failed"; }, 3s);
  ASSERT_EQ(shown.callbacks.size(), k_max_attempts) << shown.raw;
  EXPECT_EQ(numbering(shown.callbacks), expected_numbering(k_max_attempts));
  for (const auto& a : shown.callbacks) {
    EXPECT_EQ(a.http_status, 200);
    EXPECT_EQ(a.body, "fail");
    EXPECT_FALSE(a.delivered);
  }
  for (std::size_t i = 1; i < shown.callbacks.size(); ++i)
    EXPECT_GE(shown.callbacks[i].at_ms - shown.callbacks[i - 1].at_ms, k_backoff.count());
  EXPECT_EQ(shown.cb_status, "failed") << "given up callbacks are not shown as failed";
}

TEST_F(Callbacks, TransportFailuresAndWrongStatusAreNotDeliveries) {
  ASSERT_NO_FATAL_FAILURE(start(2));
  // HTTP 500 with the right body, a reset connection, bytes that are not HTTP, then success.
  std::vector<callback_reply> failures;
  failures.push_back(callback_reply::refuse("success", 500));
  failures.push_back(callback_reply::reset());
  failures.push_back(callback_reply::garbage());
  receiver_.script("faults", std::move(failures), callback_reply::success());

  auto m = merchant_1001();
  const std::string number = push(m, "cb-faults", receiver_.url("faults"));
  ASSERT_FALSE(number.empty());
  ASSERT_EQ(receiver_.wait_for("faults", 4, 10s), 4u);
  std::this_thread::sleep_for(k_past_schedule);
  EXPECT_EQ(receiver_.count("faults"), 4u);

  const auto shown = admin_order_when(
      number, [](const shown_order& o) { return o.cb_status == "delivered"; }, 3s);
  ASSERT_EQ(shown.callbacks.size(), 4u) << shown.raw;
  const auto& c = shown.callbacks;
  EXPECT_EQ(c[0].http_status, 500);
  EXPECT_EQ(c[0].body, "success");
  EXPECT_FALSE(c[0].delivered) << "`success` with HTTP 500 is not an acknowledgement";
  for (std::size_t i : {1u, 2u}) {
    EXPECT_EQ(c[i].http_status, 0) << "attempt " << i + 1;
    EXPECT_NE(c[i].error, "") << "attempt " << i + 1 << " records no transport error";
    EXPECT_FALSE(c[i].delivered);
  }
  EXPECT_TRUE(c[3].delivered);
  EXPECT_EQ(numbering(c), "1,2,3,4");
}

TEST_F(Callbacks, FirstDeliveryWaitsBackoffZeroFromTheFinalStatus) {
  constexpr long long k_first_delay_ms = 1500;
  ASSERT_NO_FATAL_FAILURE(start(2, [](topupd_config& c) {
    callbacks_of(c)["backoff_ms"] = json::array{k_first_delay_ms, 200};
  }));
  auto m = merchant_1001();
  const std::string number = push(m, "cb-late", receiver_.url("late"));
  ASSERT_FALSE(number.empty());
  ASSERT_EQ(status_when(m, number, {"2", "4"}, 3s), "2");
  ASSERT_EQ(receiver_.wait_for("late", 1, 5s), 1u);
  const auto d = receiver_.deliveries("late").front();
  const auto shown = admin_order_when(
      number, [](const shown_order& o) { return o.cb_status == "delivered"; }, 2s);
  ASSERT_GT(shown.updated_at_ms, 0) << shown.raw;
  // Due at final time + backoff_ms[0]; the scan (every second) may add up to a second.
  EXPECT_GE(d.wall_ms, shown.updated_at_ms + k_first_delay_ms) << "delivered before backoff_ms[0]";
  EXPECT_LE(d.wall_ms, shown.updated_at_ms + k_first_delay_ms + 1500) << "delivered late";
  ASSERT_EQ(shown.callbacks.size(), 1u) << shown.raw;
  EXPECT_GE(shown.callbacks[0].at_ms, shown.updated_at_ms + k_first_delay_ms);
  EXPECT_EQ(receiver_.count("late"), 1u);
}

TEST_F(Callbacks, LargeErrorPageStillShowsItsHttpStatus) {
  // A merchant whose server answers with a 20 KB error page (a framework's stack trace) has
  // not acknowledged; the operator must still see what it answered (spec §7: HTTP status and
  // body excerpt of every attempt).
  ASSERT_NO_FATAL_FAILURE(start(2));
  std::vector<callback_reply> first;
  first.push_back(
      callback_reply::refuse("<html>Internal Server Error" + std::string(20000, '.'), 500));
  receiver_.script("page", std::move(first), callback_reply::success());
  auto m = merchant_1001();
  const std::string number = push(m, "cb-page", receiver_.url("page"));
  ASSERT_FALSE(number.empty());
  ASSERT_EQ(receiver_.wait_for("page", 2, 6s), 2u);
  const auto shown = admin_order_when(
      number, [](const shown_order& o) { return o.cb_status == "delivered"; }, 2s);
  ASSERT_EQ(shown.callbacks.size(), 2u) << shown.raw;
  EXPECT_FALSE(shown.callbacks[0].delivered);
  EXPECT_EQ(shown.callbacks[0].http_status, 500) << "the answer's HTTP status is not shown";
  EXPECT_TRUE(shown.callbacks[0].body.starts_with("<html>Internal Server Error"))
      << "no body excerpt: " << shown.callbacks[0].body;
  EXPECT_LE(shown.callbacks[0].body.size(), 1024u) << "an excerpt, not the whole page";
  EXPECT_TRUE(shown.callbacks[1].delivered);
}

// ---- isolation: a hanging merchant -------------------------------------------------------

TEST_F(Callbacks, HangingMerchantDoesNotDelayOtherMerchants) {
  // One shard, so both deliveries share the scheduler, the Redis connection and the HTTP
  // client; a 2 s delivery timeout, so "the other one came while this one hung" is certain.
  ASSERT_NO_FATAL_FAILURE(start(1, [](topupd_config& c) { callbacks_of(c)["timeout_ms"] = 2000; }));
  callback_receiver hanging;  // merchant 1001's server
  hanging.always("hang", callback_reply::hang(30s));

  auto m1 = merchant_1001();
  const std::string slow = push(m1, "cb-hang", hanging.url("hang"));
  ASSERT_FALSE(slow.empty());
  ASSERT_EQ(hanging.wait_for("hang", 1, 3s), 1u) << "the first delivery did not start";

  auto m2 = merchant_1002();
  const auto pushed_at = clock_type::now();
  const std::string prompt = push_1002(m2, "cb-prompt", receiver_.url("prompt"));
  ASSERT_FALSE(prompt.empty());
  ASSERT_EQ(receiver_.wait_for("prompt", 1, 3s), 1u) << "the other merchant got nothing";
  const auto prompt_delivery = receiver_.deliveries("prompt").front();
  EXPECT_LT(ms_between(pushed_at, prompt_delivery.at), 1000)
      << "a hanging merchant delayed another merchant's callback";
  EXPECT_TRUE(prompt_delivery.signed_with("other-secret"));

  // The hanging one times out and is sent again, no sooner than timeout + backoff.
  ASSERT_GE(hanging.wait_for("hang", 2, 6s), 2u) << "a timed-out delivery was not repeated";
  const auto h = hanging.deliveries("hang");
  // (The 2 s run from the send, a moment before the receiver notes the request.)
  EXPECT_GE(ms_between(h[0].at, h[1].at), 2000 + k_backoff.count() - 50);
  const auto shown = admin_order_when(
      slow, [](const shown_order& o) { return !o.callbacks.empty(); }, 2s);
  ASSERT_FALSE(shown.callbacks.empty()) << shown.raw;
  EXPECT_EQ(shown.callbacks[0].http_status, 0);
  EXPECT_NE(shown.callbacks[0].error, "") << "a timeout must be recorded as an error";
  EXPECT_FALSE(shown.callbacks[0].delivered);

  const auto other = admin_order_when(
      prompt, [](const shown_order& o) { return o.cb_status == "delivered"; }, 2s);
  ASSERT_EQ(other.callbacks.size(), 1u) << other.raw;
  EXPECT_TRUE(other.callbacks[0].delivered);
  EXPECT_EQ(receiver_.count("prompt"), 1u);
}

// ---- content: fields, signature, final statuses ------------------------------------------

TEST_F(Callbacks, CallbacksCarryTheSignedOrderForSuccessAndRefund) {
  ASSERT_NO_FATAL_FAILURE(start(2, [](topupd_config& c) {
    // A channel that fails every order, used only when an order names it as `source`.
    c.json["channels"].as_array().push_back(source_only_sim("simfail", 0.0, 0));
    // Merchant 1002's first sign type is HMAC-SHA256: its callbacks are signed that way.
    c.merchant(1002)["sign_types"] = json::array{"HMAC-SHA256", "MD5"};
  }));

  auto m1 = merchant_1001();
  auto m2 = merchant_1002();
  const std::string ok = push(m1, "cb-ok", receiver_.url("ok"), 100);
  const std::string failed =
      push(m1, "cb-failed", receiver_.url("failed"), 50, {{"source", "simfail"}, {"change", "0"}});
  const std::string hmac = push_1002(m2, "cb-hmac", receiver_.url("hmac"), 30);
  ASSERT_FALSE(ok.empty() || failed.empty() || hmac.empty());

  EXPECT_EQ(status_when(m1, ok, {"2", "4"}, 5s), "2");
  EXPECT_EQ(status_when(m1, failed, {"2", "4"}, 5s), "4");
  ASSERT_EQ(receiver_.wait_for("ok", 1, 5s), 1u);
  ASSERT_EQ(receiver_.wait_for("failed", 1, 5s), 1u) << "no callback for a refunded order";
  ASSERT_EQ(receiver_.wait_for("hmac", 1, 5s), 1u);
  std::this_thread::sleep_for(1500ms);  // a status 3 callback, or a repeat, would come now

  const auto ok_d = receiver_.deliveries("ok");
  const auto failed_d = receiver_.deliveries("failed");
  const auto hmac_d = receiver_.deliveries("hmac");
  EXPECT_EQ(ok_d.size(), 1u);
  EXPECT_EQ(failed_d.size(), 1u) << "the refunded order got more than its status 4 callback";
  EXPECT_EQ(hmac_d.size(), 1u);
  expect_signed_callback(ok_d.front(), ok, "cb-ok", "2", "100", "s3cret", engine::sign_method::md5);
  expect_signed_callback(failed_d.front(), failed, "cb-failed", "4", "50", "s3cret",
                         engine::sign_method::md5);
  expect_signed_callback(hmac_d.front(), hmac, "cb-hmac", "2", "30", "other-secret",
                         engine::sign_method::hmac_sha256);
  EXPECT_FALSE(hmac_d.front().signed_with("other-secret", engine::sign_method::md5))
      << "signed with MD5 although the merchant's first sign type is HMAC-SHA256";
  for (const auto* list : {&ok_d, &failed_d, &hmac_d})
    for (const auto& d : *list) EXPECT_NE(d.param("status").value_or(""), "3") << d.body;
}

TEST_F(Callbacks, NotifyUrlQueryStringReachesTheMerchant) {
  // Spec §5: the callback goes to notify_url exactly as given, query string included.
  ASSERT_NO_FATAL_FAILURE(start(2));
  auto m = merchant_1001();
  const std::string query = "?shop=7&next=%2Fdone&flag";
  const std::string number = push(m, "cb-query", receiver_.url("query") + query, 100);
  ASSERT_FALSE(number.empty());
  ASSERT_EQ(receiver_.wait_for("query", 1, 5s), 1u) << "no callback to a notify_url with a query";
  const auto d = receiver_.deliveries("query").front();
  EXPECT_EQ(d.target, "/cb/query" + query);
  expect_signed_callback(d, number, "cb-query", "2", "100", "s3cret", engine::sign_method::md5);
  // The query string is the merchant's, not part of the signed form.
  EXPECT_FALSE(d.param("shop").has_value()) << d.body;
  EXPECT_EQ(admin_order_when(
                number, [](const shown_order& o) { return o.cb_status == "delivered"; }, 3s)
                .cb_status,
            "delivered");
}

TEST_F(Callbacks, CancelOfAWaitingOrderSendsStatus4) {
  // One shard and a channel with room for one order that takes 10 minutes: after a blocker of
  // merchant 1002 takes it, merchant 1001's order waits in 6 (its fast deadline is an hour).
  ASSERT_NO_FATAL_FAILURE(start(1, [](topupd_config& c) {
    auto& sim = c.json["channels"].as_array()[0].as_object();
    sim["max_inflight"] = 1;
    sim["latency_ms"] = json::array{600000, 600000};
    c.merchant(1001)["fast_deadline_s"] = 3600;
  }));
  auto m2 = merchant_1002();
  const std::string blocker = push_1002(m2, "cb-blocker", "", 10);
  ASSERT_FALSE(blocker.empty());
  const std::string blocker_status = status_when(m2, blocker, {"7", "1"}, 3s);
  ASSERT_TRUE(blocker_status == "7" || blocker_status == "1") << blocker_status;

  auto m1 = merchant_1001();
  const std::string number = push(m1, "cb-wait", receiver_.url("cancel"), 100);
  ASSERT_FALSE(number.empty());
  std::this_thread::sleep_for(300ms);
  ASSERT_EQ(json_text(m1.query(number).data, "status"), "6") << "the order did not wait";
  EXPECT_EQ(receiver_.count("cancel"), 0u) << "a callback before the order was final";

  const auto cancelled_at = clock_type::now();
  auto c = m1.call(k_cancel, {{"order_number", number}});
  ASSERT_EQ(c.code, "0000") << c.raw;
  EXPECT_EQ(json_text(c.data, "status"), "4");
  ASSERT_EQ(receiver_.wait_for("cancel", 1, 3s), 1u) << "no callback after a cancel";
  const auto d = receiver_.deliveries("cancel").front();
  EXPECT_LT(ms_between(cancelled_at, d.at), 1500);
  expect_signed_callback(d, number, "cb-wait", "4", "100", "s3cret", engine::sign_method::md5);
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(receiver_.count("cancel"), 1u);
  const auto shown = admin_order_when(
      number, [](const shown_order& o) { return o.cb_status == "delivered"; }, 2s);
  ASSERT_EQ(shown.callbacks.size(), 1u) << shown.raw;
  EXPECT_TRUE(shown.callbacks[0].delivered);
}

// ---- SSRF ----------------------------------------------------------------------------------

TEST_F(Callbacks, PrivateTargetIsRefusedAtDeliveryNotAtPush) {
  ASSERT_NO_FATAL_FAILURE(
      start(2, [](topupd_config& c) { callbacks_of(c)["allow_private_targets"] = false; }));
  auto m = merchant_1001();
  // Accepted: the address a URL leads to is judged when connecting, not when ordering.
  const std::string number = push(m, "cb-ssrf", receiver_.url("ssrf"));
  ASSERT_FALSE(number.empty());

  const auto shown = admin_order_when(
      number, [](const shown_order& o) { return o.callbacks.size() >= k_max_attempts; }, 10s);
  ASSERT_EQ(shown.callbacks.size(), k_max_attempts) << shown.raw;
  EXPECT_EQ(numbering(shown.callbacks), expected_numbering(k_max_attempts));
  for (const auto& a : shown.callbacks) {
    EXPECT_EQ(a.http_status, 0);
    EXPECT_NE(a.error, "") << "a refused target must be recorded with its reason";
    EXPECT_FALSE(a.delivered);
  }
  std::this_thread::sleep_for(k_past_schedule);
  EXPECT_EQ(admin_order(number).callbacks.size(), k_max_attempts);
  EXPECT_EQ(receiver_.connections(), 0u) << "topupd connected to a loopback target";
  EXPECT_EQ(receiver_.total(), 0u);
}

// ---- durability ----------------------------------------------------------------------------

TEST_F(Callbacks, KillBetweenAttemptsContinuesTheSchedule) {
  constexpr long long k_long_backoff_ms = 3000;
  ASSERT_NO_FATAL_FAILURE(start(2, [](topupd_config& c) {
    callbacks_of(c)["backoff_ms"] = json::array{0, 3000, 3000, 3000};
  }));
  receiver_.always("crash", callback_reply::refuse("fail"));
  auto m = merchant_1001();
  const std::string number = push(m, "cb-crash", receiver_.url("crash"));
  ASSERT_FALSE(number.empty());
  ASSERT_EQ(receiver_.wait_for("crash", 1, 3s), 1u);
  const auto recorded = admin_order_when(
      number, [](const shown_order& o) { return o.callbacks.size() == 1; }, 2s);
  ASSERT_EQ(recorded.callbacks.size(), 1u) << recorded.raw;

  // A crash well before attempt 2 is due, then the same configuration on the same Redis.
  killed_on_purpose_ = true;
  topupd_.kill();
  ASSERT_EQ(receiver_.count("crash"), 1u);
  ASSERT_NO_FATAL_FAILURE(restart(*config_));
  killed_on_purpose_ = false;

  ASSERT_EQ(receiver_.wait_for("crash", k_max_attempts, 15s), k_max_attempts)
      << "the schedule did not survive the crash";
  // Attempt 4 was the last: nothing is due after it (a 5th would come 3-4 s later).
  std::this_thread::sleep_for(std::chrono::milliseconds(k_long_backoff_ms + 1500));
  const auto d = receiver_.deliveries("crash");
  EXPECT_EQ(d.size(), k_max_attempts);
  for (std::size_t i = 1; i < d.size(); ++i)
    EXPECT_GE(ms_between(d[i - 1].at, d[i].at), k_long_backoff_ms - 20)
        << "deliveries " << i << " and " << i + 1 << " closer than backoff_ms";

  const auto shown = admin_order_when(
      number, [](const shown_order& o) { return o.cb_status == "failed"; }, 3s);
  EXPECT_EQ(numbering(shown.callbacks), expected_numbering(k_max_attempts))
      << "attempts must continue across the restart, never start again from 1";
  for (const auto& a : shown.callbacks) EXPECT_FALSE(a.delivered);
  EXPECT_EQ(shown.cb_status, "failed");
  EXPECT_EQ(json_text(m.query(number).data, "status"), "2");
}

TEST_F(Callbacks, CrashBeforeTheFirstDeliveryLosesNothing) {
  // The order becomes final, topupd dies before the first delivery is due, and comes back with
  // another number of shards: the callback that was scheduled with the final status still comes.
  constexpr long long k_first_delay_ms = 2000;
  ASSERT_NO_FATAL_FAILURE(start(2, [](topupd_config& c) {
    callbacks_of(c)["backoff_ms"] = json::array{k_first_delay_ms, 200};
  }));
  auto m = merchant_1001();
  const std::string number = push(m, "cb-early-crash", receiver_.url("early"));
  ASSERT_FALSE(number.empty());
  ASSERT_EQ(status_when(m, number, {"2", "4"}, 1500ms), "2");
  killed_on_purpose_ = true;
  topupd_.kill();
  ASSERT_EQ(receiver_.count("early"), 0u) << "delivered before backoff_ms[0]";
  topupd_config three = *config_;
  three.json["server"].as_object()["threads"] = 3;
  ASSERT_NO_FATAL_FAILURE(restart(three));
  killed_on_purpose_ = false;

  ASSERT_EQ(receiver_.wait_for("early", 1, 6s), 1u) << "the pending callback was lost in the crash";
  const auto shown = admin_order_when(
      number, [](const shown_order& o) { return o.cb_status == "delivered"; }, 2s);
  const auto d = receiver_.deliveries("early").front();
  EXPECT_GE(d.wall_ms, shown.updated_at_ms + k_first_delay_ms);
  expect_signed_callback(d, number, "cb-early-crash", "2", "100", "s3cret",
                         engine::sign_method::md5);
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(receiver_.count("early"), 1u);
  EXPECT_EQ(numbering(shown.callbacks), "1");
}

// ---- operations: notify again --------------------------------------------------------------

TEST_F(Callbacks, AdminNotifyRedeliversAGivenUpCallback) {
  ASSERT_NO_FATAL_FAILURE(start(2, [](topupd_config& c) {
    // A channel that holds an order for a minute, used only when an order names it as `source`.
    c.json["channels"].as_array().push_back(source_only_sim("simslow", 1.0, 60000));
  }));
  auto m = merchant_1001();
  const std::string running =
      push(m, "cb-running", receiver_.url("running"), 10, {{"source", "simslow"}});
  const std::string quiet = push(m, "cb-quiet", "", 10);  // final, but without a notify_url
  ASSERT_FALSE(running.empty() || quiet.empty());

  receiver_.always("again", callback_reply::refuse("nope"));
  const std::string number = push(m, "cb-again", receiver_.url("again"));
  ASSERT_FALSE(number.empty());
  ASSERT_EQ(receiver_.wait_for("again", k_max_attempts, 10s), k_max_attempts);
  const auto given_up = admin_order_when(
      number, [](const shown_order& o) { return o.cb_status == "failed"; }, 3s);
  ASSERT_EQ(given_up.callbacks.size(), k_max_attempts) << given_up.raw;
  receiver_.always("again", callback_reply::success());

  // Without the token, or with a wrong one: 401 / 4001, and nothing is sent.
  auto none = admin_notify(number, "");
  EXPECT_EQ(none.http_status, 401u) << none.raw;
  EXPECT_EQ(none.code, "4001") << none.raw;
  auto wrong = admin_notify(number, "Bearer not-the-token");
  EXPECT_EQ(wrong.http_status, 401u) << wrong.raw;
  EXPECT_EQ(wrong.code, "4001") << wrong.raw;
  std::this_thread::sleep_for(1200ms);  // one scan interval: a wrongly re-armed one would come
  EXPECT_EQ(receiver_.count("again"), k_max_attempts) << "an unauthorized notify was acted on";

  // With the token: delivered again, now.
  const auto asked_at = clock_type::now();
  auto again = admin_notify(number, "Bearer " + token_);
  ASSERT_EQ(again.code, "0000") << again.raw;
  ASSERT_EQ(receiver_.wait_for("again", k_max_attempts + 1, 3s), k_max_attempts + 1)
      << "notify did not send the callback again";
  const auto d = receiver_.deliveries("again");
  EXPECT_LT(ms_between(asked_at, d.back().at), 1000) << "notify must send now, not later";
  expect_signed_callback(d.back(), number, "cb-again", "2", "100", "s3cret",
                         engine::sign_method::md5);
  std::this_thread::sleep_for(k_past_schedule);
  EXPECT_EQ(receiver_.count("again"), k_max_attempts + 1) << "repeats after the acknowledgement";
  const auto shown = admin_order_when(
      number, [](const shown_order& o) { return o.cb_status == "delivered"; }, 2s);
  ASSERT_EQ(shown.callbacks.size(), k_max_attempts + 1) << shown.raw;
  // Numbered across rounds: the re-notified delivery is attempt k_max_attempts + 1, not 1 again.
  EXPECT_EQ(numbering(shown.callbacks), expected_numbering(k_max_attempts + 1));
  EXPECT_TRUE(shown.callbacks.back().delivered);
  for (std::size_t i = 0; i + 1 < shown.callbacks.size(); ++i)
    EXPECT_FALSE(shown.callbacks[i].delivered);

  // Not final yet, or no notify_url: 1001 with the reason (spec §7); an unknown order: 3001.
  EXPECT_NE(json_text(m.query(running).data, "status"), "2");
  auto not_final = admin_notify(running, "Bearer " + token_);
  EXPECT_EQ(not_final.code, "1001") << not_final.raw;
  EXPECT_EQ(not_final.msg, "订单未完成或没有回调地址") << not_final.raw;
  auto no_url = admin_notify(quiet, "Bearer " + token_);
  EXPECT_EQ(no_url.code, "1001") << no_url.raw;
  EXPECT_EQ(no_url.msg, "订单未完成或没有回调地址") << no_url.raw;
  auto unknown = admin_notify("T0000000000000000000000000", "Bearer " + token_);
  EXPECT_EQ(unknown.code, "3001") << unknown.raw;
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(receiver_.count("running"), 0u) << "a callback for an order that is not final";
}

}  // namespace
}  // namespace topup::test
