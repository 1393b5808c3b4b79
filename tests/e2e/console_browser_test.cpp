// The operations console (GET /admin/) in a real browser: Debian's headless Chromium, driven by
// tests/browser/console_check.mjs (playwright-core from npm, pointed at /usr/bin/chromium).
// The scenario is made here on the real binary: orders on sim1 (they succeed), two orders on a
// channel whose supplier never answers (both enter the exception queue), and the browser must
// show those figures, list both, settle one as failed through the UI and see it leave the
// queue. Then the engine is checked: that order refunded exactly once, its callback delivered,
// the event recording who settled it and with what evidence, the other order still listed.
// Screenshots (Chinese and English) are saved under the test's output directory.
//
// Skipped, saying why, only where Chromium or the npm driver is missing (deploy/run-tests.sh
// installs both).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "tests/support/admin_order_view.hpp"
#include "tests/support/callback_receiver.hpp"
#include "tests/support/merchant_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/topupd_process.hpp"
#include "tests/support/topupd_suite.hpp"

namespace {

using namespace topup::test;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace http = boost::beast::http;
namespace fs = std::filesystem;

constexpr const char* k_chromium = "/usr/bin/chromium";
constexpr long long k_cost_fen = 4975;  // 50 yuan at merchant 1001's 0.995

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class ConsoleBrowser : public shared_topupd_suite<ConsoleBrowser> {
 protected:
  static void SetUpTestSuite() {
    receiver_ = std::make_unique<callback_receiver>();
    start_suite([](int port, int redis_port) {
      topupd_config cfg(port, redis_port, 2);
      cfg.json["admin"].as_object()["operators"] = json::array{
          json::object{{"name", "console-op"}, {"token", "tok-console"}, {"role", "operator"}}};
      cfg.json["callbacks"] = json::object{{"allow_private_targets", true}};
      cfg.add_unanswered_channel("dead1", 1);
      return cfg;
    });
  }
  static void TearDownTestSuite() {
    shared_topupd_suite<ConsoleBrowser>::TearDownTestSuite();
    receiver_.reset();
  }
  static inline std::unique_ptr<callback_receiver> receiver_;
};

TEST_F(ConsoleBrowser, OperatorSeesFiguresAndSettlesAnOrderFromTheQueue) {
  const std::string driver = TOPUP_SOURCE_DIR "/tests/browser/console_check.mjs";
  if (!fs::exists(k_chromium))
    GTEST_SKIP() << "Chromium is missing (" << k_chromium
                 << "): deploy/install-deps.sh installs Debian's chromium package";
  if (!fs::exists(TOPUP_SOURCE_DIR "/tests/browser/node_modules/playwright-core"))
    GTEST_SKIP() << "the browser driver is missing: run `npm ci --prefix tests/browser` "
                    "(deploy/run-tests.sh does)";

  http_client admin(port_);
  const auto credited = admin_credit_when_ready(admin, "test-admin-token", 1001, "1000", "console-grant");
  ASSERT_EQ(credited.code, "0000") << credited.raw;
  merchant_client m(port_, "k1", "s3cret");
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(m.push("console-ok-" + std::to_string(i), "13800138000", 50).code, "0000");
  auto stuck = [&](const std::string& order_no) {
    auto a = m.push(order_no, "13800138000", 50,
                    {{"source", "dead1"}, {"notify_url", receiver_->url(order_no)}});
    EXPECT_EQ(a.code, "0000") << a.raw;
    return json_text(a.data, "order_number");
  };
  const std::string settled = stuck("console-settle");
  const std::string kept = stuck("console-kept");
  const long long before = m.balance_fen();

  // Both listed before the browser looks (unknown_max_s 1, a query or two later).
  auto listed = [&](const std::string& number) {
    auto a = admin_call(port_, http::verb::get, "/admin/exceptions", "", "tok-console");
    return a.raw.find(number) != std::string::npos;
  };
  for (int i = 0; i < 100 && !(listed(settled) && listed(kept)); ++i) std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(listed(settled) && listed(kept));

  const std::string out_dir = make_temp_dir("console-browser");
  const std::string log = out_dir + "/console_check.log";
  child_process browser({"/usr/bin/env",
                         "CONSOLE_URL=http://127.0.0.1:" + std::to_string(port_) + "/admin/",
                         "CONSOLE_TOKEN=tok-console", "EXPECT_ACCEPTED=5",
                         "EXPECT_LISTED=" + settled + "," + kept, "SETTLE=" + settled,
                         "EVIDENCE=ticket-4711 供应商确认未到账", "SCREENSHOT_DIR=" + out_dir,
                         "node", driver},
                        log);
  const auto exit = browser.wait_exit(120s);
  const std::string output = read_file(log);
  ASSERT_TRUE(exit.has_value()) << "the browser run did not end in 120 s:\n" << output;
  ASSERT_EQ(*exit, 0) << output;
  EXPECT_GT(fs::file_size(out_dir + "/console-zh.png"), 10'000u) << output;
  EXPECT_GT(fs::file_size(out_dir + "/console-en.png"), 10'000u) << output;
  std::cout << output << "screenshots: " << out_dir << "\n";

  // What the click did, seen from the engine: refunded once, called back, recorded by name.
  EXPECT_EQ(json_text(m.query(settled).data, "status"), "4");
  EXPECT_EQ(m.balance_fen(), before + k_cost_fen);
  EXPECT_GE(receiver_->wait_for("console-settle", 1, 10s), 1u) << "no callback for the settled order";
  const auto view = admin_call(port_, http::verb::get, "/admin/orders/" + settled, "", "tok-console");
  EXPECT_NE(view.raw.find("console-op"), std::string::npos) << view.raw;
  EXPECT_NE(view.raw.find("ticket-4711"), std::string::npos) << view.raw;
  EXPECT_FALSE(listed(settled));
  EXPECT_TRUE(listed(kept));
  EXPECT_EQ(json_text(m.query(kept).data, "status"), "1");
}

}  // namespace
