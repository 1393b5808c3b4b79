#include "tests/sim/world.hpp"

#include <algorithm>
#include <exception>
#include <memory>
#include <set>
#include <vector>

#include "tests/sim/delayed_log.hpp"
#include "tests/sim/merchants.hpp"
#include "tests/sim/node.hpp"
#include "tests/sim/sim_config.hpp"
#include "tests/sim/suppliers.hpp"
#include "tests/support/manual_clock.hpp"
#include "tests/support/memory_log.hpp"

namespace topup::sim {

namespace {

constexpr std::int64_t k_drain_step_ms = 1000;
constexpr std::int64_t k_drain_limit_ms = 6 * 3600 * 1000;  // the world answers well within it

/// class world — one run: the world's parts, the process alive now, the step loop. Built and run
/// by run_world on the caller's thread.
class world {
 public:
  explicit world(const run_options& o);
  ~world();
  run_result run();

 private:
  node* live() { return node_.get(); }
  void start_process();
  void crash();
  void hostile_step(std::int64_t step);
  /// One step: the world's due actions, the process's ready work, the checks, then time moves.
  bool tick(std::int64_t step, std::int64_t dt_ms);
  bool drain(std::int64_t first_step, std::int64_t& steps_run);
  bool settled();
  void switch_channel();
  void renotify_one();
  void credit(std::int64_t merchant_id, engine::fen_t amount);

  run_options opts_;
  test::manual_clock clock_;
  test::timers_on timers_{clock_};
  prng rng_;
  trace out_;
  event_queue events_;
  engine::config cfg_;
  test::memory_log store_{clock_};
  delayed_log log_{store_, rng_, out_};
  invariants checks_{cfg_, store_, out_};
  world_env env_{clock_, rng_, out_, events_, checks_, cfg_};
  supplier_desk suppliers_;
  merchant_desk merchants_;
  std::set<std::string> disabled_;
  node_parts parts_;
  std::int64_t start_ms_ = 0;
  std::int64_t restart_at_ms_ = 0;
  int incarnations_ = 0;
  std::int64_t crashes_ = 0;
  std::vector<int> arrivals_;       // new orders per hostile step
  std::set<std::int64_t> crash_at_;  // hostile steps at which the process dies
  std::unique_ptr<node> node_;       // last: it goes first, while all it refers to is alive
};

world::world(const run_options& o)
    : opts_(o),
      rng_(o.seed),
      out_(o.level),
      cfg_(make_config(rng_)),
      suppliers_(env_,
                 [this](std::string via, engine::supplier_callback cb,
                        std::function<void(engine::supplier_receipt)> answered) {
                   if (node* n = live()) n->supplier_callback(std::move(via), std::move(cb), std::move(answered));
                   else answered(engine::supplier_receipt::unknown_order);  // connection refused
                 }),
      merchants_(env_, [this] { return live(); }),
      parts_{cfg_,
             log_,
             [this](const engine::channel_config& c, boost::asio::io_context&) {
               return std::make_unique<sim_adapter>(c, suppliers_);
             },
             [this](std::string url, std::vector<std::pair<std::string, std::string>> params,
                    std::string secret, engine::sign_method method) {
               return merchants_.endpoint(std::move(url), std::move(params), std::move(secret),
                                          method);
             },
             clock_,
             out_,
             [this](const engine::order_record& order) {
               out_.detail("on_final {} status {}", order.order_number, engine::to_int(order.status));
               checks_.final_hook(order);
             },
             disabled_} {
  env_.broken = o.broken;
  log_.drop_commits(o.broken == liar::drop_commits);
  start_ms_ = clock_.wall_ms();
  for (const auto& m : cfg_.merchants) credit(m.id, initial_credit_fen(m.id, rng_));
  arrivals_.assign(static_cast<std::size_t>(std::max<std::int64_t>(opts_.steps, 1)), 0);
  const auto arrival_steps = std::max<std::int64_t>(1, opts_.steps * 7 / 10);
  for (std::int64_t i = 0; i < opts_.orders; ++i) ++arrivals_[rng_.below(static_cast<std::uint64_t>(arrival_steps))];
  for (auto n = rng_.between(1, 10); n > 0; --n)
    crash_at_.insert(rng_.between(opts_.steps / 20, std::max<std::int64_t>(opts_.steps - 1, 0)));
}

world::~world() { node_.reset(); }

void world::credit(std::int64_t merchant_id, engine::fen_t amount) {
  store_.set_balance(merchant_id, store_.totals(merchant_id).balance + amount);
  checks_.credited(merchant_id, amount);
  out_.line("m{} credited {} fen", merchant_id, amount);
}

void world::start_process() {
  node_ = std::make_unique<node>(parts_, ++incarnations_);
  out_.line("process {} starts", incarnations_);
  node_->start();
}

void world::crash() {
  const int incarnation = node_->incarnation();
  out_.line("CRASH: process {} dies", incarnation);
  node_->crash();
  node_.reset();
  ++crashes_;
  merchants_.process_died(incarnation);
  restart_at_ms_ = clock_.wall_ms() + rng_.between(0, 3000);
}

void world::switch_channel() {
  if (!node_) return;  // the admin API is down with the process
  const auto& id = cfg_.channels[rng_.below(cfg_.channels.size())].id;
  const bool enable = disabled_.contains(id);
  if (enable) disabled_.erase(id);
  else disabled_.insert(id);
  node_->set_channel(id, enable);
  out_.line("operator {} channel {}", enable ? "enables" : "disables", id);
}

void world::renotify_one() {
  if (!node_) return;
  const auto& m = cfg_.merchants[rng_.below(cfg_.merchants.size())];
  std::vector<std::string> finals;
  for (const auto& r : store_.orders(m.id))
    if (engine::is_terminal(r.status) && !r.notify_url.empty()) finals.push_back(r.order_number);
  if (!finals.empty()) node_->renotify(m.id, finals[rng_.below(finals.size())]);
}

void world::hostile_step(std::int64_t step) {
  for (int i = arrivals_[static_cast<std::size_t>(step)]; i > 0; --i) merchants_.new_order();
  if (crash_at_.contains(step) && node_) crash();
  if (rng_.chance(8)) merchants_.blind_retry();
  if (rng_.chance(8)) merchants_.cancel_one();
  if (rng_.chance(3)) suppliers_.send_stray_callback();
  if (rng_.chance(3)) switch_channel();
  if (rng_.chance(2)) renotify_one();
  if (rng_.chance(1)) {
    const auto& m = cfg_.merchants[rng_.below(cfg_.merchants.size())];
    credit(m.id, 50'000);
  }
}

bool world::tick(std::int64_t step, std::int64_t dt_ms) {
  out_.at(clock_.wall_ms() - start_ms_, step);
  checks_.set_step(step);
  if (!node_ && clock_.wall_ms() >= restart_at_ms_) start_process();
  events_.run_due(clock_.wall_ms());
  if (node_) {
    try {
      node_->poll();
    } catch (const std::exception& e) {
      checks_.fail("no_engine_exception", e.what());
    }
  }
  checks_.after_step();
  clock_.advance(std::chrono::milliseconds(dt_ms));
  return !checks_.failed();
}

bool world::settled() {
  if (!merchants_.all_answered()) return false;
  for (const auto& m : cfg_.merchants)
    for (const auto& r : store_.orders(m.id))
      if (!engine::is_terminal(r.status) || r.callback.status == engine::callback_status::pending)
        return false;
  return true;
}

bool world::drain(std::int64_t first_step, std::int64_t& steps_run) {
  env_.honest = true;
  log_.set_faults(storage_faults{});
  suppliers_.become_honest();
  out_.line("drain: suppliers honest, storage healthy, no more crashes");
  for (const auto& id : disabled_) {
    if (node_) node_->set_channel(id, true);
    out_.line("operator enables channel {}", id);
  }
  disabled_.clear();
  const std::int64_t until_ms = clock_.wall_ms() + k_drain_limit_ms;
  for (std::int64_t step = first_step; clock_.wall_ms() < until_ms; ++step) {
    ++steps_run;
    if (!tick(step, k_drain_step_ms)) return true;
    if ((step - first_step) % 20 == 0 && settled()) return true;
  }
  return false;
}

run_result world::run() {
  log_.set_faults(hostile_storage(rng_));
  start_process();
  run_result result;
  std::int64_t step = 0;
  const std::int64_t hostile =
      opts_.prefix < 0 ? opts_.steps : std::min(opts_.prefix, opts_.steps);
  for (; step < hostile && !checks_.failed(); ++step) {
    hostile_step(step);
    if (!tick(step, rng_.between(1, 300))) break;
  }
  result.steps = step;
  if (!checks_.failed()) {
    const bool in_time = drain(step, result.steps);
    if (!checks_.failed()) checks_.at_end(in_time);
  }
  result.failure = checks_.first();
  result.simulated_ms = clock_.wall_ms() - start_ms_;
  result.orders = merchants_.orders();
  result.acknowledged = merchants_.acknowledged();
  result.pushes = merchants_.pushes();
  result.crashes = crashes_;
  result.deliveries = checks_.deliveries();
  result.submits = suppliers_.submits();
  const auto& c = log_.counts();
  result.storage_faults = c.refused + c.lost + c.read_failed;
  out_.line("end: orders={} acknowledged={} pushes={} crashes={} submits={} deliveries={} "
            "storage faults={} {}",
            result.orders, result.acknowledged, result.pushes, result.crashes, result.submits,
            result.deliveries, result.storage_faults,
            result.failure ? "FAILED " + result.failure->name : std::string("ok"));
  result.trace_hash = out_.hash();
  result.trace_text = out_.text();
  return result;
}

}  // namespace

run_result run_world(const run_options& options) {
  world w(options);
  return w.run();
}

}  // namespace topup::sim
