// End-to-end: the monitoring kit (deploy/monitoring, issue 18) against the real binary. Every
// topup_* series the Grafana dashboard and the Prometheus alert rules name must be in a real
// /metrics scrape (a renamed metric would leave a panel empty and an alert silent), and the
// instance gauges the alerts watch are updated: the lease held, the callback backlog.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <chrono>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>

#include "tests/support/http_client.hpp"
#include "tests/support/merchant_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/topupd_process.hpp"
#include "tests/support/topupd_suite.hpp"

namespace topup::test {
namespace {

using namespace std::chrono_literals;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string kit_file(const std::string& name) {
  return std::string(TOPUP_SOURCE_DIR) + "/deploy/monitoring/" + name;
}

/// The topup_* names a text mentions (PromQL in the dashboard's targets, the rules' exprs).
std::set<std::string> metric_names_in(const std::string& text) {
  static const std::regex name(R"(\btopup_[a-z0-9_]+)");
  std::set<std::string> out;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), name); it != std::sregex_iterator();
       ++it)
    out.insert(it->str());
  return out;
}

/// The PromQL of the dashboard: every "expr" (panel targets) and the variables' "definition".
void dashboard_queries(const boost::json::value& v, std::string& out) {
  if (v.is_array()) {
    for (const auto& e : v.as_array()) dashboard_queries(e, out);
  } else if (v.is_object()) {
    for (const auto& [key, value] : v.as_object()) {
      if ((key == "expr" || key == "definition") && value.is_string())
        out.append(value.as_string().c_str()).append("\n");
      else
        dashboard_queries(value, out);
    }
  }
}

/// The PromQL of a rule file: each `expr:` value, on its line or as the block below it.
std::string rule_queries(const std::string& rules) {
  std::string out;
  std::istringstream lines(rules);
  std::size_t block_indent = std::string::npos;  // inside an `expr: |` block: its key's indent
  for (std::string line; std::getline(lines, line);) {
    const std::size_t indent = line.find_first_not_of(' ');
    if (block_indent != std::string::npos) {
      if (indent != std::string::npos && indent > block_indent) {
        out += line + "\n";
        continue;
      }
      block_indent = std::string::npos;
    }
    if (indent == std::string::npos || line.compare(indent, 5, "expr:") != 0) continue;
    const std::string value = line.substr(indent + 5);
    const std::size_t first = value.find_first_not_of(' ');
    // A block scalar (`|`, `>`, with their modifiers): the expression is on the lines below.
    if (first != std::string::npos && (value[first] == '|' || value[first] == '>'))
      block_indent = indent;
    else
      out += value + "\n";
  }
  return out;
}

/// The series names of a Prometheus text exposition (histograms as their _bucket/_sum/_count).
std::set<std::string> exposed_series(const std::string& exposition) {
  std::set<std::string> out;
  std::istringstream lines(exposition);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    out.insert(line.substr(0, line.find_first_of("{ ")));
  }
  return out;
}

/// The metric families of an exposition (a histogram's own name, without _bucket ...).
std::set<std::string> exposed_families(const std::string& exposition) {
  std::set<std::string> out;
  std::istringstream lines(exposition);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# TYPE ", 0) != 0) continue;
    const std::string rest = line.substr(7);
    out.insert(rest.substr(0, rest.find(' ')));
  }
  return out;
}

/// The value of one series line `series` ("name" or "name{labels}"), or "" if absent.
std::string value_of(const std::string& exposition, const std::string& series) {
  std::istringstream lines(exposition);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind(series + " ", 0) == 0) return line.substr(series.size() + 1);
  return {};
}

class Monitoring : public shared_topupd_suite<Monitoring> {
 protected:
  static void SetUpTestSuite() {
    start_suite([](int port, int redis_port) { return topupd_config(port, redis_port, 2); });
  }
  std::string scrape() {
    auto r = http_client(port_).get("/metrics");
    EXPECT_EQ(r.status, 200u);
    return r.body;
  }
};

TEST_F(Monitoring, EveryMetricTheDashboardAndTheAlertsNameIsExposed) {
  const std::string dashboard = read_file(kit_file("topupd-dashboard.json"));
  const std::string alerts = read_file(kit_file("topupd-alerts.yml"));
  ASSERT_FALSE(dashboard.empty()) << kit_file("topupd-dashboard.json");
  ASSERT_FALSE(alerts.empty()) << kit_file("topupd-alerts.yml");
  boost::system::error_code ec;
  const auto parsed = boost::json::parse(dashboard, ec);
  ASSERT_FALSE(ec) << "the dashboard is not JSON: " << ec.message();
  std::string dashboard_promql;
  dashboard_queries(parsed, dashboard_promql);

  const std::string text = scrape();
  const auto series = exposed_series(text);
  const auto families = exposed_families(text);
  const auto queried_by_dashboard = metric_names_in(dashboard_promql);
  const auto queried_by_alerts = metric_names_in(rule_queries(alerts));
  // Not vacuous: the files query the figures the issue asks for.
  EXPECT_GE(queried_by_dashboard.size(), 20u);
  for (const char* needed : {"topup_intake_errors_total", "topup_redis_command_seconds_bucket",
                             "topup_channel_breaker_open", "topup_callbacks_owed",
                             "topup_exception_queue_size", "topup_lease_held"})
    EXPECT_TRUE(queried_by_alerts.contains(needed)) << "no alert on " << needed;
  // A query needs the very series (a histogram's _bucket, _sum or _count).
  for (const auto& name : queried_by_dashboard)
    EXPECT_TRUE(series.contains(name)) << "the dashboard queries " << name << ", /metrics has none";
  for (const auto& name : queried_by_alerts)
    EXPECT_TRUE(series.contains(name)) << "an alert queries " << name << ", /metrics has none";
  // Prose (descriptions, annotations, comments) may name a family.
  for (const auto& name : metric_names_in(dashboard + alerts))
    EXPECT_TRUE(series.contains(name) || families.contains(name))
        << "the kit names " << name << ", /metrics has no such metric";
}

TEST_F(Monitoring, TheRunningInstanceSaysItHoldsItsLeaseAndShowsItsChannels) {
  const std::string text = scrape();
  EXPECT_EQ(value_of(text, "topup_lease_held"), "1");
  EXPECT_EQ(value_of(text, "topup_channel_breaker_open{channel=\"sim1\",shard=\"0\"}"), "0");
  EXPECT_EQ(value_of(text, "topup_channel_breaker_open{channel=\"sim1\",shard=\"1\"}"), "0");
  EXPECT_EQ(value_of(text, "topup_channel_in_flight{channel=\"sim1\"}"), "0");
  EXPECT_EQ(value_of(text, "topup_channel_max_inflight{channel=\"sim1\"}"), "1000");
}

TEST_F(Monitoring, ACallbackNobodyAcknowledgesIsCountedAsOwed) {
  // Nothing listens there: every delivery fails and the callback stays owed, backing off.
  const int closed_port = free_loopback_port();
  http_client admin(port_);
  auto credited = admin_credit_when_ready(admin, "test-admin-token", 1001, "100", "mon-credit");
  ASSERT_EQ(credited.code, "0000") << credited.raw;
  merchant_client m(port_, "k1", "s3cret");
  auto a = m.push("mon-cb-1", "13800138000", 10,
                  {{"notify_url", "http://127.0.0.1:" + std::to_string(closed_port) + "/cb"}});
  ASSERT_EQ(a.code, "0000") << a.raw;
  // Sampled by shard 0 every 15 s (backlog_sampler::k_interval).
  const auto deadline = std::chrono::steady_clock::now() + 40s;
  std::string owed;
  while (std::chrono::steady_clock::now() < deadline) {
    owed = value_of(scrape(), "topup_callbacks_owed");
    if (owed == "1") break;
    std::this_thread::sleep_for(250ms);
  }
  EXPECT_EQ(owed, "1") << "the callback backlog gauge never showed the owed callback";
}

}  // namespace
}  // namespace topup::test
