// End-to-end: instance ownership (engine/store/lease, app/server.cpp). One running topupd per
// instance_id and Redis; a restart after a crash on the same host is immediate, after a clean
// stop too; a Redis holding another storage layout is refused; a topupd whose lease lapses stops.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "tests/support/http_client.hpp"
#include "tests/support/merchant_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/topupd_process.hpp"

namespace topup::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

long long elapsed_ms(clock_type::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - since).count();
}

topupd_config instance_config(int http_port, int redis_port, int instance_id, int lease_ms) {
  topupd_config cfg(http_port, redis_port, 2);
  auto& server = cfg.json["server"].as_object();
  server["instance_id"] = instance_id;
  server["lease_ms"] = lease_ms;
  return cfg;
}

/// Credits merchant 1001 (a write every shard-side check must pass) until it is accepted or
/// `within` passes; true once accepted. 5000 means storage is not usable yet (Redis, the lease).
bool writes_accepted(int port, const std::string& ref, std::chrono::milliseconds within) {
  const auto deadline = clock_type::now() + within;
  do {
    try {
      http_client admin(port, 2s);
      if (admin_credit(admin, "test-admin-token", 1001, "1", ref).code == "0000") return true;
    } catch (const std::exception&) {
      // Not answering right now.
    }
    std::this_thread::sleep_for(20ms);
  } while (clock_type::now() < deadline);
  return false;
}

std::string write_config(const topupd_config& cfg) {
  const std::string path = make_temp_dir("lease") + "/topupd.json";
  std::ofstream(path, std::ios::trunc) << json::serialize(cfg.json);
  return path;
}

/// The output as one line: non-empty, and no newline except one at the very end.
::testing::AssertionResult is_one_line(const std::string& output) {
  std::string line = output;
  if (!line.empty() && line.back() == '\n') line.pop_back();
  if (line.empty()) return ::testing::AssertionFailure() << "no output";
  if (line.find('\n') != std::string::npos)
    return ::testing::AssertionFailure() << "more than one line:\n" << output;
  return ::testing::AssertionSuccess();
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(InstanceLease, SecondTopupdWithTheSameInstanceExitsOneWithOneLine) {
  redis_server redis;
  topupd_process first;
  const int port =
      start_on_free_port(first, [&](int p) { return instance_config(p, redis.port(), 7, 10000); });
  ASSERT_TRUE(writes_accepted(port, "first", 10s)) << first.log_tail();
  const std::string lease = redis.command({"GET", "t:lease:7"});
  const std::string epoch = redis.command({"GET", "t:epoch:7"});
  ASSERT_NE(lease.find("pid=" + std::to_string(first.pid())), std::string::npos) << lease;

  const auto started = clock_type::now();
  auto [status, output] = run_topupd(
      {"--config", write_config(instance_config(free_loopback_port(), redis.port(), 7, 10000))});
  EXPECT_EQ(status, 1) << output;
  EXPECT_TRUE(is_one_line(output));
  EXPECT_NE(output.find("instance_id 7 is held by another running topupd"), std::string::npos)
      << output;
  EXPECT_NE(output.find("pid=" + std::to_string(first.pid())), std::string::npos) << output;
  EXPECT_NE(output.find("127.0.0.1:" + std::to_string(redis.port())), std::string::npos) << output;
  // Told apart by its renewals (every lease_ms/3), not by waiting the lease out.
  EXPECT_LT(elapsed_ms(started), 8000);

  // The first one never noticed.
  EXPECT_TRUE(first.running()) << first.log_tail();
  EXPECT_TRUE(writes_accepted(port, "first-again", 5s)) << first.log_tail();
  EXPECT_EQ(redis.command({"GET", "t:lease:7"}), lease);
  EXPECT_EQ(redis.command({"GET", "t:epoch:7"}), epoch);
  EXPECT_EQ(redis.command({"HGET", "t:{m1001}:fence", "7"}), epoch);
}

TEST(InstanceLease, ARestartAfterKillNineIsPrompt) {
  redis_server redis;
  topupd_process topupd;
  // A lease far longer than the test would wait: only the crashed-predecessor rule is quick.
  const int port =
      start_on_free_port(topupd, [&](int p) { return instance_config(p, redis.port(), 0, 60000); });
  ASSERT_TRUE(writes_accepted(port, "before", 10s)) << topupd.log_tail();
  ASSERT_EQ(redis.command({"GET", "t:epoch:0"}), "1");

  topupd.kill();
  const auto restarted = clock_type::now();
  ASSERT_NO_THROW(topupd.start(instance_config(port, redis.port(), 0, 60000)));
  ASSERT_TRUE(writes_accepted(port, "after", 10s)) << topupd.log_tail();
  EXPECT_LT(elapsed_ms(restarted), 5000) << topupd.log_tail();
  EXPECT_NE(topupd.log_tail().find("lease=taken over from a crashed process"), std::string::npos)
      << topupd.log_tail();
  EXPECT_EQ(redis.command({"GET", "t:epoch:0"}), "2");
  EXPECT_EQ(redis.command({"HGET", "t:{m1001}:fence", "0"}), "2");
  EXPECT_EQ(redis.command({"HGET", "t:{m1002}:fence", "0"}), "2");
}

TEST(InstanceLease, ACleanStopReleasesTheLease) {
  redis_server redis;
  topupd_process topupd;
  const int port =
      start_on_free_port(topupd, [&](int p) { return instance_config(p, redis.port(), 0, 60000); });
  ASSERT_TRUE(writes_accepted(port, "before", 10s)) << topupd.log_tail();
  ASSERT_NE(redis.command({"GET", "t:lease:0"}), "");
  EXPECT_EQ(topupd.stop_gracefully(), 0);
  EXPECT_EQ(redis.command({"GET", "t:lease:0"}), "") << "the lease outlived a clean stop";

  const auto restarted = clock_type::now();
  ASSERT_NO_THROW(topupd.start(instance_config(port, redis.port(), 0, 60000)));
  ASSERT_TRUE(writes_accepted(port, "after", 10s)) << topupd.log_tail();
  EXPECT_LT(elapsed_ms(restarted), 5000);
  EXPECT_NE(topupd.log_tail().find("lease=free"), std::string::npos) << topupd.log_tail();
}

TEST(InstanceLease, ARedisWithLayoutOneIsRefusedNamingBothVersions) {
  redis_server redis;
  redis.command({"SET", "t:layout", "1"});
  auto [status, output] = run_topupd(
      {"--config", write_config(instance_config(free_loopback_port(), redis.port(), 0, 10000))});
  EXPECT_EQ(status, 1) << output;
  EXPECT_TRUE(is_one_line(output));
  EXPECT_NE(output.find("127.0.0.1:" + std::to_string(redis.port())), std::string::npos) << output;
  EXPECT_NE(output.find("layout v1"), std::string::npos) << output;
  EXPECT_NE(output.find("layout v2"), std::string::npos) << output;
  EXPECT_EQ(redis.command({"GET", "t:layout"}), "1");
  EXPECT_EQ(redis.command({"GET", "t:lease:0"}), "") << "took a lease on a Redis it cannot use";
}

TEST(InstanceLease, AnEmptyRedisGetsLayoutTwo) {
  redis_server redis;
  topupd_process topupd;
  const int port =
      start_on_free_port(topupd, [&](int p) { return instance_config(p, redis.port(), 0, 10000); });
  ASSERT_TRUE(writes_accepted(port, "first", 10s)) << topupd.log_tail();
  EXPECT_EQ(redis.command({"GET", "t:layout"}), "2");
}

TEST(InstanceLease, ALapsedLeaseStopsTheInstanceWithExitOne) {
  redis_server redis;
  topupd_process topupd;
  const int port =
      start_on_free_port(topupd, [&](int p) { return instance_config(p, redis.port(), 0, 1000); });
  ASSERT_TRUE(writes_accepted(port, "before", 10s)) << topupd.log_tail();
  std::this_thread::sleep_for(1500ms);  // renewed all along: still running
  ASSERT_TRUE(topupd.running()) << topupd.log_tail();

  // Someone else holds the instance now: the next renewal (within lease_ms/3) finds out.
  redis.command({"SET", "t:lease:0", "host=elsewhere pid=1 pidns=1 start_ms=1", "PX", "60000"});
  const auto exit_status = topupd.wait_exit(10s);
  ASSERT_TRUE(exit_status.has_value()) << "still running after its lease was taken\n"
                                       << topupd.log_tail();
  EXPECT_EQ(*exit_status, 1) << topupd.log_tail();
  const std::string log = topupd.log_tail(20000);
  EXPECT_EQ(count_of(log, "lease lapsed"), 1u) << log;
  EXPECT_NE(log.find("stops driving orders"), std::string::npos) << log;
  EXPECT_EQ(redis.command({"GET", "t:lease:0"}), "host=elsewhere pid=1 pidns=1 start_ms=1")
      << "a lapsed topupd released a lease that was not its own";
  EXPECT_FALSE(wait_for_port(port, 300ms)) << "still listening after it stopped";
}

TEST(InstanceLease, StartsOnceRedisBecomesReachable) {
  redis_server redis;
  redis.stop();
  topupd_process topupd;
  const int port = start_on_free_port(
      topupd, [&](int p) { return instance_config(p, redis.port(), 0, 10000); },
      /*storage_up=*/false);
  std::this_thread::sleep_for(500ms);
  EXPECT_TRUE(topupd.running()) << topupd.log_tail();
  EXPECT_FALSE(writes_accepted(port, "down", 200ms));
  redis.start();
  EXPECT_TRUE(writes_accepted(port, "up", 10s)) << topupd.log_tail();
  EXPECT_NE(redis.command({"GET", "t:lease:0"}), "");
  EXPECT_EQ(topupd.stop_gracefully(), 0) << topupd.log_tail();
}

}  // namespace
}  // namespace topup::test
