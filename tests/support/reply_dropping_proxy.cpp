#include "tests/support/reply_dropping_proxy.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <memory>

namespace topup::test {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

/// One relayed connection: client <-> server, each direction a read-then-write loop. Used on the
/// proxy's one thread only.
struct relay : std::enable_shared_from_this<relay> {
  relay(tcp::socket c, tcp::socket s, std::atomic<bool>& drop, std::atomic<std::size_t>& dropped)
      : client(std::move(c)), server(std::move(s)), drop_(drop), dropped_(dropped) {}

  void start() {
    pump(client, server, up, false);
    pump(server, client, down, true);
  }

  void pump(tcp::socket& from, tcp::socket& to, std::array<char, 16384>& buf, bool replies) {
    from.async_read_some(asio::buffer(buf), [self = shared_from_this(), &from, &to, &buf,
                                             replies](boost::system::error_code ec, std::size_t n) {
      if (ec) return self->close();
      if (replies && self->drop_.load()) {
        self->dropped_ += n;
        self->swallowed = true;
        return self->pump(from, to, buf, replies);
      }
      // A connection that lost replies is closed at its next one: what follows would be paired
      // with the wrong commands (a real lost reply is a dead connection, never a shifted one).
      if (replies && self->swallowed) return self->close();
      asio::async_write(to, asio::buffer(buf.data(), n),
                        [self, &from, &to, &buf, replies](boost::system::error_code wec, std::size_t) {
                          if (wec) return self->close();
                          self->pump(from, to, buf, replies);
                        });
    });
  }

  void close() {
    boost::system::error_code ignored;
    client.close(ignored);
    server.close(ignored);
  }

  tcp::socket client;
  tcp::socket server;
  std::array<char, 16384> up{};
  std::array<char, 16384> down{};
  std::atomic<bool>& drop_;
  std::atomic<std::size_t>& dropped_;
  bool swallowed = false;  // some reply of this connection was thrown away
};

}  // namespace

reply_dropping_proxy::reply_dropping_proxy(int target_port)
    : target_port_(target_port), acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
  port_ = acceptor_.local_endpoint().port();
  accept();
  thread_ = std::thread([this] { io_.run(); });
}

reply_dropping_proxy::~reply_dropping_proxy() {
  io_.stop();
  if (thread_.joinable()) thread_.join();
}

void reply_dropping_proxy::accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket client) {
    if (ec) return;
    tcp::socket server(io_);
    boost::system::error_code cec;
    server.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                 static_cast<unsigned short>(target_port_)),
                   cec);
    if (!cec)
      std::make_shared<relay>(std::move(client), std::move(server), drop_, dropped_)->start();
    accept();
  });
}

}  // namespace topup::test
