#pragma once
// The merchant/admin HTTP server: one listener per shard (SO_REUSEPORT), Boost.Beast sessions.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace boost::asio::ssl {
class context;
}

namespace topup::protocol {

namespace http = boost::beast::http;
using http_response = http::response<http::string_body>;

/// One parsed request as a handler sees it.
struct http_request {
  http::request<http::string_body> message;
  boost::asio::ip::address remote;
  unsigned shard = 0;
};

/// Produces the answer to a request; runs on the shard that accepted the connection. It takes
/// its argument by value (coroutine rule) and must not throw for expected failures.
using http_handler = std::function<boost::asio::awaitable<http_response>(http_request)>;

struct http_server_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  std::size_t max_body_bytes = 16 * 1024;
  std::size_t max_header_bytes = 8 * 1024;
  std::chrono::milliseconds read_timeout{10'000};  // one request, first byte to last
  std::chrono::milliseconds idle_timeout{60'000};  // keep-alive wait for the next request
  std::size_t max_connections = 10'000;            // per shard; beyond it new ones are closed
  /// Set: every connection is TLS (protocol/tls_server_context), its handshake bounded by
  /// read_timeout like a request; then keep-alive, limits and timeouts as on plain HTTP.
  std::shared_ptr<boost::asio::ssl::context> tls;
};

/// The listener and sessions of one shard. Keep-alive, pipelined requests answered in order
/// (a session reads, answers, then reads the next), 413 over max_body_bytes, 431 over
/// max_header_bytes, read and idle timeouts so slow or idle clients cannot pin connections.
/// Lives on its shard's thread; shutdown() stops accepting, closes idle connections, and lets
/// requests being handled finish and be answered before their connections close. With
/// options.tls the same sessions run over TLS: a failed handshake (a plain-HTTP client, TLS 1.1,
/// a stalled client) closes that connection and nothing else.
class http_server {
 public:
  http_server(boost::asio::io_context& io, unsigned shard, http_server_options options,
              http_handler handler);
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// Opens, binds (SO_REUSEPORT, so every shard binds the same address) and starts accepting.
  boost::system::error_code listen();
  /// The bound port (useful when options.port was 0).
  std::uint16_t port() const;
  void shutdown();
  std::size_t open_connections() const;

  struct state;  // shared with the accept loop and sessions, which may outlive this object

 private:
  std::shared_ptr<state> state_;
};

/// A response with the given status and body, closing the connection when keep_alive is false.
http_response make_response(http::status status, std::string body, std::string_view content_type,
                            unsigned version, bool keep_alive);

}  // namespace topup::protocol
