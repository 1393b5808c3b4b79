#include "engine/redis/cluster_router.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <utility>

#include "engine/redis/command.hpp"
#include "engine/support/errc.hpp"
#include "engine/support/log.hpp"

namespace topup::engine::redis {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using boost::system::result;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

// The map is read again this often while all is well, and this often while it is incomplete or
// a master is down; never more often than the gap, however many MOVED ask for it.
constexpr milliseconds k_refresh_period{5000};
constexpr milliseconds k_refresh_retry{500};
constexpr milliseconds k_refresh_gap{100};
// A command that must wait (TRYAGAIN, CLUSTERDOWN, no connection to its node) tries again after
// this, doubled each time up to the maximum, within its window.
constexpr milliseconds k_retry_pause_min{10};
constexpr milliseconds k_retry_pause_max{200};
// The window of a command when command_timeout is 0 ("never"): retries are bounded anyway.
constexpr milliseconds k_default_window{5000};

// Waits `pause` (doubling it for next time) if that ends before `deadline`; false when it would
// not, or when the router stopped meanwhile.
asio::awaitable<bool> pause_before_retry(const std::shared_ptr<cluster_router>& keep,
                                         const bool& stopped, milliseconds& pause,
                                         steady_clock::time_point deadline) {
  (void)keep;  // keeps `stopped` alive across the wait
  if (stopped || steady_clock::now() + pause >= deadline) co_return false;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(pause);
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  pause = std::min(pause * 2, k_retry_pause_max);
  co_return !stopped;
}

}  // namespace

cluster_router::cluster_router(asio::io_context& io, connection_options node_options,
                               std::vector<node_address> seeds)
    : io_(io),
      node_options_(std::move(node_options)),
      seeds_(std::move(seeds)),
      retry_window_(node_options_.command_timeout.count() > 0 ? node_options_.command_timeout
                                                              : k_default_window),
      refresh_timer_(io) {
  node_options_.cluster_nodes.clear();
  node_options_.latency_observer = nullptr;  // the cluster connection observes whole commands
}

cluster_router::~cluster_router() { stop(); }

void cluster_router::start() {
  if (running_) return;
  running_ = true;
  stopped_ = false;
  ++generation_;
  for (const auto& [address, node] : nodes_) node->start();
  asio::co_spawn(io_, refresh_loop(shared_from_this(), generation_), asio::detached);
}

void cluster_router::stop() {
  running_ = false;
  stopped_ = true;
  refresh_timer_.cancel();
  for (const auto& [address, node] : nodes_) node->stop();
  nodes_.clear();
  map_ = slot_map{};
}

bool cluster_router::connected() const noexcept {
  if (!running_ || map_.masters.empty() || !map_.complete()) return false;
  return std::all_of(map_.masters.begin(), map_.masters.end(), [this](const node_address& a) {
    auto node = nodes_.find(a.text());
    return node != nodes_.end() && node->second->connected();
  });
}

std::shared_ptr<connection> cluster_router::node_at(const node_address& address) {
  auto& node = nodes_[address.text()];
  if (!node) {
    auto options = node_options_;
    options.host = address.host;
    options.port = address.port;
    node = std::make_shared<connection>(io_, std::move(options));
    if (running_) node->start();
  }
  return node;
}

std::optional<node_address> cluster_router::address_for(int slot) {
  if (slot >= 0) {
    const auto owner = map_.owner[static_cast<std::size_t>(slot)];
    if (owner < 0) return std::nullopt;
    return map_.masters[static_cast<std::size_t>(owner)];
  }
  // Any master: a connected one when there is one.
  for (const auto& address : map_.masters)
    if (node_at(address)->connected()) return address;
  if (map_.masters.empty()) return std::nullopt;
  return map_.masters.front();
}

void cluster_router::install(slot_map map) {
  const bool changed = map.masters != map_.masters || map.owner != map_.owner;
  map_ = std::move(map);
  // Connections to nodes that are no longer masters go; commands under way on them keep theirs
  // (each holds a reference) and finish normally.
  std::erase_if(nodes_, [this](const auto& entry) {
    return std::none_of(map_.masters.begin(), map_.masters.end(),
                        [&](const node_address& a) { return a.text() == entry.first; });
  });
  for (const auto& address : map_.masters) node_at(address);
  if (changed) {
    std::string masters;
    for (const auto& a : map_.masters) masters += (masters.empty() ? "" : ",") + a.text();
    logger("engine")->log(node_options_.log_connected ? spdlog::level::info : spdlog::level::debug,
                          "redis cluster map masters={} complete={}", masters, map_.complete());
  }
}

void cluster_router::request_refresh() {
  refresh_wanted_ = true;
  if (refresh_sleeping_) refresh_timer_.cancel();
}

asio::awaitable<void> cluster_router::refresh_loop(std::shared_ptr<cluster_router> self,
                                                   std::uint64_t generation) {
  // Ends at stop(); a start() after that runs a loop of its own (another generation).
  auto live = [&self, generation] { return self->running_ && self->generation_ == generation; };
  while (live()) {
    self->refresh_wanted_ = false;
    const bool read = co_await refresh_once(self);
    if (!live()) break;
    self->refresh_timer_.expires_after(k_refresh_gap);
    co_await self->refresh_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (!live() || self->refresh_wanted_) continue;
    const bool well = read && self->connected();
    self->refresh_timer_.expires_after((well ? k_refresh_period : k_refresh_retry) - k_refresh_gap);
    self->refresh_sleeping_ = true;
    co_await self->refresh_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    self->refresh_sleeping_ = false;
  }
}

asio::awaitable<bool> cluster_router::refresh_once(std::shared_ptr<cluster_router> self) {
  // The masters it knows first (connected ones before the others), then the seeds.
  std::vector<node_address> candidates;
  for (const auto& a : self->map_.masters)
    if (self->node_at(a)->connected()) candidates.push_back(a);
  auto add = [&candidates](const node_address& a) {
    if (std::find(candidates.begin(), candidates.end(), a) == candidates.end())
      candidates.push_back(a);
  };
  for (const auto& a : self->map_.masters) add(a);
  for (const auto& a : self->seeds_) add(a);
  for (const auto& address : candidates) {
    if (!self->running_) co_return false;
    auto node = self->node_at(address);
    auto command = format_command(args("CLUSTER", "SLOTS"));
    auto answer = co_await node->formatted_command(std::move(command));
    if (!self->running_) co_return false;
    if (!answer || answer->is_error()) continue;
    auto map = parse_cluster_slots(*answer, address.host);
    if (!map || map->masters.empty()) continue;
    self->install(std::move(*map));
    co_return true;
  }
  co_return false;
}

asio::awaitable<result<reply>> cluster_router::send(std::shared_ptr<cluster_router> self,
                                                    std::string resp) {
  auto words = resp_words(resp);
  if (!words) co_return make_error_code(errc::internal);
  const command_route route = route_of(*words);
  if (route.to == command_route::kind::refused) {
    logger("engine")->error("redis cluster: command {} not sent: {}", (*words)[0], route.why);
    co_return make_error_code(errc::internal);
  }
  const auto deadline = steady_clock::now() + self->retry_window_;
  if (route.to == command_route::kind::every)
    co_return co_await send_to_every_master(self, std::move(resp), deadline);

  milliseconds pause = k_retry_pause_min;
  int redirects = 0;
  std::optional<node_address> ask_to;  // ASK: this node, once, after ASKING
  for (;;) {
    if (self->stopped_) co_return make_error_code(errc::storage_unavailable);
    auto to = ask_to ? ask_to : self->address_for(route.slot);
    if (!to) {  // no map yet, or nobody serves the slot
      self->request_refresh();
      if (co_await pause_before_retry(self, self->stopped_, pause, deadline)) continue;
      co_return make_error_code(errc::storage_unavailable);
    }
    auto node = self->node_at(*to);
    std::string copy = resp;
    const bool asking = ask_to.has_value();
    ask_to.reset();
    result<reply> answer = make_error_code(errc::internal);
    if (asking)
      answer = co_await node->asking_command(std::move(copy));
    else
      answer = co_await node->formatted_command(std::move(copy));
    if (!answer) {
      if (answer.error() == errc::outcome_unknown) self->request_refresh();
      // Nothing left: the node is unreachable now (failing over?). Safe to send again.
      if (answer.error() != errc::storage_unavailable) co_return answer;
      self->request_refresh();
      if (co_await pause_before_retry(self, self->stopped_, pause, deadline)) continue;
      co_return answer;
    }
    if (!answer->is_error()) co_return answer;
    if (auto redirect = parse_redirection(answer->str)) {
      // No host: the node that answered (Redis leaves out an endpoint it does not know).
      if (redirect->to.host.empty()) redirect->to.host = to->host;
      if (++redirects > k_max_redirects) {
        logger("engine")->error("redis cluster: command {} redirected {} times, last \"{}\"",
                                (*words)[0], k_max_redirects, answer->str);
        co_return make_error_code(errc::storage_unavailable);
      }
      if (redirect->type == redirection::kind::ask) {
        ask_to = std::move(redirect->to);
      } else {
        // The slot lives there now: send there at once, and read the whole map again.
        self->map_.owner[static_cast<std::size_t>(redirect->slot)] =
            self->map_.index_of(redirect->to);
        self->request_refresh();
      }
      continue;
    }
    if (is_cluster_retry(answer->str) &&
        co_await pause_before_retry(self, self->stopped_, pause, deadline))
      continue;
    co_return answer;  // TRYAGAIN / CLUSTERDOWN past the window: as the single-node path gives it
  }
}

asio::awaitable<result<reply>> cluster_router::send_near(std::shared_ptr<cluster_router> self,
                                                         std::string key, std::string resp) {
  auto to = self->address_for(key_slot(key));
  if (!to || self->stopped_) co_return make_error_code(errc::storage_unavailable);
  auto node = self->node_at(*to);
  auto answer = co_await node->formatted_command(std::move(resp));
  co_return answer;
}

asio::awaitable<result<reply>> cluster_router::send_to_every_master(
    std::shared_ptr<cluster_router> self, std::string resp, steady_clock::time_point deadline) {
  milliseconds pause = k_retry_pause_min;
  while (self->map_.masters.empty()) {
    self->request_refresh();
    if (!co_await pause_before_retry(self, self->stopped_, pause, deadline))
      co_return make_error_code(errc::storage_unavailable);
  }
  // A copy: the map may change while the answers come.
  const auto masters = self->map_.masters;
  result<reply> last = make_error_code(errc::storage_unavailable);
  for (const auto& address : masters) {
    if (self->stopped_) co_return make_error_code(errc::storage_unavailable);
    auto node = self->node_at(address);
    std::string copy = resp;
    last = co_await node->formatted_command(std::move(copy));
    if (!last || last->is_error()) co_return last;
  }
  co_return last;
}

}  // namespace topup::engine::redis
