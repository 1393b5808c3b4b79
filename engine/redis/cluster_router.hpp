#pragma once
// Redis Cluster mode of redis::connection: the slot map and one single-node connection per
// master, on one shard's io_context.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/redis/cluster_slots.hpp"
#include "engine/redis/connection.hpp"
#include "engine/redis/reply.hpp"

namespace topup::engine::redis {

/// What a connection in cluster mode (connection_options::cluster_nodes) delegates to. Owns the
/// slot map (CLUSTER SLOTS from any reachable master or seed, at start, every few seconds, at
/// once after a MOVED or a dropped node) and one single-node redis::connection per master, each
/// with its own pipelining, reconnects and command_timeout. A command goes to the master of its
/// key's slot (cluster_slots route_of); MOVED re-sends it at once to the node named (and the map
/// is refreshed), ASK sends ASKING and it to the node named once, TRYAGAIN / CLUSTERDOWN and
/// "no connection to that node now" wait a little and try again until the command's window
/// (command_timeout) is over: all of these mean the command was not applied. Nothing that may
/// have been applied (a drop while pending: outcome_unknown) is ever sent again. A command is
/// redirected at most k_max_redirects times. Shared with its running coroutines (the refresh
/// loop, commands under way), so a connection destroyed meanwhile leaves them nothing dangling.
/// Lives on, and is used only from, the thread running its io_context.
class cluster_router : public std::enable_shared_from_this<cluster_router> {
 public:
  static constexpr int k_max_redirects = 5;

  /// `node_options`: what each node's connection gets (host and port replaced per node).
  cluster_router(boost::asio::io_context& io, connection_options node_options,
                 std::vector<node_address> seeds);
  ~cluster_router();
  cluster_router(const cluster_router&) = delete;
  cluster_router& operator=(const cluster_router&) = delete;

  void start();
  /// Stops every node's connection (their pending commands fail with outcome_unknown) and the
  /// refresh loop; commands waiting to be retried fail with storage_unavailable.
  void stop();
  /// The map covers every slot and every master's connection is up.
  bool connected() const noexcept;

  /// Sends `resp` (one command, format_command) where it belongs; the answer as
  /// connection::formatted_command gives it. internal (nothing sent, logged) for a command that
  /// must not go to a cluster: keys spanning slots, MULTI, WAIT... (cluster_slots route_of).
  static boost::asio::awaitable<boost::system::result<reply>> send(
      std::shared_ptr<cluster_router> self, std::string resp);
  /// Sends a keyless command that concerns one master's connection (WAIT: the replicas of the
  /// writes sent on it) to the master serving `key`'s slot; storage_unavailable when the map
  /// has none. Never redirected: it is about that connection, not about a key.
  static boost::asio::awaitable<boost::system::result<reply>> send_near(
      std::shared_ptr<cluster_router> self, std::string key, std::string resp);

 private:
  static boost::asio::awaitable<void> refresh_loop(std::shared_ptr<cluster_router> self,
                                                  std::uint64_t generation);
  static boost::asio::awaitable<bool> refresh_once(std::shared_ptr<cluster_router> self);
  static boost::asio::awaitable<boost::system::result<reply>> send_to_every_master(
      std::shared_ptr<cluster_router> self, std::string resp,
      std::chrono::steady_clock::time_point deadline);

  std::shared_ptr<connection> node_at(const node_address& address);
  /// The master serving `slot`, or any master (slot < 0), a connected one first; nullopt when
  /// the map has none.
  std::optional<node_address> address_for(int slot);
  void install(slot_map map);
  void request_refresh();

  boost::asio::io_context& io_;
  connection_options node_options_;
  std::vector<node_address> seeds_;
  std::chrono::milliseconds retry_window_;
  slot_map map_;
  std::unordered_map<std::string, std::shared_ptr<connection>> nodes_;  // by "host:port"
  boost::asio::steady_timer refresh_timer_;
  bool running_ = false;
  std::uint64_t generation_ = 0;  // of start(): which refresh loop is the live one
  bool stopped_ = false;
  bool refresh_wanted_ = false;
  bool refresh_sleeping_ = false;  // the loop waits out its period: a request may wake it
};

}  // namespace topup::engine::redis
