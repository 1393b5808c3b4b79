// Instance ownership against a real redis-server (engine/store/lease): the layout version, the lease
// (free, held by a live holder, left by a crashed one, expired), its renewal and release, and
// the merchants' fences.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "engine/support/errc.hpp"
#include "engine/store/fence.hpp"
#include "engine/store/lease.hpp"
#include "engine/redis/connection.hpp"
#include "tests/support/io_run.hpp"
#include "tests/support/redis_server.hpp"

namespace topup::engine {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr const char* k_prefix = "ls";
constexpr std::uint32_t k_instance = 7;

/// A pid of this host that no longer runs: a child that exited and was reaped.
pid_t dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) std::_Exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  return child;
}

/// This process under another identity: another start, so another token.
lease_holder another_run(const lease_holder& base, std::int64_t pid) {
  lease_holder h = base;
  h.pid = pid;
  h.start_ms = base.start_ms + 1;
  return h;
}

/// A holder on some other host: never provably dead from here.
lease_holder elsewhere() {
  return lease_holder{"other-host.example", "4026531836", 4242, 1'700'000'000'000};
}

long elapsed_ms(steady_clock::time_point since) {
  return static_cast<long>(
      std::chrono::duration_cast<milliseconds>(steady_clock::now() - since).count());
}

class Lease : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = std::make_unique<test::redis_server>(); }
  static void TearDownTestSuite() { server_.reset(); }

  void SetUp() override {
    server_->flushall();
    conn_ = test::connect_to(io_, *server_);
    ASSERT_TRUE(conn_->connected());
  }

  void TearDown() override {
    conn_->stop();
    io_.poll();
  }

  lease_spec spec(milliseconds ttl) const { return lease_spec{k_prefix, k_instance, ttl}; }

  lease_acquisition acquire(const lease_holder& self, milliseconds ttl,
                            milliseconds deadline = 20s) {
    auto r = test::run(io_, acquire_lease(*conn_, spec(ttl), self, [] { return false; }), deadline);
    if (!r || !*r) {
      ADD_FAILURE() << "acquire_lease failed: " << (r ? r->error().message() : "timeout");
      return {};
    }
    return **r;
  }

  std::string redis(const std::vector<std::string>& args) { return server_->command(args); }
  std::string lease_value() { return redis({"GET", spec(1s).lease_key()}); }
  long long lease_pttl() { return std::stoll(redis({"PTTL", spec(1s).lease_key()})); }

  static inline std::unique_ptr<test::redis_server> server_;
  asio::io_context io_;
  std::unique_ptr<redis::connection> conn_;
  const lease_holder me_ = lease_holder::this_process();
};

TEST_F(Lease, AFreeLeaseIsTakenWithEpochOne) {
  const auto got = acquire(me_, 5s);
  ASSERT_TRUE(got.acquired);
  EXPECT_EQ(got.source, lease_source::free);
  EXPECT_EQ(got.epoch, 1);
  EXPECT_EQ(got.other_token, "");
  EXPECT_EQ(lease_value(), me_.token());
  EXPECT_GT(lease_pttl(), 4000);
  EXPECT_LE(lease_pttl(), 5000);
  EXPECT_EQ(redis({"GET", "ls:epoch:7"}), "1");
  EXPECT_EQ(spec(1s).lease_key(), "ls:lease:7");
}

TEST_F(Lease, EachAcquisitionRaisesTheEpoch) {
  const auto first = acquire(me_, 5s);
  ASSERT_TRUE(first.acquired);
  ASSERT_TRUE(*test::run(io_, release_lease(*conn_, spec(5s).lease_key(), me_.token())));
  const auto second = acquire(another_run(me_, me_.pid), 5s);
  ASSERT_TRUE(second.acquired);
  EXPECT_EQ(second.source, lease_source::free);
  EXPECT_EQ(second.epoch, first.epoch + 1);
}

TEST_F(Lease, AnAcquireRepeatedAfterALostAnswerFindsItsOwnToken) {
  // The SET of an earlier call went through but its answer was lost.
  redis({"SET", "ls:lease:7", me_.token(), "PX", "60000"});
  const auto started = steady_clock::now();
  const auto got = acquire(me_, 5s);
  ASSERT_TRUE(got.acquired);
  EXPECT_LT(elapsed_ms(started), 500);
  EXPECT_EQ(got.epoch, 1);
  EXPECT_LE(lease_pttl(), 5000) << "the confirming renewal sets our ttl";
}

TEST_F(Lease, SecondAcquireWhileTheFirstRenewsIsRefused) {
  const auto first = acquire(me_, 1s);
  ASSERT_TRUE(first.acquired);
  int lapses = 0;
  lease_keeper keeper(io_, *conn_, spec(1s).lease_key(), me_.token(), 1s, first.renewed_at,
                      [&](std::string_view) { ++lapses; });
  keeper.start();

  // The first holder is this very process: alive, so the second must watch, not take over.
  auto second_conn = test::connect_to(io_, *server_);
  const auto started = steady_clock::now();
  auto second = test::run(
      io_, acquire_lease(*second_conn, spec(1s), another_run(me_, me_.pid), [] { return false; }));
  ASSERT_TRUE(second && *second);
  EXPECT_FALSE((*second)->acquired);
  EXPECT_EQ((*second)->other_token, me_.token());
  // Seen renewed (every ttl/3), not waited out to the end of the ttl.
  EXPECT_LT(elapsed_ms(started), 900);
  EXPECT_EQ(lease_value(), me_.token());
  EXPECT_EQ(redis({"GET", "ls:epoch:7"}), "1") << "a refused start must not raise the epoch";
  EXPECT_EQ(lapses, 0);
  keeper.stop();
  test::run_for(io_, 50ms);  // the renew loop sees the stop and ends before `keeper` does
  second_conn->stop();
}

TEST_F(Lease, ALeaseOfADeadPidOnThisHostIsTakenOverAtOnce) {
  const lease_holder crashed = another_run(me_, dead_pid());
  const auto before = acquire(crashed, 60s);
  ASSERT_TRUE(before.acquired);
  const std::vector<std::int64_t> merchants{1001, 1002};
  ASSERT_TRUE(
      *test::run(io_, write_fences(*conn_, k_prefix, fence_token{"7", before.epoch}, merchants)));
  EXPECT_EQ(redis({"HGET", "ls:{m1001}:fence", "7"}), std::to_string(before.epoch));

  // The crashed run's lease has ~60 s left; the next start must not wait for it.
  const auto started = steady_clock::now();
  const auto after = acquire(me_, 60s);
  ASSERT_TRUE(after.acquired);
  EXPECT_LT(elapsed_ms(started), 500);
  EXPECT_EQ(after.source, lease_source::crashed_holder);
  EXPECT_EQ(after.other_token, crashed.token());
  EXPECT_GT(after.epoch, before.epoch);
  EXPECT_EQ(lease_value(), me_.token());

  ASSERT_TRUE(
      *test::run(io_, write_fences(*conn_, k_prefix, fence_token{"7", after.epoch}, merchants)));
  for (const char* key : {"ls:{m1001}:fence", "ls:{m1002}:fence"})
    EXPECT_EQ(redis({"HGET", key, "7"}), std::to_string(after.epoch)) << key;
  // The crashed run's fences, written late, change nothing and say it was superseded.
  auto late =
      test::run(io_, write_fences(*conn_, k_prefix, fence_token{"7", before.epoch}, merchants));
  ASSERT_TRUE(late);
  ASSERT_FALSE(*late);
  EXPECT_EQ(late->error(), errc::fenced);
  EXPECT_EQ(redis({"HGET", "ls:{m1001}:fence", "7"}), std::to_string(after.epoch));
}

TEST_F(Lease, AFenceOfAnotherInstanceIsLeftAlone) {
  redis({"HSET", "ls:{m1001}:fence", "3", "9"});
  ASSERT_TRUE(*test::run(io_, write_fences(*conn_, k_prefix, fence_token{"7", 2}, {1001})));
  EXPECT_EQ(redis({"HGET", "ls:{m1001}:fence", "3"}), "9");
  EXPECT_EQ(redis({"HGET", "ls:{m1001}:fence", "7"}), "2");
}

TEST_F(Lease, ALeaseThatSimplyExpiresIsTakenAfterItsTtl) {
  const std::string abandoned = elsewhere().token();
  redis({"SET", "ls:lease:7", abandoned, "PX", "1500"});
  redis({"SET", "ls:epoch:7", "4"});
  const auto started = steady_clock::now();
  const auto got = acquire(me_, 5s);
  const long took = elapsed_ms(started);
  ASSERT_TRUE(got.acquired);
  EXPECT_EQ(got.source, lease_source::expired);
  EXPECT_EQ(got.other_token, abandoned);
  EXPECT_EQ(got.epoch, 5);
  EXPECT_GE(took, 1400) << "taken before its holder's ttl ran out";
  EXPECT_LT(took, 1500 + k_lease_watch_margin.count());
  EXPECT_EQ(lease_value(), me_.token());
}

TEST_F(Lease, RenewalAfterSomeoneElseTookTheKeyFiresOnLapsedOnce) {
  const auto got = acquire(me_, 1s);
  ASSERT_TRUE(got.acquired);
  int lapses = 0;
  std::string why;
  lease_keeper keeper(io_, *conn_, spec(1s).lease_key(), me_.token(), 1s, got.renewed_at,
                      [&](std::string_view w) {
                        ++lapses;
                        why = std::string(w);
                      });
  keeper.start();
  test::run_for(io_, 500ms);
  EXPECT_EQ(lapses, 0) << "renewals of a lease still ours";
  EXPECT_GT(lease_pttl(), 500) << "the keeper does not renew";

  redis({"SET", "ls:lease:7", elsewhere().token(), "PX", "60000"});
  const auto taken_at = steady_clock::now();
  ASSERT_TRUE(test::run_until(
      io_, [&] { return lapses > 0; }, 2s));
  EXPECT_LT(elapsed_ms(taken_at), 600) << "noticed at the next renewal (every ttl/3)";
  EXPECT_TRUE(keeper.lapsed());
  EXPECT_EQ(why, "another process holds the lease");
  test::run_for(io_, 1500ms);  // past the deadline too: still once
  EXPECT_EQ(lapses, 1);
  EXPECT_EQ(lease_value(), elsewhere().token()) << "a lapsed keeper must not touch the lease";
}

TEST_F(Lease, TheHeldGaugeIsOneWhileKeptAndZeroOnceLapsedOrReleased) {
  const auto got = acquire(me_, 1s);
  ASSERT_TRUE(got.acquired);
  std::atomic<std::int64_t> held{0};
  bool lapsed = false;
  lease_keeper keeper(io_, *conn_, spec(1s).lease_key(), me_.token(), 1s, got.renewed_at,
                      [&](std::string_view) { lapsed = true; });
  keeper.publish_to(&held);
  EXPECT_EQ(held.load(), 0) << "not held before start()";
  keeper.start();
  EXPECT_EQ(held.load(), 1);
  test::run_for(io_, 500ms);
  EXPECT_EQ(held.load(), 1) << "renewed: still held";
  redis({"SET", "ls:lease:7", elsewhere().token(), "PX", "60000"});
  ASSERT_TRUE(test::run_until(io_, [&] { return lapsed; }, 2s));
  EXPECT_EQ(held.load(), 0) << "lost to another holder";

  // A graceful release (the end of a drain) says the lease is no longer held either.
  server_->flushall();
  const auto again = acquire(me_, 5s);
  ASSERT_TRUE(again.acquired);
  lease_keeper second(io_, *conn_, spec(5s).lease_key(), me_.token(), 5s, again.renewed_at,
                      [](std::string_view) {});
  second.publish_to(&held);
  second.start();
  EXPECT_EQ(held.load(), 1);
  auto released = test::run(io_, second.release());
  ASSERT_TRUE(released && *released);
  EXPECT_EQ(held.load(), 0);
}

TEST_F(Lease, ReleaseDeletesOnlyItsOwnToken) {
  const auto got = acquire(me_, 5s);
  ASSERT_TRUE(got.acquired);
  auto not_ours = test::run(io_, release_lease(*conn_, spec(5s).lease_key(), elsewhere().token()));
  ASSERT_TRUE(not_ours && *not_ours);
  EXPECT_FALSE(**not_ours);
  EXPECT_EQ(lease_value(), me_.token());

  lease_keeper keeper(io_, *conn_, spec(5s).lease_key(), me_.token(), 5s, got.renewed_at,
                      [](std::string_view) {});
  keeper.start();
  auto ours = test::run(io_, keeper.release());
  ASSERT_TRUE(ours && *ours);
  EXPECT_TRUE(**ours);
  EXPECT_EQ(lease_value(), "");
  // Someone else's lease, taken meanwhile, survives our release.
  redis({"SET", "ls:lease:7", elsewhere().token(), "PX", "60000"});
  auto again = test::run(io_, release_lease(*conn_, spec(5s).lease_key(), me_.token()));
  ASSERT_TRUE(again && *again);
  EXPECT_FALSE(**again);
  EXPECT_EQ(lease_value(), elsewhere().token());
}

TEST_F(Lease, AcquireStopsWatchingWhenAskedTo) {
  redis({"SET", "ls:lease:7", elsewhere().token(), "PX", "60000"});
  bool stop = false;
  auto pending = test::spawn(io_, acquire_lease(*conn_, spec(5s), me_, [&stop] { return stop; }));
  test::run_for(io_, 300ms);
  EXPECT_FALSE(pending->done()) << "gave up on a lease with a minute left";
  stop = true;
  ASSERT_TRUE(test::run_until(
      io_, [&] { return pending->done(); }, 1s));
  ASSERT_FALSE(*pending->value);
  EXPECT_EQ(pending->value->error(), errc::shutting_down);
}

TEST_F(Lease, LayoutIsSetOnAnEmptyRedis) {
  auto first = test::run(io_, claim_layout(*conn_, k_prefix));
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->error) << first->error.message();
  EXPECT_EQ(first->held, "2");
  EXPECT_EQ(redis({"GET", "ls:layout"}), "2");
  auto again = test::run(io_, claim_layout(*conn_, k_prefix));
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->error);
}

TEST_F(Lease, AnotherLayoutIsRefused) {
  redis({"SET", "ls:layout", "1"});
  auto claim = test::run(io_, claim_layout(*conn_, k_prefix));
  ASSERT_TRUE(claim);
  EXPECT_EQ(claim->error, errc::layout_mismatch);
  EXPECT_EQ(claim->held, "1");
  EXPECT_EQ(redis({"GET", "ls:layout"}), "1") << "the other layout must be left as it is";
}

/// Its own redis-server: it is stopped mid-test.
TEST(LeaseDeadline, NoSuccessfulRenewalByTheDeadlineFiresOnLapsedOnce) {
  test::redis_server server;
  asio::io_context io;
  auto conn = test::connect_to(io, server);
  ASSERT_TRUE(conn->connected());
  const lease_holder me = lease_holder::this_process();
  const lease_spec spec{k_prefix, k_instance, 1s};
  auto got = test::run(io, acquire_lease(*conn, spec, me, [] { return false; }));
  ASSERT_TRUE(got && *got && (*got)->acquired);
  int lapses = 0;
  std::string why;
  lease_keeper keeper(io, *conn, spec.lease_key(), me.token(), 1s, (*got)->renewed_at,
                      [&](std::string_view w) {
                        ++lapses;
                        why = std::string(w);
                      });
  keeper.start();
  test::run_for(io, 700ms);
  ASSERT_EQ(lapses, 0);

  server.stop(/*kill=*/true);
  const auto down_at = steady_clock::now();
  ASSERT_TRUE(test::run_until(
      io, [&] { return lapses > 0; }, 3s));
  // The last renewal succeeded at most ttl/3 before the outage; the deadline is its send + ttl.
  EXPECT_LT(elapsed_ms(down_at), 1000 + 100);
  EXPECT_EQ(why, "not renewed within the lease's time");
  server.start();
  test::run_for(io, 1500ms);  // Redis is back: nothing renews a lapsed lease, nothing fires again
  EXPECT_EQ(lapses, 1);
  keeper.stop();
  conn->stop();
  io.poll();
}

TEST_F(Lease, ARenewalThatHangsLapsesAtTheDeadlineNotWhenItIsAnswered) {
  const auto got = acquire(me_, 1s);
  ASSERT_TRUE(got.acquired);
  int lapses = 0;
  std::string why;
  lease_keeper keeper(io_, *conn_, spec(1s).lease_key(), me_.token(), 1s, got.renewed_at,
                      [&](std::string_view w) {
                        ++lapses;
                        why = std::string(w);
                      });
  keeper.start();
  test::run_for(io_, 500ms);
  ASSERT_EQ(lapses, 0);

  // Redis holds every command for 2.5 s (as if stuck): the renewal sent meanwhile is neither
  // answered nor failed (the connection's command timeout is 5 s) before the lease's deadline.
  redis({"CLIENT", "PAUSE", "2500", "ALL"});
  const auto paused_at = steady_clock::now();
  ASSERT_TRUE(test::run_until(
      io_, [&] { return lapses > 0; }, 4s));
  EXPECT_LT(elapsed_ms(paused_at), 1000 + 150) << "lapsed only once Redis answered";
  EXPECT_EQ(why, "not renewed within the lease's time");
  test::run_for(io_, 2500ms);  // the held renewal is answered now: too late, and nothing fires
  EXPECT_EQ(lapses, 1);
  keeper.stop();
  test::run_for(io_, 50ms);  // the renew loop ends before `keeper` does
}

}  // namespace
}  // namespace topup::engine
