#pragma once
// A tiny blocking HTTP/1.1 client for the bench's set-up steps (admin credits, waiting for
// /healthz), outside the measured loop.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace topup::bench {

/// topupd's merchant port on 127.0.0.1, plain or TLS (its certificate not verified).
struct http_endpoint {
  std::uint16_t port = 0;
  bool tls = false;
};

struct blocking_response {
  int status = 0;
  std::string body;
};

/// One request on a fresh connection to `to`; throws std::runtime_error on a transport failure
/// (a failed TLS handshake included) or when no whole answer arrives within `timeout`.
blocking_response blocking_request(const http_endpoint& to, std::string_view method,
                                   std::string_view target, std::string_view body = {},
                                   std::string_view extra_headers = {},
                                   std::chrono::milliseconds timeout = std::chrono::seconds(10));

/// Polls GET /healthz until it answers 200; false if `wait` runs out first.
bool wait_for_healthz(const http_endpoint& to, std::chrono::milliseconds wait);

/// A loopback TCP port that was free a moment ago (bind to port 0, read, close).
std::uint16_t free_loopback_port();

}  // namespace topup::bench
