// The supplier simulator process (tests/supplier_sim): spec §3 as a supplier answers it, its
// failure modes, its callbacks and its delivery counts, over real HTTP.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "protocol/form.hpp"
#include "protocol/http_server.hpp"
#include "protocol/signing.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/merchant_client.hpp"
#include "tests/support/process.hpp"

namespace topup::test {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

constexpr const char* k_app_key = "up-key";
constexpr const char* k_secret = "up-secret";
constexpr const char* k_mobile = "13800138000";

/// A callback target standing in for topupd's /notify/<channel>: checks the MD5 sign with the
/// channel secret and answers `success` or `fail`, recording what it got. Runs its own thread.
class callback_receiver {
 public:
  struct received {
    std::map<std::string, std::string> params;
    bool sign_ok = false;
  };

  callback_receiver()
      : server_(io_, 0, options(),
                [this](protocol::http_request r) { return receive(this, std::move(r)); }) {
    if (server_.listen()) throw std::runtime_error("callback receiver cannot listen");
    thread_ = std::thread([this] { io_.run(); });
  }
  ~callback_receiver() {
    io_.stop();
    thread_.join();
  }

  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(server_.port()) + "/notify/up1";
  }

  std::vector<received> calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }

  /// Waits until at least `n` callbacks arrived (or 5 s passed); returns them.
  std::vector<received> wait_for(std::size_t n) {
    const auto deadline = clock_type::now() + 5s;
    while (clock_type::now() < deadline) {
      auto now = calls();
      if (now.size() >= n) return now;
      std::this_thread::sleep_for(10ms);
    }
    return calls();
  }

 private:
  static protocol::http_server_options options() {
    protocol::http_server_options o;
    o.host = "127.0.0.1";
    o.port = 0;
    return o;
  }

  protocol::http_response record(const protocol::http_request& request) {
    received r;
    auto form = protocol::decode_form({}, request.message.body());
    if (form) {
      for (const auto& [k, v] : *form) r.params[k] = v;
      const std::string* sign = form->find("sign");
      r.sign_ok = sign && protocol::verify_sign(*form, engine::sign_method::md5, k_secret, *sign);
    }
    const bool ok = r.sign_ok;
    {
      std::lock_guard lock(mutex_);
      calls_.push_back(std::move(r));
    }
    return protocol::make_response(protocol::http::status::ok, ok ? "success" : "fail",
                                   "text/plain", request.message.version(), false);
  }

  static asio::awaitable<protocol::http_response> receive(callback_receiver* self,
                                                          protocol::http_request request) {
    co_return self->record(request);
  }

  asio::io_context io_{1};
  protocol::http_server server_;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<received> calls_;
};

/// The simulator binary on a free loopback port.
class SupplierSim : public ::testing::Test {
 protected:
  void start(const std::string& mode, std::vector<std::string> extra = {}) {
    port_ = free_loopback_port();
    std::vector<std::string> argv = {TOPUP_BINARY_DIR "/bin/topup_supplier_sim",
                                     "--listen",
                                     "127.0.0.1:" + std::to_string(port_),
                                     "--app-key",
                                     k_app_key,
                                     "--app-secret",
                                     k_secret,
                                     "--mode",
                                     mode,
                                     "--callback-delay-ms",
                                     "50",
                                     "--seed",
                                     "7"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    log_path_ = make_temp_dir("supplier-sim") + "/sim.log";
    sim_ = child_process(argv, log_path_);
    ASSERT_TRUE(wait_for_port(port_, 10s)) << "simulator did not start; log: " << log_path_;
    client_ = std::make_unique<merchant_client>(port_, k_app_key, k_secret);
  }

  api_answer push(const std::string& order_no, std::map<std::string, std::string> extra = {}) {
    return client_->push(order_no, k_mobile, 100, std::move(extra));
  }

  api_answer query(const std::string& order_no) { return client_->query_by_order_no(order_no); }

  /// Polls the query until it reports `status` (or 5 s pass); returns the last answer.
  api_answer wait_status(const std::string& order_no, const std::string& status) {
    api_answer a;
    const auto deadline = clock_type::now() + 5s;
    while (clock_type::now() < deadline) {
      a = query(order_no);
      if (a.code == "0000" && a.data.at("status").as_string() == status) return a;
      std::this_thread::sleep_for(20ms);
    }
    return a;
  }

  boost::json::object stats() {
    auto r = client_->http().get("/stats");
    EXPECT_EQ(r.status, 200u);
    return boost::json::parse(r.body).as_object();
  }

  unsigned set_mode(const std::string& mode) { return control("mode=" + mode); }
  /// POST /control/mode with `body`; the HTTP status.
  unsigned control(const std::string& body) {
    return client_->http().post("/control/mode", body).status;
  }

  /// The supplier answers 3001 for `order_no` and has placed nothing at all.
  void expect_never_placed(const std::string& order_no) {
    EXPECT_EQ(query(order_no).code, "3001");
    EXPECT_EQ(count(stats(), "placed"), 0);
  }

  /// Waits for the first callback `receiver` gets, expecting it to be the only one.
  static callback_receiver::received the_only_callback(callback_receiver& receiver) {
    auto calls = receiver.wait_for(1);
    EXPECT_EQ(calls.size(), 1u);
    return calls.empty() ? callback_receiver::received{} : calls.front();
  }

  static std::int64_t count(const boost::json::object& stats, const char* key) {
    return stats.at(key).to_number<std::int64_t>();
  }

  int port_ = 0;
  std::string log_path_;
  child_process sim_;
  std::unique_ptr<merchant_client> client_;
};

TEST_F(SupplierSim, SucceedModePlacesCallsBackAndCountsOneDelivery) {
  callback_receiver receiver;
  start("succeed");
  auto pushed = push("T100-1", {{"notify_url", receiver.url()}});
  ASSERT_EQ(pushed.code, "0000") << pushed.raw;
  const std::string number(pushed.data.at("order_number").as_string());
  EXPECT_FALSE(number.empty());

  auto calls = receiver.wait_for(1);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_TRUE(calls[0].sign_ok);
  EXPECT_EQ(calls[0].params["order_no"], "T100-1");
  EXPECT_EQ(calls[0].params["order_number"], number);
  EXPECT_EQ(calls[0].params["status"], "2");
  EXPECT_EQ(calls[0].params["amount"], "100");
  EXPECT_EQ(calls[0].params["mobile"], k_mobile);
  EXPECT_FALSE(calls[0].params["timestamp"].empty());

  auto q = wait_status("T100-1", "2");
  ASSERT_EQ(q.code, "0000") << q.raw;
  EXPECT_EQ(q.data.at("order_number").as_string(), number);
  EXPECT_EQ(q.data.at("amount").as_string(), "100");
  EXPECT_NE(q.data.at("finished_at").as_string(), "");
  // The supplier's own number finds it too.
  auto by_number = client_->query(number);
  EXPECT_EQ(by_number.code, "0000");

  auto s = stats();
  EXPECT_EQ(count(s, "placed"), 1);
  EXPECT_EQ(count(s, "delivered"), 1);
  EXPECT_EQ(s.at("deliveries").as_object().at("T100-1").to_number<int>(), 1);
  EXPECT_EQ(s.at("by_order").as_object().at("T100").to_number<int>(), 1);
  EXPECT_EQ(count(s, "callbacks_sent"), 1);
  EXPECT_EQ(count(s, "callback_acks"), 1);
}

TEST_F(SupplierSim, RepeatedPushIsIdempotent) {
  start("succeed");
  auto first = push("T101-1");
  auto again = push("T101-1");
  ASSERT_EQ(first.code, "0000") << first.raw;
  ASSERT_EQ(again.code, "0000") << again.raw;
  EXPECT_EQ(first.data.at("order_number"), again.data.at("order_number"));
  // The same order_no for another top-up is refused, not placed.
  auto other = client_->push("T101-1", k_mobile, 50);
  EXPECT_EQ(other.code, "2003");
  ASSERT_EQ(wait_status("T101-1", "2").code, "0000");
  // A repeat is answered as placed even once the mode would refuse a new order.
  ASSERT_EQ(set_mode("refuse"), 200u);
  EXPECT_EQ(push("T101-1").code, "0000");
  auto s = stats();
  EXPECT_EQ(count(s, "placed"), 1);
  EXPECT_EQ(count(s, "delivered"), 1);
}

TEST_F(SupplierSim, ChecksAppKeySignatureAndTimestamp) {
  start("succeed");
  merchant_client wrong_secret(port_, k_app_key, "not-the-secret");
  EXPECT_EQ(wrong_secret.push("T102-1", k_mobile, 100).code, "1002");
  merchant_client wrong_key(port_, "someone-else", k_secret);
  EXPECT_EQ(wrong_key.push("T102-1", k_mobile, 100).code, "1005");
  EXPECT_EQ(push("T102-1", {{"timestamp", "1000000000"}}).code, "1004");
  merchant_client hmac(port_, k_app_key, k_secret, engine::sign_method::hmac_sha256);
  EXPECT_EQ(hmac.push("T102-2", k_mobile, 100).code, "0000");
  EXPECT_EQ(push("T102-3", {{"mobile", "12345"}}).code, "2001");
  EXPECT_EQ(query("T102-1").code, "3001");
  EXPECT_EQ(count(stats(), "placed"), 1);
}

TEST_F(SupplierSim, RefuseModePlacesNothing) {
  start("refuse");
  auto a = push("T103-1");
  EXPECT_EQ(a.http_status, 200u);
  EXPECT_EQ(a.code, "2005");
  EXPECT_EQ(query("T103-1").code, "3001");
  // Back to normal at run time: the same order_no may now be placed.
  ASSERT_EQ(set_mode("succeed"), 200u);
  EXPECT_EQ(push("T103-1").code, "0000");
  EXPECT_EQ(count(stats(), "placed"), 1);
}

TEST_F(SupplierSim, MalformedModeAnswersGarbageButPlacesTheOrder) {
  callback_receiver receiver;
  start("malformed");
  auto a = push("T104-1", {{"notify_url", receiver.url()}});
  EXPECT_EQ(a.http_status, 200u);
  EXPECT_EQ(a.code, "");  // not a JSON envelope
  boost::system::error_code ec;
  boost::json::parse(a.raw, ec);
  EXPECT_TRUE(static_cast<bool>(ec)) << a.raw;
  // The caller must find out by query: the order was placed and succeeds.
  auto q = wait_status("T104-1", "2");
  EXPECT_EQ(q.code, "0000") << q.raw;
  auto s = stats();
  EXPECT_EQ(count(s, "placed"), 1);
  EXPECT_EQ(count(s, "delivered"), 1);
  EXPECT_EQ(count(s, "callbacks_sent"), 0);
  EXPECT_TRUE(receiver.calls().empty());
}

TEST_F(SupplierSim, Http500ModePlacesNothing) {
  start("http500");
  auto a = push("T105-1");
  EXPECT_EQ(a.http_status, 500u);
  EXPECT_EQ(query("T105-1").code, "3001");
  EXPECT_EQ(count(stats(), "placed"), 0);
}

TEST_F(SupplierSim, FailModeRefundsAndCallsBackWithFour) {
  callback_receiver receiver;
  start("fail");
  ASSERT_EQ(push("T106-1", {{"notify_url", receiver.url()}}).code, "0000");
  auto calls = receiver.wait_for(1);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_TRUE(calls[0].sign_ok);
  EXPECT_EQ(calls[0].params["status"], "4");
  auto q = wait_status("T106-1", "4");
  EXPECT_EQ(q.code, "0000") << q.raw;
  EXPECT_NE(q.data.at("reason").as_string(), "");
  auto s = stats();
  EXPECT_EQ(count(s, "placed"), 1);
  EXPECT_EQ(count(s, "delivered"), 0);
  EXPECT_TRUE(s.at("by_order").as_object().empty());
}

TEST_F(SupplierSim, TimeoutPlacedAnswersLateButPlacesAtOnce) {
  start("timeout_placed", {"--slow-ms", "1500"});
  const auto started = clock_type::now();
  auto late = std::async(std::launch::async, [port = port_] {
    merchant_client own(port, k_app_key, k_secret);
    return own.push("T107-1", k_mobile, 100);
  });
  // While the push is still unanswered, the order already exists and reaches success.
  auto q = wait_status("T107-1", "2");
  EXPECT_EQ(q.code, "0000") << q.raw;
  EXPECT_EQ(late.wait_for(0ms), std::future_status::timeout);
  auto answer = late.get();
  EXPECT_GE(clock_type::now() - started, 1500ms);
  EXPECT_EQ(answer.code, "0000");
  EXPECT_EQ(count(stats(), "placed"), 1);
}

TEST_F(SupplierSim, NoCallbackModeOnlyQueryTells) {
  callback_receiver receiver;
  start("no_callback");
  ASSERT_EQ(push("T108-1", {{"notify_url", receiver.url()}}).code, "0000");
  EXPECT_EQ(wait_status("T108-1", "2").code, "0000");
  std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(receiver.calls().empty());
  EXPECT_EQ(count(stats(), "callbacks_sent"), 0);
}

TEST_F(SupplierSim, DuplicateCallbackModeCallsBackTwiceButDeliversOnce) {
  callback_receiver receiver;
  start("duplicate_callback");
  ASSERT_EQ(push("T109-1", {{"notify_url", receiver.url()}}).code, "0000");
  auto calls = receiver.wait_for(2);
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_TRUE(calls[0].sign_ok && calls[1].sign_ok);
  EXPECT_EQ(calls[1].params["order_no"], "T109-1");
  auto s = stats();
  EXPECT_EQ(count(s, "delivered"), 1);
  EXPECT_EQ(count(s, "callbacks_sent"), 2);
  EXPECT_EQ(count(s, "callback_acks"), 2);
}

TEST_F(SupplierSim, ForgedCallbackModeSignsWronglyButQueryTellsTheTruth) {
  callback_receiver receiver;
  start("forged_callback");
  ASSERT_EQ(push("T110-1", {{"notify_url", receiver.url()}}).code, "0000");
  auto calls = receiver.wait_for(1);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_FALSE(calls[0].sign_ok);
  EXPECT_EQ(wait_status("T110-1", "2").code, "0000");
  auto s = stats();
  EXPECT_EQ(count(s, "callbacks_sent"), 1);
  EXPECT_EQ(count(s, "callback_acks"), 0);  // the receiver answered `fail`
}

TEST_F(SupplierSim, CountsDeliveriesPerTopupdOrder) {
  start("succeed");
  // Two attempts of one topupd order both delivered: exactly what the tests must catch.
  ASSERT_EQ(push("T111-1").code, "0000");
  ASSERT_EQ(client_->push("T111-2", "13900139000", 100).code, "0000");
  ASSERT_EQ(wait_status("T111-1", "2").code, "0000");
  ASSERT_EQ(wait_status("T111-2", "2").code, "0000");
  auto s = stats();
  EXPECT_EQ(count(s, "delivered"), 2);
  EXPECT_EQ(s.at("deliveries").as_object().at("T111-1").to_number<int>(), 1);
  EXPECT_EQ(s.at("deliveries").as_object().at("T111-2").to_number<int>(), 1);
  EXPECT_EQ(s.at("by_order").as_object().at("T111").to_number<int>(), 2);
}

TEST_F(SupplierSim, SlowModeAnswersAfterTheSlowAnswerDelay) {
  callback_receiver receiver;
  start("slow", {"--slow-answer-ms", "300"});
  const auto started = clock_type::now();
  auto a = push("T120-1", {{"notify_url", receiver.url()}});
  EXPECT_GE(clock_type::now() - started, 300ms);
  EXPECT_EQ(a.code, "0000") << a.raw;
  EXPECT_EQ(wait_status("T120-1", "2").code, "0000");
  EXPECT_TRUE(the_only_callback(receiver).sign_ok);
}

TEST_F(SupplierSim, TimeoutLostAnswers504LateAndPlacesNothing) {
  start("timeout_lost", {"--slow-ms", "400"});
  const auto started = clock_type::now();
  EXPECT_EQ(push("T121-1").http_status, 504u);
  EXPECT_GE(clock_type::now() - started, 400ms);
  expect_never_placed("T121-1");
}

TEST_F(SupplierSim, Http500PlacedAnswers500ButPlacesAndCallsBack) {
  callback_receiver receiver;
  start("http500_placed");
  EXPECT_EQ(push("T122-1", {{"notify_url", receiver.url()}}).http_status, 500u);
  EXPECT_EQ(wait_status("T122-1", "2").code, "0000");
  EXPECT_TRUE(the_only_callback(receiver).sign_ok);
  EXPECT_EQ(count(stats(), "delivered"), 1);
}

TEST_F(SupplierSim, BadJsonShowsTheSuccessCodeButPlacesNothing) {
  start("bad_json");
  auto a = push("T123-1");
  EXPECT_EQ(a.http_status, 200u);
  EXPECT_NE(a.raw.find("\"0000\""), std::string::npos) << a.raw;
  EXPECT_EQ(a.code, "");  // not JSON
  expect_never_placed("T123-1");
}

TEST_F(SupplierSim, ForgedSuccessFailsButClaimsSuccessWithAWrongSign) {
  callback_receiver receiver;
  start("forged_success");
  EXPECT_EQ(push("T124-1", {{"notify_url", receiver.url()}}).code, "0000");
  auto call = the_only_callback(receiver);
  EXPECT_EQ(call.params["status"], "2");
  EXPECT_FALSE(call.sign_ok);
  EXPECT_EQ(wait_status("T124-1", "4").code, "0000");
  EXPECT_EQ(count(stats(), "delivered"), 0);
}

TEST_F(SupplierSim, MixReplaysItsModesFromTheSeed) {
  // The outcome of 20 pushes under a 50/50 mix of succeed and refuse, for a seed.
  auto outcomes = [&](const std::string& order_prefix) {
    std::string out;
    for (int i = 0; i < 20; ++i) out += push(order_prefix + std::to_string(i) + "-1").code + " ";
    return out;
  };
  start("succeed", {"--mix", "succeed:1,refuse:1"});
  EXPECT_EQ(stats().at("mode").as_string(), "mix");
  const std::string first = outcomes("T125");
  EXPECT_NE(first.find("0000"), std::string::npos) << first;
  EXPECT_NE(first.find("2005"), std::string::npos) << first;
  // The same draws again with the same seed (the start's --seed 7), set at run time.
  ASSERT_EQ(control("mode=mix&weights=succeed:1,refuse:1&seed=7"), 200u);
  EXPECT_EQ(outcomes("T126"), first);
  EXPECT_EQ(control("mode=mix&weights=succeed:0"), 400u);
  EXPECT_EQ(control("mode=mix&weights=bogus:1"), 400u);
  ASSERT_EQ(set_mode("succeed"), 200u);
  EXPECT_EQ(stats().at("mode").as_string(), "succeed");
}

TEST_F(SupplierSim, OrdersListsEveryPushWithItsModeAndTimes) {
  start("refuse");
  const auto before_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  EXPECT_EQ(push("T127-1").code, "2005");
  ASSERT_EQ(set_mode("succeed"), 200u);
  ASSERT_EQ(push("T127-2").code, "0000");
  ASSERT_EQ(wait_status("T127-2", "2").code, "0000");
  auto r = client_->http().get("/orders");
  ASSERT_EQ(r.status, 200u);
  std::map<std::string, boost::json::object> orders;
  const auto parsed = boost::json::parse(r.body);
  for (const auto& o : parsed.at("orders").as_array())
    orders[std::string(o.at("order_no").as_string())] = o.as_object();
  ASSERT_EQ(orders.size(), 2u) << r.body;
  const auto& refused = orders.at("T127-1");
  EXPECT_EQ(refused.at("order_number").as_string(), "T127");
  EXPECT_EQ(refused.at("mode").as_string(), "refuse");
  EXPECT_FALSE(refused.at("placed").as_bool());
  EXPECT_GE(refused.at("pushed_at_ms").to_number<std::int64_t>(), before_ms);
  const auto& placed = orders.at("T127-2");
  EXPECT_TRUE(placed.at("placed").as_bool());
  EXPECT_EQ(placed.at("status").to_number<int>(), 2);
  EXPECT_GE(placed.at("finished_at_ms").to_number<std::int64_t>(),
            placed.at("pushed_at_ms").to_number<std::int64_t>());
}

TEST_F(SupplierSim, ControlRefusesUnknownModesAndPaths) {
  start("succeed");
  EXPECT_EQ(set_mode("bogus"), 400u);
  EXPECT_EQ(client_->http().get("/nope").status, 404u);
  EXPECT_EQ(client_->http().get("/rest/Recharge/pushOrder").status, 405u);
  EXPECT_EQ(stats().at("mode").as_string(), "succeed");
  ASSERT_EQ(set_mode("no_callback"), 200u);
  EXPECT_EQ(stats().at("mode").as_string(), "no_callback");
}

TEST_F(SupplierSim, ExitsCleanlyOnSigterm) {
  start("timeout_placed", {"--slow-ms", "60000"});
  // A pending slow answer and a pending settlement must not hold the exit up.
  std::thread pusher([port = port_] {
    try {
      merchant_client own(port, k_app_key, k_secret);
      own.push("T112-1", k_mobile, 100);
    } catch (const std::exception&) {
      // The connection closes at exit: expected.
    }
  });
  std::this_thread::sleep_for(200ms);
  const auto started = clock_type::now();
  EXPECT_EQ(sim_.stop(SIGTERM, 5s), 0);
  EXPECT_LT(clock_type::now() - started, 3s);
  pusher.join();
}

TEST_F(SupplierSim, RefusesBadCommandLines) {
  const std::string log = make_temp_dir("supplier-sim") + "/bad.log";
  child_process bad({TOPUP_BINARY_DIR "/bin/topup_supplier_sim", "--listen", "127.0.0.1:1",
                     "--app-key", k_app_key, "--app-secret", k_secret, "--mode", "bogus"},
                    log);
  const auto deadline = clock_type::now() + 5s;
  while (bad.running() && clock_type::now() < deadline) std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(bad.running());
}

}  // namespace
}  // namespace topup::test
