#pragma once
// The outgoing HTTP/1.1 client of one shard: supplier calls (channels/) and, later, merchant
// result callbacks (spec §5). Plain http:// and https:// (verified), keep-alive pools per
// origin, bounded concurrency per host, deadlines on every step, and the SSRF guard of spec §5.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

namespace topup::protocol {

/// Failures of an outgoing request that are the client's own (transport failures keep their
/// Asio / Beast / SSL error codes: connection_refused, eof, host_not_found, ...). A request
/// stopped by http_client::close() completes with boost::asio::error::operation_aborted.
enum class http_client_errc {
  ok = 0,
  bad_url = 1,       // not http:// or https:// with a host, optional port and path
  forbidden_target,  // SSRF guard: the peer address is loopback/private/link-local/... (spec §5)
  queue_full,        // the host's connections are all busy and its wait queue is full
  queue_timeout,     // waited for a free connection to the host until the request's deadline
  timeout,           // no complete answer before the deadline (DNS, connect, TLS, write, read)
  body_too_large,    // the response body is over max_response_body_bytes
  header_too_large,  // the response header is over max_response_header_bytes
  no_address,        // the host name resolved to no address
  tls_unavailable,   // the TLS context could not be set up (CA store, OpenSSL)
};

const boost::system::error_category& http_client_category() noexcept;

inline boost::system::error_code make_error_code(http_client_errc e) noexcept {
  return {static_cast<int>(e), http_client_category()};
}

/// A parsed absolute http(s) URL, as the client connects to it.
struct http_url {
  bool tls = false;        ///< https
  std::string host;        ///< lower-cased name or IP literal; IPv6 without brackets
  std::uint16_t port = 0;  ///< explicit, else 80 / 443
  std::string target;      ///< path and query as sent ("/" when the URL has no path)

  /// The Host header: the host (IPv6 in brackets), plus ":port" unless it is the default.
  std::string host_header() const;
  /// "scheme://host:port", the key of the connection pool.
  std::string origin() const;
};

/// Parses "http://host[:port][/path][?query][#fragment]" (scheme case-insensitive; the fragment
/// is dropped, never sent). Refused with http_client_errc::bad_url: another scheme, an empty or
/// malformed host (reg-name characters A-Z a-z 0-9 - . _ ~, or a bracketed IPv6 literal), user
/// info ('@' before the path), a port outside 1..65535 or with non-digits, spaces, control
/// characters or bytes outside printable ASCII anywhere.
boost::system::result<http_url> parse_http_url(std::string_view url);

/// True when `address` must not be a target while private targets are disallowed (spec §5):
/// unspecified (0.0.0.0/8, ::), loopback (127/8, ::1), private (10/8, 172.16/12, 192.168/16,
/// fc00::/7), link-local (169.254/16, fe80::/10, site-local fec0::/10), CGNAT (100.64/10),
/// multicast (224/4, ff00::/8), reserved and broadcast (240/4), and the cloud metadata addresses
/// (169.254.169.254, fd00:ec2::254). IPv6 forms that embed an IPv4 address (v4-mapped
/// ::ffff:a.b.c.d, v4-compatible ::a.b.c.d, NAT64 64:ff9b::/96) are judged by that IPv4 address.
bool is_forbidden_target(const boost::asio::ip::address& address) noexcept;

struct http_client_options {
  /// Bound on DNS + TCP connect of one new connection (the request deadline bounds it too).
  std::chrono::milliseconds connect_timeout{3'000};
  /// Deadline of a request whose caller passes no timeout (<= 0): from the call to the last
  /// byte of the answer, waiting for a free connection included.
  std::chrono::milliseconds request_timeout{5'000};
  /// Requests in flight at once per origin (scheme, host, port); each holds one connection.
  std::size_t max_connections_per_host = 16;
  /// Requests waiting in FIFO order for one of those; beyond it: http_client_errc::queue_full.
  std::size_t max_waiting_per_host = 256;
  /// Idle keep-alive connections kept per origin; more are closed after their answer.
  std::size_t max_idle_per_host = 4;
  /// An idle connection older than this is closed rather than reused (servers drop idle
  /// connections after a while; reusing one they just dropped loses the request).
  std::chrono::milliseconds idle_timeout{30'000};
  std::size_t max_response_body_bytes = 64 * 1024;
  std::size_t max_response_header_bytes = 16 * 1024;
  /// Whether loopback/private/... peers are allowed (see is_forbidden_target). True for supplier
  /// URLs, which operators configure; the merchant callback sender passes
  /// callbacks.allow_private_targets (false by default).
  bool allow_private_targets = true;
  /// Verify the server certificate chain against the system CA store (plus `extra_ca_pem`) and
  /// the host name. Only tests should ever turn this off.
  bool verify_tls = true;
  /// Additional trusted CA certificates, PEM (e.g. a supplier's private CA); empty = none.
  std::string extra_ca_pem;
  std::string user_agent = "topupd/0.1";
};

/// The answer to one request. Any HTTP status is an answer, not an error: callers decide.
struct http_client_response {
  unsigned status = 0;
  std::string body;
  boost::beast::http::fields headers;
  boost::asio::ip::tcp::endpoint peer;  ///< the address actually connected to
  bool reused_connection = false;       ///< sent on a kept-alive connection
};

/// Counters for tests and metrics.
struct http_client_stats {
  std::uint64_t connections_opened = 0;  ///< TCP connections established (before TLS)
  std::uint64_t requests_sent = 0;       ///< request writes started, retries included
  std::size_t idle_connections = 0;      ///< kept-alive connections waiting for reuse now
};

/// An HTTP/1.1 client owned by one shard and used on that shard's thread only (no locks).
/// It owns the keep-alive pools (one per origin), their wait queues and the TLS context.
///
/// Each request runs under one deadline (`timeout`, or options.request_timeout) that covers
/// waiting for a free connection, DNS, connect, TLS handshake, writing and reading. Idle
/// connections are reused most-recent first; one that was closed by the server (seen readable
/// or at EOF) or idle longer than idle_timeout is dropped instead. A connection whose answer says
/// `Connection: close`, whose answer was not fully read, or that failed, is closed.
///
/// Retries: by default a request is sent at most once. A non-idempotent request (a supplier
/// pushOrder) must never be silently re-sent: the first copy may have reached the server even
/// though no answer came, and a second copy could deliver a top-up twice. Only a caller that
/// passes idempotent=true lets the client re-send once, on a fresh connection, when a reused
/// keep-alive connection failed before any byte of the answer arrived (the usual sign that the
/// server had closed it just as it was reused).
///
/// SSRF guard (allow_private_targets=false): resolved addresses that is_forbidden_target
/// refuses are skipped before connecting, and the address actually connected to is checked
/// again before anything is written; a refused request fails with forbidden_target and sends
/// nothing. The check runs on every new connection, so DNS changes cannot slip past it.
///
/// Lifetime: the state lives in a shared_ptr that running requests hold, so destroying the
/// client (which calls close()) while requests are suspended is safe. close() fails every
/// running and waiting request with operation_aborted promptly, closes idle connections, and
/// makes later requests fail the same way.
class http_client {
 public:
  http_client(boost::asio::io_context& io, http_client_options options = {});
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  /// Sends one request to `url` and reads the whole answer. `content_type` empty: no header.
  /// `timeout` <= 0: options().request_timeout. See the class comment for `idempotent`.
  boost::asio::awaitable<boost::system::result<http_client_response>> request(
      boost::beast::http::verb method, std::string url, std::string body, std::string content_type,
      std::chrono::milliseconds timeout, bool idempotent = false);

  /// POST of an application/x-www-form-urlencoded body; never re-sent (not idempotent).
  boost::asio::awaitable<boost::system::result<http_client_response>> post_form(
      std::string url, std::string body, std::chrono::milliseconds timeout);

  /// Cancels everything for shutdown (see the class comment). Idempotent.
  void close();

  const http_client_options& options() const noexcept;
  http_client_stats stats() const noexcept;

  struct state;  // shared with running requests, which may outlive this object

 private:
  std::shared_ptr<state> state_;
};

}  // namespace topup::protocol

template <>
struct boost::system::is_error_code_enum<topup::protocol::http_client_errc> : std::true_type {};
