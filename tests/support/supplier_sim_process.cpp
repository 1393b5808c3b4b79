#include "tests/support/supplier_sim_process.hpp"

#include <signal.h>

#include <stdexcept>
#include <thread>
#include <vector>

#include "tests/support/http_client.hpp"

namespace topup::test {

namespace json = boost::json;
using namespace std::chrono_literals;

std::string supplier_sim_binary() {
  return std::string(TOPUP_BINARY_DIR) + "/bin/topup_supplier_sim";
}

supplier_sim_process::supplier_sim_process(supplier_sim_options options)
    : options_(std::move(options)) {
  const std::string dir = make_temp_dir("supplier-sim");
  log_path_ = dir + "/sim.log";
  for (int attempt = 1; attempt <= 5; ++attempt) {
    port_ = free_loopback_port();
    std::vector<std::string> argv = {supplier_sim_binary(),
                                     "--listen",
                                     "127.0.0.1:" + std::to_string(port_),
                                     "--app-key",
                                     options_.app_key,
                                     "--app-secret",
                                     options_.app_secret,
                                     "--mode",
                                     options_.mode,
                                     "--callback-delay-ms",
                                     std::to_string(options_.callback_delay_ms),
                                     "--slow-ms",
                                     std::to_string(options_.slow_ms),
                                     "--slow-answer-ms",
                                     std::to_string(options_.slow_answer_ms),
                                     "--seed",
                                     std::to_string(options_.seed)};
    if (!options_.mix.empty()) {
      argv.emplace_back("--mix");
      argv.push_back(options_.mix);
    }
    if (!options_.store_id.empty()) {
      argv.emplace_back("--store-id");
      argv.push_back(options_.store_id);
    }
    process_ = child_process(argv, log_path_);
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline && process_.running()) {
      if (wait_for_port(port_, 50ms)) {
        try {
          http_client probe(port_, 2s);
          if (probe.get("/healthz").status == 200) return;
        } catch (const std::exception&) {
        }
      }
      std::this_thread::sleep_for(10ms);
    }
    process_.stop(SIGKILL);  // exited (port taken meanwhile?) or never answered: another port
  }
  throw std::runtime_error("topup_supplier_sim did not come up; log: " + log_path_);
}

std::string supplier_sim_process::url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

namespace {

void post_mode(int port, const std::string& body) {
  http_client http(port, 5s);
  auto r = http.post("/control/mode", body);
  if (r.status != 200)
    throw std::runtime_error("simulator refused " + body + ": " + std::to_string(r.status) + " " +
                             r.body);
}

std::int64_t int_of(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v ? v->to_number<std::int64_t>() : 0;
}

}  // namespace

void supplier_sim_process::set_mode(const std::string& mode) { post_mode(port_, "mode=" + mode); }

void supplier_sim_process::set_mix(const std::string& weights, std::uint64_t seed) {
  post_mode(port_, "mode=mix&weights=" + weights +
                       (seed != 0 ? "&seed=" + std::to_string(seed) : std::string()));
}

std::vector<supplier_push> supplier_sim_process::orders() {
  http_client http(port_, 10s);
  auto r = http.get("/orders");
  boost::system::error_code ec;
  auto v = json::parse(r.body, ec);
  const json::value* list = !ec && v.is_object() ? v.as_object().if_contains("orders") : nullptr;
  if (r.status != 200 || !list || !list->is_array())
    throw std::runtime_error("simulator /orders: " + std::to_string(r.status) + " " +
                             r.body.substr(0, 200));
  std::vector<supplier_push> out;
  for (const auto& item : list->as_array()) {
    const auto& o = item.as_object();
    supplier_push p;
    p.order_no = o.at("order_no").as_string().c_str();
    p.order_number = o.at("order_number").as_string().c_str();
    p.mode = o.at("mode").as_string().c_str();
    p.placed = o.at("placed").as_bool();
    p.status = static_cast<int>(int_of(o, "status"));
    p.pushed_at_ms = int_of(o, "pushed_at_ms");
    p.finished_at_ms = int_of(o, "finished_at_ms");
    out.push_back(std::move(p));
  }
  return out;
}

json::object supplier_sim_process::stats() {
  http_client http(port_, 5s);
  auto r = http.get("/stats");
  boost::system::error_code ec;
  auto v = json::parse(r.body, ec);
  if (r.status != 200 || ec || !v.is_object())
    throw std::runtime_error("simulator /stats: " + std::to_string(r.status) + " " + r.body);
  return v.as_object();
}

std::uint64_t supplier_sim_process::deliveries(const json::object& stats,
                                               const std::string& order_number) {
  const auto* by_order = stats.if_contains("by_order");
  if (!by_order || !by_order->is_object()) throw std::runtime_error("/stats without by_order");
  const auto* n = by_order->as_object().if_contains(order_number);
  return n ? n->to_number<std::uint64_t>() : 0;
}

std::uint64_t supplier_sim_process::counter(const json::object& stats, const char* name) {
  const auto* n = stats.if_contains(name);
  if (!n) throw std::runtime_error(std::string("/stats without ") + name);
  return n->to_number<std::uint64_t>();
}

json::object supplier_sim_process::wikeyun_channel(const std::string& id, double cost_rate) const {
  json::object ch;
  ch["id"] = id;
  ch["kind"] = "wikeyun";
  ch["url"] = url();
  ch["app_key"] = options_.app_key;
  ch["app_secret"] = options_.app_secret;
  ch["store_id"] = options_.store_id.empty() ? std::string("store-") + id : options_.store_id;
  ch["carriers"] = json::array{"cmcc", "cucc", "ctcc", "cbn"};
  ch["amounts"] = json::array{50, 100};
  ch["recharge_types"] = json::array{0, 1};
  ch["cost_rate"] = cost_rate;
  ch["priority"] = 0;
  ch["timeout_ms"] = 500;
  ch["query_interval_ms"] = 50;
  ch["unknown_grace_ms"] = 1000;
  return ch;
}

int supplier_sim_process::stop() { return process_.stop(SIGTERM); }

}  // namespace topup::test
