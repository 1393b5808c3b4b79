// The fault suite: a real topupd, a real redis-server and simulated suppliers under steady load,
// with crashes and outages on a seeded (replayable) schedule. After each scenario: every
// acknowledged order is present and final, balances equal credits - debits of delivered
// orders, every final order was called back, and `topupd audit` finds the books clean.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "engine/money.hpp"
#include "protocol/form.hpp"
#include "protocol/http_server.hpp"
#include "tests/support/merchant_client.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/topupd_process.hpp"

namespace {

using namespace topup::test;
using namespace std::chrono_literals;
namespace json = boost::json;

/// A merchant callback endpoint that acknowledges everything and remembers what came.
class callback_sink {
 public:
  callback_sink() : port_(free_loopback_port()) {
    topup::protocol::http_server_options o;
    o.port = static_cast<std::uint16_t>(port_);
    server_ = std::make_unique<topup::protocol::http_server>(
        io_, 0, o, [this](topup::protocol::http_request r) { return handle(std::move(r)); });
    if (server_->listen()) throw std::runtime_error("callback sink cannot listen");
    thread_ = std::thread([this] { io_.run(); });
  }
  ~callback_sink() {
    boost::asio::post(io_, [this] { server_->shutdown(); });
    io_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/cb"; }
  /// order_no -> statuses received (in order).
  std::map<std::string, std::vector<std::string>> received() {
    std::lock_guard lock(mutex_);
    return received_;
  }

 private:
  boost::asio::awaitable<topup::protocol::http_response> handle(topup::protocol::http_request r) {
    auto params = topup::protocol::decode_form("", r.message.body());
    if (params) {
      const auto* order_no = params->find("order_no");
      const auto* status = params->find("status");
      std::lock_guard lock(mutex_);
      if (order_no && status) received_[*order_no].push_back(*status);
    }
    co_return topup::protocol::make_response(topup::protocol::http::status::ok, "success",
                                             "text/plain", r.message.version(), true);
  }

  int port_;
  boost::asio::io_context io_;
  std::unique_ptr<topup::protocol::http_server> server_;
  std::thread thread_;
  std::mutex mutex_;
  std::map<std::string, std::vector<std::string>> received_;
};

/// Pushes orders from a few client threads until stopped, retrying the same order_no after any
/// transport error or 5000 (idempotent), and records what was acknowledged.
class load {
 public:
  load(int port, std::string notify_url, int threads) {
    for (int t = 0; t < threads; ++t)
      threads_.emplace_back([this, port, notify_url, t] { run(port, notify_url, t); });
  }
  ~load() { stop(); }
  void stop() {
    stop_ = true;
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }
  /// order_no -> order_number of every acknowledged order.
  std::map<std::string, std::string> acknowledged() {
    std::lock_guard lock(mutex_);
    return acked_;
  }
  int transport_errors() const { return errors_; }

 private:
  void run(int port, const std::string& notify_url, int t) {
    static const char* k_mobiles[] = {"13800138000", "18612345678", "13312345678", "19212345678"};
    for (int i = 0; !stop_; ++i) {
      const std::string order_no = "f" + std::to_string(t) + "-" + std::to_string(i);
      // Keep asking for this order_no until the answer is definite: a lost answer may hide an
      // accepted order, which the idempotent repeat then returns.
      for (int attempt = 0; attempt < 400; ++attempt) {
        try {
          merchant_client m(port, "k1", "s3cret");
          auto a = m.push(order_no, k_mobiles[i % 4], 50, {{"notify_url", notify_url}});
          if (a.code == "0000") {
            std::lock_guard lock(mutex_);
            acked_[order_no] = a.data.at("order_number").as_string().c_str();
            break;
          }
          if (a.code != "5000" && a.code != "1008") break;  // a definite refusal
        } catch (const std::exception&) {
          ++errors_;
        }
        std::this_thread::sleep_for(50ms);
        if (stop_ && attempt > 200) break;
      }
    }
  }

  std::atomic<bool> stop_{false};
  std::atomic<int> errors_{0};
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::map<std::string, std::string> acked_;
};

topupd_config fault_config(int port, int redis_port, unsigned threads, const std::string& seed) {
  topupd_config cfg(port, redis_port, threads);
  cfg.json["server"].as_object()["log_level"] = "warn";
  // The flaky channel trips its breaker; an order whose other channel was tried then waits in
  // 6 for it. Give up after 5 s so such orders end (refunded) well within the test.
  for (auto& m : cfg.json["merchants"].as_array()) m.as_object()["fast_deadline_s"] = 5;
  cfg.json["callbacks"] = json::object{{"max_attempts", 6},
                                       {"backoff_ms", json::array{0, 200, 200, 200, 200, 200}},
                                       {"timeout_ms", 1000},
                                       {"allow_private_targets", true}};
  auto& channels = cfg.json["channels"].as_array();
  channels.clear();
  // The cheap channel fails and goes silent often; the other mostly delivers.
  channels.push_back(json::object{{"id", "flaky"}, {"kind", "sim"},
                                  {"carriers", json::array{"cmcc", "cucc", "ctcc", "cbn"}},
                                  {"amounts", json::array{50}}, {"recharge_types", json::array{0, 1}},
                                  {"cost_rate", 0.97}, {"success_rate", 0.6}, {"unknown_rate", 0.2},
                                  {"latency_ms", json::array{0, 40}}, {"seed", std::stoi(seed)},
                                  {"query_interval_ms", 50}, {"unknown_grace_ms", 300}});
  channels.push_back(json::object{{"id", "steady"}, {"kind", "sim"},
                                  {"carriers", json::array{"cmcc", "cucc", "ctcc", "cbn"}},
                                  {"amounts", json::array{50}}, {"recharge_types", json::array{0, 1}},
                                  {"cost_rate", 0.99}, {"success_rate", 0.9},
                                  {"latency_ms", json::array{0, 20}}, {"seed", std::stoi(seed) + 1},
                                  {"query_interval_ms", 50}, {"unknown_grace_ms", 300}});
  return cfg;
}

/// Waits until every acknowledged order is final; returns order_number -> status.
std::map<std::string, std::string> wait_final(int port,
                                              const std::map<std::string, std::string>& acked,
                                              std::chrono::seconds limit) {
  std::map<std::string, std::string> status;
  merchant_client m(port, "k1", "s3cret");
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    bool all_final = true;
    for (const auto& [order_no, number] : acked) {
      auto& s = status[number];
      if (s == "2" || s == "4") continue;
      auto a = m.query(number);
      s = a.code == "0000" ? std::string(a.data.at("status").as_string().c_str()) : "missing:" + a.code;
      if (s != "2" && s != "4") all_final = false;
    }
    if (all_final || std::chrono::steady_clock::now() > deadline) return status;
    std::this_thread::sleep_for(200ms);
  }
}

/// Every order the merchant has (acknowledged or not: an answer lost to a crash may hide an
/// accepted order), from the list endpoint: order_number -> status.
std::map<std::string, std::string> all_orders(int port) {
  merchant_client m(port, "k1", "s3cret");
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
  std::map<std::string, std::string> out;
  for (int page = 1;; ++page) {
    auto a = m.call("/rest/Recharge/list", {{"start_time", std::to_string(now - 3600)},
                                            {"end_time", std::to_string(now + 3600)},
                                            {"page", std::to_string(page)},
                                            {"page_size", "100"}});
    if (a.code != "0000") throw std::runtime_error("list failed: " + a.raw);
    const auto& list = a.data.at("list").as_array();
    for (const auto& o : list)
      out[o.at("order_number").as_string().c_str()] = o.at("status").as_string().c_str();
    if (list.size() < 100) return out;
  }
}

/// Waits for every order to be final, checks the balance; returns order_number -> status.
std::map<std::string, std::string> expect_books_balanced(
    int port, const std::map<std::string, std::string>& acked, long long credited_fen) {
  auto deadline = std::chrono::steady_clock::now() + 90s;
  std::map<std::string, std::string> orders;
  for (;;) {
    orders = all_orders(port);
    bool final = true;
    for (const auto& [number, s] : orders) final = final && (s == "2" || s == "4");
    if (final || std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(300ms);
  }
  for (const auto& [order_no, number] : acked)
    EXPECT_TRUE(orders.contains(number)) << "acknowledged order missing: " << order_no;
  long long delivered = 0;
  for (const auto& [number, s] : orders) {
    EXPECT_TRUE(s == "2" || s == "4") << number << " ended in " << s;
    if (s == "2") ++delivered;
  }
  merchant_client m(port, "k1", "s3cret");
  // 50 yuan at price_rate 0.995 = 49.75 each; refunded orders cost nothing in the end.
  EXPECT_EQ(m.balance_fen(), credited_fen - delivered * 4975);
  return orders;
}

void expect_called_back(callback_sink& sink, const std::map<std::string, std::string>& acked,
                        const std::map<std::string, std::string>& status) {
  auto deadline = std::chrono::steady_clock::now() + 20s;
  std::map<std::string, std::vector<std::string>> got;
  for (;;) {
    got = sink.received();
    bool all = true;
    for (const auto& [order_no, number] : acked)
      if (!got.contains(order_no)) all = false;
    if (all || std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(200ms);
  }
  for (const auto& [order_no, number] : acked) {
    ASSERT_TRUE(got.contains(order_no)) << "no callback for " << order_no;
    for (const auto& s : got[order_no]) EXPECT_EQ(s, status.at(number)) << order_no;
  }
}

void expect_audit_clean(const topupd_process& server) {
  auto [code, output] = run_topupd({"audit", "--config", server.config_path()});
  EXPECT_EQ(code, 0) << output;
}

TEST(Fault, RepeatedSigkillUnderLoadKeepsEveryPromise) {
  redis_server redis;
  callback_sink sink;
  topupd_process server;
  const int port = start_on_free_port(server, [&](int p) { return fault_config(p, redis.port(), 2, "7"); });
  {
    http_client admin(port);
    ASSERT_EQ(admin_credit(admin, "test-admin-token", 1001, "100000", "fault-credit").code, "0000");
  }
  std::mt19937 schedule(20261122);  // the seed makes the kill moments replayable
  load pushers(port, sink.url(), 2);
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(
        std::uniform_int_distribution<int>(400, 1200)(schedule)));
    server.kill();
    // Restart with another shard count every other round: ownership moves with it.
    server.start(fault_config(port, redis.port(), round % 2 ? 2 : 3, "7"));
  }
  std::this_thread::sleep_for(500ms);
  pushers.stop();
  const auto acked = pushers.acknowledged();
  ASSERT_GT(acked.size(), 20u);
  wait_final(port, acked, 90s);
  const auto status = expect_books_balanced(port, acked, 10'000'000);
  expect_called_back(sink, acked, status);
  expect_audit_clean(server);
}

TEST(Fault, RedisKilledAndRestartedUnderLoad) {
  redis_server redis(redis_server_options{"always", "", {}});
  callback_sink sink;
  topupd_process server;
  const int port = start_on_free_port(server, [&](int p) { return fault_config(p, redis.port(), 2, "11"); });
  {
    http_client admin(port);
    ASSERT_EQ(admin_credit(admin, "test-admin-token", 1001, "100000", "fault-credit").code, "0000");
  }
  std::mt19937 schedule(11);
  load pushers(port, sink.url(), 2);
  for (int round = 0; round < 2; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(
        std::uniform_int_distribution<int>(400, 1000)(schedule)));
    redis.stop(/*kill=*/true);
    std::this_thread::sleep_for(std::chrono::milliseconds(
        std::uniform_int_distribution<int>(300, 1000)(schedule)));
    redis.start();
  }
  std::this_thread::sleep_for(1s);
  pushers.stop();
  const auto acked = pushers.acknowledged();
  ASSERT_GT(acked.size(), 20u);
  wait_final(port, acked, 90s);
  const auto status = expect_books_balanced(port, acked, 10'000'000);
  expect_called_back(sink, acked, status);
  expect_audit_clean(server);
}

}  // namespace
