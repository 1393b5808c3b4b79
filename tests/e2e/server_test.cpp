// End-to-end: the HTTP server of the real topupd binary (issue 2): every shard serves, readiness
// follows Redis, status codes for refused requests, pipelining, keep-alive, timeouts, SIGTERM.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "tests/support/http_client.hpp"
#include "tests/support/merchant_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/raw_socket.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/topupd_process.hpp"
#include "tests/support/topupd_suite.hpp"

namespace topup::test {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

long long elapsed_ms(clock_type::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - since).count();
}

/// One topupd (2 shards, 300 ms idle and read timeouts) on one redis-server, shared by the tests
/// that leave both running as they found them.
class Server : public shared_topupd_suite<Server> {
 protected:
  static void SetUpTestSuite() {
    start_suite([](int port, int redis_port) {
      topupd_config cfg(port, redis_port, 2);
      auto& server = cfg.json["server"].as_object();
      server["idle_timeout_ms"] = 300;
      server["read_timeout_ms"] = 300;
      return cfg;
    });
  }
};

TEST_F(Server, HealthzAnswersOkFromEveryShard) {
  // Fresh connections are spread over the shards' acceptors; within 400 attempts both serve.
  std::set<int> seen;
  for (int attempt = 0; attempt < 400 && seen.size() < 2; ++attempt) {
    http_client fresh(port_, 2s);
    auto r = fresh.get("/healthz");
    ASSERT_EQ(r.status, 200u);
    EXPECT_EQ(r.body, "ok\n");
    auto shard = std::string(r.headers["X-Topup-Shard"]);
    ASSERT_FALSE(shard.empty()) << "no X-Topup-Shard header";
    const int n = std::stoi(shard);
    ASSERT_TRUE(n == 0 || n == 1) << "shard " << shard << " with threads=2";
    seen.insert(n);
  }
  EXPECT_EQ(seen, (std::set<int>{0, 1})) << "not every shard answered /healthz";
}

TEST_F(Server, ReadyzIsOkWhileRedisIsUp) {
  http_client c(port_);
  auto r = c.get("/readyz");
  EXPECT_EQ(r.status, 200u);
  EXPECT_FALSE(std::string(r.headers["X-Topup-Shard"]).empty());
}

TEST_F(Server, UnknownPathIs404) {
  http_client c(port_);
  EXPECT_EQ(c.get("/nope").status, 404u);
  EXPECT_EQ(c.post("/rest/Recharge/nope", "a=1").status, 404u);
  EXPECT_EQ(c.get("/admin/nothing/here").status, 404u);
}

TEST_F(Server, WrongMethodIs405) {
  http_client c(port_);
  EXPECT_EQ(c.get("/rest/Recharge/pushOrder").status, 405u);
  EXPECT_EQ(c.get("/rest/User/query").status, 405u);
  EXPECT_EQ(c.post("/healthz", "").status, 405u);
}

TEST_F(Server, BodyOverSixteenKibIs413) {
  http_client c(port_);
  // Just under the limit is read and answered as a merchant call (no app_key: 1003, HTTP 200).
  const std::string fits = "x=" + std::string(16 * 1024 - 2, 'a');
  auto small = c.post("/rest/Recharge/pushOrder", fits);
  EXPECT_EQ(small.status, 200u) << small.body;
  EXPECT_EQ(merchant_client::parse(small).code, "1003") << small.body;

  // spec §1: JSON, never a plain-text page.
  expect_raw_request_refused(port_, transport::plain, k_oversized_body_request, 413, "4013");
}

TEST_F(Server, OversizedHeadersAre431) {
  expect_raw_request_refused(port_, transport::plain,
                             "POST /rest/User/query HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " +
                                 std::string(10000, 'h') + "\r\n\r\n",
                             431, "4031");
}

TEST_F(Server, EveryRefusalIsAJsonEnvelope) {
  // Spec §1: every answer of the merchant API is JSON, the refusals of the HTTP layer included
  // (404, 405, a request the parser refuses; a handler's exception: tests/integration).
  http_client c(port_);
  expect_json_envelope(c.get("/nope"), 404, "4004");
  expect_json_envelope(c.post("/rest/Recharge/nope", "a=1"), 404, "4004");
  expect_json_envelope(c.get("/rest/Recharge/pushOrder"), 405, "4005");
  expect_json_envelope(c.post("/healthz", ""), 405, "4005");

  // 413 and 431: BodyOverSixteenKibIs413, OversizedHeadersAre431.
  expect_raw_request_refused(port_, transport::plain, k_malformed_request, 400, "4000");
}

TEST_F(Server, PipelinedRequestsAreAnsweredInOrder) {
  http_client c(port_);
  c.write_raw(
      "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
      "GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
      "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  const unsigned expected[] = {200, 404, 200};
  for (unsigned want : expected) {
    auto r = c.read_response();
    ASSERT_TRUE(r.has_value()) << "missing pipelined answer (wanted " << want << ")";
    EXPECT_EQ(r->status, want);
    EXPECT_TRUE(r->keep_alive);
  }
  EXPECT_EQ(c.connects(), 1u);
}

TEST_F(Server, KeepAliveServesManyRequestsOnOneConnection) {
  merchant_client m(port_, "k1", "s3cret");
  auto& http = m.http();
  for (int i = 0; i < 4; ++i) {
    auto h = http.get("/healthz");
    EXPECT_EQ(h.status, 200u);
    EXPECT_TRUE(h.keep_alive);
    auto q = m.call("/rest/User/query", {});
    EXPECT_EQ(q.http_status, 200u);
    EXPECT_EQ(q.code, "0000") << q.raw;
  }
  EXPECT_EQ(http.connects(), 1u) << "the server closed a keep-alive connection between requests";
}

TEST_F(Server, IdleConnectionIsClosedAfterIdleTimeout) {
  // After an answer: the next request does not come, the server closes after ~300 ms.
  http_client c(port_, 5s);
  ASSERT_EQ(c.get("/healthz").status, 200u);
  auto start = clock_type::now();
  auto r = c.read_response();
  const auto waited = elapsed_ms(start);
  EXPECT_FALSE(r.has_value());
  EXPECT_GE(waited, 150) << "closed before the idle timeout";
  EXPECT_LT(waited, 2500) << "idle connection not closed by the server (idle_timeout_ms=300)";

  // A connection that never sends anything is closed just the same.
  raw_socket silent(port_);
  ASSERT_TRUE(silent.connected());
  start = clock_type::now();
  EXPECT_TRUE(silent.closed_within(2500ms)) << "silent connection kept open";
  EXPECT_GE(elapsed_ms(start), 150);
}

TEST_F(Server, HalfRequestIsCutOffAfterReadTimeout) {
  raw_socket slow(port_);
  ASSERT_TRUE(slow.connected());
  ASSERT_TRUE(slow.send_all("POST /rest/User/query HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            "Content-Length: 100\r\n\r\napp_key=k1"));
  std::string answer;
  EXPECT_TRUE(slow.closed_within(2500ms, &answer)) << "half request kept open";
  EXPECT_EQ(answer.find("200 OK"), std::string::npos) << "a half request was answered: " << answer;
}

TEST_F(Server, TricklingClientIsCutOffAfterReadTimeout) {
  // Each byte arrives well within the idle timeout, but the request as a whole must come within
  // read_timeout_ms (300): a slowloris client is cut off long before it finishes.
  raw_socket slow(port_);
  ASSERT_TRUE(slow.connected());
  ASSERT_TRUE(slow.send_all("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "));
  const auto start = clock_type::now();
  bool cut = false;
  while (elapsed_ms(start) < 3000) {
    std::this_thread::sleep_for(50ms);
    if (!slow.send_all("a") || slow.peer_closed()) {
      cut = true;
      break;
    }
  }
  const auto waited = elapsed_ms(start);
  EXPECT_TRUE(cut) << "a client sending one byte every 50 ms kept its connection for 3 s";
  EXPECT_LT(waited, 1500);
}

/// SIGTERM: the process drains and exits 0, and stops listening; the same over TLS.
void expect_sigterm_drains_promptly(transport how) {
  redis_server redis;
  topupd_process topupd;
  const int port = start_on_free_port(topupd, [&](int p) {
    topupd_config cfg(p, redis.port(), 2);
    if (how == transport::tls) cfg.use_tls();
    return cfg;
  });

  // An idle keep-alive connection and one that just got an answer: neither may hold up the exit.
  http_client idle(port, 5s, how);
  ASSERT_EQ(idle.get("/healthz").status, 200u);
  merchant_client m(port, "k1", "s3cret", engine::sign_method::md5, how);
  ASSERT_EQ(m.call("/rest/User/query", {}).code, "0000");

  // A request in flight while the signal arrives: a client keeps asking from another thread.
  std::atomic<bool> stop{false};
  std::atomic<int> answered{0};
  std::thread busy([&] {
    merchant_client c(port, "k1", "s3cret", engine::sign_method::md5, how);
    while (!stop) {
      try {
        auto a = c.call("/rest/User/query", {});
        if (a.http_status != 0) ++answered;
      } catch (const std::exception&) {
        return;  // the server went away: expected
      }
    }
  });
  std::this_thread::sleep_for(100ms);

  const auto start = clock_type::now();
  const int status = topupd.stop_gracefully();
  const auto took = elapsed_ms(start);
  stop = true;
  busy.join();

  EXPECT_EQ(status, 0) << topupd.log_tail();
  EXPECT_LT(took, 5000) << "SIGTERM took " << took << " ms";
  EXPECT_GT(answered.load(), 0);
  EXPECT_FALSE(wait_for_port(port, 300ms)) << "port still accepting after exit";
  EXPECT_FALSE(idle.read_response().has_value());
}

TEST(ServerShutdown, SigtermExitsZeroPromptlyAndClosesThePort) {
  expect_sigterm_drains_promptly(transport::plain);
}

TEST(ServerShutdown, SigtermExitsZeroPromptlyOverTls) {
  expect_sigterm_drains_promptly(transport::tls);
}

/// /readyz follows Redis: 503 on every shard while it is down, 200 again after it restarts.
TEST(ServerReadiness, ReadyzFollowsRedisDownAndBackUp) {
  redis_server redis;
  topupd_process topupd;
  const int port = start_on_free_port(
      topupd, [&](int p) { return topupd_config(p, redis.port(), 2); });

  EXPECT_EQ(shards_answering(port, "/readyz", 200, 2, 5s), (std::set<int>{0, 1}));

  redis.stop();
  EXPECT_EQ(shards_answering(port, "/readyz", 503, 2, 5s), (std::set<int>{0, 1}))
      << "readyz still 200 with redis-server stopped";
  // The process itself still serves.
  http_client c(port);
  EXPECT_EQ(c.get("/healthz").status, 200u);

  redis.start();
  EXPECT_EQ(shards_answering(port, "/readyz", 200, 2, 10s), (std::set<int>{0, 1}))
      << "readyz not back to 200 after redis-server restarted";
  ASSERT_TRUE(topupd.running()) << topupd.log_tail();
}

/// server.metrics_listen (spec §7): /metrics on its own listener only; the merchant port
/// answers it like any unknown path.
TEST(ServerMetricsListen, MetricsAreServedOnlyOnTheirOwnListener) {
  redis_server redis;
  topupd_process topupd;
  int metrics_port = 0;
  const int port = start_on_free_port(topupd, [&](int p) {
    topupd_config cfg(p, redis.port(), 2);
    do {
      metrics_port = free_loopback_port();
    } while (metrics_port == p);
    cfg.json["server"].as_object()["metrics_listen"] = "127.0.0.1:" + std::to_string(metrics_port);
    return cfg;
  });
  ASSERT_TRUE(wait_for_port(metrics_port, 5s)) << "nothing listens on metrics_listen\n"
                                               << topupd.log_tail();

  // Every shard's merchant listener refuses /metrics with the 404 envelope.
  for (int i = 0; i < 20; ++i) {
    http_client fresh(port, 2s);
    expect_json_envelope(fresh.get("/metrics"), 404, "4004");
  }
  // The metrics listener serves it, on every fresh connection, and nothing else.
  for (int i = 0; i < 20; ++i) {
    http_client fresh(metrics_port, 2s);
    auto r = fresh.get("/metrics");
    ASSERT_EQ(r.status, 200u) << r.body;
    EXPECT_NE(std::string(r.headers[http::field::content_type]).find("text/plain"),
              std::string::npos);
    EXPECT_NE(r.body.find("# TYPE topup_orders_accepted_total counter"), std::string::npos);
  }
  http_client metrics_client(metrics_port);
  expect_json_envelope(metrics_client.post("/metrics", ""), 405, "4005");
  expect_json_envelope(metrics_client.post("/rest/User/query", "app_key=k1"), 404, "4004");
  expect_json_envelope(metrics_client.get("/admin/orders/T1"), 404, "4004");
  // The merchant API itself is untouched.
  merchant_client m(port, "k1", "s3cret");
  EXPECT_EQ(m.call("/rest/User/query", {}).code, "0000");
  EXPECT_EQ(http_client(port).get("/healthz").status, 200u);

  // A graceful stop closes the metrics listener too.
  EXPECT_EQ(topupd.stop_gracefully(), 0) << topupd.log_tail();
  EXPECT_FALSE(wait_for_port(metrics_port, 300ms)) << "metrics port still accepting after exit";
}

}  // namespace
}  // namespace topup::test
