#include "bench/topup_bench/blocking_http.hpp"

#include <sys/socket.h>
#include <sys/time.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <optional>
#include <stdexcept>
#include <thread>

#include "bench/topup_bench/http_framing.hpp"

namespace topup::bench {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

blocking_response blocking_request(const http_endpoint& to, std::string_view method,
                                   std::string_view target, std::string_view body,
                                   std::string_view extra_headers,
                                   std::chrono::milliseconds timeout) {
  const std::uint16_t port = to.port;
  asio::io_context io;
  tcp::socket socket(io);
  std::string request = std::string(method) + " " + std::string(target) +
                        " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                        "\r\nConnection: close\r\n" + std::string(extra_headers);
  if (!body.empty() || method == "POST") {
    request += "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n";
  }
  request += "\r\n";
  request += body;

  // Blocking calls bounded by socket timeouts (SO_RCVTIMEO / SO_SNDTIMEO): set-up steps only.
  boost::system::error_code ec;
  socket.connect(tcp::endpoint(asio::ip::address_v4::loopback(), port), ec);
  const auto fail = [&](const std::string& why) {
    return std::runtime_error(std::string(method) + " " + std::string(target) + " on port " +
                              std::to_string(port) + ": " + why);
  };
  if (ec) throw fail(ec.message());
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::optional<ssl::context> tls_context;
  std::optional<ssl::stream<tcp::socket&>> tls;
  if (to.tls) {
    tls_context.emplace(ssl::context::tls_client);
    tls_context->set_verify_mode(ssl::verify_none);
    tls.emplace(socket, *tls_context);
    tls->handshake(ssl::stream_base::client, ec);
    if (ec) throw fail("TLS handshake: " + ec.message());
  }
  std::array<char, 8192> chunk{};
  const auto write_all = [&](auto& stream) { asio::write(stream, asio::buffer(request), ec); };
  const auto read_some = [&](auto& stream) { return stream.read_some(asio::buffer(chunk), ec); };
  if (tls) {
    write_all(*tls);
  } else {
    write_all(socket);
  }
  if (ec) throw fail(ec.message());

  std::string buffer;
  http_message message;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const std::size_t n = tls ? read_some(*tls) : read_some(socket);
    buffer.append(chunk.data(), n);
    const auto framed = frame_message(buffer, message);
    if (framed == frame_result::complete) break;
    if (framed == frame_result::malformed) throw fail("malformed answer");
    if (ec) throw fail(ec.message());
    if (std::chrono::steady_clock::now() > deadline) throw fail("timed out");
  }
  return blocking_response{message.status, std::string(message.body)};
}

bool wait_for_healthz(const http_endpoint& to, std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      if (blocking_request(to, "GET", "/healthz", {}, {}, std::chrono::seconds(1)).status == 200) {
        return true;
      }
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

std::uint16_t free_loopback_port() {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  return acceptor.local_endpoint().port();
}

}  // namespace topup::bench
