// engine/redis against a real redis-server on loopback: replies, pipelining, drops, reconnects,
// back-pressure and scripts. Every wait has a deadline, so a bug fails instead of hanging.
#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/support/errc.hpp"
#include "engine/redis/connection.hpp"
#include "engine/redis/script.hpp"
#include "tests/support/io_run.hpp"
#include "tests/support/redis_server.hpp"

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace std::string_literals;
using topup::engine::errc;
using topup::engine::redis::connection;
using topup::engine::redis::connection_options;
using topup::engine::redis::reply;
using topup::engine::redis::script;
using command_result = boost::system::result<reply>;
using topup::test::run;
using topup::test::run_until;

/// Records the outcome of one command into *out (for commands run concurrently).
asio::awaitable<void> record(connection& conn, std::vector<std::string> args,
                             std::vector<command_result>* out) {
  auto r = co_await conn.command(std::move(args));
  out->push_back(std::move(r));
}

struct incr_tally {
  int issued = 0;
  int completed = 0;
  int failed = 0;
  int issued_at_first_reply = -1;
  std::vector<std::int64_t> values;
};

asio::awaitable<void> incr_counter(connection& conn, incr_tally* tally) {
  ++tally->issued;
  std::vector<std::string> incr{"INCR", "counter"};  // GCC 12 rejects braced literals in co_await
  auto r = co_await conn.command(std::move(incr));
  if (tally->issued_at_first_reply < 0) tally->issued_at_first_reply = tally->issued;
  ++tally->completed;
  if (r && r->type == reply::kind::integer) {
    tally->values.push_back(r->integer);
  } else {
    ++tally->failed;
  }
}

struct churn_tally {
  int successes = 0;
  int failures = 0;
  int finished = 0;
};

/// An order-like client: retries after any failure (storage_unavailable, outcome_unknown) until `wanted` INCRs succeeded.
asio::awaitable<void> incr_with_retry(connection& conn, int wanted, churn_tally* tally) {
  asio::steady_timer pause(co_await asio::this_coro::executor);
  for (int got = 0; got < wanted;) {
    std::vector<std::string> incr{"INCR", "churn"};
    auto r = co_await conn.command(std::move(incr));
    if (r && r->type == reply::kind::integer) {
      ++got;
      ++tally->successes;
      continue;
    }
    ++tally->failures;
    pause.expires_after(5ms);
    co_await pause.async_wait(asio::use_awaitable);
  }
  ++tally->finished;
}

/// Accepts connections and never reads from them: a server that hangs.
asio::awaitable<void> accept_silently(asio::ip::tcp::acceptor* acceptor,
                                      std::vector<asio::ip::tcp::socket>* accepted) {
  for (;;) {
    auto [ec, socket] = co_await acceptor->async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    accepted->push_back(std::move(socket));
  }
}

bool is_error(const command_result& r, errc e) { return !r && r.error() == make_error_code(e); }

class RedisConnection : public ::testing::Test {
 protected:
  explicit RedisConnection(topup::test::redis_server_options server_options = {})
      : server_(std::move(server_options)) {}

  connection_options options() const {
    connection_options o;
    o.port = server_.port();
    o.connect_timeout = 2000ms;
    o.reconnect_backoff_min = 10ms;
    o.reconnect_backoff_max = 100ms;
    return o;
  }

  bool connect(connection& conn) {
    conn.start();
    return run_until(io_, [&] { return conn.connected(); }, 10s);
  }

  command_result exec(connection& conn, std::vector<std::string> args) {
    auto r = run(io_, conn.command(std::move(args)));
    if (!r) return make_error_code(errc::internal);
    return std::move(*r);
  }

  bool wait_blocked_clients(int n) {
    auto needle = "blocked_clients:" + std::to_string(n) + "\r";
    return run_until(
        io_, [&] { return server_.command({"INFO", "clients"}).find(needle) != std::string::npos; },
        10s);
  }

  asio::io_context io_{1};
  topup::test::redis_server server_;
};

TEST_F(RedisConnection, SetGetRoundTrip) {
  connection conn(io_, options());
  ASSERT_TRUE(connect(conn));

  auto set = exec(conn, {"SET", "greeting", "hello"});
  ASSERT_TRUE(set);
  EXPECT_EQ(set->type, reply::kind::status);
  EXPECT_EQ(set->str, "OK");

  auto get = exec(conn, {"GET", "greeting"});
  ASSERT_TRUE(get);
  EXPECT_EQ(get->type, reply::kind::string);
  EXPECT_EQ(get->str, "hello");

  auto missing = exec(conn, {"GET", "no-such-key"});
  ASSERT_TRUE(missing);
  EXPECT_TRUE(missing->is_nil());

  auto incr = exec(conn, {"INCRBY", "n", "41"});
  ASSERT_TRUE(incr);
  EXPECT_EQ(incr->type, reply::kind::integer);
  EXPECT_EQ(incr->integer, 41);
}

TEST_F(RedisConnection, NestedRepliesKeepTheirShape) {
  connection conn(io_, options());
  ASSERT_TRUE(connect(conn));
  ASSERT_TRUE(exec(conn, {"SET", "a", "1"}));

  auto mget = exec(conn, {"MGET", "a", "missing"});
  ASSERT_TRUE(mget);
  ASSERT_EQ(mget->type, reply::kind::array);
  ASSERT_EQ(mget->elements.size(), 2u);
  EXPECT_EQ(mget->elements[0].str, "1");
  EXPECT_TRUE(mget->elements[1].is_nil());

  auto nested = exec(conn, {"EVAL", "return {1, {2, 'x'}, redis.status_reply('FINE')}", "0"});
  ASSERT_TRUE(nested);
  ASSERT_EQ(nested->type, reply::kind::array);
  ASSERT_EQ(nested->elements.size(), 3u);
  EXPECT_EQ(nested->elements[0].integer, 1);
  ASSERT_EQ(nested->elements[1].type, reply::kind::array);
  ASSERT_EQ(nested->elements[1].elements.size(), 2u);
  EXPECT_EQ(nested->elements[1].elements[0].integer, 2);
  EXPECT_EQ(nested->elements[1].elements[1].str, "x");
  EXPECT_EQ(nested->elements[2].type, reply::kind::status);
  EXPECT_EQ(nested->elements[2].str, "FINE");
}

TEST_F(RedisConnection, ArgumentsAreBinarySafe) {
  connection conn(io_, options());
  ASSERT_TRUE(connect(conn));
  const auto key = "bin\0key"s;
  const auto value = "a\0b\r\n$3\r\nc\xff"s;
  ASSERT_EQ(value.size(), 11u);

  auto set = exec(conn, {"SET", key, value});
  ASSERT_TRUE(set);
  EXPECT_EQ(set->str, "OK");

  auto get = exec(conn, {"GET", key});
  ASSERT_TRUE(get);
  EXPECT_EQ(get->str, value);
  auto len = exec(conn, {"STRLEN", key});
  ASSERT_TRUE(len);
  EXPECT_EQ(len->integer, 11);
  auto truncated = exec(conn, {"EXISTS", "bin"});
  ASSERT_TRUE(truncated);
  EXPECT_EQ(truncated->integer, 0);  // the key was not cut at its NUL byte
}

TEST_F(RedisConnection, TenThousandConcurrentCommandsArePipelined) {
  connection conn(io_, options());
  ASSERT_TRUE(connect(conn));
  constexpr int k_commands = 10000;
  incr_tally tally;
  for (int i = 0; i < k_commands; ++i) asio::co_spawn(io_, incr_counter(conn, &tally), asio::detached);

  ASSERT_TRUE(run_until(io_, [&] { return tally.completed == k_commands; }, 60s))
      << "completed " << tally.completed;
  EXPECT_EQ(tally.failed, 0);
  // Not one request-reply round trip per command: many were in flight at once.
  EXPECT_GT(tally.issued_at_first_reply, 100);
  auto values = tally.values;
  std::sort(values.begin(), values.end());
  ASSERT_EQ(values.size(), static_cast<std::size_t>(k_commands));
  for (int i = 0; i < k_commands; ++i) ASSERT_EQ(values[i], i + 1);

  auto counter = exec(conn, {"GET", "counter"});
  ASSERT_TRUE(counter);
  EXPECT_EQ(counter->str, std::to_string(k_commands));
  EXPECT_EQ(server_.command({"GET", "counter"}), std::to_string(k_commands));
}

/// Redis's own count of socket reads (INFO stats total_reads_processed).
std::int64_t reads_processed(const topup::test::redis_server& server) {
  const std::string info = server.command({"INFO", "stats"});
  const std::string key = "total_reads_processed:";
  const auto at = info.find(key);
  if (at == std::string::npos) return -1;
  return std::stoll(info.substr(at + key.size()));
}

// Group commit (DESIGN.md "Persistence"): what a shard issues in one turn of its reactor leaves
// in one write, so Redis reads it in one go (or a few, for a large batch), not once per command;
// and a lone command is not held back waiting for company.
TEST_F(RedisConnection, CommandsIssuedInOneTurnLeaveTogether) {
  connection conn(io_, options());
  ASSERT_TRUE(connect(conn));
  ASSERT_TRUE(exec(conn, {"PING"}));
  constexpr int k_commands = 200;
  incr_tally tally;
  const std::int64_t before = reads_processed(server_);
  ASSERT_GE(before, 0) << "INFO stats has no total_reads_processed";
  // One handler issues them all: one turn of the reactor.
  asio::post(io_, [&] {
    for (int i = 0; i < k_commands; ++i)
      asio::co_spawn(io_, incr_counter(conn, &tally), asio::detached);
  });
  ASSERT_TRUE(run_until(io_, [&] { return tally.completed == k_commands; }, 30s));
  EXPECT_EQ(tally.failed, 0);
  // Each INFO the fixture sends is a read of its own: 1 here; the batch itself a handful at most.
  const std::int64_t reads = reads_processed(server_) - before - 1;
  EXPECT_LE(reads, 4) << "the batch reached Redis in " << reads << " reads, not one write";

  // Light load: a single command is answered at once, not after a batch window.
  const auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(exec(conn, {"INCR", "counter"}));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 50ms);
}

TEST_F(RedisConnection, ErrorReplyIsAValueNotAnErrorCode) {
  connection conn(io_, options());
  ASSERT_TRUE(connect(conn));
  ASSERT_TRUE(exec(conn, {"SET", "plain", "v"}));

  auto wrong_type = exec(conn, {"LPUSH", "plain", "x"});
  ASSERT_TRUE(wrong_type);
  EXPECT_TRUE(wrong_type->is_error());
  EXPECT_EQ(wrong_type->str.rfind("WRONGTYPE", 0), 0u) << wrong_type->str;

  auto unknown = exec(conn, {"NO-SUCH-COMMAND"});
  ASSERT_TRUE(unknown);
  EXPECT_TRUE(unknown->is_error());

  auto ping = exec(conn, {"PING"});  // the connection is still fine
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->str, "PONG");
  EXPECT_TRUE(conn.connected());
}

TEST_F(RedisConnection, CommandRightAfterStartWaitsForTheConnection) {
  connection conn(io_, options());
  conn.start();
  EXPECT_FALSE(conn.connected());
  auto r = exec(conn, {"PING"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->str, "PONG");
  EXPECT_TRUE(conn.connected());
}

TEST_F(RedisConnection, FailsFastBeforeStart) {
  connection conn(io_, options());
  EXPECT_FALSE(conn.connected());
  const auto begin = std::chrono::steady_clock::now();
  auto r = exec(conn, {"PING"});
  EXPECT_TRUE(is_error(r, errc::storage_unavailable));
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 1s);
}

TEST_F(RedisConnection, EmptyCommandIsRejected) {
  connection conn(io_, options());
  ASSERT_TRUE(connect(conn));
  EXPECT_TRUE(is_error(exec(conn, {}), errc::internal));
  EXPECT_TRUE(exec(conn, {"PING"}));
}

TEST_F(RedisConnection, StopFailsPendingAndLaterCommandsUntilStartedAgain) {
  connection conn(io_, options());
  ASSERT_TRUE(connect(conn));
  std::vector<command_result> results;
  asio::co_spawn(io_, record(conn, {"BLPOP", "never", "0"}, &results), asio::detached);
  asio::co_spawn(io_, record(conn, {"INCR", "behind"}, &results), asio::detached);
  ASSERT_TRUE(wait_blocked_clients(1));

  conn.stop();
  EXPECT_FALSE(conn.connected());
  ASSERT_TRUE(run_until(io_, [&] { return results.size() == 2; }, 5s));
  // Both had been sent: they may have been applied (outcome_unknown); after stop() nothing is
  // sent at all (storage_unavailable).
  for (const auto& r : results) EXPECT_TRUE(is_error(r, errc::outcome_unknown));
  EXPECT_TRUE(is_error(exec(conn, {"PING"}), errc::storage_unavailable));

  ASSERT_TRUE(connect(conn));
  auto ping = exec(conn, {"PING"});
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->str, "PONG");
}

TEST_F(RedisConnection, KilledServerFailsPendingCommandsAndReconnectsWhenBack) {
  connection conn(io_, options());
  ASSERT_TRUE(connect(conn));
  ASSERT_TRUE(exec(conn, {"SET", "before", "1"}));

  // BLPOP blocks the connection server-side, so the INCRs behind it stay pending.
  constexpr std::size_t k_pending = 101;
  std::vector<command_result> results;
  asio::co_spawn(io_, record(conn, {"BLPOP", "never", "0"}, &results), asio::detached);
  for (std::size_t i = 1; i < k_pending; ++i)
    asio::co_spawn(io_, record(conn, {"INCR", "behind"}, &results), asio::detached);
  ASSERT_TRUE(wait_blocked_clients(1));
  EXPECT_TRUE(results.empty());

  server_.stop(/*kill=*/true);
  ASSERT_TRUE(run_until(io_, [&] { return results.size() == k_pending; }, 10s))
      << results.size() << " of " << k_pending << " completed";
  for (const auto& r : results) EXPECT_TRUE(is_error(r, errc::outcome_unknown));
  ASSERT_TRUE(run_until(io_, [&] { return !conn.connected(); }, 5s));

  // While Redis is down: an answer at once, not a hang.
  for (int i = 0; i < 3; ++i) {
    const auto begin = std::chrono::steady_clock::now();
    EXPECT_TRUE(is_error(exec(conn, {"PING"}), errc::storage_unavailable));
    EXPECT_LT(std::chrono::steady_clock::now() - begin, 1s);
  }

  server_.start();
  ASSERT_TRUE(run_until(io_, [&] { return conn.connected(); }, 10s)) << "did not reconnect";
  auto set = exec(conn, {"SET", "after", "2"});
  ASSERT_TRUE(set);
  EXPECT_EQ(set->str, "OK");
  auto get = exec(conn, {"GET", "after"});
  ASSERT_TRUE(get);
  EXPECT_EQ(get->str, "2");
}

TEST_F(RedisConnection, OverMaxPendingIsOverloaded) {
  auto o = options();
  o.max_pending = 3;
  connection conn(io_, o);
  ASSERT_TRUE(connect(conn));

  std::vector<command_result> results;
  asio::co_spawn(io_, record(conn, {"BLPOP", "gate", "0"}, &results), asio::detached);
  for (int i = 0; i < 5; ++i)
    asio::co_spawn(io_, record(conn, {"INCR", "n"}, &results), asio::detached);
  // Three go out (BLPOP and two INCRs); the other three are refused at once.
  ASSERT_TRUE(run_until(io_, [&] { return results.size() == 3; }, 5s));
  for (const auto& r : results) EXPECT_TRUE(is_error(r, errc::overloaded));
  ASSERT_TRUE(wait_blocked_clients(1));

  EXPECT_EQ(server_.command({"LPUSH", "gate", "open"}), "1");
  ASSERT_TRUE(run_until(io_, [&] { return results.size() == 6; }, 5s));
  ASSERT_TRUE(results[3]);
  ASSERT_EQ(results[3]->type, reply::kind::array);
  EXPECT_EQ(results[3]->elements.at(1).str, "open");
  ASSERT_TRUE(results[4]);
  EXPECT_EQ(results[4]->integer, 1);
  ASSERT_TRUE(results[5]);
  EXPECT_EQ(results[5]->integer, 2);
  EXPECT_TRUE(exec(conn, {"PING"}));  // the bound counts answered commands back down
}

TEST_F(RedisConnection, DestroyingTheConnectionFailsPendingCommands) {
  auto conn = std::make_unique<connection>(io_, options());
  ASSERT_TRUE(connect(*conn));
  std::vector<command_result> results;
  asio::co_spawn(io_, record(*conn, {"BLPOP", "never", "0"}, &results), asio::detached);
  ASSERT_TRUE(wait_blocked_clients(1));

  conn.reset();
  ASSERT_TRUE(run_until(io_, [&] { return results.size() == 1; }, 5s));
  EXPECT_TRUE(is_error(results[0], errc::outcome_unknown));
  // Late completions of the dead connection's waits and timers find nothing to touch.
  run_until(io_, [] { return false; }, 100ms);
}

TEST_F(RedisConnection, SilentServerTimesOutAndIsRetried) {
  // Completes TCP handshakes (the kernel does, for a listening socket) but never answers, so
  // the connection's PING handshake hangs until connect_timeout.
  asio::ip::tcp::acceptor silent(io_, {asio::ip::make_address("127.0.0.1"), 0});
  std::vector<asio::ip::tcp::socket> accepted;
  asio::co_spawn(io_, accept_silently(&silent, &accepted), asio::detached);
  auto o = options();
  o.port = silent.local_endpoint().port();
  o.connect_timeout = 200ms;
  connection conn(io_, o);
  conn.start();

  // Issued while the first attempt is under way, a command waits for it, and fails with it: the
  // TCP connection stood, so the command may have reached the server (outcome unknown).
  const auto begin = std::chrono::steady_clock::now();
  EXPECT_TRUE(is_error(exec(conn, {"PING"}), errc::outcome_unknown));
  const auto elapsed = std::chrono::steady_clock::now() - begin;
  EXPECT_GE(elapsed, 150ms);
  EXPECT_LT(elapsed, 1s);

  EXPECT_FALSE(run_until(io_, [&] { return conn.connected(); }, 900ms));
  // Each attempt timed out and was followed by another one.
  EXPECT_GE(accepted.size(), 2u);
  EXPECT_LE(accepted.size(), 8u);
  conn.stop();
}

TEST_F(RedisConnection, CommandBehindARefusedAuthMayHaveRunAndSaysSo) {
  // A password configured for a server that has none: AUTH is refused, the handshake fails, yet
  // the server runs what was queued behind it. "Nothing was applied" would be a lie.
  auto o = options();
  o.password = "not-needed";
  connection conn(io_, o);
  conn.start();
  EXPECT_TRUE(is_error(exec(conn, {"SET", "ran", "yes"}), errc::outcome_unknown));
  EXPECT_EQ(server_.command({"GET", "ran"}), "yes");
  conn.stop();
}

TEST_F(RedisConnection, ServerThatStopsAnsweringIsDroppedAfterCommandTimeout) {
  auto o = options();
  o.command_timeout = 300ms;
  connection conn(io_, o);
  ASSERT_TRUE(connect(conn));
  ASSERT_FALSE(is_error(exec(conn, {"SET", "k", "v"}), errc::storage_unavailable));
  // The server holds every client's commands for 1.5 s (as if SIGSTOPped): a command must not
  // hang that long; it fails after the timeout and the connection is rebuilt.
  server_.command({"CLIENT", "PAUSE", "1500", "ALL"});
  const auto begin = std::chrono::steady_clock::now();
  EXPECT_TRUE(is_error(exec(conn, {"GET", "k"}), errc::outcome_unknown));
  const auto waited = std::chrono::steady_clock::now() - begin;
  EXPECT_GE(waited, 250ms);
  EXPECT_LT(waited, 1200ms);
  // Once the server answers again, so does the connection.
  ASSERT_TRUE(run_until(
      io_, [&] { return conn.connected() && static_cast<bool>(exec(conn, {"GET", "k"})); },
      10s));
  auto r = exec(conn, {"GET", "k"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->str, "v");
  conn.stop();
}

TEST_F(RedisConnection, HostNameIsResolvedThenConnected) {
  auto o = options();
  o.host = "localhost";
  connection conn(io_, o);
  ASSERT_TRUE(connect(conn));
  ASSERT_FALSE(is_error(exec(conn, {"SET", "named", "yes"}), errc::storage_unavailable));
  auto r = exec(conn, {"GET", "named"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->str, "yes");
  conn.stop();
}

TEST_F(RedisConnection, UnresolvableHostNeverConnectsAndCommandsFailFast) {
  auto o = options();
  o.host = "no-such-host.invalid";
  connection conn(io_, o);
  conn.start();
  EXPECT_FALSE(run_until(io_, [&] { return conn.connected(); }, 500ms));
  const auto begin = std::chrono::steady_clock::now();
  EXPECT_TRUE(is_error(exec(conn, {"PING"}), errc::storage_unavailable));
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 1s);
  conn.stop();
}

class RedisConnectionAuth : public RedisConnection {
 protected:
  RedisConnectionAuth() : RedisConnection(server_options()) {}
  static topup::test::redis_server_options server_options() {
    topup::test::redis_server_options o;
    o.password = "s3cret";
    return o;
  }
};

TEST_F(RedisConnectionAuth, RightPasswordAuthenticates) {
  auto o = options();
  o.password = "s3cret";
  connection conn(io_, o);
  ASSERT_TRUE(connect(conn));
  ASSERT_TRUE(exec(conn, {"SET", "k", "v"}));
  auto get = exec(conn, {"GET", "k"});
  ASSERT_TRUE(get);
  EXPECT_EQ(get->str, "v");
}

/// A command that got no reply: refused before leaving, or left and lost (never a -NOAUTH reply).
bool no_reply(const command_result& r) {
  return is_error(r, errc::storage_unavailable) || is_error(r, errc::outcome_unknown);
}

TEST_F(RedisConnectionAuth, MissingPasswordNeverCountsAsConnected) {
  connection conn(io_, options());  // the handshake PING gets -NOAUTH
  conn.start();
  // Queued behind the failing handshake: it left with it, so "maybe applied", not a reply.
  EXPECT_TRUE(is_error(exec(conn, {"GET", "k"}), errc::outcome_unknown));
  EXPECT_FALSE(run_until(io_, [&] { return conn.connected(); }, 500ms));
  EXPECT_TRUE(no_reply(exec(conn, {"GET", "k"})));
}

TEST_F(RedisConnectionAuth, WrongPasswordNeverCountsAsConnected) {
  auto o = options();
  o.password = "wrong";
  connection conn(io_, o);
  conn.start();
  EXPECT_TRUE(is_error(exec(conn, {"SET", "k", "v"}), errc::outcome_unknown));
  EXPECT_FALSE(run_until(io_, [&] { return conn.connected(); }, 500ms));
  EXPECT_TRUE(no_reply(exec(conn, {"SET", "k", "v"})));
  EXPECT_EQ(server_.command({"EXISTS", "k"}), "0");
}

class RedisConnectionDurable : public RedisConnection {
 protected:
  RedisConnectionDurable() : RedisConnection(server_options()) {}
  static topup::test::redis_server_options server_options() {
    topup::test::redis_server_options o;
    o.appendfsync = "always";  // an acknowledged write survives SIGKILL
    return o;
  }
};

TEST_F(RedisConnectionDurable, RetryingClientsRideThroughAKill) {
  connection conn(io_, options());
  ASSERT_TRUE(connect(conn));
  constexpr int k_clients = 50;
  constexpr int k_each = 200;
  churn_tally tally;
  for (int i = 0; i < k_clients; ++i)
    asio::co_spawn(io_, incr_with_retry(conn, k_each, &tally), asio::detached);

  // Kill Redis in the middle of the traffic, with commands in flight.
  ASSERT_TRUE(run_until(io_, [&] { return tally.successes >= 2000; }, 30s));
  server_.stop(/*kill=*/true);
  ASSERT_TRUE(run_until(io_, [&] { return tally.failures > 0 && !conn.connected(); }, 5s));
  run_until(io_, [] { return false; }, 50ms);  // some retries fail fast meanwhile
  server_.start();

  ASSERT_TRUE(run_until(io_, [&] { return tally.finished == k_clients; }, 60s))
      << tally.finished << " clients done, " << tally.successes << " successes";
  EXPECT_EQ(tally.successes, k_clients * k_each);
  // Every acknowledged INCR is there; an unacknowledged one (lost reply) may be too.
  const auto counter = std::stoll(server_.command({"GET", "churn"}));
  EXPECT_GE(counter, tally.successes);
  EXPECT_LE(counter, tally.successes + tally.failures);
}

class RedisScript : public RedisConnection {};

TEST(RedisScriptSha, IsComputedLocally) {
  EXPECT_EQ(script("return 1").sha1(), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}

TEST_F(RedisScript, RunsAndReloadsAfterScriptFlush) {
  connection conn(io_, options());
  ASSERT_TRUE(connect(conn));
  const script incr_by("return redis.call('INCRBY', KEYS[1], ARGV[1])");

  // Never loaded: the first run goes through NOSCRIPT and SCRIPT LOAD.
  auto first = run(io_, incr_by.run(conn, {"total"}, {"5"}));
  ASSERT_TRUE(first && *first);
  EXPECT_EQ((*first)->integer, 5);
  EXPECT_EQ(server_.command({"SCRIPT", "EXISTS", incr_by.sha1()}), "1");

  auto second = run(io_, incr_by.run(conn, {"total"}, {"5"}));
  ASSERT_TRUE(second && *second);
  EXPECT_EQ((*second)->integer, 10);

  ASSERT_TRUE(exec(conn, {"SCRIPT", "FLUSH"}));
  EXPECT_EQ(server_.command({"SCRIPT", "EXISTS", incr_by.sha1()}), "0");
  auto third = run(io_, incr_by.run(conn, {"total"}, {"5"}));
  ASSERT_TRUE(third && *third);
  EXPECT_EQ((*third)->integer, 15);

  // Redis names the script as we do.
  EXPECT_EQ(server_.command({"SCRIPT", "LOAD", incr_by.source()}), incr_by.sha1());
}

TEST_F(RedisScript, ScriptErrorsAreReplies) {
  connection conn(io_, options());
  ASSERT_TRUE(connect(conn));
  const script refuses("return redis.error_reply('BOOM refused')");
  auto r = run(io_, refuses.run(conn, {}, {}));
  ASSERT_TRUE(r && *r);
  EXPECT_TRUE((*r)->is_error());
  EXPECT_NE((*r)->str.find("BOOM"), std::string::npos) << (*r)->str;

  const script breaks("return redis.call('NO-SUCH-COMMAND')");
  auto broken = run(io_, breaks.run(conn, {}, {}));
  ASSERT_TRUE(broken && *broken);
  EXPECT_TRUE((*broken)->is_error());
}

TEST_F(RedisScript, ReloadsAfterServerRestartLostTheCache) {
  connection conn(io_, options());
  ASSERT_TRUE(connect(conn));
  const script get_or_zero("return tonumber(redis.call('GET', KEYS[1]) or '0')");
  auto before = run(io_, get_or_zero.run(conn, {"x"}, {}));
  ASSERT_TRUE(before && *before);
  EXPECT_EQ((*before)->integer, 0);

  server_.stop();  // SIGTERM: the script cache is lost with the process
  ASSERT_TRUE(run_until(io_, [&] { return !conn.connected(); }, 5s));
  server_.start();
  ASSERT_TRUE(run_until(io_, [&] { return conn.connected(); }, 10s));
  EXPECT_EQ(server_.command({"SCRIPT", "EXISTS", get_or_zero.sha1()}), "0");
  ASSERT_TRUE(exec(conn, {"SET", "x", "7"}));
  auto after = run(io_, get_or_zero.run(conn, {"x"}, {}));
  ASSERT_TRUE(after && *after);
  EXPECT_EQ((*after)->integer, 7);
}

TEST(RedisServerFixture, AppendOnlyFileSurvivesKillWithFsyncAlways) {
  asio::io_context io{1};
  topup::test::redis_server_options server_options;
  server_options.appendfsync = "always";
  topup::test::redis_server server(server_options);
  connection_options o;
  o.port = server.port();
  o.reconnect_backoff_min = 10ms;
  o.reconnect_backoff_max = 100ms;
  connection conn(io, o);
  conn.start();
  ASSERT_TRUE(run_until(io, [&] { return conn.connected(); }, 10s));
  auto set = run(io, conn.command({"SET", "durable", "yes"}));
  ASSERT_TRUE(set && *set);

  server.stop(/*kill=*/true);
  server.start();
  EXPECT_EQ(server.command({"GET", "durable"}), "yes");
  server.flushall();
  EXPECT_EQ(server.command({"EXISTS", "durable"}), "0");
}

}  // namespace
