// protocol/http_server on loopback with a scripted handler: what a client sees when a handler
// has a bug (spec §1: every answer is a JSON envelope, an internal error is code 5001).
#include <gtest/gtest.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include "protocol/http_server.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/merchant_client.hpp"

namespace {

namespace asio = boost::asio;
using topup::protocol::http_request;
using topup::protocol::http_response;
using topup::protocol::http_server;
using topup::protocol::http_server_options;
namespace http = topup::protocol::http;

/// Throws on /boom (a bug escaping the handler), answers 200 "fine" otherwise.
asio::awaitable<http_response> handler_with_a_bug(http_request request) {
  if (request.message.target() == "/boom") throw std::logic_error("handler bug");
  co_return topup::protocol::make_response(http::status::ok, "fine", "text/plain",
                                           request.message.version(), request.message.keep_alive());
}

/// An http_server on 127.0.0.1 and an ephemeral port, run on its own thread for the test's life.
class running_server {
 public:
  running_server() : server_(io_, 0, options(), handler_with_a_bug) {
    if (auto ec = server_.listen()) throw std::runtime_error("listen: " + ec.message());
    thread_ = std::thread([this] { io_.run(); });
  }
  ~running_server() {
    asio::post(io_, [this] { server_.shutdown(); });
    io_.stop();
    thread_.join();
  }
  running_server(const running_server&) = delete;
  running_server& operator=(const running_server&) = delete;

  int port() const { return server_.port(); }

 private:
  static http_server_options options() {
    http_server_options o;
    o.host = "127.0.0.1";
    o.port = 0;
    return o;
  }
  asio::io_context io_{1};
  http_server server_;
  std::thread thread_;
};

TEST(HttpServer, HandlerExceptionIsAnswered5001AsJsonAndTheServerStaysUp) {
  running_server server;
  topup::test::http_client client(server.port());
  topup::test::expect_json_envelope(client.post("/boom", "a=1"), 200, "5001");
  // The listener and the next requests are unaffected.
  auto fine = client.get("/ok");
  EXPECT_EQ(fine.status, 200u);
  EXPECT_EQ(fine.body, "fine");
  topup::test::expect_json_envelope(client.get("/boom"), 200, "5001");
}

}  // namespace
