#include "tests/support/topupd_process.hpp"

#include "tests/support/merchant_client.hpp"
#include "tests/support/self_signed_cert.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace topup::test {

namespace json = boost::json;

std::string topupd_binary() { return std::string(TOPUP_BINARY_DIR) + "/bin/topupd"; }

topupd_config::topupd_config(int http_port, int redis_port, unsigned threads) {
  const std::string listen = "127.0.0.1:" + std::to_string(http_port);
  json = json::object{
      {"server",
       {{"listen", listen},
        {"threads", threads},
        {"public_url", "http://" + listen},
        {"log_level", "info"}}},
      {"redis", {{"host", "127.0.0.1"}, {"port", redis_port}, {"prefix", "t"}}},
      {"admin", {{"token", "test-admin-token"}}},
      {"security", {{"timestamp_skew_s", 300}}},
      {"callbacks", {{"max_attempts", 6}, {"allow_private_targets", true}}},
      {"merchants",
       json::array{
           {{"id", 1001},
            {"app_key", "k1"},
            {"app_secret", "s3cret"},
            {"store_ids", json::array{"s1"}},
            {"sign_types", json::array{"MD5", "HMAC-SHA256"}},
            {"price_rate", 0.995},
            {"default_change", 1}},
           {{"id", 1002},
            {"app_key", "k2"},
            {"app_secret", "other-secret"},
            {"store_ids", json::array{"s2"}},
            {"price_rate", 1.0},
            {"default_change", 0}},
       }},
      {"channels",
       json::array{
           {{"id", "sim1"},
            {"kind", "sim"},
            {"carriers", json::array{"cmcc", "cucc", "ctcc", "cbn"}},
            {"amounts", json::array{10, 20, 30, 50, 100, 200, 300, 500}},
            {"recharge_types", json::array{0, 1}},
            {"cost_rate", 0.99},
            {"priority", 5},
            {"success_rate", 1.0},
            {"latency_ms", json::array{0, 0}}},
       }},
  };
}

std::string topupd_config::admin_token() const {
  return std::string(json.at("admin").at("token").as_string());
}

json::object& topupd_config::add_merchant(std::int64_t id, const std::string& app_key,
                                          const std::string& app_secret,
                                          const std::string& store_id, double price_rate) {
  auto& merchants = json.at("merchants").as_array();
  merchants.push_back(json::object{{"id", id},
                                   {"app_key", app_key},
                                   {"app_secret", app_secret},
                                   {"store_ids", json::array{json::string(store_id)}},
                                   {"sign_types", json::array{"MD5", "HMAC-SHA256"}},
                                   {"price_rate", price_rate},
                                   {"default_change", 1}});
  return merchants.back().as_object();
}

json::object& topupd_config::merchant(std::int64_t id) {
  for (auto& m : json.at("merchants").as_array())
    if (m.as_object().at("id").to_number<std::int64_t>() == id) return m.as_object();
  throw std::out_of_range("no merchant " + std::to_string(id) + " in the test config");
}

void topupd_config::add_unanswered_channel(const std::string& id, int unknown_max_s) {
  namespace bj = boost::json;
  json["channels"].as_array().push_back(bj::object{
      {"id", id},
      {"kind", "wikeyun"},
      {"url", "http://127.0.0.1:1"},
      {"app_key", "dead"},
      {"app_secret", "dead-secret"},
      {"store_id", "dead-store"},
      {"carriers", bj::array{"cmcc", "cucc", "ctcc", "cbn"}},
      {"amounts", bj::array{50, 100}},
      {"recharge_types", bj::array{0, 1}},
      {"cost_rate", 0.999},
      {"priority", 0},
      {"timeout_ms", 500},
      {"query_interval_ms", 100},
      {"unknown_grace_ms", 3600000},
      {"unknown_max_s", unknown_max_s}});
}

void topupd_config::hold_orders_waiting() {
  for (auto& c : json.at("channels").as_array()) {
    auto& channel = c.as_object();
    channel["latency_ms"] = json::array{600000, 600000};
    channel["max_inflight"] = 1;
  }
  // Fast orders then wait in 6 for the plugged channel far longer than any test runs.
  for (auto& m : json.at("merchants").as_array()) m.as_object()["fast_deadline_s"] = 3600;
  auto& plug = add_merchant(k_plug_merchant, "plug", "plug-secret", "s1", 1.0);
  plug["default_change"] = 0;
  plug["fast_deadline_s"] = 3600;
}

void topupd_config::use_tls() {
  const auto files = write_self_signed_cert(make_temp_dir("tls"));
  json.at("server").as_object()["tls"] =
      json::object{{"cert", files.cert_path}, {"key", files.key_path}};
}

int order_number_shard(const std::string& order_number) {
  if (order_number.size() < 20) return -1;
  try {
    return std::stoi(order_number.substr(17, 3));
  } catch (const std::exception&) {
    return -1;
  }
}

namespace {

/// Runs `call` again while it answers 5000 (storage unavailable: right after start, /healthz is
/// up before a shard's Redis connection), for up to 10 s; returns the last answer.
api_answer once_storage_is_up(const std::function<api_answer()>& call) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  api_answer a = call();
  while (a.code == "5000" && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    a = call();
  }
  return a;
}

}  // namespace

std::set<int> shards_answering(int port, const std::string& target, unsigned want_status,
                               int shards, std::chrono::milliseconds within, transport how) {
  std::set<int> seen;
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (static_cast<int>(seen.size()) < shards && std::chrono::steady_clock::now() < deadline) {
    try {
      http_client fresh(port, std::chrono::seconds(2), how);
      auto r = fresh.get(target);
      auto shard = r.headers["X-Topup-Shard"];
      if (r.status == want_status && !shard.empty()) seen.insert(std::stoi(std::string(shard)));
    } catch (const std::exception&) {
      // Not answering right now: try again until the deadline.
    }
    if (static_cast<int>(seen.size()) < shards)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return seen;
}

void plug_shards(int port, const std::string& admin_token, unsigned shards) {
  {
    http_client admin(port);
    auto credited = once_storage_is_up([&] {
      return admin_credit(admin, admin_token, topupd_config::k_plug_merchant, "100000",
                          "plug-credit");
    });
    if (credited.code != "0000") throw std::runtime_error("plug credit failed: " + credited.raw);
  }
  std::map<int, std::string> plugs;  // shard -> order number
  for (int i = 0; i < 400 && plugs.size() < shards; ++i) {
    merchant_client fresh(port, "plug", "plug-secret");  // a fresh connection: maybe another shard
    auto a = once_storage_is_up(
        [&] { return fresh.push("plug-" + std::to_string(i), "13800138000", 10); });
    if (a.code != "0000") throw std::runtime_error("plug push failed: " + a.raw);
    const std::string number(a.data.at("order_number").as_string());
    plugs.try_emplace(order_number_shard(number), number);
  }
  if (plugs.size() < shards)
    throw std::runtime_error("plug_shards: not every shard accepted a plug order");
  // With a dispatcher the plugs move to 7 within milliseconds; without one they stay in 6.
  merchant_client m(port, "plug", "plug-secret");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
  bool moved = true;
  for (const auto& [shard, number] : plugs) {
    while (std::chrono::steady_clock::now() < deadline) {
      auto q = m.query(number);
      if (q.code == "0000" && q.data.at("status").as_string() != "6") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    moved = moved && std::chrono::steady_clock::now() < deadline;
  }
  // The shard takes the slot just after persisting 6->7, a moment after a query can see 7.
  if (moved) std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

int start_on_free_port(topupd_process& process,
                       const std::function<topupd_config(int port)>& make_config,
                       bool storage_up) {
  for (int attempt = 1;; ++attempt) {
    const int port = free_loopback_port();
    try {
      process.start(make_config(port), std::chrono::seconds(15), storage_up);
      return port;
    } catch (const std::exception&) {
      process.kill();
      if (attempt >= 5) throw;
    }
  }
}

void topupd_process::start(const topupd_config& cfg, std::chrono::milliseconds wait,
                           bool storage_up) {
  auto listen = std::string(cfg.json.at("server").at("listen").as_string());
  port_ = std::stoi(listen.substr(listen.rfind(':') + 1));
  transport_ =
      cfg.json.at("server").as_object().contains("tls") ? transport::tls : transport::plain;
  if (dir_.empty()) dir_ = make_temp_dir("topupd");
  const std::string config_path = dir_ + "/topupd.json";
  {
    // Statements and the archive go to the test's own directory unless the test says where.
    json::object written = cfg.json;
    auto& statements = written["statements"];
    if (!statements.is_object()) statements = json::object{};
    if (!statements.as_object().contains("dir"))
      statements.as_object()["dir"] = dir_ + "/statements";
    statements_dir_ = std::string(statements.as_object().at("dir").as_string());
    std::ofstream out(config_path, std::ios::trunc);
    out << json::serialize(written);
  }
  log_path_ = dir_ + "/topupd.log";
  process_ = child_process({topupd_binary(), "--config", config_path}, log_path_);
  auto deadline = std::chrono::steady_clock::now() + wait;
  bool serving = false;
  while (!serving && std::chrono::steady_clock::now() < deadline) {
    if (!process_.running())
      throw std::runtime_error("topupd exited during start-up:\n" + log_tail());
    if (wait_for_port(port_, std::chrono::milliseconds(50))) {
      try {
        http_client probe(port_, std::chrono::seconds(2), transport_);
        serving = probe.get("/healthz").status == 200;
      } catch (const std::exception&) {
      }
    }
    if (!serving) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!serving) throw std::runtime_error("topupd did not come up:\n" + log_tail());
  if (!storage_up) return;
  // Fresh connections land on the shards' listeners at random: ask until each has said 200.
  const auto threads = cfg.json.at("server").as_object().if_contains("threads");
  const std::size_t shards =
      threads && threads->to_number<std::int64_t>() > 0 ? threads->to_number<std::size_t>() : 1;
  std::set<std::string> ready;
  while (ready.size() < shards && std::chrono::steady_clock::now() < deadline) {
    if (!process_.running())
      throw std::runtime_error("topupd exited during start-up:\n" + log_tail());
    try {
      http_client probe(port_, std::chrono::seconds(2), transport_);
      auto r = probe.get("/readyz");
      const std::string shard(r.headers["X-Topup-Shard"]);
      if (r.status == 200 && !shard.empty()) ready.insert(shard);
    } catch (const std::exception&) {
    }
    if (ready.size() < shards) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (ready.size() < shards)
    throw std::runtime_error("topupd did not become ready (storage):\n" + log_tail());
}

int topupd_process::stop_gracefully() { return process_.stop(SIGTERM, std::chrono::seconds(30)); }

void topupd_process::kill() { process_.stop(SIGKILL); }

std::string topupd_process::log_tail(std::size_t bytes) const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  auto text = ss.str();
  return text.size() > bytes ? text.substr(text.size() - bytes) : text;
}

std::pair<int, std::string> run_topupd(const std::vector<std::string>& args) {
  // Bounded: a binary that hangs instead of exiting is killed after 30 s (exit status 124/137).
  std::string cmd = "timeout -k 5 30 " + topupd_binary();
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " 2>&1";
  std::string output;
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (!pipe) throw std::runtime_error("popen failed");
  std::array<char, 4096> buf{};
  while (auto n = std::fread(buf.data(), 1, buf.size(), pipe)) output.append(buf.data(), n);
  int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

}  // namespace topup::test
