// End-to-end: channels and routing (issue "Channels and routing: supplier adapters, failover, no
// double top-up"). topupd runs with two `wikeyun` channels, `up1` (cost_rate 0.97, tried first)
// and `up2` (0.98), each pointing at its own supplier simulator (tests/supplier_sim). Every test
// checks what a merchant and a supplier would notice: the order's final status by query, the
// merchant's balance by User/query, and the deliveries the simulators counted per topupd order
// number — at most one over both simulators, and exactly one when the order succeeded.
//
// Redis and the two simulators are shared by the suite (each test flushes Redis and sets the
// simulators' modes); every test starts its own topupd, so channel health (circuit breakers)
// and balances never leak from one test into the next.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "engine/config/sign_method.hpp"
#include "protocol/form.hpp"
#include "protocol/signing.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/merchant_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/supplier_sim_process.hpp"
#include "tests/support/topupd_process.hpp"

namespace topup::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

constexpr std::int64_t k_merchant = 1001;        // k1 / s3cret, price_rate 0.995
constexpr const char* k_mobile = "13800138000";  // cmcc
constexpr long long k_credit_fen = 1'000'000;    // 10000.00 yuan granted at each start
constexpr unsigned k_shards = 2;

/// money x 0.995 in fen, half up (exact for 50 and 100).
long long cost_fen(int money) { return (static_cast<long long>(money) * 100 * 995 + 500) / 1000; }

std::string text(const json::value& data, std::string_view key) {
  if (!data.is_object()) return {};
  const auto* v = data.as_object().if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::string trimmed(std::string s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

std::string now_s() {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count());
}

/// A supplier's result callback (spec §5 fields) about topupd's attempt `attempt_id`, MD5-signed
/// with `secret`.
std::string supplier_callback(const std::string& attempt_id, const std::string& status,
                              const std::string& secret) {
  protocol::form_params form;
  form.insert("order_no", attempt_id);
  form.insert("order_number", "S424242N1");
  form.insert("status", status);
  form.insert("amount", "100");
  form.insert("mobile", k_mobile);
  form.insert("timestamp", now_s());
  form.insert("sign", protocol::sign_params(form, engine::sign_method::md5, secret));
  return protocol::form_encode(form);
}

/// Polls Recharge/query until the order is final (2 or 4) or `limit` passes; the last answer.
api_answer wait_final(merchant_client& m, const std::string& number,
                      std::chrono::milliseconds limit = 15s) {
  api_answer a;
  const auto deadline = clock_type::now() + limit;
  while (clock_type::now() < deadline) {
    a = m.query(number);
    const auto status = text(a.data, "status");
    if (a.code == "0000" && (status == "2" || status == "4")) return a;
    std::this_thread::sleep_for(20ms);
  }
  return a;
}

/// GET /admin/orders/<number> (attempts included), for failure messages.
std::string admin_record(int port, const std::string& number) {
  http_client http(port);
  return admin_get(http, "test-admin-token", "/admin/orders/" + number).raw;
}

/// One order a test placed and what it expects of it.
struct expected_order {
  std::string order_no;
  std::string number;  // topupd's order_number
  int money = 100;
  std::string status;        // final status expected: "2" or "4"
  std::string delivered_by;  // the simulator (by name) expected to deliver it; "" for none
};

/// A simulator under the name the expectations use.
using named_sims = std::vector<std::pair<std::string, supplier_sim_process*>>;

class Channels : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    redis_ = std::make_unique<redis_server>();
    // up1 answers timeout_placed pushes after 2 s, well past the channel's 500 ms timeout.
    up1_ = std::make_unique<supplier_sim_process>(
        supplier_sim_options{"up1-key", "up1-secret", "up1-store", "succeed", 100, 2000});
    up2_ = std::make_unique<supplier_sim_process>(
        supplier_sim_options{"up2-key", "up2-secret", "up2-store", "succeed", 100, 2000});
  }
  static void TearDownTestSuite() {
    up1_.reset();
    up2_.reset();
    redis_.reset();
  }

  void SetUp() override {
    ASSERT_TRUE(redis_ && up1_ && up2_) << "suite fixtures did not start";
    redis_->flushall();
    up1_->set_mode("succeed");
    up2_->set_mode("succeed");
  }

  /// The test configuration with `channels` instead of the default `sim1`, on Redis prefix
  /// `prefix`.
  static topupd_config config_for(int port, const std::string& prefix,
                                  const std::vector<json::object>& channels) {
    topupd_config cfg(port, redis_->port(), k_shards);
    cfg.json["redis"].as_object()["prefix"] = prefix;
    json::array list;
    for (const auto& ch : channels) list.push_back(ch);
    cfg.json["channels"] = std::move(list);
    return cfg;
  }

  static std::vector<json::object> two_channels() {
    return {up1_->wikeyun_channel("up1", 0.97), up2_->wikeyun_channel("up2", 0.98)};
  }

  /// Starts `p` on a free port with `channels`, credits merchant 1001 and returns the config
  /// it runs with (for a restart).
  topupd_config start_topupd(topupd_process& p, const std::vector<json::object>& channels,
                             const std::string& prefix = "ch") {
    const int port = start_on_free_port(
        p, [&](int candidate) { return config_for(candidate, prefix, channels); });
    auto cfg = config_for(port, prefix, channels);
    http_client admin(port);
    // /healthz answers before every shard's Redis connection is up; 5000 means "retry" and a
    // repeated ref is applied once.
    const auto credited = admin_credit_when_ready(admin, cfg.admin_token(), k_merchant, "10000",
                                                  "grant-" + prefix);
    EXPECT_EQ(credited.code, "0000") << credited.raw;
    return cfg;
  }

  /// pushOrder on a fresh connection (a fresh connection may land on another shard); the order
  /// number, or "" (with a test failure) when it was not accepted.
  static std::string push(int port, const std::string& order_no, int money,
                          std::map<std::string, std::string> extra = {}) {
    merchant_client m(port, "k1", "s3cret");
    // 5000 (a shard's Redis connection not up yet, just after start): the same push again is
    // idempotent, as spec §1 says.
    api_answer a;
    const auto deadline = clock_type::now() + 5s;
    do {
      a = m.push(order_no, k_mobile, money, extra);
      if (a.code != "5000" && a.code != "5002") break;
      std::this_thread::sleep_for(20ms);
    } while (clock_type::now() < deadline);
    EXPECT_EQ(a.code, "0000") << order_no << ": " << a.raw;
    return text(a.data, "order_number");
  }

  /// Pushes `count` orders "<prefix>-<i>" (money 100, `extra`), each on a fresh connection,
  /// going on (up to 40 pushes) until every shard has accepted at least one, so a behaviour
  /// that holds on one shard only cannot pass.
  /// POST to an admin endpoint with `bearer` as the token (none when empty).
  static api_answer post_admin(int port, const std::string& target, const std::string& bearer) {
    http_client admin(port);
    return merchant_client::parse(
        admin.request(http::verb::post, target, {}, "application/x-www-form-urlencoded",
                      bearer.empty() ? std::string() : "Bearer " + bearer));
  }

  static std::vector<expected_order> push_on_every_shard(
      int port, const std::string& prefix, std::size_t count, const std::string& status,
      const std::string& delivered_by, std::map<std::string, std::string> extra = {}) {
    std::vector<expected_order> out;
    std::set<int> shards;
    for (int i = 0; i < 40 && (out.size() < count || shards.size() < k_shards); ++i) {
      expected_order e{prefix + "-" + std::to_string(i), "", 100, status, delivered_by};
      e.number = push(port, e.order_no, e.money, extra);
      if (e.number.empty()) break;
      shards.insert(order_number_shard(e.number));
      out.push_back(std::move(e));
    }
    EXPECT_EQ(shards.size(), k_shards) << prefix << ": orders did not reach every shard";
    return out;
  }

  /// Waits for every order to be final and checks, for each: its status; its deliveries at the
  /// simulators (sum <= 1, == 1 exactly when status is 2, at the expected one); then the
  /// merchant's balance (credit minus the cost of every order not refunded).
  static void expect_settled(int port, const std::vector<expected_order>& orders,
                             const named_sims& sims) {
    merchant_client m(port, "k1", "s3cret");
    std::map<std::string, std::string> final_status;
    for (const auto& o : orders) {
      auto a = wait_final(m, o.number);
      const auto status = text(a.data, "status");
      final_status[o.number] = status;
      EXPECT_EQ(status, o.status) << o.order_no << " (" << o.number << "): " << a.raw
                                  << "\nadmin record: " << admin_record(port, o.number);
      if (status == "4") {
        // topupd's own words from a fixed set, never a supplier's code or message (spec §3.2).
        static const std::set<std::string> k_reasons = {"充值失败", "号码异常", "超时未到账",
                                                        "商户撤单", "无可用通道", "运营商维护"};
        EXPECT_TRUE(k_reasons.contains(text(a.data, "reason"))) << o.order_no << ": " << a.raw;
      } else if (status == "2") {
        EXPECT_EQ(text(a.data, "reason"), "") << o.order_no << ": " << a.raw;
      }
    }
    // Longer than the simulators' callback delay: a placement made late (a re-send) would have
    // become a delivery by now.
    std::this_thread::sleep_for(300ms);
    std::vector<json::object> stats;
    for (const auto& [name, sim] : sims) stats.push_back(sim->stats());
    for (const auto& o : orders) {
      std::uint64_t total = 0;
      for (std::size_t i = 0; i < sims.size(); ++i) {
        const auto n = supplier_sim_process::deliveries(stats[i], o.number);
        total += n;
        EXPECT_EQ(n, sims[i].first == o.delivered_by ? 1u : 0u)
            << o.order_no << " (" << o.number << ") deliveries at " << sims[i].first;
      }
      EXPECT_LE(total, 1u) << o.order_no << " (" << o.number << ") delivered twice";
      EXPECT_EQ(total == 1, final_status[o.number] == "2")
          << o.order_no << " (" << o.number << ") status " << final_status[o.number] << " with "
          << total << " deliveries";
    }
    long long want = k_credit_fen;
    for (const auto& o : orders)
      if (final_status[o.number] != "4") want -= cost_fen(o.money);
    EXPECT_EQ(m.balance_fen(), want);
  }

  static named_sims both() { return {{"up1", up1_.get()}, {"up2", up2_.get()}}; }

  /// The matrix of one outcome at up1 (up2 succeeds): change 0/1 x source unset/"up1". A
  /// definite failure at up1 (`fails_over`) moves only the change=1, unpinned order to up2 and
  /// refunds the others; an unknown outcome whose order was placed succeeds at up1 in every
  /// combination. The placements each simulator must see are counted too (a re-send shows).
  void run_matrix(const std::string& up1_mode, bool fails_over, std::uint64_t up1_placements,
                  std::uint64_t up2_placements) {
    topupd_process topupd;
    start_topupd(topupd, two_channels());
    up1_->set_mode(up1_mode);
    const auto placed1 = up1_->placed();
    const auto placed2 = up2_->placed();

    struct combo {
      const char* change;
      bool pinned;
    };
    const combo combos[] = {{"1", false}, {"0", false}, {"1", true}, {"0", true}};
    std::vector<expected_order> orders;
    int index = 0;
    for (const auto& c : combos) {
      std::map<std::string, std::string> extra{{"change", c.change}};
      if (c.pinned) extra["source"] = "up1";
      expected_order e;
      e.order_no = up1_mode + "-change" + c.change + (c.pinned ? "-src-up1" : "-any");
      e.money = index++ % 2 == 0 ? 100 : 50;
      const bool may_fail_over = std::string(c.change) == "1" && !c.pinned;
      if (!fails_over) {
        e.status = "2";
        e.delivered_by = "up1";
      } else if (may_fail_over) {
        e.status = "2";
        e.delivered_by = "up2";
      } else {
        e.status = "4";
      }
      e.number = push(topupd.port(), e.order_no, e.money, extra);
      ASSERT_FALSE(e.number.empty());
      orders.push_back(std::move(e));
    }
    expect_settled(topupd.port(), orders, both());
    EXPECT_EQ(up1_->placed() - placed1, up1_placements) << "placements at up1";
    EXPECT_EQ(up2_->placed() - placed2, up2_placements) << "placements at up2";
    if (HasFailure()) ADD_FAILURE() << "topupd log tail:\n" << topupd.log_tail();
  }

  static inline std::unique_ptr<redis_server> redis_;
  static inline std::unique_ptr<supplier_sim_process> up1_;
  static inline std::unique_ptr<supplier_sim_process> up2_;
};

// ---- the failover matrix ----------------------------------------------------------------------

TEST_F(Channels, RefusalFailsOverWhenChangeAllows) {
  // A refused push is not placed: the change=1 unpinned order alone goes on to up2.
  run_matrix("refuse", true, 0, 1);
}

TEST_F(Channels, FailureFailsOverWhenChangeAllows) {
  // up1 takes all four, then reports them failed (4); only one may go on to up2.
  run_matrix("fail", true, 4, 1);
}

TEST_F(Channels, NeverPlacedFailsOverAfterGraceWhenChangeAllows) {
  // HTTP 500 is an unknown outcome: topupd asks up1 until its 3001 is older than the grace,
  // then concludes "never placed".
  run_matrix("http500", true, 0, 1);
}

TEST_F(Channels, UnknownButPlacedSucceedsAtFirstChannelNeverSentToSecond) {
  // The push answer comes after 2 s, past the 500 ms timeout: the outcome is unknown, the order
  // was placed, and the query finds it delivered. Nothing may reach up2, whatever change says.
  run_matrix("timeout_placed", false, 4, 0);
}

TEST_F(Channels, FailureCallbackRacingTheQueryIsNotAppliedToTheNextAttempt) {
  // up1 fails every order: its query and its callback both say 4 at about the same moment.
  // Asked every millisecond, topupd learns the failure by query and moves on to up2 while up1's
  // callback about the first attempt is still arriving; that late news belongs to attempt 1
  // and must not fail attempt 2 at up2 (which delivers: a refund then would pay twice).
  topupd_process topupd;
  auto up1 = up1_->wikeyun_channel("up1", 0.97);
  up1["query_interval_ms"] = 1;
  start_topupd(topupd, {up1, up2_->wikeyun_channel("up2", 0.98)});
  up1_->set_mode("fail");
  // Eight chances, pushed well within up1's 100 ms to fail them, so all race. (Were one pushed
  // after up1's circuit breaker tripped, it would go straight to up2: still 2 there.)
  std::vector<expected_order> orders;
  for (int i = 0; i < 8; ++i) {
    expected_order e{"race-" + std::to_string(i), "", 100, "2", "up2"};
    e.number = push(topupd.port(), e.order_no, e.money);
    ASSERT_FALSE(e.number.empty());
    orders.push_back(std::move(e));
  }
  expect_settled(topupd.port(), orders, both());
}

TEST_F(Channels, MalformedAnswerIsResolvedByQueryAtTheSameChannel) {
  topupd_process topupd;
  start_topupd(topupd, two_channels());
  up1_->set_mode("malformed");
  const auto placed1 = up1_->placed();
  const auto placed2 = up2_->placed();
  std::vector<expected_order> orders;
  for (const char* change : {"1", "0"}) {
    expected_order e{std::string("malformed-change") + change, "", 100, "2", "up1"};
    e.number = push(topupd.port(), e.order_no, e.money, {{"change", change}});
    ASSERT_FALSE(e.number.empty());
    orders.push_back(std::move(e));
  }
  expect_settled(topupd.port(), orders, both());
  EXPECT_EQ(up1_->placed() - placed1, 2u);
  EXPECT_EQ(up2_->placed() - placed2, 0u) << "an order with an unknown outcome reached up2";
}

TEST_F(Channels, IntermediateCallbackStatusesNeverEndTheAttempt) {
  // up1 calls back "charging" (1) and statuses outside spec §4's finals (0, 6, 7, 9), each
  // signed right, while it is still delivering; then 2. Taken as a failure, change=1 would send
  // the order to up2 as well (two top-ups) and change=0 would refund a top-up that arrives.
  run_matrix("charging_callback", false, 4, 0);
}

TEST_F(Channels, CallbackOnAnotherChannelsEndpointNeverDecidesTheAttempt) {
  // up1 holds the attempts and answers only by query, asked rarely; meanwhile callbacks about
  // them arrive on /notify/up2, signed with up2's own (valid) secret.
  topupd_process topupd;
  auto up1 = up1_->wikeyun_channel("up1", 0.97);
  up1["query_interval_ms"] = 1500;
  start_topupd(topupd, {up1, up2_->wikeyun_channel("up2", 0.98)});
  up1_->set_mode("no_callback");
  std::vector<expected_order> orders;
  for (const char* change : {"1", "0"}) {
    expected_order e{std::string("cross-change") + change, "", 100, "2", "up1"};
    e.number = push(topupd.port(), e.order_no, e.money, {{"change", change}});
    ASSERT_FALSE(e.number.empty());
    orders.push_back(std::move(e));
  }
  http_client http(topupd.port());
  for (const auto& e : orders) {
    for (const char* status : {"4", "3", "2"}) {
      auto r = http.post("/notify/up2", supplier_callback(e.number + "-1", status, "up2-secret"));
      EXPECT_EQ(r.status, 200u);
      EXPECT_EQ(trimmed(r.body), "fail") << e.order_no << " status " << status;
    }
  }
  expect_settled(topupd.port(), orders, both());
  EXPECT_NE(topupd.log_tail(20000).find("attempt held by up1"), std::string::npos);
}

// ---- supplier callbacks -------------------------------------------------------------------------

TEST_F(Channels, DuplicateCallbackIsAppliedOnce) {
  topupd_process topupd;
  start_topupd(topupd, two_channels());
  up1_->set_mode("duplicate_callback");
  const auto before = up1_->stats();
  expected_order e{"dup-1", "", 100, "2", "up1"};
  e.number = push(topupd.port(), e.order_no, e.money);
  ASSERT_FALSE(e.number.empty());
  expect_settled(topupd.port(), {e}, both());

  // Both copies reached topupd and both were acknowledged `success` (spec §6: a repeat of an
  // applied callback is answered `success` too).
  const auto acks0 = supplier_sim_process::counter(before, "callback_acks");
  const auto sent0 = supplier_sim_process::counter(before, "callbacks_sent");
  json::object after;
  const auto deadline = clock_type::now() + 5s;
  do {
    after = up1_->stats();
    if (supplier_sim_process::counter(after, "callback_acks") - acks0 >= 2) break;
    std::this_thread::sleep_for(20ms);
  } while (clock_type::now() < deadline);
  EXPECT_EQ(supplier_sim_process::counter(after, "callbacks_sent") - sent0, 2u);
  EXPECT_EQ(supplier_sim_process::counter(after, "callback_acks") - acks0, 2u);
  // Applied once: still exactly one delivery and one debit.
  EXPECT_EQ(supplier_sim_process::deliveries(after, e.number), 1u);
  merchant_client m(topupd.port(), "k1", "s3cret");
  EXPECT_EQ(text(m.query(e.number).data, "status"), "2");
  EXPECT_EQ(m.balance_fen(), k_credit_fen - cost_fen(100));
}

TEST_F(Channels, ForgedCallbackIsAnsweredFailAndOrderSettlesByQuery) {
  topupd_process topupd;
  start_topupd(topupd, two_channels());
  up1_->set_mode("forged_callback");
  const auto before = up1_->stats();
  expected_order e{"forged-1", "", 100, "2", "up1"};
  e.number = push(topupd.port(), e.order_no, e.money);
  ASSERT_FALSE(e.number.empty());

  // While the order runs at up1: a "failed" callback signed with a wrong secret, and one signed
  // right but altered afterwards. Were either applied, the order would fail over to up2.
  http_client http(topupd.port());
  auto forged = http.post("/notify/up1", supplier_callback(e.number + "-1", "4", "not-the-secret"));
  EXPECT_EQ(forged.status, 200u);
  EXPECT_EQ(trimmed(forged.body), "fail");
  std::string altered = supplier_callback(e.number + "-1", "2", "up1-secret");
  const auto at = altered.find("status=2");
  ASSERT_NE(at, std::string::npos);
  altered.replace(at, 8, "status=4");
  auto tampered = http.post("/notify/up1", altered);
  EXPECT_EQ(tampered.status, 200u);
  EXPECT_EQ(trimmed(tampered.body), "fail");
  // The right secret of the wrong channel: up2's callbacks are not up1's.
  auto other_channel =
      http.post("/notify/up1", supplier_callback(e.number + "-1", "4", "up2-secret"));
  EXPECT_EQ(trimmed(other_channel.body), "fail");

  expect_settled(topupd.port(), {e}, both());

  // The simulator's own (forged) callback was sent and refused.
  const auto sent0 = supplier_sim_process::counter(before, "callbacks_sent");
  json::object after;
  const auto deadline = clock_type::now() + 5s;
  do {
    after = up1_->stats();
    if (supplier_sim_process::counter(after, "callbacks_sent") > sent0) break;
    std::this_thread::sleep_for(20ms);
  } while (clock_type::now() < deadline);
  std::this_thread::sleep_for(200ms);  // its answer
  after = up1_->stats();
  EXPECT_EQ(supplier_sim_process::counter(after, "callbacks_sent") - sent0, 1u);
  EXPECT_EQ(supplier_sim_process::counter(after, "callback_acks") -
                supplier_sim_process::counter(before, "callback_acks"),
            0u)
      << "a callback with a wrong sign was acknowledged";
}

TEST_F(Channels, NotifyForUnknownChannelOrUnknownOrder) {
  topupd_process topupd;
  start_topupd(topupd, two_channels());
  http_client http(topupd.port());
  // An order number of the right shape that this deployment never issued.
  const std::string unknown = "T1700000000000000000000001M1001";

  auto no_channel = http.post("/notify/nope", supplier_callback(unknown + "-1", "2", "up1-secret"));
  EXPECT_EQ(no_channel.status, 404u) << no_channel.body;

  auto no_order = http.post("/notify/up1", supplier_callback(unknown + "-1", "2", "up1-secret"));
  EXPECT_EQ(no_order.status, 200u);
  EXPECT_EQ(trimmed(no_order.body), "fail");

  auto not_ours = http.post("/notify/up1", supplier_callback("whatever-1", "2", "up1-secret"));
  EXPECT_EQ(not_ours.status, 200u);
  EXPECT_EQ(trimmed(not_ours.body), "fail");

  auto no_suffix = http.post("/notify/up1", supplier_callback(unknown, "2", "up1-secret"));
  EXPECT_EQ(no_suffix.status, 200u);
  EXPECT_EQ(trimmed(no_suffix.body), "fail");

  // A callback for a real order that is already final is answered `success` (a repeat) and
  // changes nothing.
  expected_order e{"notify-real-1", "", 100, "2", "up1"};
  e.number = push(topupd.port(), e.order_no, e.money);
  ASSERT_FALSE(e.number.empty());
  expect_settled(topupd.port(), {e}, both());
  auto repeat = http.post("/notify/up1", supplier_callback(e.number + "-1", "4", "up1-secret"));
  EXPECT_EQ(trimmed(repeat.body), "success");
  std::this_thread::sleep_for(200ms);
  merchant_client m(topupd.port(), "k1", "s3cret");
  EXPECT_EQ(text(m.query(e.number).data, "status"), "2");
  EXPECT_EQ(m.balance_fen(), k_credit_fen - cost_fen(100));
  EXPECT_EQ(up2_->deliveries(e.number), 0u);
}

// ---- operations ---------------------------------------------------------------------------------

TEST_F(Channels, AdminDisableRoutesToNextChannelAndEnableRestores) {
  topupd_process topupd;
  auto cfg = start_topupd(topupd, two_channels());
  const std::string token = cfg.admin_token();
  auto post_admin = [&](const std::string& target, const std::string& bearer) {
    return Channels::post_admin(topupd.port(), target, bearer);
  };

  auto unauthorized = post_admin("/admin/channels/up1/disable", "");
  EXPECT_EQ(unauthorized.http_status, 401u) << unauthorized.raw;
  EXPECT_EQ(unauthorized.code, "4001");
  auto wrong = post_admin("/admin/channels/up1/disable", "not-the-token");
  EXPECT_EQ(wrong.http_status, 401u) << wrong.raw;

  auto disabled = post_admin("/admin/channels/up1/disable", token);
  ASSERT_EQ(disabled.code, "0000") << disabled.raw;
  auto orders = push_on_every_shard(topupd.port(), "disabled", 2, "2", "up2");
  expect_settled(topupd.port(), orders, both());

  auto enabled = post_admin("/admin/channels/up1/enable", token);
  ASSERT_EQ(enabled.code, "0000") << enabled.raw;
  auto again = push_on_every_shard(topupd.port(), "enabled", 2, "2", "up1");
  orders.insert(orders.end(), again.begin(), again.end());
  expect_settled(topupd.port(), orders, both());

  // Disabling both leaves no channel: nothing is debited.
  ASSERT_EQ(post_admin("/admin/channels/up1/disable", token).code, "0000");
  ASSERT_EQ(post_admin("/admin/channels/up2/disable", token).code, "0000");
  merchant_client m(topupd.port(), "k1", "s3cret");
  const auto balance = m.balance_fen();
  auto none = m.push("all-disabled", k_mobile, 100);
  if (none.code == "0000") {
    // Accepted to wait for a channel is allowed too; it must not be delivered anywhere.
    std::this_thread::sleep_for(300ms);
    const std::string number = text(none.data, "order_number");
    EXPECT_EQ(up1_->deliveries(number) + up2_->deliveries(number), 0u);
    EXPECT_NE(text(m.query(number).data, "status"), "2");
  } else {
    // No enabled channel serves the amount (2002) or the order (2005): refused, not debited.
    EXPECT_TRUE(none.code == "2002" || none.code == "2005") << none.raw;
    EXPECT_EQ(m.balance_fen(), balance);
  }
  auto unknown = post_admin("/admin/channels/nope/disable", token);
  EXPECT_EQ(unknown.code, "2005") << unknown.raw;
}

// A sandbox merchant (spec §3.8) next to a real supplier that is cheaper: its orders go to the
// sim channel only, on every shard; naming the supplier as `source` is 2005 and costs nothing;
// the supplier receives nothing at all.
TEST_F(Channels, SandboxMerchantNeverReachesARealSupplier) {
  json::object sim = topupd_config(0, 0, k_shards).json.at("channels").as_array().at(0).as_object();
  const std::vector<json::object> channels = {up1_->wikeyun_channel("up1", 0.97), sim};
  auto sandboxed = [&](int port) {
    auto cfg = config_for(port, "sandbox", channels);
    cfg.json["merchants"].as_array()[0].as_object()["sandbox"] = true;
    return cfg;
  };
  topupd_process topupd;
  const int port = start_on_free_port(topupd, sandboxed);
  http_client admin(port);
  const auto token = sandboxed(port).admin_token();
  const auto credited = admin_credit_when_ready(admin, token, k_merchant, "10000", "grant-sandbox");
  ASSERT_EQ(credited.code, "0000") << credited.raw;
  const auto placed = up1_->placed();

  merchant_client m(port, "k1", "s3cret");
  auto pinned = m.push("sandbox-pinned", k_mobile, 100, {{"source", "up1"}});
  EXPECT_EQ(pinned.code, "2005") << pinned.raw;
  EXPECT_EQ(m.balance_fen(), k_credit_fen);

  const auto orders = push_on_every_shard(port, "sandbox", 2, "2", "sim1", {{"change", "1"}});
  long long want = k_credit_fen;
  for (const auto& o : orders) {
    auto a = wait_final(m, o.number);
    EXPECT_EQ(text(a.data, "status"), "2") << o.order_no << ": " << a.raw;
    want -= cost_fen(o.money);
  }
  std::this_thread::sleep_for(300ms);  // a placement at up1 would have been delivered by now
  for (const auto& o : orders) EXPECT_EQ(up1_->deliveries(o.number), 0u) << o.order_no;
  EXPECT_EQ(up1_->placed(), placed);
  EXPECT_EQ(m.balance_fen(), want);  // debited like any merchant
  if (HasFailure()) ADD_FAILURE() << "topupd log tail:\n" << topupd.log_tail();
}

// Spec §8: logs show mobile numbers masked. topupd runs at debug, its most talkative, through
// orders that log the number (each submit at debug) and supplier answers that are logged whole
// (a malformed answer, a 500); its whole log then holds the masked number and never the full one.
TEST_F(Channels, LogsShowMobileNumbersOnlyMasked) {
  auto talkative = [&](int port) {
    auto cfg = config_for(port, "masked", two_channels());
    cfg.json["server"].as_object()["log_level"] = "debug";
    return cfg;
  };
  topupd_process topupd;
  const int port = start_on_free_port(topupd, talkative);
  http_client admin(port);
  const auto credited =
      admin_credit_when_ready(admin, talkative(port).admin_token(), k_merchant, "10000", "grant-m");
  ASSERT_EQ(credited.code, "0000") << credited.raw;
  merchant_client m(port, "k1", "s3cret");
  for (const char* mode : {"succeed", "malformed", "http500"}) {
    up1_->set_mode(mode);
    const auto number = push(port, std::string("masked-") + mode, 100);
    ASSERT_FALSE(number.empty());
    wait_final(m, number);
  }
  const std::string log = topupd.log_tail(1 << 24);
  EXPECT_EQ(log.find(k_mobile), std::string::npos) << log;
  EXPECT_NE(log.find("138****8000"), std::string::npos) << log;
}

TEST_F(Channels, DisabledChannelStaysDisabledAcrossARestart) {
  topupd_process topupd;
  auto cfg = start_topupd(topupd, two_channels(), "persist");
  const std::string token = cfg.admin_token();
  ASSERT_EQ(post_admin(topupd.port(), "/admin/channels/up1/disable", token).code, "0000");
  // A restart (crash or deploy) must not route to a channel the operator took out.
  ASSERT_EQ(topupd.stop_gracefully(), 0);
  topupd.start(cfg);
  auto orders = push_on_every_shard(topupd.port(), "after-restart", 2, "2", "up2");
  expect_settled(topupd.port(), orders, both());
  // Enabled again, it stays enabled across the next restart.
  ASSERT_EQ(post_admin(topupd.port(), "/admin/channels/up1/enable", token).code, "0000");
  topupd.kill();
  topupd.start(cfg);
  auto again = push_on_every_shard(topupd.port(), "after-crash", 2, "2", "up1");
  orders.insert(orders.end(), again.begin(), again.end());
  expect_settled(topupd.port(), orders, both());
}

TEST_F(Channels, DisabledChannelFinishesItsOrdersInFlight) {
  // up1 of its own whose orders stay unknown (push answered after 3 s) and running (final
  // after 1.5 s): disabling it meanwhile must not move them to up2 (spec §7: in-flight orders
  // finish normally; spec §4: an unknown outcome never goes to a second channel).
  supplier_sim_process slow(
      supplier_sim_options{"upd-key", "upd-secret", "upd-store", "timeout_placed", 1500, 3000});
  topupd_process topupd;
  auto cfg =
      start_topupd(topupd, {slow.wikeyun_channel("up1", 0.97), up2_->wikeyun_channel("up2", 0.98)});
  const named_sims sims{{"up1", &slow}, {"up2", up2_.get()}};
  const auto placed2 = up2_->placed();

  expected_order in_flight{"inflight-1", "", 100, "2", "up1"};
  in_flight.number = push(topupd.port(), in_flight.order_no, in_flight.money);
  ASSERT_FALSE(in_flight.number.empty());
  {
    merchant_client m(topupd.port(), "k1", "s3cret");
    std::string status;
    const auto deadline = clock_type::now() + 1200ms;
    while (clock_type::now() < deadline && status != "1") {
      status = text(m.query(in_flight.number).data, "status");
      std::this_thread::sleep_for(10ms);
    }
    ASSERT_EQ(status, "1") << "the in-flight order did not reach 1";
  }
  http_client admin(topupd.port());
  auto disabled = merchant_client::parse(
      admin.request(http::verb::post, "/admin/channels/up1/disable", {},
                    "application/x-www-form-urlencoded", "Bearer " + cfg.admin_token()));
  ASSERT_EQ(disabled.code, "0000") << disabled.raw;
  expected_order after{"after-disable-1", "", 50, "2", "up2"};
  after.number = push(topupd.port(), after.order_no, after.money);
  ASSERT_FALSE(after.number.empty());

  expect_settled(topupd.port(), {in_flight, after}, sims);
  EXPECT_EQ(slow.placed(), 1u);
  EXPECT_EQ(up2_->placed() - placed2, 1u);
}

// ---- topupd as another topupd's supplier
// ---------------------------------------------------------

/// topupd B with its local `sim` channel and merchant 2001 whose credentials are topupd A's
/// `chain` channel; topupd A whose only channel is `chain`, pointing at B.
class ChannelsChain : public Channels {
 protected:
  static constexpr std::int64_t k_b_merchant = 2001;  // price_rate 0.99 at B

  void start_chain(double b_success_rate) {
    const int b_port = start_on_free_port(b_, [&](int port) {
      topupd_config cfg(port, redis_->port(), k_shards);
      cfg.json["redis"].as_object()["prefix"] = "chainB";
      cfg.add_merchant(k_b_merchant, "chain-key", "chain-secret", "chain-store", 0.99);
      cfg.json["channels"].as_array()[0].as_object()["success_rate"] = b_success_rate;
      return cfg;
    });
    {
      http_client admin(b_port);
      const auto credited =
          admin_credit_when_ready(admin, "test-admin-token", k_b_merchant, "10000", "grant-b");
      ASSERT_EQ(credited.code, "0000") << credited.raw;
    }
    json::object chain = up1_->wikeyun_channel("chain", 0.97);
    chain["url"] = "http://127.0.0.1:" + std::to_string(b_port);
    chain["app_key"] = "chain-key";
    chain["app_secret"] = "chain-secret";
    chain["store_id"] = "chain-store";
    start_topupd(a_, {chain}, "chainA");
  }

  /// B's view of A's order: the order B holds under A's first attempt id.
  api_answer b_order(const std::string& a_number, int attempt = 1) {
    merchant_client b(b_.port(), "chain-key", "chain-secret");
    return b.query_by_order_no(a_number + "-" + std::to_string(attempt));
  }

  topupd_process b_;
  topupd_process a_;
};

TEST_F(ChannelsChain, OrderSucceedsAtBothLevels) {
  start_chain(1.0);
  const std::string number = push(a_.port(), "chain-ok", 100);
  ASSERT_FALSE(number.empty());
  merchant_client ma(a_.port(), "k1", "s3cret");
  auto a = wait_final(ma, number);
  EXPECT_EQ(text(a.data, "status"), "2") << a.raw << "\nA log:\n" << a_.log_tail();

  merchant_client mb(b_.port(), "chain-key", "chain-secret");
  auto b = b_order(number);
  ASSERT_EQ(b.code, "0000") << b.raw;
  b = wait_final(mb, text(b.data, "order_number"));
  EXPECT_EQ(text(b.data, "status"), "2") << b.raw;
  EXPECT_EQ(text(b.data, "amount"), "100");
  EXPECT_EQ(b_order(number, 2).code, "3001") << "A sent its order to B a second time";

  EXPECT_EQ(ma.balance_fen(), k_credit_fen - cost_fen(100));
  EXPECT_EQ(mb.balance_fen(), k_credit_fen - 9900);  // 100 x 0.99 at B
}

TEST_F(ChannelsChain, FailureAtSupplierRefundsAtBothLevels) {
  start_chain(0.0);
  const std::string number = push(a_.port(), "chain-fail", 100);
  ASSERT_FALSE(number.empty());
  merchant_client ma(a_.port(), "k1", "s3cret");
  auto a = wait_final(ma, number);
  EXPECT_EQ(text(a.data, "status"), "4") << a.raw << "\nA log:\n" << a_.log_tail();
  EXPECT_NE(text(a.data, "reason"), "");

  merchant_client mb(b_.port(), "chain-key", "chain-secret");
  auto b = b_order(number);
  ASSERT_EQ(b.code, "0000") << b.raw;
  b = wait_final(mb, text(b.data, "order_number"));
  EXPECT_EQ(text(b.data, "status"), "4") << b.raw;
  EXPECT_EQ(b_order(number, 2).code, "3001") << "A sent its order to B a second time";

  EXPECT_EQ(ma.balance_fen(), k_credit_fen);
  EXPECT_EQ(mb.balance_fen(), k_credit_fen);
}

// ---- crash while outcomes are unknown -----------------------------------------------------------

TEST_F(Channels, KilledWhileUnknownResumesByQueryWithoutResending) {
  // A simulator of its own: pushes answered after 3 s (unknown at 500 ms), orders final 3 s
  // after placement, so the orders sit in 1 while topupd is killed and restarted.
  supplier_sim_process slow(
      supplier_sim_options{"upk-key", "upk-secret", "upk-store", "timeout_placed", 3000, 3000});
  topupd_process topupd;
  auto cfg =
      start_topupd(topupd, {slow.wikeyun_channel("up1", 0.97), up2_->wikeyun_channel("up2", 0.98)});
  const auto placed2 = up2_->placed();

  auto orders = push_on_every_shard(topupd.port(), "killed", 6, "2", "up1");
  ASSERT_GE(orders.size(), 6u);

  // Every order in 1 (recharging, outcome unknown) before the kill.
  {
    merchant_client m(topupd.port(), "k1", "s3cret");
    const auto deadline = clock_type::now() + 2500ms;
    std::size_t in_one = 0;
    while (clock_type::now() < deadline) {
      in_one = 0;
      for (const auto& o : orders) in_one += text(m.query(o.number).data, "status") == "1" ? 1 : 0;
      if (in_one == orders.size()) break;
      std::this_thread::sleep_for(20ms);
    }
    ASSERT_EQ(in_one, orders.size()) << "orders not all in status 1 before the kill";
    EXPECT_EQ(slow.placed(), orders.size());
    for (const auto& o : orders) EXPECT_EQ(slow.deliveries(o.number), 0u) << "final too early";
  }
  topupd.kill();
  topupd.start(cfg);

  expect_settled(topupd.port(), orders, {{"up1", &slow}, {"up2", up2_.get()}});
  EXPECT_EQ(slow.placed(), orders.size()) << "an order was placed again after the restart";
  EXPECT_EQ(up2_->placed() - placed2, 0u) << "an order with an unknown outcome reached up2";
  if (HasFailure()) ADD_FAILURE() << "topupd log tail:\n" << topupd.log_tail();
}

}  // namespace
}  // namespace topup::test
