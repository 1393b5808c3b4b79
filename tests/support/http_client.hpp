#pragma once
// A blocking HTTP/1.1 client for tests: keep-alive, raw writes for malformed-request tests.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
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

/// One keep-alive connection to 127.0.0.1:port. Not thread-safe; one per test thread.
class http_client {
 public:
  explicit http_client(int port, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~http_client();

  /// Sends one request and reads its answer; reconnects first if the server closed the
  /// connection. Throws on transport errors (a test failure).
  http_result request(http::verb method, const std::string& target, const std::string& body = {},
                      const std::string& content_type = "application/x-www-form-urlencoded",
                      const std::string& authorization = {});
  http_result get(const std::string& target) { return request(http::verb::get, target); }
  http_result post(const std::string& target, const std::string& body) {
    return request(http::verb::post, target, body);
  }

  /// Writes raw bytes on the connection (connecting if needed).
  void write_raw(const std::string& bytes);
  /// Reads one response; nullopt if the server closed the connection or timed out first.
  std::optional<http_result> read_response();
  void close();
  /// How many TCP connections this client has opened so far (keep-alive tests: stays 1).
  std::size_t connects() const noexcept { return connects_; }

 private:
  void ensure_connected();
  int port_;
  std::chrono::milliseconds timeout_;
  boost::asio::io_context io_;
  std::optional<boost::asio::ip::tcp::socket> socket_;
  boost::beast::flat_buffer buffer_;
  std::size_t connects_ = 0;
};

}  // namespace topup::test
