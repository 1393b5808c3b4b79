#include "tests/support/http_client.hpp"

#include <sys/socket.h>
#include <sys/time.h>

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <stdexcept>

namespace topup::test {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

http_client::http_client(int port, std::chrono::milliseconds timeout, transport how)
    : port_(port), timeout_(timeout), transport_(how) {
  if (transport_ == transport::tls) {
    tls_context_.emplace(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(tls_context_->native_handle(), TLS1_2_VERSION);
    tls_context_->set_verify_mode(ssl::verify_none);
  }
}

http_client::~http_client() { close(); }

template <class F>
auto http_client::with_stream(F&& use) {
  if (tls_) return use(*tls_);
  return use(*socket_);
}

std::string http_client::tls_version() {
  if (!tls_) return {};
  return SSL_get_version(tls_->native_handle());
}

void http_client::close() {
  tls_.reset();
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
  if (transport_ == transport::tls) {
    tls_.emplace(*socket_, *tls_context_);
    boost::system::error_code handshake_ec;
    tls_->handshake(ssl::stream_base::client, handshake_ec);
    if (handshake_ec) {
      close();
      throw boost::system::system_error(handshake_ec, "http_client: TLS handshake");
    }
  }
}

void http_client::write_raw(const std::string& bytes) {
  ensure_connected();
  with_stream([&](auto& stream) { asio::write(stream, asio::buffer(bytes)); });
}

std::optional<http_result> http_client::read_response() {
  if (!socket_) return std::nullopt;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  boost::system::error_code ec;
  with_stream([&](auto& stream) { http::read(stream, buffer_, parser, ec); });
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
                                 const std::string& authorization,
                                 const std::string& accept_encoding) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    ensure_connected();
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (!body.empty() || method == http::verb::post) {
      req.set(http::field::content_type, content_type);
      req.body() = body;
    }
    if (!authorization.empty()) req.set(http::field::authorization, authorization);
    if (!accept_encoding.empty()) req.set(http::field::accept_encoding, accept_encoding);
    req.keep_alive(true);
    req.prepare_payload();
    boost::system::error_code ec;
    with_stream([&](auto& stream) { http::write(stream, req, ec); });
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
