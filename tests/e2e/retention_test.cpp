// Retention end to end (issue 16, spec §3.2 and §8 `storage`): with a window of a few seconds,
// final orders leave Redis on time (record, order_no entry, time index gone), land in the
// archive under statements.dir exactly once, a query then answers 3001 naming the statement
// date, the balance does not move, orders not final stay; and a request replayed byte for byte
// after its order left can never make a second order (the timestamp window is shorter). Once the
// orders left and the day's statement is made, the merchant's log is trimmed behind its
// checkpoint and `topupd audit` is still clean, also when topupd is killed while trimming.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/retention/archive.hpp"
#include "engine/retention/business_day.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/merchant_client.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/topupd_suite.hpp"

namespace {

using namespace topup::test;
using namespace std::chrono_literals;
namespace json = boost::json;

constexpr int k_retention_s = 3;
constexpr const char* k_push = "/rest/Recharge/pushOrder";

// Every line of the files under `<statements_dir>/m1001/<folder>` ("archive", "log"), as (file,
// line). Temp files (a crash may leave one; nothing reads them) are skipped and counted in `temps`.
std::vector<std::pair<std::filesystem::path, std::string>> merchant_file_lines(
    const std::string& statements_dir, const char* folder, int* temps = nullptr) {
  std::vector<std::pair<std::filesystem::path, std::string>> out;
  const auto root = std::filesystem::path(statements_dir) / "m1001" / folder;
  if (!std::filesystem::exists(root)) return out;
  for (const auto& f : std::filesystem::recursive_directory_iterator(root)) {
    if (!f.is_regular_file()) continue;
    if (f.path().extension() == ".tmp") {
      if (temps) ++*temps;
      continue;
    }
    std::ifstream in(f.path());
    for (std::string line; std::getline(in, line);) out.emplace_back(f.path(), line);
  }
  return out;
}

class Retention : public shared_topupd_suite<Retention> {
 protected:
  static void SetUpTestSuite() {
    start_suite([](int port, int redis_port) {
      topupd_config cfg(port, redis_port, 2);
      token_ = cfg.admin_token();
      cfg.json["security"] = json::object{{"timestamp_skew_s", 1}};
      cfg.json["storage"] = json::object{{"retention_s", k_retention_s}};
      return cfg;
    });
    http_client admin(port_);
    EXPECT_EQ(admin_credit_when_ready(admin, token_, 1001, "100000", "retention-fund").code,
              "0000");
  }
  static merchant_client k1() { return merchant_client(port_, "k1", "s3cret"); }

  static std::string redis(const std::vector<std::string>& args) { return redis_->command(args); }

  // Every order number in merchant 1001's archive files, with how often it appears.
  static std::map<std::string, int> archived_numbers() {
    std::map<std::string, int> seen;
    int temps = 0;
    for (const auto& [file, line] :
         merchant_file_lines(topupd_->statements_dir(), "archive", &temps)) {
      auto r = topup::engine::order_from_archive_line(line);
      EXPECT_TRUE(r) << file << ": " << line;
      if (r) ++seen[r->order_number];
    }
    EXPECT_EQ(temps, 0) << "a temp file left behind";
    return seen;
  }

  static inline std::string token_;
};

// The day the test marks as stated: tomorrow at +08:00, so that a run across midnight is not
// bounded by the end of the day the mark was written on.
std::string stated_day() {
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  return topup::engine::business_day::day_of(now_ms, 8 * 3600).next().to_string();
}

// Every entry id in merchant 1001's log files under `statements_dir`, with how often it appears;
// copies of one entry (a crash between a file and its trim) must be identical.
std::map<std::string, int> trimmed_entry_ids(const std::string& statements_dir) {
  std::map<std::string, int> seen;
  std::map<std::string, std::string> lines;
  for (const auto& [file, line] : merchant_file_lines(statements_dir, "log")) {
    auto e = topup::engine::log_entry_from_archive_line(line);
    EXPECT_TRUE(e) << file << ": " << line;
    if (!e) continue;
    ++seen[e->id];
    auto [it, fresh] = lines.emplace(e->id, line);
    if (!fresh) {
      EXPECT_EQ(it->second, line) << e->id;
    }
  }
  return seen;
}

// Waits up to `limit` for `done`, polling every 250 ms.
template <class Done>
bool wait_for(Done done, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(250ms);
  }
  return true;
}

TEST_F(Retention, FinalOrdersLeaveRedisOnTimeIntoTheArchiveOnceAndAnswer3001NamingTheDay) {
  auto m = k1();
  const long long balance_before = m.balance_fen();
  std::vector<std::string> numbers;
  for (int i = 0; i < 20; ++i) {
    auto a = m.push("ret-" + std::to_string(i), "13800138000", 10);
    ASSERT_EQ(a.code, "0000") << a.raw;
    numbers.push_back(std::string(a.data.at("order_number").as_string()));
  }
  // Final at once (the sim channel answers success in 0 ms): still there within the window.
  for (const auto& n : numbers) {
    auto q = m.query(n);
    ASSERT_EQ(q.code, "0000") << q.raw;
  }
  const long long balance_after_orders = m.balance_fen();
  EXPECT_LT(balance_after_orders, balance_before);

  // Gone within the window plus a pass interval (1 s) and some slack.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(k_retention_s + 8);
  std::size_t left = numbers.size();
  while (left > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(250ms);
    left = 0;
    for (const auto& n : numbers)
      if (!redis({"HGET", "t:{m1001}:o", n}).empty()) ++left;
  }
  ASSERT_EQ(left, 0u) << "orders still in Redis after the window";

  const std::string day = topup::engine::business_day_name(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count(),
      8 * 3600);
  for (std::size_t i = 0; i < numbers.size(); ++i) {
    auto q = m.query(numbers[i]);
    EXPECT_EQ(q.code, "3001") << q.raw;
    EXPECT_NE(q.msg.find("归档"), std::string::npos) << q.raw;
    EXPECT_NE(q.msg.find(day), std::string::npos) << q.raw;  // (the test does not run at midnight)
    EXPECT_EQ(redis({"HGET", "t:{m1001}:o", "#ret-" + std::to_string(i)}), "") << i;
    EXPECT_EQ(redis({"ZSCORE", "t:{m1001}:t", numbers[i]}), "") << i;
  }
  // Another merchant asking for the same number: a plain 3001, nothing about the archive.
  merchant_client k2(port_, "k2", "other-secret");
  auto foreign = k2.query(numbers[0]);
  EXPECT_EQ(foreign.code, "3001");
  EXPECT_EQ(foreign.msg.find("归档"), std::string::npos) << foreign.raw;

  const auto archived = archived_numbers();
  for (const auto& n : numbers) {
    auto it = archived.find(n);
    ASSERT_NE(it, archived.end()) << n << " not in the archive";
    EXPECT_EQ(it->second, 1) << n << " archived more than once";
  }
  // Archiving moves no money.
  EXPECT_EQ(m.balance_fen(), balance_after_orders);
  // Counted.
  const auto metrics = http_client(port_).get("/metrics").body;
  EXPECT_NE(metrics.find("topup_orders_archived_total"), std::string::npos);
}

TEST_F(Retention, ARequestReplayedAfterItsOrderLeftRedisIsRefusedByItsTimestamp) {
  auto m = k1();
  auto p = m.signed_params({{"store_id", "s1"}, {"mobile", "13800138001"}, {"order_no", "replay-1"},
                            {"money", "10"}, {"recharge_type", "1"}});
  std::vector<std::pair<std::string, std::string>> pairs(p.begin(), p.end());
  const std::string body = encode_pairs(pairs);
  auto first = m.post_form(k_push, body);
  ASSERT_EQ(first.code, "0000") << first.raw;
  const std::string number(first.data.at("order_number").as_string());
  const long long balance = m.balance_fen();

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(k_retention_s + 8);
  while (!redis({"HGET", "t:{m1001}:o", number}).empty() &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(250ms);
  ASSERT_EQ(redis({"HGET", "t:{m1001}:o", number}), "") << "not archived in time";

  // The same bytes again: its idempotency entry is gone, but its timestamp is long stale.
  auto replay = m.post_form(k_push, body);
  EXPECT_EQ(replay.code, "1004") << replay.raw;
  EXPECT_EQ(m.balance_fen(), balance);
}

TEST_F(Retention, OnceItsOrdersLeftAndTheDayIsStatedTheLogIsTrimmedAndTheAuditStaysClean) {
  auto m = k1();
  for (int i = 0; i < 20; ++i) {
    auto a = m.push("trim-" + std::to_string(i), "13800138000", 10);
    ASSERT_EQ(a.code, "0000") << a.raw;
  }
  const long long balance = m.balance_fen();
  ASSERT_TRUE(wait_for([] { return redis({"ZCARD", "t:{m1001}:t"}) == "0"; },
                       std::chrono::seconds(k_retention_s + 8)))
      << "orders still in Redis after the window";
  // Not stated yet: the statements need the whole log, so none of it is trimmed.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const long long entries = std::stoll(redis({"XLEN", "t:{m1001}:log"}));
  EXPECT_GE(entries, 20 * 2);
  EXPECT_EQ(redis({"EXISTS", "t:{m1001}:ckpt"}), "0");

  // The log is trimmed only up to the end of the last day whose statement was made (the maker
  // would make today's after midnight): the test moves the chain to tomorrow, as the maker
  // leaves it, so that only the window bounds the trim.
  redis({"HSET", "t:{m1001}:stmt", "day", stated_day(), "tz", "28800"});
  ASSERT_TRUE(wait_for([] { return redis({"XLEN", "t:{m1001}:log"}) == "0"; },
                       std::chrono::seconds(k_retention_s + 8)))
      << "the log was not trimmed: XLEN " << redis({"XLEN", "t:{m1001}:log"});
  EXPECT_GE(std::stoll(redis({"HGET", "t:{m1001}:ckpt", "entries"})), entries);
  EXPECT_GE(std::stoll(redis({"HGET", "t:{m1001}:ckpt", "orders"})), 20);
  EXPECT_EQ(redis({"HGET", "t:{m1001}:ckpt", "balance"}),
            redis({"HGET", "t:{m1001}:acct", "balance"}));
  EXPECT_GE(static_cast<long long>(trimmed_entry_ids(topupd_->statements_dir()).size()), entries);
  EXPECT_EQ(m.balance_fen(), balance);
  const auto metrics = http_client(port_).get("/metrics").body;
  EXPECT_NE(metrics.find("topup_log_entries_trimmed_total"), std::string::npos);

  // The audit replays the log from the checkpoint: every balance still agrees.
  auto [status, output] =
      run_topupd({"audit", "--config", topupd_->config_path(), "--merchant", "1001"});
  EXPECT_EQ(status, 0) << output;
  EXPECT_NE(output.find("audit clean: 1 merchants, "), std::string::npos) << output;
  EXPECT_NE(output.find(" archived, "), std::string::npos) << output;
  EXPECT_NE(output.find(" of them accepted before the log's checkpoint)"), std::string::npos)
      << output;
}

// One topupd on its own Redis with a window of k_retention_s, merchant 1001 funded, for tests
// that kill it -9 at random moments while retention works.
class RetentionCrash : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = start_on_free_port(topupd_, [&](int p) {
      cfg_ = topupd_config(p, redis_.port(), 2);
      cfg_.json["security"] = json::object{{"timestamp_skew_s", 1}};
      cfg_.json["storage"] = json::object{{"retention_s", k_retention_s}};
      return cfg_;
    });
    http_client admin(port_);
    ASSERT_EQ(
        admin_credit_when_ready(admin, cfg_.admin_token(), 1001, "1000000", "crash-fund").code,
        "0000");
  }

  // `threads` x `per_thread` orders pushed at once; the order numbers of those accepted.
  std::set<std::string> push_orders(int threads, int per_thread, const std::string& prefix) {
    std::vector<std::vector<std::string>> numbers(threads);
    std::vector<std::thread> pushers;
    for (int t = 0; t < threads; ++t) {
      pushers.emplace_back([&, t] {
        merchant_client m(port_, "k1", "s3cret");
        for (int i = 0; i < per_thread; ++i) {
          auto a = m.push(prefix + std::to_string(t) + "-" + std::to_string(i), "13800138000", 10);
          if (a.code == "0000")
            numbers[t].push_back(std::string(a.data.at("order_number").as_string()));
        }
      });
    }
    for (auto& p : pushers) p.join();
    std::set<std::string> pushed;
    for (auto& v : numbers) pushed.insert(v.begin(), v.end());
    return pushed;
  }

  // Passes start a second after start-up and each one drains up to 10,000 orders (and then
  // 20,000 log entries) per merchant: killed inside, five times, after the window.
  void kill_at_random_moments() {
    std::mt19937 random(std::random_device{}());
    std::this_thread::sleep_for(std::chrono::seconds(k_retention_s));
    for (int crash = 0; crash < 5; ++crash) {
      std::this_thread::sleep_for(std::chrono::milliseconds(900 + random() % 400));
      topupd_.kill();
      topupd_.start(cfg_);
    }
  }

  long long balance() { return merchant_client(port_, "k1", "s3cret").balance_fen(); }

  std::string audit_output() {
    auto [status, output] =
        run_topupd({"audit", "--config", topupd_.config_path(), "--merchant", "1001"});
    EXPECT_EQ(status, 0) << output;
    return output;
  }

  redis_server redis_;
  topupd_process topupd_;
  topupd_config cfg_{0, 0};
  int port_ = 0;
};

// kill -9 at random moments while a backlog is being archived, five times: every order ends up
// archived and out of Redis, none lost, each archived copy of an order identical, no money moved.
TEST_F(RetentionCrash, KilledWhileArchivingLosesNothingAndEveryCopyOfAnOrderIsTheSame) {
  const std::set<std::string> pushed = push_orders(4, 1500, "crash-");
  ASSERT_EQ(pushed.size(), 6000u);
  const long long before = balance();
  kill_at_random_moments();
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (redis_.command({"ZCARD", "t:{m1001}:t"}) != "0" && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(250ms);
  ASSERT_EQ(redis_.command({"ZCARD", "t:{m1001}:t"}), "0") << "orders left in Redis";
  EXPECT_EQ(redis_.command({"HLEN", "t:{m1001}:o"}), "0");

  std::map<std::string, std::string> archived;  // number -> its packed record
  int copies = 0;
  for (const auto& [file, line] : merchant_file_lines(topupd_.statements_dir(), "archive")) {
    auto r = topup::engine::order_from_archive_line(line);
    ASSERT_TRUE(r) << file << ": " << line;
    ++copies;
    auto [it, fresh] = archived.emplace(r->order_number, topup::engine::pack_order(*r));
    if (!fresh) {
      EXPECT_EQ(it->second, topup::engine::pack_order(*r)) << r->order_number;
    }
  }
  std::set<std::string> found;
  for (const auto& [n, record] : archived) found.insert(n);
  EXPECT_EQ(found, pushed);
  ::testing::Test::RecordProperty("archived_copies", copies);
  EXPECT_EQ(balance(), before);

  // topupd audit: every balance still agrees with the log, and the orders are archived, not lost.
  const std::string output = audit_output();
  EXPECT_NE(output.find("audit clean: 1 merchants, 6000 orders (6000 archived)"), std::string::npos)
      << output;
}

// kill -9 at random moments while a log is being trimmed, five times: the log ends up trimmed,
// every entry written to the log files (copies of one identical), no money moved, and the
// audit, replaying from the checkpoint, clean.
TEST_F(RetentionCrash, KilledWhileTrimmingTheLogLosesNothingAndTheAuditIsClean) {
  ASSERT_EQ(push_orders(2, 1000, "trim-").size(), 2000u);
  const long long before = balance();
  // See OnceItsOrdersLeft...: the test writes what the statement maker will.
  redis_.command({"HSET", "t:{m1001}:stmt", "day", stated_day(), "tz", "28800"});
  kill_at_random_moments();
  ASSERT_TRUE(wait_for([&] { return redis_.command({"XLEN", "t:{m1001}:log"}) == "0"; }, 30s))
      << "the log was not trimmed: XLEN " << redis_.command({"XLEN", "t:{m1001}:log"});
  EXPECT_EQ(redis_.command({"ZCARD", "t:{m1001}:t"}), "0");
  const long long trimmed = std::stoll(redis_.command({"HGET", "t:{m1001}:ckpt", "entries"}));
  EXPECT_EQ(static_cast<long long>(trimmed_entry_ids(topupd_.statements_dir()).size()), trimmed);
  EXPECT_EQ(balance(), before);

  const std::string output = audit_output();
  EXPECT_NE(output.find("audit clean: 1 merchants, 2000 orders (2000 archived, 2000 of them "
                        "accepted before the log's checkpoint)"),
            std::string::npos)
      << output;
}

}  // namespace
