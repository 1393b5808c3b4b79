#include "channels/sim/sim_adapter.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/intrusive/list.hpp>

#include <algorithm>
#include <chrono>
#include <deque>
#include <random>
#include <unordered_map>

#include "channels/errc.hpp"
#include "engine/support/assert.hpp"
#include "engine/support/log.hpp"

namespace topup::channels {

namespace asio = boost::asio;
namespace bi = boost::intrusive;
using engine::attempt_outcome;
using engine::attempt_result;

/// A latency timer of one suspended submit, listed in the state for close() for exactly as long
/// as it exists. A list, not a hash set: a set of 100k+ timers rehashes all at once as it grows,
/// a reactor stall of tens of ms; linking and unlinking are O(1) and never allocate.
struct pending_timer : bi::list_base_hook<bi::link_mode<bi::auto_unlink>> {
  explicit pending_timer(asio::io_context& io, std::chrono::milliseconds after) : timer(io, after) {}
  asio::steady_timer timer;
};

/// Everything a suspended submit needs, kept alive by the submits themselves so that close() or
/// the adapter's destruction never leaves a waiting coroutine pointing at freed memory.
struct sim_adapter::state {
  asio::io_context& io;
  sim_settings settings;
  std::mt19937_64 rng;
  bool closed = false;
  /// attempt_id -> its definitive outcome (succeeded or failed), or pending for an attempt held
  /// for ever (hold_mobiles), and insertion order for eviction.
  std::unordered_map<std::string, attempt_outcome> remembered;
  std::deque<std::string> remembered_order;
  bi::list<pending_timer, bi::constant_time_size<false>> timers;

  state(asio::io_context& io_, const sim_settings& settings_, std::uint64_t seed)
      : io(io_), settings(settings_), rng(seed) {
    // Full size from the start: growing rehashes every entry at once (a stall at this size).
    remembered.reserve(k_remembered_max + 1);
  }

  bool draw(double rate) {
    // [0, 1): a rate of 1 always draws true, a rate of 0 never does.
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng) < rate;
  }

  std::uint32_t draw_latency_ms() {
    if (settings.latency_ms_min == settings.latency_ms_max) return settings.latency_ms_min;
    return std::uniform_int_distribution<std::uint32_t>(settings.latency_ms_min,
                                                        settings.latency_ms_max)(rng);
  }

  void remember(const std::string& attempt_id, attempt_outcome outcome) {
    TOPUP_ASSERT(outcome == attempt_outcome::succeeded || outcome == attempt_outcome::failed ||
                 outcome == attempt_outcome::pending);
    if (remembered.size() >= k_remembered_max && !remembered_order.empty()) {
      remembered.erase(remembered_order.front());
      remembered_order.pop_front();
    }
    remembered.emplace(attempt_id, outcome);
    remembered_order.push_back(attempt_id);
  }

  bool held(const std::string& mobile) const {
    return std::find(settings.hold_mobiles.begin(), settings.hold_mobiles.end(), mobile) !=
           settings.hold_mobiles.end();
  }
};

namespace {

constexpr auto as_tuple_awaitable = asio::as_tuple(asio::use_awaitable);

/// What the simulated supplier says about an attempt it placed: its definitive outcome, or
/// "still working" for a held one.
attempt_result remembered_result(attempt_outcome outcome) {
  if (outcome == attempt_outcome::succeeded) return {attempt_outcome::succeeded, "sim: delivered"};
  if (outcome == attempt_outcome::pending) return {attempt_outcome::pending, "sim: held"};
  return {attempt_outcome::failed, "sim: simulated failure"};
}

std::uint64_t initial_seed(const sim_settings& settings, unsigned shard) {
  if (settings.seed != 0) return settings.seed + shard;  // wraps harmlessly near 2^64
  std::random_device device;
  return (std::uint64_t{device()} << 32) ^ device();
}

asio::awaitable<attempt_result> run_submit(std::shared_ptr<sim_adapter::state> st,
                                           engine::attempt_request request) {
  if (st->closed) {
    co_await asio::post(st->io, asio::use_awaitable);
    co_return attempt_result{attempt_outcome::refused, "sim: channel closed"};
  }
  // Decide now, before waiting, so that concurrent submits cannot reorder the draws.
  attempt_outcome final_outcome = attempt_outcome::failed;
  bool answer_unknown = false;
  bool newly_held = false;
  if (auto known = st->remembered.find(request.attempt_id); known != st->remembered.end()) {
    final_outcome = known->second;  // a repeat of a placed attempt: no second placement
  } else if (st->held(request.mobile)) {
    // Taken, never finished. Nothing is drawn, so the other attempts' outcomes stay as they
    // would be without it.
    final_outcome = attempt_outcome::pending;
    newly_held = true;
    st->remember(request.attempt_id, final_outcome);
  } else {
    answer_unknown = st->draw(st->settings.unknown_rate);
    final_outcome =
        st->draw(st->settings.success_rate) ? attempt_outcome::succeeded : attempt_outcome::failed;
    st->remember(request.attempt_id, final_outcome);
  }
  const std::uint32_t latency_ms = newly_held ? st->settings.latency_ms_min : st->draw_latency_ms();

  if (latency_ms > 0) {
    pending_timer pending(st->io, std::chrono::milliseconds(latency_ms));
    st->timers.push_back(pending);  // unlinks itself when it goes out of scope
    auto [ec] = co_await pending.timer.async_wait(as_tuple_awaitable);
    if (ec) {
      // close(): the supplier has the order but its answer is lost, as in a timeout.
      co_return attempt_result{attempt_outcome::unknown, "sim: closed before answering"};
    }
  } else {
    // Never answer inline: callers may rely on submit suspending at least once.
    co_await asio::post(st->io, asio::use_awaitable);
  }
  if (answer_unknown) {
    co_return attempt_result{attempt_outcome::unknown, "sim: simulated timeout"};
  }
  if (final_outcome == attempt_outcome::pending) {
    co_return attempt_result{attempt_outcome::accepted, "sim: held"};
  }
  co_return remembered_result(final_outcome);
}

asio::awaitable<attempt_result> run_query(std::shared_ptr<sim_adapter::state> st,
                                          engine::attempt_request request) {
  co_await asio::post(st->io, asio::use_awaitable);
  auto known = st->remembered.find(request.attempt_id);
  if (known == st->remembered.end()) {
    co_return attempt_result{attempt_outcome::not_found, "sim: no such attempt"};
  }
  co_return remembered_result(known->second);
}

}  // namespace

sim_adapter::sim_adapter(const engine::channel_config& config, asio::io_context& io, unsigned shard)
    : config_(config), settings_(parse_sim_settings(config)) {
  const std::uint64_t seed = initial_seed(settings_, shard);
  state_ = std::make_shared<state>(io, settings_, seed);
  // The seed actually used, so that a run seeded from random_device can still be replayed.
  logger("channels.sim")->debug("channel={} shard={} seed={}", config_.id, shard, seed);
}

sim_adapter::~sim_adapter() { close(); }

asio::awaitable<attempt_result> sim_adapter::submit(engine::attempt_request request) {
  return run_submit(state_, std::move(request));
}

asio::awaitable<attempt_result> sim_adapter::query(engine::attempt_request request) {
  return run_query(state_, std::move(request));
}

boost::system::result<engine::supplier_callback> sim_adapter::parse_callback(
    const std::vector<std::pair<std::string, std::string>>& /*params*/) {
  // The simulator answers every submit itself and never calls back: anything posted to its
  // /notify endpoint is somebody else's.
  return make_error_code(errc::unknown_order);
}

void sim_adapter::close() {
  state_->closed = true;
  // cancel() only queues the completions (nothing unlinks during the loop).
  for (auto& pending : state_->timers) pending.timer.cancel();
}

std::unique_ptr<engine::channel_adapter> make_sim_adapter(const engine::channel_config& config,
                                                          asio::io_context& io, unsigned shard) {
  return std::make_unique<sim_adapter>(config, io, shard);
}

}  // namespace topup::channels
