#include "tests/support/http_client.hpp"

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <stdexcept>

namespace topup::test {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

http_client::http_client(int port, std::chrono::milliseconds timeout)
    : port_(port), timeout_(timeout) {}

http_client::~http_client() { close(); }

void http_client::close() {
  if (socket_) {
    boost::system::error_code ec;
    socket_->close(ec);
    socket_.reset();
  }
  buffer_.clear();
}

void http_client::ensure_connected() {
  if (socket_ && socket_->is_open()) return;
  socket_.emplace(io_);
  boost::system::error_code connect_ec;
  socket_->connect(
      tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port_)),
      connect_ec);
  if (connect_ec) {
    // A failed connect leaves the socket open but unconnected: drop it, so that the next call
    // connects afresh instead of writing into it.
    close();
    throw boost::system::system_error(connect_ec, "http_client: connect");
  }
  ++connects_;
  socket_->set_option(tcp::no_delay(true));
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout_.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout_.count() % 1000) * 1000);
  ::setsockopt(socket_->native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(socket_->native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  buffer_.clear();
}

void http_client::write_raw(const std::string& bytes) {
  ensure_connected();
  asio::write(*socket_, asio::buffer(bytes));
}

std::optional<http_result> http_client::read_response() {
  if (!socket_) return std::nullopt;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  boost::system::error_code ec;
  http::read(*socket_, buffer_, parser, ec);
  if (ec) {
    close();
    return std::nullopt;
  }
  auto res = parser.release();
  http_result out;
  out.status = res.result_int();
  out.body = res.body();
  out.keep_alive = res.keep_alive();
  for (const auto& f : res) out.headers.set(f.name_string(), f.value());
  if (!out.keep_alive) close();
  return out;
}

http_result http_client::request(http::verb method, const std::string& target,
                                 const std::string& body, const std::string& content_type,
                                 const std::string& authorization) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    ensure_connected();
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (!body.empty() || method == http::verb::post) {
      req.set(http::field::content_type, content_type);
      req.body() = body;
    }
    if (!authorization.empty()) req.set(http::field::authorization, authorization);
    req.keep_alive(true);
    req.prepare_payload();
    boost::system::error_code ec;
    http::write(*socket_, req, ec);
    if (!ec) {
      if (auto res = read_response()) return *res;
    }
    // The server may have closed an idle keep-alive connection: one fresh try.
    close();
  }
  throw std::runtime_error("http_client: no answer from 127.0.0.1:" + std::to_string(port_) +
                           " for " + target);
}

}  // namespace topup::test
