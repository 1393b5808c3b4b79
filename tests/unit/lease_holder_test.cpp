// The lease token and the crashed-predecessor rule (engine/store/lease): which holder may be taken over
// at once.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "engine/store/lease.hpp"

namespace topup::engine {
namespace {

/// A child that has exited; reaped unless `leave_zombie`.
pid_t exited_child(bool leave_zombie) {
  const pid_t child = ::fork();
  if (child == 0) std::_Exit(0);
  if (!leave_zombie) {
    int status = 0;
    ::waitpid(child, &status, 0);
  } else {
    // Exited but not reaped: wait until the kernel shows it so (without reaping it).
    siginfo_t info{};
    ::waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOWAIT);
  }
  return child;
}

lease_holder with_pid(lease_holder h, std::int64_t pid) {
  h.pid = pid;
  return h;
}

TEST(LeaseHolder, TokenRoundTrips) {
  const lease_holder me = lease_holder::this_process();
  EXPECT_EQ(me.pid, ::getpid());
  EXPECT_FALSE(me.host.empty());
  EXPECT_EQ(me.host.find(' '), std::string::npos);
  EXPECT_GT(me.start_ms, 1'600'000'000'000);
  const auto parsed = lease_holder::parse(me.token());
  ASSERT_TRUE(parsed.has_value()) << me.token();
  EXPECT_EQ(parsed->host, me.host);
  EXPECT_EQ(parsed->pid_namespace, me.pid_namespace);
  EXPECT_EQ(parsed->pid, me.pid);
  EXPECT_EQ(parsed->start_ms, me.start_ms);
  EXPECT_EQ((lease_holder{"h1", "4026531836", 12, 34}.token()),
            "host=h1 pid=12 pidns=4026531836 start_ms=34");
}

TEST(LeaseHolder, ParseRefusesAnythingElse) {
  for (const char* token :
       {"", "hello", "host=a pid=1 pidns=2", "host=a pid=x pidns=2 start_ms=3",
        "host=a pid=1 pidns=2 start_ms=3 x=4", "host=a pid=1 pid=1 pidns=2 start_ms=3",
        "host= pid=1 pidns=2 start_ms=3", "host=a  pid=1 pidns=2 start_ms=3"}) {
    EXPECT_FALSE(lease_holder::parse(token).has_value()) << token;
  }
  EXPECT_TRUE(lease_holder::parse("host=a pid=1 pidns= start_ms=3").has_value())
      << "no /proc: an empty pid namespace is still a token";
}

TEST(LeaseHolder, CrashedMeansAGonePidOfThisHostAndPidNamespace) {
  const lease_holder me = lease_holder::this_process();
  const pid_t dead = exited_child(false);
  EXPECT_TRUE(crashed_on_this_host(with_pid(me, dead), me));

  const pid_t zombie = exited_child(true);
  EXPECT_TRUE(crashed_on_this_host(with_pid(me, zombie), me)) << "a zombie renews nothing";
  int status = 0;
  ::waitpid(zombie, &status, 0);

  EXPECT_FALSE(crashed_on_this_host(me, me)) << "this process runs";
  EXPECT_FALSE(crashed_on_this_host(with_pid(me, 1), me)) << "init runs (EPERM is alive)";
  for (const std::int64_t odd : {0LL, -1LL, 1LL << 40})
    EXPECT_FALSE(crashed_on_this_host(with_pid(me, odd), me)) << odd;

  lease_holder other_host = with_pid(me, dead);
  other_host.host += "-other";
  EXPECT_FALSE(crashed_on_this_host(other_host, me)) << "its pids are not ours to check";
  lease_holder other_namespace = with_pid(me, dead);
  other_namespace.pid_namespace += "9";
  EXPECT_FALSE(crashed_on_this_host(other_namespace, me)) << "a container sharing the host name";
}

}  // namespace
}  // namespace topup::engine
