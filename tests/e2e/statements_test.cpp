// Daily statements end to end (issue 16, spec §3.7): the business day's offset is chosen so that
// its midnight comes within a minute or so; orders delivered, refunded and still running at
// midnight, credits, and a merchant that did nothing; retention of a few seconds, so the day's
// final orders have left Redis for the archive before their statement is made. Then each
// merchant's statement: made once after midnight + delay_s, every order exactly once with its
// money, the summary adding up to the ledger, the chain in Redis at the day; made again after a
// crash between the file and the chain (and under kill -9) with the same bytes; audit clean.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/order/money.hpp"
#include "engine/retention/business_day.hpp"
#include "engine/retention/gzip.hpp"
#include "engine/retention/statement_check.hpp"
#include "engine/retention/statement_files.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/merchant_client.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/topupd_process.hpp"

namespace {

using namespace topup::test;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace engine = topup::engine;

constexpr std::int64_t k_quiet_merchant = 1003;  // configured, never credited, never ordered
constexpr int k_orders = 30;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// A UTC offset (whole minutes, -12:00..+14:00) whose local day ends between `from` and a minute
/// after it from now: every instant is that close to midnight somewhere.
std::int64_t offset_with_midnight_in(std::chrono::milliseconds from) {
  const std::int64_t now = now_ms();
  for (std::int64_t minutes = -720; minutes <= 840; ++minutes) {
    const std::int64_t offset = minutes * 60;
    const std::int64_t left = engine::business_day::day_of(now, offset).end_ms(offset) - now;
    if (left >= from.count() && left < from.count() + 60'000) return offset;
  }
  throw std::logic_error("no offset has its midnight in the next minute");
}

/// Polls `done` every 200 ms until it holds or `within` passes; answers whether it held.
template <class Done>
bool eventually(std::chrono::milliseconds within, Done done) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(200ms);
  }
  return true;
}

struct known_order {
  std::string status;  // as the query answered while it was in Redis
  long long cost_fen = 0;
};

class Statements : public ::testing::Test {
 protected:
  void SetUp() override {
    offset_s_ = offset_with_midnight_in(25s);
    day_ = engine::business_day::day_of(now_ms(), offset_s_);
    port_ = start_on_free_port(topupd_, [&](int p) {
      cfg_ = topupd_config(p, redis_.port(), 2);
      cfg_.json["security"] = json::object{{"timestamp_skew_s", 1}};
      cfg_.json["storage"] = json::object{{"retention_s", 3}};
      cfg_.json["statements"] = json::object{{"timezone", engine::format_utc_offset(offset_s_)},
                                             {"delay_s", 2}};
      auto& sim = cfg_.json.at("channels").as_array()[0].as_object();
      sim["success_rate"] = 0.6;
      sim["seed"] = 7;
      // An order forced here is still recharging at midnight: a pending line.
      cfg_.json.at("channels").as_array().push_back(json::object{
          {"id", "slow"},
          {"kind", "sim"},
          {"carriers", json::array{"cucc"}},  // not merchant 1001's orders' (cmcc): no failover here
          {"amounts", json::array{10, 20, 30, 50, 100}},
          {"recharge_types", json::array{0, 1}},
          {"cost_rate", 0.99},
          {"priority", 9},
          {"success_rate", 1.0},
          {"latency_ms", json::array{600000, 600000}}});
      cfg_.add_merchant(k_quiet_merchant, "k3", "quiet-secret", "s3", 1.0);
      return cfg_;
    });
  }

  std::string redis(const std::vector<std::string>& args) { return redis_.command(args); }

  /// The statement file's text (gunzipped), read through the merchant API; empty until made.
  std::string bill(const std::string& app_key, const std::string& secret) {
    merchant_client m(port_, app_key, secret);
    auto r = m.call_raw("/rest/Recharge/bill", {{"date", day_.to_string()}});
    if (r.status != 200 || r.body.rfind("{", 0) == 0) return {};
    return r.body;
  }

  engine::parsed_statement parsed(const std::string& csv) {
    auto p = engine::parse_statement(csv);
    EXPECT_TRUE(p) << (p ? "" : p.error().message());
    if (!p) return {};
    EXPECT_TRUE(engine::check_statement(*p).empty())
        << testing::PrintToString(engine::check_statement(*p));
    return *p;
  }

  std::string stored_file(std::int64_t merchant) {
    return engine::statement_path(topupd_.statements_dir(), merchant, day_).string();
  }

  redis_server redis_;
  topupd_process topupd_;
  topupd_config cfg_{0, 0};
  int port_ = 0;
  std::int64_t offset_s_ = 0;
  engine::business_day day_;
};

TEST_F(Statements, TheDayIsMadeOnceAfterMidnightFromRedisAndTheArchiveAndAddsUpToTheLedger) {
  http_client admin(port_);
  ASSERT_EQ(admin_credit_when_ready(admin, cfg_.admin_token(), 1001, "5000", "day-fund").code,
            "0000");
  ASSERT_EQ(admin_credit(admin, cfg_.admin_token(), 1002, "100", "fund-2").code, "0000");

  merchant_client m1(port_, "k1", "s3cret");
  std::map<std::string, known_order> orders;  // number -> what the query said
  const int amounts[] = {10, 20, 30, 50, 100};
  for (int i = 0; i < k_orders; ++i) {
    auto a = m1.push("day-" + std::to_string(i), "13800138000", amounts[i % 5]);
    ASSERT_EQ(a.code, "0000") << a.raw;
    orders[std::string(a.data.at("order_number").as_string())] = {};
  }
  merchant_client m2(port_, "k2", "other-secret");
  auto slow = m2.push("slow-1", "18600186000", 20, {{"source", "slow"}, {"store_id", "s2"}});
  ASSERT_EQ(slow.code, "0000") << slow.raw;
  const std::string slow_number(slow.data.at("order_number").as_string());

  // Each final, as its query says, before retention takes it.
  for (auto& [number, known] : orders) {
    ASSERT_TRUE(eventually(5s, [&] {
      auto q = m1.query(number);
      if (q.code != "0000") return false;
      known.status = std::string(q.data.at("status").as_string());
      known.cost_fen = engine::parse_yuan(std::string(q.data.at("cost").as_string())).value_or(-1);
      return known.status == "2" || known.status == "4";
    })) << number;
  }
  const long long balance1 = m1.balance_fen();
  const long long balance2 = m2.balance_fen();
  std::set<std::string> statuses;
  for (const auto& [n, k] : orders) statuses.insert(k.status);
  ASSERT_EQ(statuses, (std::set<std::string>{"2", "4"})) << "want both delivered and refunded";
  // Retention takes them before midnight: the statement reads them from the archive.
  ASSERT_TRUE(eventually(15s, [&] { return redis({"ZCARD", "t:{m1001}:t"}) == "0"; }));
  ASSERT_LT(now_ms(), day_.end_ms(offset_s_)) << "the test began too close to midnight";
  EXPECT_EQ(bill("k1", "s3cret"), "") << "made before the day ended";

  // After midnight + delay_s (2 s) + a pass (1 s): made for all three merchants.
  const auto wait = std::chrono::milliseconds(day_.end_ms(offset_s_) - now_ms()) + 20s;
  ASSERT_TRUE(eventually(wait, [&] { return !bill("k3", "quiet-secret").empty(); }))
      << topupd_.log_tail();
  ASSERT_TRUE(eventually(5s, [&] { return !bill("k1", "s3cret").empty(); })) << topupd_.log_tail();
  ASSERT_TRUE(eventually(5s, [&] { return !bill("k2", "other-secret").empty(); }));

  // Merchant 1001: every order once, with its status and money; the credit; the ledger's balance.
  const auto s1 = parsed(bill("k1", "s3cret"));
  EXPECT_EQ(s1.lines.merchant_id, 1001);
  EXPECT_EQ(s1.lines.day, day_);
  EXPECT_EQ(s1.summary.opening_fen, 0);
  EXPECT_EQ(s1.summary.closing_fen, balance1);
  EXPECT_EQ(s1.summary.credits_fen, 500000);
  ASSERT_EQ(s1.lines.credits.size(), 1u);
  EXPECT_EQ(s1.lines.credits[0].ref, "day-fund");
  ASSERT_EQ(s1.lines.orders.size(), orders.size());
  long long debits = 0, refunds = 0;
  for (const auto& line : s1.lines.orders) {
    const auto it = orders.find(line.order_number);
    ASSERT_NE(it, orders.end()) << line.order_number;
    EXPECT_EQ(std::to_string(static_cast<int>(line.status)), it->second.status);
    EXPECT_EQ(line.debit_fen, it->second.cost_fen);
    EXPECT_EQ(line.refund_fen, it->second.status == "4" ? it->second.cost_fen : 0);
    EXPECT_GT(line.finished_at_ms, 0);
    debits += line.debit_fen;
    refunds += line.refund_fen;
  }
  EXPECT_EQ(s1.summary.debits_fen, debits);
  EXPECT_EQ(s1.summary.refunds_fen, refunds);

  // Merchant 1002: its order still recharging at midnight is a pending line, its debit counted.
  const auto s2 = parsed(bill("k2", "other-secret"));
  EXPECT_EQ(s2.summary.closing_fen, balance2);
  ASSERT_EQ(s2.lines.orders.size(), 1u);
  EXPECT_EQ(s2.lines.orders[0].order_number, slow_number);
  EXPECT_EQ(engine::kind_of(s2.lines.orders[0]), engine::statement_line_kind::pending);
  EXPECT_EQ(s2.summary.pendings, 1);

  // Merchant 1003 did nothing: its day still has a statement, opening = closing.
  const auto s3 = parsed(bill("k3", "quiet-secret"));
  EXPECT_TRUE(s3.lines.orders.empty());
  EXPECT_EQ(s3.summary.opening_fen, 0);
  EXPECT_EQ(s3.summary.closing_fen, 0);

  // The chain in Redis, the manifests, the metric.
  EXPECT_EQ(redis({"HGET", "t:{m1001}:stmt", "day"}), day_.to_string());
  EXPECT_EQ(redis({"HGET", "t:{m1001}:stmt", "closing"}), std::to_string(balance1));
  for (std::int64_t m : {1001, 1002, 1003})
    EXPECT_TRUE(engine::verify_manifest(topupd_.statements_dir(), m).empty()) << m;
  EXPECT_NE(http_client(port_).get("/metrics").body.find("topup_statements_made_total 3"),
            std::string::npos);

  // Merchant 1001's day is made and its orders archived: its log goes, behind a checkpoint, all
  // but the seal the claim left at exactly the day's end (the next day's first entry).
  ASSERT_TRUE(eventually(15s, [&] { return redis({"XLEN", "t:{m1001}:log"}) == "1"; }))
      << topupd_.log_tail();
  EXPECT_NE(redis({"XRANGE", "t:{m1001}:log", "-", "+"}).find("\nseal\n"), std::string::npos);
  EXPECT_EQ(redis({"HGET", "t:{m1001}:ckpt", "balance"}), std::to_string(balance1));
  // Set back by hand past the trim, the day cannot be made again: the maker says so, and the
  // file made before stays as it was.
  const std::string made_bytes = bill("k1", "s3cret");
  redis({"HDEL", "t:{m1001}:stmt", "day", "closing"});
  ASSERT_TRUE(eventually(10s, [&] {
    return topupd_.log_tail(100000).find("merchant=1001 day=" + day_.to_string() +
                                         " not made: the log is trimmed") != std::string::npos;
  })) << topupd_.log_tail();
  EXPECT_EQ(bill("k1", "s3cret"), made_bytes);
  redis({"HSET", "t:{m1001}:stmt", "day", day_.to_string(), "closing", std::to_string(balance1)});

  // Merchant 1002's order still in Redis keeps its day's log. A crash after the file and before
  // the chain moved: the day is made again, the same bytes.
  const std::string first_bytes = bill("k2", "other-secret");
  const auto first_mtime = std::filesystem::last_write_time(stored_file(1002));
  redis({"HDEL", "t:{m1002}:stmt", "day", "closing"});
  ASSERT_TRUE(eventually(10s, [&] {
    return redis({"HGET", "t:{m1002}:stmt", "day"}) == day_.to_string();
  }));
  EXPECT_NE(std::filesystem::last_write_time(stored_file(1002)), first_mtime) << "not made again";
  EXPECT_EQ(bill("k2", "other-secret"), first_bytes);

  // And killed (-9) while making it, again and again: still the same bytes, one manifest line.
  // (Each start takes a new epoch: the lock of the instance killed holds nothing.)
  std::mt19937 random(std::random_device{}());
  for (int crash = 0; crash < 3; ++crash) {
    redis({"HDEL", "t:{m1002}:stmt", "day", "closing"});
    std::this_thread::sleep_for(std::chrono::milliseconds(800 + random() % 600));
    topupd_.kill();
    topupd_.start(cfg_);
  }
  ASSERT_TRUE(eventually(10s, [&] {
    return redis({"HGET", "t:{m1002}:stmt", "day"}) == day_.to_string();
  })) << topupd_.log_tail();
  EXPECT_EQ(bill("k2", "other-secret"), first_bytes);
  EXPECT_TRUE(engine::verify_manifest(topupd_.statements_dir(), 1002).empty());

  // The books still agree with the log, and the statements made agree with themselves.
  auto [status, output] = run_topupd({"audit", "--config", topupd_.config_path()});
  EXPECT_EQ(status, 0) << output;
  const std::string day = day_.to_string();
  auto [files_status, files_output] =
      run_topupd({"audit", "--config", topupd_.config_path(), "--statements", day + ".." + day});
  EXPECT_EQ(files_status, 0) << files_output;
  EXPECT_EQ(files_output,
            "statements clean: 3 statements of 3 merchants, " + day + ".." + day + "\n");
}

}  // namespace
