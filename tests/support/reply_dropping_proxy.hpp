#pragma once
// A TCP relay between topupd and redis-server that can swallow the server's replies: the way to
// make "Redis applied the write, and its answer never came back" happen on purpose.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <thread>

namespace topup::test {

/// Listens on a free loopback port and relays every connection to 127.0.0.1:`target_port`,
/// both ways. While drop_replies(true), what the server sends is read and thrown away: commands
/// still reach the server and are applied, but no answer ever reaches the client; a connection
/// that lost replies is closed when its next reply comes after drop_replies(false), as a real
/// lost reply means a dead connection (never replies paired with the wrong commands). Runs its own
/// io_context on its own thread; stops (closing every relayed connection) on destruction.
class reply_dropping_proxy {
 public:
  explicit reply_dropping_proxy(int target_port);
  ~reply_dropping_proxy();
  reply_dropping_proxy(const reply_dropping_proxy&) = delete;
  reply_dropping_proxy& operator=(const reply_dropping_proxy&) = delete;

  int port() const noexcept { return port_; }
  void drop_replies(bool drop) noexcept { drop_.store(drop); }
  /// Bytes of server replies swallowed so far.
  std::size_t dropped_bytes() const noexcept { return dropped_.load(); }

 private:
  void accept();

  int target_port_;
  int port_ = 0;
  std::atomic<bool> drop_{false};
  std::atomic<std::size_t> dropped_{0};
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
};

}  // namespace topup::test
