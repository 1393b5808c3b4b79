#pragma once
// A blocking HTTP/1.1 client for tests: keep-alive, raw writes for malformed-request tests,
// plain HTTP or TLS.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace topup::test {

namespace http = boost::beast::http;

struct http_result {
  unsigned status = 0;
  std::string body;
  http::fields headers;
  bool keep_alive = true;
};

/// How a test client reaches topupd: plain HTTP, or TLS (1.2 or later, the server's certificate
/// not verified: tests use certificates made at run time).
enum class transport { plain, tls };

/// One keep-alive connection to 127.0.0.1:port. Not thread-safe; one per test thread.
class http_client {
 public:
  explicit http_client(int port, std::chrono::milliseconds timeout = std::chrono::seconds(10),
                       transport how = transport::plain);
  ~http_client();

  /// Sends one request and reads its answer; reconnects first if the server closed the
  /// connection. Throws on transport errors (a test failure).
  http_result request(http::verb method, const std::string& target, const std::string& body = {},
                      const std::string& content_type = "application/x-www-form-urlencoded",
                      const std::string& authorization = {},
                      const std::string& accept_encoding = {});
  http_result get(const std::string& target) { return request(http::verb::get, target); }
  http_result post(const std::string& target, const std::string& body) {
    return request(http::verb::post, target, body);
  }

  /// Writes raw bytes on the connection (connecting if needed; over TLS, inside the TLS stream).
  void write_raw(const std::string& bytes);
  /// Reads one response; nullopt if the server closed the connection or timed out first.
  std::optional<http_result> read_response();
  void close();
  /// How many TCP connections this client has opened so far (keep-alive tests: stays 1).
  std::size_t connects() const noexcept { return connects_; }
  /// Over TLS: the protocol version the last handshake agreed on (e.g. "TLSv1.3"); empty if
  /// not connected or plain.
  std::string tls_version();

 private:
  void ensure_connected();
  /// Calls `use` with the connection's stream: the TLS stream or the plain socket.
  template <class F>
  auto with_stream(F&& use);
  int port_;
  std::chrono::milliseconds timeout_;
  transport transport_;
  boost::asio::io_context io_;
  std::optional<boost::asio::ssl::context> tls_context_;
  std::optional<boost::asio::ip::tcp::socket> socket_;
  std::optional<boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>> tls_;
  boost::beast::flat_buffer buffer_;
  std::size_t connects_ = 0;
};

}  // namespace topup::test
