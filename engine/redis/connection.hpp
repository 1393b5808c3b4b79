#pragma once
// One hiredis async connection per shard, driven by the shard's io_context; in cluster mode, one
// per master behind one slot map (engine/redis/cluster_router).
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/redis/reply.hpp"

namespace topup::engine::redis {

struct connection_options {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string password;  // empty: no AUTH
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds reconnect_backoff_min{50};
  std::chrono::milliseconds reconnect_backoff_max{2000};
  std::size_t max_pending = 100000;  // commands sent and not yet answered; over it: overloaded
  /// The oldest unanswered command waiting longer than this means the server (or the path to
  /// it) is stuck: the connection is dropped, its pending commands fail with outcome_unknown,
  /// and it reconnects. Zero: never.
  std::chrono::milliseconds command_timeout{5000};
  /// "redis connected" at info; false: at debug, for a connection whose owner reports the outcome
  /// itself (the start-up lease, whose refusals must be the one line topupd prints).
  bool log_connected = true;
  /// Called with each command's round-trip time (metrics); empty: not observed.
  std::function<void(std::chrono::microseconds)> latency_observer;
  /// Non-empty: Redis Cluster mode, these "host:port" are the seed nodes the slot map is first
  /// read from (engine/redis/cluster_router); `host` and `port` are unused. Every other option
  /// applies to each master's connection.
  std::vector<std::string> cluster_nodes;
};

class cluster_router;

/// A hiredis async context driven by one shard's Asio reactor: hiredis's event hooks watch the
/// connection's file descriptor with asio::posix::stream_descriptor (no extra threads, no blocking
/// calls). Commands are pipelined: each is written as soon as it is issued, replies complete in
/// order. After a drop it reconnects with exponential back-off; every command pending at the drop
/// completes with errc::outcome_unknown (it may have been applied, even behind a handshake that
/// failed; storage_unavailable only when nothing can have left: not connected, or the TCP
/// connection never stood), never hangs: a
/// server that stops answering (paused,
/// SIGSTOPped, a silent network) counts as a drop after command_timeout. Lives on, and is used
/// only from, the thread running its io_context.
///
/// With options.cluster_nodes set it speaks to a Redis Cluster instead, through the same calls:
/// each command goes to the master of its key's slot over that master's own connection of the
/// kind above, following MOVED and ASK (cluster_router). Callers see no difference, except that
/// a command whose keys span slots is refused (internal) without being sent.
class connection {
 public:
  connection(boost::asio::io_context& io, connection_options options);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// Starts connecting (and reconnecting after drops) until stop().
  void start();
  /// Closes the connection; pending commands fail with outcome_unknown, later ones with
  /// storage_unavailable.
  void stop();
  bool connected() const noexcept;

  /// Sends one command (binary-safe arguments) and awaits its reply. A Redis error reply is a
  /// reply of kind::error, not an error_code; the error_code is for "no reply": not connected,
  /// dropped while pending (outcome_unknown), or over max_pending (overloaded).
  boost::asio::awaitable<boost::system::result<reply>> command(std::vector<std::string> args);
  /// The same for a command already in RESP (format_command): a caller that may send it twice
  /// keeps one string, not a copy of every word.
  boost::asio::awaitable<boost::system::result<reply>> formatted_command(std::string resp);

  /// `WAIT replicas timeout`: how many replicas have every write this connection sent — in
  /// cluster mode, to the master serving `key`'s slot (the one its writes went to).
  boost::asio::awaitable<boost::system::result<reply>> wait_replicas(
      std::string key, std::uint32_t replicas, std::chrono::milliseconds timeout);

  /// Single-node only (cluster_router's ASK): ASKING, then `resp`, back to back on this
  /// connection, so that no other command can take the ASKING flag; the answer is `resp`'s.
  boost::asio::awaitable<boost::system::result<reply>> asking_command(std::string resp);

 private:
  boost::asio::awaitable<boost::system::result<reply>> submit(std::string resp, bool asking);

  std::function<void(std::chrono::microseconds)> latency_observer_;
  struct impl;
  std::shared_ptr<impl> impl_;  // shared with hiredis callbacks so a late callback never dangles
  std::shared_ptr<cluster_router> cluster_;  // cluster mode: impl_ is null
};

}  // namespace topup::engine::redis
