// The `sim` channel adapter (channels/sim) and the kind registry (channels/registry): seeded,
// replayable outcomes, remembered results for query, latency, close().
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "channels/registry.hpp"
#include "channels/sim/sim_adapter.hpp"

namespace topup::channels {
namespace {

namespace asio = boost::asio;
using engine::attempt_outcome;
using engine::attempt_result;
using clock_type = std::chrono::steady_clock;

engine::channel_config sim_config(const std::string& settings_json) {
  engine::channel_config cfg;
  cfg.id = "sim1";
  cfg.kind = "sim";
  cfg.raw_json = "{\"id\":\"sim1\",\"kind\":\"sim\"" +
                 (settings_json.empty() ? std::string() : "," + settings_json) + "}";
  return cfg;
}

constexpr const char* k_mobile = "13800138000";

engine::attempt_request attempt(const std::string& id, const std::string& mobile = k_mobile) {
  engine::attempt_request req;
  req.order_number = "T1";
  req.attempt_id = id;
  req.mobile = mobile;
  req.money_yuan = 100;
  return req;
}

asio::awaitable<void> submit_into(engine::channel_adapter* adapter, engine::attempt_request req,
                                  attempt_result* out) {
  *out = co_await adapter->submit(std::move(req));
}

asio::awaitable<void> query_into(engine::channel_adapter* adapter, engine::attempt_request req,
                                 attempt_result* out) {
  *out = co_await adapter->query(std::move(req));
}

/// One adapter on its own io_context, driven to completion one call at a time.
struct sim_fixture {
  asio::io_context io{1};
  std::unique_ptr<engine::channel_adapter> adapter;

  explicit sim_fixture(const std::string& settings_json, unsigned shard = 0)
      : adapter(make_sim_adapter(sim_config(settings_json), io, shard)) {}

  attempt_result submit(const std::string& id, const std::string& mobile = k_mobile) {
    attempt_result out{attempt_outcome::refused, "not run"};
    asio::co_spawn(io, submit_into(adapter.get(), attempt(id, mobile), &out), asio::detached);
    io.restart();
    io.run();
    return out;
  }

  attempt_result query(const std::string& id) {
    attempt_result out{attempt_outcome::accepted, "not run"};
    asio::co_spawn(io, query_into(adapter.get(), attempt(id), &out), asio::detached);
    io.restart();
    io.run();
    return out;
  }
};

std::vector<attempt_outcome> outcomes(sim_fixture& sim, int n) {
  std::vector<attempt_outcome> out;
  for (int i = 0; i < n; ++i) out.push_back(sim.submit("T1-" + std::to_string(i + 1)).outcome);
  return out;
}

TEST(SimAdapter, SuccessRateOneAlwaysSucceeds) {
  sim_fixture sim("\"success_rate\":1,\"seed\":7");
  for (int i = 0; i < 50; ++i) {
    auto r = sim.submit("T1-" + std::to_string(i + 1));
    ASSERT_EQ(r.outcome, attempt_outcome::succeeded) << i;
  }
  EXPECT_EQ(sim.adapter->config().id, "sim1");
}

TEST(SimAdapter, SuccessRateZeroAlwaysFails) {
  sim_fixture sim("\"success_rate\":0,\"seed\":7");
  for (int i = 0; i < 50; ++i) {
    auto r = sim.submit("T1-" + std::to_string(i + 1));
    ASSERT_EQ(r.outcome, attempt_outcome::failed) << i;
    EXPECT_EQ(r.detail, "sim: simulated failure");
  }
}

TEST(SimAdapter, UnknownAnswerHidesAnOutcomeThatQueryReports) {
  sim_fixture delivered("\"unknown_rate\":1,\"success_rate\":1,\"seed\":3");
  EXPECT_EQ(delivered.submit("T1-1").outcome, attempt_outcome::unknown);
  EXPECT_EQ(delivered.query("T1-1").outcome, attempt_outcome::succeeded);
  // Asking again gives the same answer: the supplier does not forget an order once asked.
  EXPECT_EQ(delivered.query("T1-1").outcome, attempt_outcome::succeeded);

  sim_fixture lost("\"unknown_rate\":1,\"success_rate\":0,\"seed\":3");
  EXPECT_EQ(lost.submit("T1-1").outcome, attempt_outcome::unknown);
  EXPECT_EQ(lost.query("T1-1").outcome, attempt_outcome::failed);
}

TEST(SimAdapter, QueryReportsDefinitiveSubmitsToo) {
  sim_fixture sim("\"success_rate\":1,\"seed\":5");
  ASSERT_EQ(sim.submit("T1-1").outcome, attempt_outcome::succeeded);
  EXPECT_EQ(sim.query("T1-1").outcome, attempt_outcome::succeeded);
}

TEST(SimAdapter, QueryOfAnAttemptNeverSubmittedIsNotFound) {
  sim_fixture sim("\"seed\":5");
  auto r = sim.query("T9-1");
  EXPECT_EQ(r.outcome, attempt_outcome::not_found);
  // A fresh adapter (a restart) knows nothing of the attempts of the previous one.
  ASSERT_EQ(sim.submit("T1-1").outcome, attempt_outcome::succeeded);
  sim_fixture restarted("\"seed\":5");
  EXPECT_EQ(restarted.query("T1-1").outcome, attempt_outcome::not_found);
}

TEST(SimAdapter, ResubmittingAnAttemptAnswersItsFirstOutcome) {
  // Half the draws fail: whatever the first submit of each attempt got, a repeat gets the same.
  sim_fixture sim("\"success_rate\":0.5,\"seed\":11");
  for (int i = 0; i < 20; ++i) {
    const std::string id = "T1-" + std::to_string(i + 1);
    const auto first = sim.submit(id).outcome;
    EXPECT_EQ(sim.submit(id).outcome, first) << id;
  }
}

TEST(SimAdapter, HeldMobileIsTakenAndNeverFinished) {
  sim_fixture sim("\"success_rate\":1,\"seed\":5,\"hold_mobiles\":[\"13999999999\"]");
  const auto taken = sim.submit("T1-1", "13999999999");
  EXPECT_EQ(taken.outcome, attempt_outcome::accepted);
  EXPECT_EQ(taken.detail, "sim: held");
  // Asked again and again, the supplier is still working on it: the engine's exception queue.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(sim.query("T1-1").outcome, attempt_outcome::pending) << i;
  // A repeat of the push places nothing new; another number is served as usual.
  EXPECT_EQ(sim.submit("T1-1", "13999999999").outcome, attempt_outcome::accepted);
  EXPECT_EQ(sim.submit("T2-1").outcome, attempt_outcome::succeeded);
  EXPECT_EQ(sim.query("T1-1").outcome, attempt_outcome::pending);
}

TEST(SimAdapter, HeldMobilesDrawNothingSoOtherOutcomesReplay) {
  // With a latency range, as the demo has: a held attempt draws no latency either.
  sim_fixture plain("\"success_rate\":0.5,\"seed\":9,\"latency_ms\":[0,2]");
  sim_fixture holding(
      "\"success_rate\":0.5,\"seed\":9,\"latency_ms\":[0,2],\"hold_mobiles\":[\"13999999999\"]");
  for (int i = 0; i < 20; ++i) {
    const std::string id = "T1-" + std::to_string(i + 1);
    ASSERT_EQ(holding.submit("H" + id, "13999999999").outcome, attempt_outcome::accepted);
    EXPECT_EQ(holding.submit(id).outcome, plain.submit(id).outcome) << id;
  }
}

TEST(SimAdapter, SameSeedAndShardReplaysTheSameOutcomes) {
  const std::string settings = "\"success_rate\":0.5,\"unknown_rate\":0.2,\"seed\":42";
  sim_fixture a(settings, 0);
  sim_fixture b(settings, 0);
  sim_fixture other_shard(settings, 1);
  const auto first = outcomes(a, 64);
  EXPECT_EQ(outcomes(b, 64), first);
  EXPECT_NE(outcomes(other_shard, 64), first);  // 3^-64-ish odds of a false alarm
  // The mix is the configured one, roughly: some of each.
  int succeeded = 0, failed = 0, unknown = 0;
  for (auto o : first) {
    succeeded += o == attempt_outcome::succeeded;
    failed += o == attempt_outcome::failed;
    unknown += o == attempt_outcome::unknown;
  }
  EXPECT_GT(succeeded, 0);
  EXPECT_GT(failed, 0);
  EXPECT_GT(unknown, 0);
}

TEST(SimAdapter, LatencyIsHonoured) {
  sim_fixture sim("\"latency_ms\":[40,60],\"seed\":1");
  for (int i = 0; i < 3; ++i) {
    const auto start = clock_type::now();
    auto r = sim.submit("T1-" + std::to_string(i + 1));
    const auto elapsed = clock_type::now() - start;
    EXPECT_EQ(r.outcome, attempt_outcome::succeeded);
    EXPECT_GE(elapsed, std::chrono::milliseconds(40));
    EXPECT_LT(elapsed, std::chrono::milliseconds(1000));
  }
}

TEST(SimAdapter, ZeroLatencyStillAnswersThroughTheReactor) {
  sim_fixture sim("\"seed\":1");
  attempt_result out{attempt_outcome::accepted, "not run"};
  asio::co_spawn(sim.io, submit_into(sim.adapter.get(), attempt("T1-1"), &out), asio::detached);
  // The first handler only starts the coroutine; the answer needs at least one more round.
  sim.io.run_one();
  EXPECT_EQ(out.outcome, attempt_outcome::accepted);
  sim.io.run();
  EXPECT_EQ(out.outcome, attempt_outcome::succeeded);
}

TEST(SimAdapter, CloseCancelsWaitingSubmits) {
  sim_fixture sim("\"latency_ms\":[10000,10000],\"success_rate\":1,\"seed\":1");
  attempt_result out{attempt_outcome::accepted, "not run"};
  asio::co_spawn(sim.io, submit_into(sim.adapter.get(), attempt("T1-1"), &out), asio::detached);
  asio::post(sim.io, [&] { sim.adapter->close(); });
  const auto start = clock_type::now();
  sim.io.run();
  EXPECT_LT(clock_type::now() - start, std::chrono::seconds(2));
  EXPECT_EQ(out.outcome, attempt_outcome::unknown);
  // The simulated supplier did take the order: query still knows its outcome.
  EXPECT_EQ(sim.query("T1-1").outcome, attempt_outcome::succeeded);
  // Once closed nothing is placed any more.
  EXPECT_EQ(sim.submit("T1-2").outcome, attempt_outcome::refused);
  EXPECT_EQ(sim.query("T1-2").outcome, attempt_outcome::not_found);
}

TEST(SimAdapter, DestroyingTheAdapterWhileASubmitWaitsIsSafe) {
  sim_fixture sim("\"latency_ms\":[10000,10000],\"seed\":1");
  attempt_result out{attempt_outcome::accepted, "not run"};
  asio::co_spawn(sim.io, submit_into(sim.adapter.get(), attempt("T1-1"), &out), asio::detached);
  sim.io.run_for(std::chrono::milliseconds(20));
  sim.adapter.reset();  // closes: the waiting submit resumes without touching the adapter
  sim.io.restart();
  sim.io.run();
  EXPECT_EQ(out.outcome, attempt_outcome::unknown);
}

TEST(SimAdapter, NeverAcceptsCallbacks) {
  sim_fixture sim("");
  std::vector<std::pair<std::string, std::string>> params = {{"order_no", "T1-1"}, {"status", "2"}};
  EXPECT_TRUE(sim.adapter->parse_callback(params).has_error());
  EXPECT_TRUE(sim.adapter->parse_callback({}).has_error());
}

TEST(SimRegistry, CreatesAdaptersByKind) {
  asio::io_context io{1};
  auto factory = make_channel_factory("http://127.0.0.1:8080", 0);
  auto sim = factory(sim_config("\"seed\":1"), io);
  ASSERT_NE(sim, nullptr);
  EXPECT_NE(dynamic_cast<sim_adapter*>(sim.get()), nullptr);

  engine::channel_config wikeyun;
  wikeyun.id = "up1";
  wikeyun.kind = "wikeyun";
  wikeyun.raw_json = R"({"id":"up1","kind":"wikeyun","url":"http://127.0.0.1:9000","app_key":"k",)"
                     R"("app_secret":"s","store_id":"s1"})";
  auto upstream = factory(wikeyun, io);
  ASSERT_NE(upstream, nullptr);
  EXPECT_EQ(upstream->config().id, "up1");
  upstream->close();

  engine::channel_config unknown;
  unknown.id = "x";
  unknown.kind = "carrier-pigeon";
  unknown.raw_json = R"({"id":"x","kind":"carrier-pigeon"})";
  EXPECT_EQ(factory(unknown, io), nullptr);
}

}  // namespace
}  // namespace topup::channels
