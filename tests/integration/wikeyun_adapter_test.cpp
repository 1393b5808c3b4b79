// channels/wikeyun against a fake supplier (protocol::http_server on loopback, scripted per test):
// signing and fields of pushOrder/query, the outcome of every kind of answer, deadlines, and
// inbound callbacks. Every wait has a deadline, so a bug fails the test instead of hanging it.
#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "channels/errc.hpp"
#include "channels/wikeyun/wikeyun_adapter.hpp"
#include "engine/routing/channel_adapter.hpp"
#include "engine/support/clock.hpp"
#include "engine/config/config.hpp"
#include "protocol/form.hpp"
#include "protocol/http_server.hpp"
#include "protocol/signing.hpp"
#include "tests/support/io_run.hpp"
#include "tests/support/process.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using topup::channels::interpret_push_answer;
using topup::channels::interpret_query_answer;
using topup::channels::make_wikeyun_adapter;
using topup::channels::wikeyun_adapter;
using topup::engine::attempt_outcome;
using topup::engine::attempt_request;
using topup::engine::attempt_result;
using topup::engine::sign_method;
using topup::protocol::form_params;
using steady = std::chrono::steady_clock;
constexpr auto as_tuple_awaitable = asio::as_tuple(asio::use_awaitable);

constexpr const char* k_app_key = "wk_key";
constexpr const char* k_secret = "wk_s3cret";
constexpr const char* k_store = "store9";
constexpr const char* k_public_url = "http://topupd.example:8080/";
constexpr const char* k_notify_url = "http://topupd.example:8080/notify/up1";

// ---------------------------------------------------------------------------------------------
// Running coroutines with deadlines

using topup::test::run_until;
using topup::test::spawn;

/// Runs one adapter call to its end; a call still running at the deadline fails the test.
attempt_result run(asio::io_context& io, asio::awaitable<attempt_result> coro,
                   std::chrono::milliseconds deadline = 10s) {
  auto out = topup::test::run(io, std::move(coro), deadline);
  return out ? std::move(*out) : attempt_result{};
}

// ---------------------------------------------------------------------------------------------
// The fake supplier

struct supplier_reply {
  unsigned status = 200;
  std::string body;
  std::chrono::milliseconds delay{0};
};

struct received_call {
  std::string path;
  form_params params;
  bool form_ok = false;
};

using supplier_script = std::function<supplier_reply(const received_call&)>;

struct supplier_state {
  explicit supplier_state(asio::io_context& io_) : io(io_) {}
  asio::io_context& io;
  supplier_script script;
  std::vector<received_call> calls;
};

received_call describe(const topup::protocol::http_request& request) {
  received_call call;
  call.path = std::string(request.message.target());
  auto params = topup::protocol::decode_form("", request.message.body());
  call.form_ok = params.has_value();
  if (params) call.params = std::move(*params);
  return call;
}

supplier_reply reply_for(supplier_state& st, const received_call& call) {
  return st.script ? st.script(call) : supplier_reply{};
}

asio::awaitable<topup::protocol::http_response> serve_supplier(
    std::shared_ptr<supplier_state> st, topup::protocol::http_request request) {
  const auto call = describe(request);
  st->calls.push_back(call);
  const supplier_reply reply = reply_for(*st, call);
  if (reply.delay > 0ms) {
    asio::steady_timer pause(st->io, reply.delay);
    co_await pause.async_wait(as_tuple_awaitable);
  }
  co_return topup::protocol::make_response(static_cast<http::status>(reply.status), reply.body,
                                           "application/json; charset=utf-8",
                                           request.message.version(), request.message.keep_alive());
}

std::string envelope(const std::string& code, const std::string& msg,
                     const std::string& data = "null") {
  return "{\"code\":\"" + code + "\",\"msg\":\"" + msg +
         "\",\"time\":\"1700000000\",\"data\":" + data + "}";
}

/// The same envelope with `code` as a JSON number, as some suppliers send it (spec §6).
std::string numeric_envelope(int code, const std::string& msg, const std::string& data = "null") {
  return "{\"code\":" + std::to_string(code) + ",\"msg\":\"" + msg +
         "\",\"time\":\"1700000000\",\"data\":" + data + "}";
}

/// Query data with `status` as a JSON number (any JSON text: "2", "-1", "2.0").
std::string numeric_status_data(const std::string& order_no, const std::string& status) {
  return "{\"order_no\":\"" + order_no + "\",\"status\":" + status + ",\"reason\":\"\"}";
}

std::string query_data(const std::string& order_no, const std::string& status,
                       const std::string& reason = "") {
  return "{\"order_number\":\"S123\",\"order_no\":\"" + order_no + "\",\"status\":\"" + status +
         "\",\"mobile\":\"13800138000\",\"amount\":\"100\",\"cost\":\"99.50\","
         "\"created_at\":\"1700000000\",\"finished_at\":\"\",\"reason\":\"" +
         reason + "\"}";
}

/// A supplier status as it is sent and the outcome it must give.
struct status_outcome {
  std::string status;
  attempt_outcome outcome;
};

topup::engine::channel_config channel_for(const std::string& url, std::uint32_t timeout_ms) {
  topup::engine::channel_config config;
  config.id = "up1";
  config.kind = "wikeyun";
  config.carriers = {topup::engine::carrier::cmcc};
  config.amounts = {50, 100};
  config.recharge_types = {0, 1};
  config.cost_rate_ppm = 980'000;
  config.timeout_ms = timeout_ms;
  config.raw_json = "{\"id\":\"up1\",\"kind\":\"wikeyun\",\"url\":\"" + url + "\",\"app_key\":\"" +
                    k_app_key + "\",\"app_secret\":\"" + k_secret + "\",\"store_id\":\"" + k_store +
                    "\"}";
  return config;
}

attempt_request sample_attempt(
    const std::string& attempt_id = "T1700000000000001000012345M1001-1") {
  attempt_request request;
  request.order_number = attempt_id.substr(0, attempt_id.rfind('-'));
  request.attempt_id = attempt_id;
  request.mobile = "13800138000";
  request.money_yuan = 100;
  request.recharge_type = 1;
  request.submitted_at_ms = topup::engine::wall_clock_ms();
  return request;
}

/// A supplier on loopback plus an adapter pointed at it, on one io_context.
struct supplier_fixture {
  explicit supplier_fixture(std::uint32_t timeout_ms = 2000)
      : state(std::make_shared<supplier_state>(io)) {
    topup::protocol::http_server_options options;
    options.host = "127.0.0.1";
    options.port = static_cast<std::uint16_t>(topup::test::free_loopback_port());
    auto st = state;
    server.emplace(io, 0, options, [st](topup::protocol::http_request request) {
      return serve_supplier(st, std::move(request));
    });
    const auto ec = server->listen();
    if (ec) throw std::runtime_error("supplier listen failed: " + ec.message());
    url = "http://127.0.0.1:" + std::to_string(options.port);
    adapter.emplace(channel_for(url + "/", timeout_ms), io, k_public_url);
  }

  void script(supplier_script s) { state->script = std::move(s); }
  void reply_always(unsigned status, std::string body) {
    script([status, body](const received_call&) {
      supplier_reply reply;
      reply.status = status;
      reply.body = body;
      return reply;
    });
  }

  asio::io_context io{1};
  std::shared_ptr<supplier_state> state;
  std::optional<topup::protocol::http_server> server;
  std::string url;
  std::optional<wikeyun_adapter> adapter;
};

bool signed_by(const form_params& params, const std::string& secret) {
  const std::string* sign = params.find("sign");
  return sign && topup::protocol::verify_sign(params, sign_method::md5, secret, *sign);
}

std::string param(const form_params& params, std::string_view key) {
  const std::string* value = params.find(key);
  return value ? *value : std::string("<absent>");
}

// ---------------------------------------------------------------------------------------------
// submit

TEST(WikeyunAdapter, SubmitAcceptedIsSignedWithTheChannelSecret) {
  supplier_fixture f;
  f.reply_always(200, envelope("0000", "推送成功", "{\"order_number\":\"S1\"}"));
  const auto attempt = sample_attempt();
  const auto before_s = topup::engine::wall_clock_ms() / 1000;
  const auto result = run(f.io, f.adapter->submit(attempt));
  const auto after_s = topup::engine::wall_clock_ms() / 1000;
  EXPECT_EQ(result.outcome, attempt_outcome::accepted);
  EXPECT_EQ(result.detail, "");

  ASSERT_EQ(f.state->calls.size(), 1u);
  const auto& call = f.state->calls[0];
  EXPECT_EQ(call.path, "/rest/Recharge/pushOrder");
  ASSERT_TRUE(call.form_ok);
  const auto& p = call.params;
  EXPECT_TRUE(signed_by(p, k_secret)) << "sign=" << param(p, "sign");
  EXPECT_FALSE(signed_by(p, "another secret"));
  EXPECT_EQ(param(p, "sign").size(), 32u);  // MD5, upper-case hex
  EXPECT_FALSE(p.contains("sign_type"));
  EXPECT_EQ(param(p, "app_key"), k_app_key);
  EXPECT_EQ(param(p, "store_id"), k_store);
  EXPECT_EQ(param(p, "order_no"), attempt.attempt_id);
  EXPECT_EQ(param(p, "mobile"), "13800138000");
  EXPECT_EQ(param(p, "money"), "100");
  EXPECT_EQ(param(p, "recharge_type"), "1");
  EXPECT_EQ(param(p, "notify_url"), k_notify_url);
  EXPECT_EQ(f.adapter->notify_url(), k_notify_url);
  const auto timestamp = std::stoll(param(p, "timestamp"));
  EXPECT_GE(timestamp, before_s);
  EXPECT_LE(timestamp, after_s);
  EXPECT_EQ(p.size(), 9u);  // nothing else travels (no app_secret, no sign_type)
}

TEST(WikeyunAdapter, SubmitsShareOneKeptAliveConnection) {
  supplier_fixture f;
  f.reply_always(200, envelope("0000", "ok"));
  for (int i = 1; i <= 3; ++i) {
    const auto result = run(f.io, f.adapter->submit(sample_attempt("T1M1-" + std::to_string(i))));
    EXPECT_EQ(result.outcome, attempt_outcome::accepted);
  }
  EXPECT_EQ(f.server->open_connections(), 1u);
  EXPECT_EQ(f.state->calls.size(), 3u);
}

TEST(WikeyunAdapter, SubmitBusinessCodeIsADefiniteRefusal) {
  supplier_fixture f;
  f.reply_always(200, envelope("2004", "余额不足"));
  const auto result = run(f.io, f.adapter->submit(sample_attempt()));
  EXPECT_EQ(result.outcome, attempt_outcome::refused);
  EXPECT_EQ(result.detail, "supplier code 2004: 余额不足");

  f.reply_always(200, envelope("2002", ""));
  const auto no_msg = run(f.io, f.adapter->submit(sample_attempt()));
  EXPECT_EQ(no_msg.outcome, attempt_outcome::refused);
  EXPECT_EQ(no_msg.detail, "supplier code 2002");
}

TEST(WikeyunAdapter, SubmitInternalErrorOrReusedOrderNoIsUnknown) {
  supplier_fixture f;
  f.reply_always(200, envelope("5001", "internal error"));
  const auto internal = run(f.io, f.adapter->submit(sample_attempt()));
  EXPECT_EQ(internal.outcome, attempt_outcome::unknown);
  EXPECT_EQ(internal.detail, "supplier code 5001: internal error");

  f.reply_always(200, envelope("2003", "order_no already used"));
  const auto reused = run(f.io, f.adapter->submit(sample_attempt()));
  EXPECT_EQ(reused.outcome, attempt_outcome::unknown);
}

TEST(WikeyunAdapter, SubmitHttpErrorStatusIsUnknown) {
  supplier_fixture f;
  f.reply_always(502, "<html>bad gateway</html>");
  const auto bad_gateway = run(f.io, f.adapter->submit(sample_attempt()));
  EXPECT_EQ(bad_gateway.outcome, attempt_outcome::unknown);
  EXPECT_EQ(bad_gateway.detail, "supplier HTTP 502");

  // Even with a refusal code in it: only HTTP 200 carries a business answer.
  f.reply_always(429, envelope("1008", "rate limited"));
  EXPECT_EQ(run(f.io, f.adapter->submit(sample_attempt())).outcome, attempt_outcome::unknown);
  f.reply_always(503, envelope("5000", "storage unavailable"));
  EXPECT_EQ(run(f.io, f.adapter->submit(sample_attempt())).outcome, attempt_outcome::unknown);
}

TEST(WikeyunAdapter, SubmitMalformedAnswersAreUnknown) {
  supplier_fixture f;
  const std::vector<std::string> bodies = {
      "",
      "success",
      "{\"code\":\"0000\"",              // truncated JSON
      "{\"code\":\"0000\",}",            // malformed JSON
      "[\"0000\"]",                      // not an object
      "{\"msg\":\"ok\"}",                // no code
      "{\"code\":null,\"msg\":\"ok\"}",  // code neither a string nor a number
      "{\"code\":true,\"msg\":\"ok\"}",
      "{\"code\":[0],\"msg\":\"ok\"}",
      "{\"code\":-1,\"msg\":\"ok\"}",  // a number outside 0..9999
      "{\"code\":10000,\"msg\":\"ok\"}",
      "{\"code\":18446744073709551615,\"msg\":\"ok\"}",
      "{\"code\":0.0,\"msg\":\"ok\"}",  // not an integer
      "{\"code\":0e0,\"msg\":\"ok\"}",
      "{\"code\":\"0\",\"msg\":\"ok\"}",  // a string is never padded: not four digits
      "{\"code\":\"000\",\"msg\":\"ok\"}",
      "{\"code\":\"00000\",\"msg\":\"ok\"}",
      "{\"code\":\"OK!!\",\"msg\":\"ok\"}",
      "{\"code\":\"0000\"} trailing",
  };
  for (const auto& body : bodies) {
    f.reply_always(200, body);
    const auto result = run(f.io, f.adapter->submit(sample_attempt()));
    EXPECT_EQ(result.outcome, attempt_outcome::unknown) << body;
    EXPECT_FALSE(result.detail.empty()) << body;
  }
}

TEST(WikeyunAdapter, SubmitReadsANumericCodeLikeItsString) {
  supplier_fixture f;
  f.reply_always(200, numeric_envelope(0, "推送成功"));
  EXPECT_EQ(run(f.io, f.adapter->submit(sample_attempt())).outcome, attempt_outcome::accepted);

  f.reply_always(200, numeric_envelope(2004, "余额不足"));
  const auto refused = run(f.io, f.adapter->submit(sample_attempt()));
  EXPECT_EQ(refused.outcome, attempt_outcome::refused);
  EXPECT_EQ(refused.detail, "supplier code 2004: 余额不足");

  // Zero-padded to four digits, as the string would be.
  f.reply_always(200, numeric_envelope(7, ""));
  const auto padded = run(f.io, f.adapter->submit(sample_attempt()));
  EXPECT_EQ(padded.outcome, attempt_outcome::refused);
  EXPECT_EQ(padded.detail, "supplier code 0007");

  // The codes that leave a push unknown are unknown as numbers too.
  f.reply_always(200, numeric_envelope(5001, "internal error"));
  EXPECT_EQ(run(f.io, f.adapter->submit(sample_attempt())).outcome, attempt_outcome::unknown);
  f.reply_always(200, numeric_envelope(2003, ""));
  EXPECT_EQ(run(f.io, f.adapter->submit(sample_attempt())).outcome, attempt_outcome::unknown);
}

/// Answers one request with a header promising more body than follows, then closes.
asio::awaitable<void> truncating_supplier(tcp::acceptor* acceptor, int* served) {
  auto [accept_ec, socket] = co_await acceptor->async_accept(as_tuple_awaitable);
  if (accept_ec) co_return;
  beast::flat_buffer buffer;
  http::request<http::string_body> request;
  auto [read_ec, n] = co_await http::async_read(socket, buffer, request, as_tuple_awaitable);
  if (read_ec) co_return;
  const std::string partial =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n"
      "{\"code\":\"0000\",\"msg\":\"推送成功\"";
  co_await asio::async_write(socket, asio::buffer(partial), as_tuple_awaitable);
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
  ++*served;
}

TEST(WikeyunAdapter, SubmitTruncatedAnswerIsUnknown) {
  asio::io_context io(1);
  const int port = topup::test::free_loopback_port();
  tcp::acceptor acceptor(
      io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
  int served = 0;
  asio::co_spawn(io, truncating_supplier(&acceptor, &served), asio::detached);
  wikeyun_adapter adapter(channel_for("http://127.0.0.1:" + std::to_string(port), 2000), io,
                          k_public_url);
  const auto result = run(io, adapter.submit(sample_attempt()));
  EXPECT_EQ(served, 1);
  EXPECT_EQ(result.outcome, attempt_outcome::unknown);
  EXPECT_NE(result.detail.find("transport"), std::string::npos) << result.detail;
}

TEST(WikeyunAdapter, SubmitTimeoutIsUnknownWithinTheChannelTimeout) {
  supplier_fixture f(200);
  f.script([](const received_call&) {
    supplier_reply reply;
    reply.body = envelope("0000", "too late");
    reply.delay = 2s;
    return reply;
  });
  const auto start = steady::now();
  const auto result = run(f.io, f.adapter->submit(sample_attempt()));
  const auto took = steady::now() - start;
  EXPECT_EQ(result.outcome, attempt_outcome::unknown);
  EXPECT_EQ(result.detail, "supplier timed out");
  EXPECT_GE(took, 190ms);
  EXPECT_LT(took, 200ms + 400ms);
  EXPECT_EQ(f.state->calls.size(), 1u);  // sent once, never re-sent
}

TEST(WikeyunAdapter, SubmitToAnUnreachableSupplierIsUnknown) {
  asio::io_context io(1);
  const int port = topup::test::free_loopback_port();  // nothing listens there
  wikeyun_adapter adapter(channel_for("http://127.0.0.1:" + std::to_string(port), 1000), io,
                          k_public_url);
  const auto result = run(io, adapter.submit(sample_attempt()));
  EXPECT_EQ(result.outcome, attempt_outcome::unknown);
  EXPECT_NE(result.detail.find("transport"), std::string::npos) << result.detail;
}

TEST(WikeyunAdapter, CloseEndsARunningSubmitAsUnknown) {
  supplier_fixture f(5000);
  f.script([](const received_call&) {
    supplier_reply reply;
    reply.body = envelope("0000", "ok");
    reply.delay = 3s;
    return reply;
  });
  auto running = spawn(f.io, f.adapter->submit(sample_attempt()));
  ASSERT_TRUE(run_until(
      f.io, [&] { return f.state->calls.size() == 1; }, 2s));
  const auto start = steady::now();
  f.adapter->close();
  ASSERT_TRUE(run_until(
      f.io, [&] { return running->value.has_value(); }, 1s));
  EXPECT_LT(steady::now() - start, 500ms);
  EXPECT_EQ(running->value->outcome, attempt_outcome::unknown);
}

// ---------------------------------------------------------------------------------------------
// query

TEST(WikeyunAdapter, QueryIsSignedAndAsksByOrderNo) {
  supplier_fixture f;
  const auto attempt = sample_attempt();
  f.reply_always(200, envelope("0000", "获取成功", query_data(attempt.attempt_id, "1")));
  const auto result = run(f.io, f.adapter->query(attempt));
  EXPECT_EQ(result.outcome, attempt_outcome::pending);
  ASSERT_EQ(f.state->calls.size(), 1u);
  const auto& call = f.state->calls[0];
  EXPECT_EQ(call.path, "/rest/Recharge/query");
  EXPECT_TRUE(signed_by(call.params, k_secret));
  EXPECT_EQ(param(call.params, "order_no"), attempt.attempt_id);
  EXPECT_EQ(param(call.params, "app_key"), k_app_key);
  EXPECT_TRUE(call.params.contains("timestamp"));
  EXPECT_EQ(call.params.size(), 4u);
}

TEST(WikeyunAdapter, QueryStatusMapping) {
  supplier_fixture f;
  const auto attempt = sample_attempt();
  struct status_case {
    std::string status;
    std::string reason;
    attempt_outcome outcome;
  };
  const std::vector<status_case> cases = {
      {"0", "", attempt_outcome::pending},   {"1", "", attempt_outcome::pending},
      {"6", "", attempt_outcome::pending},   {"7", "", attempt_outcome::pending},
      {"2", "", attempt_outcome::succeeded}, {"3", "携号转网", attempt_outcome::failed},
      {"4", "", attempt_outcome::failed},    {"5", "", attempt_outcome::unknown},
      {"9", "", attempt_outcome::unknown},   {"", "", attempt_outcome::unknown},
      {"22", "", attempt_outcome::unknown},
  };
  for (const auto& c : cases) {
    f.reply_always(
        200, envelope("0000", "获取成功", query_data(attempt.attempt_id, c.status, c.reason)));
    const auto result = run(f.io, f.adapter->query(attempt));
    EXPECT_EQ(result.outcome, c.outcome) << "status " << c.status;
    if (c.status == "3") {
      EXPECT_EQ(result.detail, "supplier status 3: 携号转网");
    }
    if (c.status == "4") {
      EXPECT_EQ(result.detail, "supplier status 4");
    }
  }
}

TEST(WikeyunAdapter, QueryNotFoundAndOtherAnswers) {
  supplier_fixture f;
  const auto attempt = sample_attempt();
  f.reply_always(200, envelope("3001", "order not found"));
  const auto missing = run(f.io, f.adapter->query(attempt));
  EXPECT_EQ(missing.outcome, attempt_outcome::not_found);
  EXPECT_EQ(missing.detail, "supplier code 3001: order not found");

  f.reply_always(200, envelope("1002", "签名错误"));
  EXPECT_EQ(run(f.io, f.adapter->query(attempt)).outcome, attempt_outcome::unknown);
  f.reply_always(200, envelope("0000", "ok"));  // data null
  EXPECT_EQ(run(f.io, f.adapter->query(attempt)).outcome, attempt_outcome::unknown);
  f.reply_always(200, envelope("0000", "ok", query_data("T999M1-1", "2")));  // another order
  EXPECT_EQ(run(f.io, f.adapter->query(attempt)).outcome, attempt_outcome::unknown);
  // An order_no that is not a string names no attempt of ours: its status decides nothing.
  for (const char* order_no : {"12345", "null", "{}", "[\"x\"]"}) {
    f.reply_always(200, envelope("0000", "ok",
                                 std::string("{\"order_no\":") + order_no + ",\"status\":\"2\"}"));
    EXPECT_EQ(run(f.io, f.adapter->query(attempt)).outcome, attempt_outcome::unknown) << order_no;
  }
  f.reply_always(500, envelope("0000", "ok", query_data(attempt.attempt_id, "2")));
  EXPECT_EQ(run(f.io, f.adapter->query(attempt)).outcome, attempt_outcome::unknown);
  f.reply_always(200, "{\"code\":\"0000\",\"data\":{\"status\":\"2\"");  // truncated
  EXPECT_EQ(run(f.io, f.adapter->query(attempt)).outcome, attempt_outcome::unknown);
  // A status given as a JSON integer reads the same as the string.
  f.reply_always(
      200, envelope("0000", "ok", "{\"order_no\":\"" + attempt.attempt_id + "\",\"status\":2}"));
  EXPECT_EQ(run(f.io, f.adapter->query(attempt)).outcome, attempt_outcome::succeeded);
}

TEST(WikeyunAdapter, QueryReadsNumericCodeAndStatusLikeTheirStrings) {
  supplier_fixture f;
  const auto attempt = sample_attempt();
  const std::vector<status_outcome> cases = {
      // status as JSON number text
      {"0", attempt_outcome::pending},    {"1", attempt_outcome::pending},
      {"6", attempt_outcome::pending},    {"7", attempt_outcome::pending},
      {"2", attempt_outcome::succeeded},  {"3", attempt_outcome::failed},
      {"4", attempt_outcome::failed},     {"5", attempt_outcome::unknown},
      {"-2", attempt_outcome::unknown},   {"22", attempt_outcome::unknown},
      {"2.0", attempt_outcome::unknown},  // not an integer: only the plain forms decide money
      {"true", attempt_outcome::unknown}, {"null", attempt_outcome::unknown},
  };
  for (const auto& c : cases) {
    f.reply_always(
        200, numeric_envelope(0, "获取成功", numeric_status_data(attempt.attempt_id, c.status)));
    EXPECT_EQ(run(f.io, f.adapter->query(attempt)).outcome, c.outcome) << "status " << c.status;
  }

  f.reply_always(200, numeric_envelope(3001, "order not found"));
  const auto missing = run(f.io, f.adapter->query(attempt));
  EXPECT_EQ(missing.outcome, attempt_outcome::not_found);
  EXPECT_EQ(missing.detail, "supplier code 3001: order not found");
  // Any other code, however written, decides nothing.
  f.reply_always(200, numeric_envelope(1002, "签名错误", query_data(attempt.attempt_id, "2")));
  EXPECT_EQ(run(f.io, f.adapter->query(attempt)).outcome, attempt_outcome::unknown);
  f.reply_always(200, numeric_envelope(-1, "", query_data(attempt.attempt_id, "2")));
  EXPECT_EQ(run(f.io, f.adapter->query(attempt)).outcome, attempt_outcome::unknown);
}

TEST(WikeyunAdapter, QueryUnreadableAnswerIsUnknownAndTheNextQueryCanStillDecide) {
  // Unknown is what makes the dispatcher ask again after query_interval_ms (never a failure,
  // which could send the top-up to a second channel).
  supplier_fixture f;
  const auto attempt = sample_attempt();
  const std::vector<std::string> bodies = {
      "",
      "success",
      "<html><body>Bad Gateway</body></html>",
      "\xff\xfe",
      "{\"code\":\"0000\",\"data\":{\"status\":\"2\"",  // truncated
      "[\"0000\"]",
      "{\"msg\":\"ok\"}",
      "{\"code\":\"00\",\"data\":{\"status\":\"2\"}}",
      "{\"code\":10000,\"data\":{\"status\":\"2\"}}",
      "{\"code\":\"0000\",\"data\":\"status=2\"}",
      "{\"code\":\"0000\",\"data\":{\"order_no\":\"" + attempt.attempt_id + "\"}}",
  };
  for (const auto& body : bodies) {
    f.reply_always(200, body);
    const auto result = run(f.io, f.adapter->query(attempt));
    EXPECT_EQ(result.outcome, attempt_outcome::unknown) << body;
    EXPECT_FALSE(result.detail.empty()) << body;
  }
  f.reply_always(200, envelope("0000", "获取成功", query_data(attempt.attempt_id, "2")));
  EXPECT_EQ(run(f.io, f.adapter->query(attempt)).outcome, attempt_outcome::succeeded);
  EXPECT_EQ(f.state->calls.size(), bodies.size() + 1);
}

TEST(WikeyunAdapter, QueryTimeoutIsUnknown) {
  supplier_fixture f(200);
  f.script([](const received_call&) {
    supplier_reply reply;
    reply.body = envelope("3001", "late");
    reply.delay = 2s;
    return reply;
  });
  const auto start = steady::now();
  const auto result = run(f.io, f.adapter->query(sample_attempt()));
  EXPECT_EQ(result.outcome, attempt_outcome::unknown);
  EXPECT_LT(steady::now() - start, 600ms);
}

// ---------------------------------------------------------------------------------------------
// Answers interpreted without a network (the same functions the adapter uses)

TEST(WikeyunAdapter, InterpretPushAnswerTable) {
  EXPECT_EQ(interpret_push_answer(200, envelope("0000", "ok")).outcome, attempt_outcome::accepted);
  EXPECT_EQ(interpret_push_answer(200, envelope("1002", "签名错误")).outcome,
            attempt_outcome::refused);
  EXPECT_EQ(interpret_push_answer(200, envelope("2005", "")).outcome, attempt_outcome::refused);
  EXPECT_EQ(interpret_push_answer(200, envelope("5000", "")).outcome, attempt_outcome::refused);
  EXPECT_EQ(interpret_push_answer(200, envelope("5001", "")).outcome, attempt_outcome::unknown);
  EXPECT_EQ(interpret_push_answer(200, envelope("2003", "")).outcome, attempt_outcome::unknown);
  EXPECT_EQ(interpret_push_answer(201, envelope("0000", "")).outcome, attempt_outcome::unknown);
  EXPECT_EQ(interpret_push_answer(200, "\xff\xfe").outcome, attempt_outcome::unknown);
  // A long message is cut, on a character boundary, and control characters are blanked.
  const auto long_msg = interpret_push_answer(
      200, envelope("2004", std::string(100, 'x') + "余额不足\\n" + std::string(200, 'y')));
  EXPECT_EQ(long_msg.outcome, attempt_outcome::refused);
  EXPECT_LE(long_msg.detail.size(), std::string("supplier code 2004: ").size() + 120 + 3);
  EXPECT_EQ(long_msg.detail.find('\n'), std::string::npos);
}

TEST(WikeyunAdapter, InterpretNumericCodeExactlyAsItsFourDigitString) {
  // Same outcome and same detail as the zero-padded string, for push and query answers.
  for (const int code : {0, 7, 1002, 2003, 2004, 2005, 3001, 5000, 5001, 9999}) {
    std::string digits = std::to_string(code);
    digits.insert(0, 4 - digits.size(), '0');
    const std::string data = query_data("A-1", "3", "no stock");
    const auto push_number = interpret_push_answer(200, numeric_envelope(code, "m", data));
    const auto push_string = interpret_push_answer(200, envelope(digits, "m", data));
    EXPECT_EQ(push_number.outcome, push_string.outcome) << code;
    EXPECT_EQ(push_number.detail, push_string.detail) << code;
    const auto query_number = interpret_query_answer(200, numeric_envelope(code, "m", data), "A-1");
    const auto query_string = interpret_query_answer(200, envelope(digits, "m", data), "A-1");
    EXPECT_EQ(query_number.outcome, query_string.outcome) << code;
    EXPECT_EQ(query_number.detail, query_string.detail) << code;
  }
  EXPECT_EQ(interpret_push_answer(200, numeric_envelope(0, "")).outcome, attempt_outcome::accepted);
  EXPECT_EQ(
      interpret_query_answer(200, numeric_envelope(0, "", query_data("A-1", "3")), "A-1").outcome,
      attempt_outcome::failed);
  for (const int code : {-1, -2004, 10000, 20040}) {
    const auto push = interpret_push_answer(200, numeric_envelope(code, ""));
    EXPECT_EQ(push.outcome, attempt_outcome::unknown) << code;
    EXPECT_EQ(push.detail, "supplier answer has a malformed code") << code;
    EXPECT_EQ(interpret_query_answer(200, numeric_envelope(code, "", query_data("A-1", "2")), "A-1")
                  .outcome,
              attempt_outcome::unknown)
        << code;
  }
}

TEST(WikeyunAdapter, InterpretQueryAnswerChecksTheOrderNo) {
  EXPECT_EQ(
      interpret_query_answer(200, envelope("0000", "", query_data("A-1", "2")), "A-1").outcome,
      attempt_outcome::succeeded);
  EXPECT_EQ(
      interpret_query_answer(200, envelope("0000", "", query_data("A-2", "2")), "A-1").outcome,
      attempt_outcome::unknown);
  // No order_no in the data: the answer was to our request by order_no.
  EXPECT_EQ(interpret_query_answer(200, envelope("0000", "", "{\"status\":\"3\"}"), "A-1").outcome,
            attempt_outcome::failed);
}

// ---------------------------------------------------------------------------------------------
// parse_callback

using pairs = std::vector<std::pair<std::string, std::string>>;

form_params callback_params(const std::string& order_no, const std::string& status) {
  form_params params;
  params.assign("order_no", order_no);
  params.assign("order_number", "S7700000000001");
  params.assign("status", status);
  params.assign("amount", "100");
  params.assign("mobile", "13800138000");
  params.assign("timestamp", std::to_string(topup::engine::wall_clock_ms() / 1000));
  return params;
}

pairs signed_pairs(form_params params, sign_method method, const std::string& secret) {
  params.assign("sign", topup::protocol::sign_params(params, method, secret));
  return pairs(params.begin(), params.end());
}

TEST(WikeyunAdapter, CallbackWithGoodSignatureMapsTheStatus) {
  asio::io_context io(1);
  wikeyun_adapter adapter(channel_for("http://127.0.0.1:9", 1000), io, k_public_url);
  const std::vector<status_outcome> cases = {
      {"2", attempt_outcome::succeeded}, {"3", attempt_outcome::failed},
      {"4", attempt_outcome::failed},    {"1", attempt_outcome::pending},
      {"6", attempt_outcome::pending},   {"0", attempt_outcome::pending},
      {"7", attempt_outcome::pending},   {"9", attempt_outcome::pending},
  };
  for (const auto method : {sign_method::md5, sign_method::hmac_sha256}) {
    for (const auto& c : cases) {
      const auto params = signed_pairs(callback_params("T1M1-2", c.status), method, k_secret);
      auto callback = adapter.parse_callback(params);
      ASSERT_TRUE(callback) << c.status << ": " << callback.error().message();
      EXPECT_EQ(callback->attempt_id, "T1M1-2");
      EXPECT_EQ(callback->result.outcome, c.outcome) << "status " << c.status;
    }
  }
}

TEST(WikeyunAdapter, CallbackWithBadSignatureIsRefused) {
  asio::io_context io(1);
  wikeyun_adapter adapter(channel_for("http://127.0.0.1:9", 1000), io, k_public_url);
  using topup::channels::errc;

  // Signed with another secret.
  for (const auto method : {sign_method::md5, sign_method::hmac_sha256}) {
    auto forged =
        adapter.parse_callback(signed_pairs(callback_params("T1M1-1", "2"), method, "guess"));
    ASSERT_FALSE(forged);
    EXPECT_EQ(forged.error(), errc::bad_signature);
  }
  // A good signature, then a field changed (the status flipped to success).
  auto tampered = signed_pairs(callback_params("T1M1-1", "3"), sign_method::md5, k_secret);
  for (auto& [key, value] : tampered)
    if (key == "status") value = "2";
  EXPECT_EQ(adapter.parse_callback(tampered).error(), errc::bad_signature);
  // No sign, an empty one, one of neither length.
  auto params = callback_params("T1M1-1", "2");
  EXPECT_EQ(adapter.parse_callback(pairs(params.begin(), params.end())).error(),
            errc::bad_signature);
  for (const std::string& sign : {std::string(), std::string(40, 'A')}) {
    auto odd = params;
    odd.assign("sign", sign);
    EXPECT_EQ(adapter.parse_callback(pairs(odd.begin(), odd.end())).error(), errc::bad_signature);
  }
}

/// The same pairs with the sign in lower case, as PHP's md5() writes it.
pairs with_lower_case_sign(pairs signed_params) {
  for (auto& [key, value] : signed_params)
    if (key == "sign")
      for (char& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return signed_params;
}

TEST(WikeyunAdapter, CallbackSignIsComparedWithoutRegardToCase) {
  asio::io_context io(1);
  wikeyun_adapter adapter(channel_for("http://127.0.0.1:9", 1000), io, k_public_url);
  for (const auto method : {sign_method::md5, sign_method::hmac_sha256}) {
    auto lower =
        with_lower_case_sign(signed_pairs(callback_params("T1M1-3", "2"), method, k_secret));
    auto callback = adapter.parse_callback(lower);
    ASSERT_TRUE(callback) << topup::engine::sign_method_name(method) << ": "
                          << callback.error().message();
    EXPECT_EQ(callback->result.outcome, attempt_outcome::succeeded);
    // Still a real check: a lower-case sign made with another secret is refused.
    auto forged =
        with_lower_case_sign(signed_pairs(callback_params("T1M1-3", "2"), method, "guess"));
    EXPECT_EQ(adapter.parse_callback(forged).error(), topup::channels::errc::bad_signature);
  }
}

TEST(WikeyunAdapter, CallbackSignTypeChoosesTheMethodWhenPresent) {
  asio::io_context io(1);
  wikeyun_adapter adapter(channel_for("http://127.0.0.1:9", 1000), io, k_public_url);
  using topup::channels::errc;
  // A declared sign_type (signed with the rest), in any case, names the method.
  struct declared_case {
    const char* name;
    sign_method method;
  };
  for (const auto& c :
       {declared_case{"HMAC-SHA256", sign_method::hmac_sha256},
        declared_case{"hmac-sha256", sign_method::hmac_sha256},
        declared_case{"MD5", sign_method::md5}, declared_case{"md5", sign_method::md5}}) {
    auto params = callback_params("T1M1-4", "2");
    params.assign("sign_type", c.name);
    auto callback = adapter.parse_callback(signed_pairs(params, c.method, k_secret));
    ASSERT_TRUE(callback) << c.name << ": " << callback.error().message();
    EXPECT_EQ(callback->result.outcome, attempt_outcome::succeeded);
  }
  // The declared method decides, not the length: a valid HMAC-SHA256 sign under a declared MD5
  // is refused, and so is an MD5 sign under a declared HMAC-SHA256.
  auto says_md5 = callback_params("T1M1-4", "2");
  says_md5.assign("sign_type", "MD5");
  EXPECT_EQ(
      adapter.parse_callback(signed_pairs(says_md5, sign_method::hmac_sha256, k_secret)).error(),
      errc::bad_signature);
  auto says_hmac = callback_params("T1M1-4", "2");
  says_hmac.assign("sign_type", "HMAC-SHA256");
  EXPECT_EQ(adapter.parse_callback(signed_pairs(says_hmac, sign_method::md5, k_secret)).error(),
            errc::bad_signature);
  // A method topupd does not know.
  auto says_sha1 = callback_params("T1M1-4", "2");
  says_sha1.assign("sign_type", "SHA1");
  EXPECT_EQ(adapter.parse_callback(signed_pairs(says_sha1, sign_method::md5, k_secret)).error(),
            errc::bad_signature);
}

TEST(WikeyunAdapter, CallbackWithoutOrderNoOrStatusIsMalformed) {
  asio::io_context io(1);
  wikeyun_adapter adapter(channel_for("http://127.0.0.1:9", 1000), io, k_public_url);
  using topup::channels::errc;
  auto no_order = callback_params("x", "2");
  no_order.erase("order_no");
  auto missing = adapter.parse_callback(signed_pairs(no_order, sign_method::md5, k_secret));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), errc::malformed_answer);

  auto no_status = callback_params("T1M1-1", "2");
  no_status.erase("status");
  EXPECT_EQ(adapter.parse_callback(signed_pairs(no_status, sign_method::md5, k_secret)).error(),
            errc::malformed_answer);

  auto repeated = signed_pairs(callback_params("T1M1-1", "2"), sign_method::md5, k_secret);
  repeated.emplace_back("status", "3");
  EXPECT_EQ(adapter.parse_callback(repeated).error(), errc::malformed_answer);
}

TEST(WikeyunAdapter, FactoryBuildsTheAdapterOfTheChannel) {
  asio::io_context io(1);
  const auto config = channel_for("https://supplier.example/api/", 1500);
  auto adapter = make_wikeyun_adapter(config, io, "https://me.example");
  ASSERT_NE(adapter, nullptr);
  EXPECT_EQ(adapter->config().id, "up1");
  EXPECT_EQ(adapter->config().timeout_ms, 1500u);
  auto* wikeyun = dynamic_cast<wikeyun_adapter*>(adapter.get());
  ASSERT_NE(wikeyun, nullptr);
  EXPECT_EQ(wikeyun->notify_url(), "https://me.example/notify/up1");
  const auto options = wikeyun_adapter::http_options_for(config);
  EXPECT_TRUE(options.allow_private_targets);
  EXPECT_EQ(options.request_timeout, 1500ms);
  adapter->close();
}

}  // namespace
