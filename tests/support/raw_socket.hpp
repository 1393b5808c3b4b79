#pragma once
// A plain blocking loopback TCP socket, for clients that misbehave at the byte level (half
// requests, trickling bytes, plain HTTP to a TLS port, silence).
#include <chrono>
#include <string>

namespace topup::test {

/// One connection to 127.0.0.1:port, opened by the constructor. Not thread-safe.
class raw_socket {
 public:
  explicit raw_socket(int port);
  ~raw_socket();
  raw_socket(const raw_socket&) = delete;
  raw_socket& operator=(const raw_socket&) = delete;

  bool connected() const { return connected_; }
  /// False once the peer is gone (EPIPE / ECONNRESET).
  bool send_all(const std::string& bytes);
  /// True if the server ended the connection (EOF, reset, or an answer followed by EOF) within
  /// `wait`. Whatever it sent first is appended to `received`.
  bool closed_within(std::chrono::milliseconds wait, std::string* received = nullptr);
  /// Non-blocking check: has the server closed (or reset) the connection already?
  bool peer_closed();

 private:
  int fd_;
  bool connected_ = false;
};

}  // namespace topup::test
