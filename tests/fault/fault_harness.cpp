#include "tests/fault/fault_harness.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <set>
#include <stdexcept>

#include "tests/support/admin_order_view.hpp"
#include "tests/support/merchant_client.hpp"

namespace topup::test::fault {

namespace json = boost::json;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr const char* k_admin_token = "test-admin-token";
constexpr const char* k_secret = "s3cret";  // merchant 1001's

bool is_final(const std::string& status) { return status == "2" || status == "4"; }

/// Every order the merchant has, from the list endpoint: order_number -> status.
order_statuses all_orders(int port) {
  merchant_client m(port, "k1", k_secret);
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  order_statuses out;
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

}  // namespace

std::uint64_t scenario_seed(std::uint64_t fallback) {
  std::uint64_t seed = fallback;
  if (const char* env = std::getenv("TOPUP_FAULT_SEED"); env && *env) {
    seed = std::strtoull(env, nullptr, 10);
  }
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  std::cout << "[   SEED   ] " << (test ? test->name() : "?") << " seed=" << seed
            << " (replay: TOPUP_FAULT_SEED=" << seed << ")" << std::endl;
  ::testing::Test::RecordProperty("seed", std::to_string(seed));
  return seed;
}

std::uint64_t mix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

topupd_config fault_config(int port, int redis_port, unsigned threads,
                           const std::vector<json::object>& channels) {
  topupd_config cfg(port, redis_port, threads);
  cfg.json["server"].as_object()["log_level"] = "warn";
  // A channel whose breaker tripped may leave an order waiting in 6 with nowhere to go; give
  // up after 5 s so such orders end (refunded) well within the test.
  for (auto& m : cfg.json["merchants"].as_array()) m.as_object()["fast_deadline_s"] = 5;
  cfg.json["callbacks"] = json::object{{"max_attempts", 6},
                                       {"backoff_ms", json::array{0, 200, 200, 200, 200, 200}},
                                       {"timeout_ms", 1000},
                                       {"allow_private_targets", true}};
  json::array list;
  for (const auto& ch : channels) list.push_back(ch);
  cfg.json["channels"] = std::move(list);
  return cfg;
}

namespace {

/// Starts `server` on a free port with `make_config(port)`, then credits merchant 1001 with
/// k_credit_yuan (repeating the credit while a shard's Redis connection is still coming up: a
/// repeated ref is applied once). Returns the port.
int start_credited(topupd_process& server, const std::function<topupd_config(int)>& make_config) {
  const int port = start_on_free_port(server, make_config);
  http_client admin(port);
  const auto credited =
      admin_credit_when_ready(admin, k_admin_token, 1001, k_credit_yuan, "fault-credit");
  if (credited.code != "0000") throw std::runtime_error("credit failed: " + credited.raw);
  return port;
}

std::vector<std::unique_ptr<supplier_sim_process>> start_suppliers(
    const std::vector<std::string>& mixes, std::uint64_t seed) {
  std::vector<std::unique_ptr<supplier_sim_process>> sims;
  for (std::size_t i = 0; i < mixes.size(); ++i) {
    const std::string id = "up" + std::to_string(i);
    supplier_sim_options o{id + "-key", id + "-secret", id + "-store", "succeed", 100, 1500};
    o.slow_answer_ms = 200;
    o.seed = mix64(seed + i) | 1;  // never 0, which would mean "random"
    o.mix = mixes[i];
    sims.push_back(std::make_unique<supplier_sim_process>(o));
  }
  return sims;
}

std::vector<json::object> supplier_channels(
    const std::vector<std::unique_ptr<supplier_sim_process>>& sims) {
  std::vector<json::object> channels;
  for (std::size_t i = 0; i < sims.size(); ++i) {
    auto ch = sims[i]->wikeyun_channel("up" + std::to_string(i), 0.96 + 0.01 * double(i));
    ch["timeout_ms"] = k_push_timeout.count();
    ch["unknown_grace_ms"] = k_unknown_grace.count();
    channels.push_back(std::move(ch));
  }
  return channels;
}

}  // namespace

topupd_config as_instance(topupd_config cfg, int id, int port) {
  auto& server = cfg.json["server"].as_object();
  const std::string listen = "127.0.0.1:" + std::to_string(port);
  server["listen"] = listen;
  server["public_url"] = "http://" + listen;
  server["instance_id"] = id;
  return cfg;
}

fault_world::fault_world(std::uint64_t seed, const std::vector<std::string>& mixes,
                         redis_server_options redis_options, config_edit edit)
    : redis(std::move(redis_options)),
      sims(start_suppliers(mixes, seed)),
      channels(supplier_channels(sims)),
      edit_(std::move(edit)) {
  port = start_credited(server, [&](int p) {
    port = p;
    return config(2);
  });
}

topupd_config fault_world::config(unsigned threads) const {
  auto cfg = fault_config(port, redis.port(), threads, channels);
  if (edit_) edit_(cfg);
  return cfg;
}

void fault_world::expect_every_promise_kept(order_load& load, const callback_rules& rules,
                                            std::size_t min_orders) {
  load.stop();
  const auto acked = load.acknowledged();
  if (acked.size() < min_orders) {
    ADD_FAILURE() << "only " << acked.size() << " orders acknowledged under load; "
                  << load.transport_errors()
                  << " transport errors; last refusal: " << load.last_refusal() << "\ntopupd log:\n"
                  << server.log_tail();
    return;
  }
  const auto status = expect_books_balanced(port, acked);
  expect_called_back(port, merchant, status, rules);
  expect_supplier_books(sims, status);
  expect_audit_clean(server);
  EXPECT_TRUE(server.running()) << "topupd died:\n" << server.log_tail();
}

// ---- load -------------------------------------------------------------------------------------

order_load::order_load(int port, notify_choice notify_url, int threads,
                       std::chrono::milliseconds pause)
    : port_(port), notify_url_(std::move(notify_url)), pause_(pause) {
  for (int t = 0; t < threads; ++t) threads_.emplace_back([this, t] { run(t); });
}

order_load::~order_load() { stop(); }

void order_load::stop() {
  stop_ = true;
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

acked_orders order_load::acknowledged() const {
  std::lock_guard lock(mutex_);
  return acked_;
}

std::string order_load::last_refusal() const {
  std::lock_guard lock(mutex_);
  return last_refusal_;
}

void order_load::run(int t) {
  static const char* k_mobiles[] = {"13800138000", "18612345678", "13312345678", "19212345678"};
  for (int i = 0; !stop_; ++i) {
    const std::string order_no = "f" + std::to_string(t) + "-" + std::to_string(i);
    const std::string notify_url = notify_url_(t, i);
    // Keep asking for this order_no until the answer is definite: a lost answer may hide an
    // accepted order, which the idempotent repeat then returns.
    for (int attempt = 0; attempt < 400; ++attempt) {
      try {
        merchant_client m(port_, "k1", k_secret);
        auto a = m.push(order_no, k_mobiles[i % 4], k_money, {{"notify_url", notify_url}});
        if (a.code == "0000") {
          std::lock_guard lock(mutex_);
          acked_[order_no] = {a.data.at("order_number").as_string().c_str(), notify_url};
          break;
        }
        if (a.code != "5000" && a.code != "5002" && a.code != "1008") {  // a definite refusal
          std::lock_guard lock(mutex_);
          last_refusal_ = a.raw.empty() ? "HTTP " + std::to_string(a.http_status) : a.raw;
          break;
        }
      } catch (const std::exception&) {
        ++errors_;
      }
      std::this_thread::sleep_for(50ms);
      if (stop_ && attempt > 200) break;
    }
    if (pause_.count() > 0) std::this_thread::sleep_for(pause_);
  }
}

// ---- the books --------------------------------------------------------------------------------

order_statuses expect_books_balanced(int port, const acked_orders& acked) {
  const auto deadline = clock_type::now() + 90s;
  order_statuses orders;
  for (;;) {
    orders = all_orders(port);
    const bool final =
        std::all_of(orders.begin(), orders.end(), [](const auto& o) { return is_final(o.second); });
    if (final || clock_type::now() > deadline) break;
    std::this_thread::sleep_for(300ms);
  }
  for (const auto& [order_no, order] : acked)
    EXPECT_TRUE(orders.contains(order.number)) << "acknowledged order missing: " << order_no;
  long long delivered = 0;
  for (const auto& [number, s] : orders) {
    EXPECT_TRUE(is_final(s)) << number << " ended in " << s;
    if (s == "2") ++delivered;
  }
  merchant_client m(port, "k1", k_secret);
  // Refunded orders cost nothing in the end.
  EXPECT_EQ(m.balance_fen(), k_credit_fen - delivered * k_cost_fen)
      << delivered << " of " << orders.size() << " orders delivered";
  return orders;
}

// ---- merchant callbacks -----------------------------------------------------------------------

namespace {

/// The deliveries of each order (by the order_number they carry), oldest first.
std::map<std::string, std::vector<received_callback>> by_order(const callback_receiver& r) {
  std::map<std::string, std::vector<received_callback>> out;
  for (auto& d : r.all()) out[d.param("order_number").value_or("<none>")].push_back(std::move(d));
  return out;
}

/// Whether the order's deliveries have reached the end `rules` expect of them.
bool reached_end(const std::vector<received_callback>& got, const callback_rules& rules) {
  if (got.empty()) return false;
  if (rules.end_of(got.front().tag) == callback_end::acknowledged)
    return std::any_of(got.begin(), got.end(), [](const auto& d) { return d.acknowledged; });
  return true;  // the give-up shows in topupd's record (cb_status), waited for below
}

}  // namespace

void expect_called_back(int port, const callback_receiver& receiver, const order_statuses& status,
                        const callback_rules& rules) {
  const auto deadline = clock_type::now() + rules.within;
  std::map<std::string, std::vector<received_callback>> got;
  for (;;) {
    got = by_order(receiver);
    const bool done = std::all_of(status.begin(), status.end(), [&](const auto& o) {
      const auto it = got.find(o.first);
      return it != got.end() && reached_end(it->second, rules);
    });
    if (done || clock_type::now() > deadline) break;
    std::this_thread::sleep_for(200ms);
  }
  // topupd's own record of each order's callback, once it has stopped changing (after a crash
  // the record of an acknowledged delivery may be lost and the delivery made again).
  std::map<std::string, shown_order> shown;
  for (const auto& [number, final_status] : status) {
    for (;;) {
      shown[number] = admin_order(port, k_admin_token, number);
      if (shown[number].cb_status != "pending" || clock_type::now() > deadline) break;
      std::this_thread::sleep_for(200ms);
    }
  }
  // A last delivery may still be on its way; give it the time a callback timeout takes, so
  // that "no delivery after the acknowledged one" sees it.
  std::this_thread::sleep_for(1500ms);
  got = by_order(receiver);

  for (const auto& [number, deliveries] : got)
    EXPECT_TRUE(status.contains(number))
        << "a callback for an order topupd does not list: " << number;
  std::size_t acknowledged = 0;
  std::size_t given_up = 0;
  std::size_t never_sent = 0;
  std::size_t lost_acks = 0;
  for (const auto& [number, final_status] : status) {
    const auto it = got.find(number);
    if (it == got.end()) {
      ADD_FAILURE() << "no callback for " << number << " (status " << final_status << ")";
      continue;
    }
    const auto& deliveries = it->second;
    const auto& record = shown[number];
    SCOPED_TRACE("order " + number + " tag " + deliveries.front().tag + ": " + record.raw);
    for (const auto& d : deliveries) {
      EXPECT_EQ(d.param("status").value_or("<none>"), final_status) << d.body;
      EXPECT_TRUE(d.signed_with(k_secret)) << d.body;
      EXPECT_EQ(d.tag, deliveries.front().tag);
    }
    const auto first_ack = std::find_if(deliveries.begin(), deliveries.end(),
                                        [](const auto& d) { return d.acknowledged; });
    if (rules.end_of(deliveries.front().tag) == callback_end::acknowledged) {
      ++acknowledged;
      if (first_ack == deliveries.end()) {
        ADD_FAILURE() << deliveries.size() << " deliveries, none acknowledged";
        continue;
      }
      EXPECT_EQ(record.cb_status, "delivered");
      EXPECT_TRUE(!record.callbacks.empty() && record.callbacks.back().delivered);
      EXPECT_EQ(std::count_if(record.callbacks.begin(), record.callbacks.end(),
                              [](const auto& a) { return a.delivered; }),
                1);
      if (!rules.repeats_after_ack) {
        // Without crashes every delivery is recorded, and nothing follows the one topupd saw
        // acknowledged. An earlier acknowledgement may have been lost to topupd's timeout (the
        // wait for a pooled connection counts), which then records no HTTP answer: at-least-once.
        EXPECT_LE(deliveries.size(), record.callbacks.size());
        EXPECT_TRUE(deliveries.back().acknowledged) << "delivered again after the acknowledged one";
        const auto acks = std::count_if(deliveries.begin(), deliveries.end(),
                                        [](const auto& d) { return d.acknowledged; });
        const auto unanswered = std::count_if(record.callbacks.begin(), record.callbacks.end(),
                                              [](const auto& a) { return a.http_status == 0; });
        EXPECT_LE(acks - 1, unanswered) << "delivered again after an acknowledgement topupd read";
        lost_acks += static_cast<std::size_t>(acks - 1);
      }
    } else {
      ++given_up;
      EXPECT_EQ(first_ack, deliveries.end()) << "acknowledged on a never-acknowledging endpoint";
      EXPECT_EQ(record.cb_status, "failed");
      EXPECT_EQ(record.callbacks.size(), rules.max_attempts);
      for (const auto& a : record.callbacks) EXPECT_FALSE(a.delivered);
      // An attempt may end before its request leaves: topupd's pool of connections to one
      // host is bounded, and while hanging deliveries hold it, a queued one times out. It
      // still counts as an attempt (the callback timeout covers the wait); so the endpoint
      // sees at most max_attempts deliveries, and at least every one that got an answer.
      const auto answered = std::count_if(record.callbacks.begin(), record.callbacks.end(),
                                          [](const auto& a) { return a.http_status > 0; });
      never_sent += rules.max_attempts - std::min(deliveries.size(), rules.max_attempts);
      EXPECT_GE(deliveries.size(), static_cast<std::size_t>(answered));
      if (!rules.repeats_after_ack) {
        EXPECT_LE(deliveries.size(), rules.max_attempts);
      }
    }
  }
  std::cout << "[ CALLBACK ] " << receiver.total() << " deliveries: " << acknowledged
            << " orders acknowledged (" << lost_acks << " acknowledgements lost to a timeout), "
            << given_up << " given up (" << never_sent
            << " of their attempts never reached the endpoint)" << std::endl;
}

// ---- the suppliers' books ---------------------------------------------------------------------

namespace {

/// An attempt answered in a way that says nothing about whether it was placed.
bool unknown_answer(const std::string& mode) {
  return mode == "http500" || mode == "timeout_lost" || mode == "bad_json";
}

std::string describe(const std::vector<std::pair<std::string, supplier_push>>& attempts) {
  std::string out;
  for (const auto& [sim, p] : attempts) {
    out += "\n  " + sim + " " + p.order_no + " mode=" + p.mode +
           (p.placed ? " placed status=" + std::to_string(p.status) : " unplaced") +
           " pushed_at_ms=" + std::to_string(p.pushed_at_ms) +
           " finished_at_ms=" + std::to_string(p.finished_at_ms);
  }
  return out;
}

}  // namespace

void expect_supplier_books(const std::vector<std::unique_ptr<supplier_sim_process>>& sims,
                           const order_statuses& status) {
  // topupd counts the grace from the moment it matched the order; the push may reach the
  // supplier up to the push timeout later (it may wait for a pooled connection). Allow that
  // much: a failover on the unknown answer itself (at once for a 5xx or bad JSON, after the
  // timeout for a lost push) still comes far too early.
  constexpr std::int64_t k_receipt_slack_ms = k_push_timeout.count();
  static_assert(k_push_timeout * 2 < k_unknown_grace);
  std::map<std::string, std::vector<std::pair<std::string, supplier_push>>> attempts;
  std::map<std::string, std::size_t> modes;
  std::string per_supplier;
  for (std::size_t i = 0; i < sims.size(); ++i) {
    const auto pushes = sims[i]->orders();
    per_supplier += " up" + std::to_string(i) + "=" + std::to_string(pushes.size());
    for (auto p : pushes) {
      ++modes[p.mode];
      attempts[p.order_number].emplace_back("up" + std::to_string(i), std::move(p));
    }
  }
  std::size_t delivered_total = 0;
  for (auto& [number, list] : attempts) {
    std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) {
      return a.second.pushed_at_ms < b.second.pushed_at_ms;
    });
    const auto it = status.find(number);
    if (it == status.end()) {
      ADD_FAILURE() << "a supplier saw an order topupd does not list: " << number << describe(list);
      continue;
    }
    SCOPED_TRACE("order " + number + " status " + it->second + describe(list));
    const auto delivered = std::count_if(list.begin(), list.end(), [](const auto& a) {
      return a.second.placed && a.second.status == 2;
    });
    delivered_total += static_cast<std::size_t>(delivered);
    EXPECT_LE(delivered, 1) << "delivered more than once";
    EXPECT_EQ(delivered, it->second == "2" ? 1 : 0)
        << "topupd's status disagrees with the supplier";
    for (std::size_t k = 0; k < list.size(); ++k) {
      const auto& a = list[k].second;
      if (a.placed) {
        EXPECT_TRUE(a.status == 2 || a.status == 4) << a.order_no << " never settled";
      }
      if (k + 1 == list.size()) continue;
      const auto& next = list[k + 1].second;
      if (a.placed) {
        EXPECT_NE(a.status, 2) << "pushed again after " << a.order_no << " was delivered";
        EXPECT_GE(next.pushed_at_ms, a.finished_at_ms)
            << next.order_no << " pushed while " << a.order_no << " was still running";
      } else if (unknown_answer(a.mode)) {
        EXPECT_GE(next.pushed_at_ms + k_receipt_slack_ms, a.pushed_at_ms + k_unknown_grace.count())
            << next.order_no << " pushed before " << a.order_no
            << " (unknown answer) could count as never placed";
      }
    }
  }
  std::string seen;
  for (const auto& [mode, n] : modes) seen += " " + mode + "=" + std::to_string(n);
  std::cout << "[ SUPPLIER ] " << attempts.size() << " orders reached a supplier, "
            << delivered_total << " delivered; attempts by supplier:" << per_supplier
            << "; by mode:" << seen << std::endl;
}

void expect_audit_clean(const topupd_process& server) {
  auto [code, output] = run_topupd({"audit", "--config", server.config_path()});
  EXPECT_EQ(code, 0) << output;
}

}  // namespace topup::test::fault
