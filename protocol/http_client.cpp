#include "protocol/http_client.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/address_v6.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <array>
#include <exception>
#include <list>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/support/assert.hpp"
#include "engine/support/log.hpp"

namespace topup::protocol {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;
using boost::system::error_code;
constexpr auto as_tuple_awaitable = asio::as_tuple(asio::use_awaitable);

// ---------------------------------------------------------------------------------------------
// Errors

namespace {

class client_category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "topup.http_client"; }
  std::string message(int ev) const override {
    switch (static_cast<http_client_errc>(ev)) {
      case http_client_errc::ok:
        return "ok";
      case http_client_errc::bad_url:
        return "not an http:// or https:// URL with a host";
      case http_client_errc::forbidden_target:
        return "target address is loopback, private, link-local or metadata (refused)";
      case http_client_errc::queue_full:
        return "too many requests waiting for this host";
      case http_client_errc::queue_timeout:
        return "timed out waiting for a free connection to this host";
      case http_client_errc::timeout:
        return "request timed out";
      case http_client_errc::body_too_large:
        return "response body too large";
      case http_client_errc::header_too_large:
        return "response header too large";
      case http_client_errc::no_address:
        return "host name resolved to no usable address";
      case http_client_errc::tls_unavailable:
        return "TLS context could not be set up";
    }
    return "unknown http client error";
  }
};

error_code aborted_error() { return asio::error::operation_aborted; }

/// Beast's own names for the failures this client reports with its own codes.
error_code map_error(const error_code& ec) {
  if (ec == beast::error::timeout) return make_error_code(http_client_errc::timeout);
  if (ec == http::error::body_limit) return make_error_code(http_client_errc::body_too_large);
  if (ec == http::error::header_limit) return make_error_code(http_client_errc::header_too_large);
  return ec;
}

/// The usual signs of a keep-alive connection the server closed just as it was reused.
bool is_stale_connection_error(const error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::connection_aborted ||
         ec == http::error::end_of_stream || ec == ssl::error::stream_truncated;
}

}  // namespace

const boost::system::error_category& http_client_category() noexcept {
  static const client_category instance;
  return instance;
}

// ---------------------------------------------------------------------------------------------
// URLs

namespace {

bool is_reg_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

char lower_ascii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals_ascii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower_ascii(a[i]) != lower_ascii(b[i])) return false;
  return true;
}

constexpr std::size_t k_host_max = 253;

}  // namespace

std::string http_url::host_header() const {
  std::string out = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != (tls ? 443 : 80)) out += ":" + std::to_string(port);
  return out;
}

std::string http_url::origin() const {
  std::string out = tls ? "https://" : "http://";
  out += host.find(':') != std::string::npos ? "[" + host + "]" : host;
  out += ":" + std::to_string(port);
  return out;
}

boost::system::result<http_url> parse_http_url(std::string_view text) {
  const error_code bad = make_error_code(http_client_errc::bad_url);
  // Printable ASCII only: spaces, controls and raw UTF-8 must be percent-encoded by the caller.
  for (char c : text)
    if (c <= 0x20 || c >= 0x7f) return bad;
  const auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return bad;
  http_url url;
  const auto scheme = text.substr(0, scheme_end);
  if (iequals_ascii(scheme, "https")) {
    url.tls = true;
  } else if (!iequals_ascii(scheme, "http")) {
    return bad;
  }
  std::string_view rest = text.substr(scheme_end + 3);
  const auto authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view tail =
      authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) return bad;  // no user info

  std::string_view host;
  std::string_view port_text;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return bad;
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad;
      has_port = true;
      port_text = after.substr(1);
    }
    if (host.find('%') != std::string_view::npos) return bad;  // no zone ids
    error_code ec;
    asio::ip::make_address_v6(std::string(host), ec);
    if (ec) return bad;
  } else {
    const auto colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      has_port = true;
      port_text = authority.substr(colon + 1);
    }
    if (host.empty() || host.size() > k_host_max) return bad;
    for (char c : host)
      if (!is_reg_name_char(c)) return bad;
  }
  if (host.empty()) return bad;
  url.host.reserve(host.size());
  for (char c : host) url.host.push_back(lower_ascii(c));

  if (has_port) {
    if (port_text.empty() || port_text.size() > 5) return bad;
    unsigned port = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9') return bad;
      port = port * 10 + static_cast<unsigned>(c - '0');
    }
    if (port == 0 || port > 65535) return bad;
    url.port = static_cast<std::uint16_t>(port);
  } else {
    url.port = url.tls ? 443 : 80;
  }

  // The fragment is the client's business, never sent.
  tail = tail.substr(0, tail.find('#'));
  if (tail.empty()) {
    url.target = "/";
  } else if (tail.front() == '?') {
    url.target = "/" + std::string(tail);
  } else {
    url.target = std::string(tail);
  }
  return url;
}

// ---------------------------------------------------------------------------------------------
// SSRF guard

namespace {

bool in_v4_net(std::uint32_t address, std::uint32_t network, int prefix_bits) {
  const std::uint32_t mask = prefix_bits == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix_bits);
  return (address & mask) == network;
}

bool is_forbidden_v4(const asio::ip::address_v4& address) {
  const std::uint32_t a = address.to_uint();
  return in_v4_net(a, 0x00000000, 8)      // 0.0.0.0/8 "this network" (0.0.0.0 reaches the host)
         || in_v4_net(a, 0x0A000000, 8)   // 10/8
         || in_v4_net(a, 0x64400000, 10)  // 100.64/10 carrier-grade NAT
         || in_v4_net(a, 0x7F000000, 8)   // 127/8 loopback
         || in_v4_net(a, 0xA9FE0000, 16)  // 169.254/16 link-local, 169.254.169.254 metadata
         || in_v4_net(a, 0xAC100000, 12)  // 172.16/12
         || in_v4_net(a, 0xC0A80000, 16)  // 192.168/16
         || in_v4_net(a, 0xE0000000, 4)   // 224/4 multicast
         || in_v4_net(a, 0xF0000000, 4);  // 240/4 reserved, 255.255.255.255 broadcast
}

asio::ip::address_v4 embedded_v4(const asio::ip::address_v6::bytes_type& b) {
  return asio::ip::address_v4(asio::ip::address_v4::bytes_type{b[12], b[13], b[14], b[15]});
}

bool is_forbidden_v6(const asio::ip::address_v6& address) {
  const auto b = address.to_bytes();
  if (address.is_unspecified() || address.is_loopback()) return true;
  if (address.is_v4_mapped()) return is_forbidden_v4(embedded_v4(b));  // ::ffff:a.b.c.d
  if ((b[0] & 0xfe) == 0xfc) return true;                              // fc00::/7, fd00:ec2::254
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return true;              // fe80::/10 link-local
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return true;              // fec0::/10 site-local
  if (b[0] == 0xff) return true;                                       // ff00::/8 multicast
  const bool first_96_zero = std::all_of(b.begin(), b.begin() + 12, [](auto x) { return x == 0; });
  if (first_96_zero) return is_forbidden_v4(embedded_v4(b));  // ::a.b.c.d (v4-compatible)
  constexpr std::array<unsigned char, 12> nat64 = {0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  if (std::equal(nat64.begin(), nat64.end(), b.begin()))  // 64:ff9b::/96
    return is_forbidden_v4(embedded_v4(b));
  return false;
}

}  // namespace

bool is_forbidden_target(const asio::ip::address& address) noexcept {
  return address.is_v4() ? is_forbidden_v4(address.to_v4()) : is_forbidden_v6(address.to_v6());
}

// ---------------------------------------------------------------------------------------------
// Client state

namespace {

/// One TCP connection, plain or under TLS, with the bytes read past the last answer.
struct connection {
  std::optional<beast::tcp_stream> plain;
  std::optional<ssl::stream<beast::tcp_stream>> secure;
  tcp::endpoint peer;
  beast::flat_buffer buffer;
  clock_type::time_point idle_since{};

  beast::tcp_stream& lowest() { return secure ? secure->next_layer() : *plain; }

  void close() {
    error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().close();
  }

  /// Whether an idle connection still looks usable: open, and nothing to read (an idle
  /// HTTP/1.1 connection that is readable was closed by the server, or has sent garbage).
  bool looks_idle_and_open() {
    auto& socket = lowest().socket();
    if (!socket.is_open()) return false;
    error_code ec;
    socket.non_blocking(true, ec);
    if (ec) return false;
    char byte = 0;
    socket.receive(asio::buffer(&byte, 1), tcp::socket::message_peek, ec);
    error_code ignored;
    socket.non_blocking(false, ignored);
    return ec == asio::error::would_block;
  }
};

/// A request waiting for a connection slot of a busy host. `granted` is set by the request that
/// hands its slot over; the timer (set to the waiter's deadline) is cancelled to wake it.
struct waiter {
  explicit waiter(asio::io_context& io) : timer(io) {}
  asio::steady_timer timer;
  bool granted = false;
};

/// The connections of one origin: slots in use, idle kept-alive connections (most recently
/// used last), and the FIFO of requests waiting for a slot.
struct host_pool {
  std::size_t active = 0;
  std::vector<std::unique_ptr<connection>> idle;
  std::list<std::shared_ptr<waiter>> waiters;
};

/// What close() must cancel for one running request: the timer or stream it waits on now.
struct inflight {
  asio::steady_timer* timer = nullptr;
  beast::tcp_stream* stream = nullptr;
};

}  // namespace

struct http_client::state {
  state(asio::io_context& io_, http_client_options options_)
      : io(io_), options(std::move(options_)), sweep_timer(io_) {}

  asio::io_context& io;
  http_client_options options;
  std::unordered_map<std::string, host_pool> pools;  // by origin
  std::list<inflight*> running;
  std::optional<ssl::context> tls;  // created on the first https request
  asio::steady_timer sweep_timer;
  bool sweeping = false;
  bool closed = false;
  http_client_stats counters;
};

namespace {

using state = http_client::state;

/// Registers a running request so that close() can cancel what it waits on.
class inflight_registration {
 public:
  explicit inflight_registration(std::shared_ptr<state> st) : st_(std::move(st)) {
    it_ = st_->running.insert(st_->running.end(), &entry_);
  }
  ~inflight_registration() { st_->running.erase(it_); }
  inflight_registration(const inflight_registration&) = delete;
  inflight_registration& operator=(const inflight_registration&) = delete;
  inflight& entry() { return entry_; }

 private:
  std::shared_ptr<state> st_;
  inflight entry_;
  std::list<inflight*>::iterator it_;
};

void erase_if_unused(state& st, std::unordered_map<std::string, host_pool>::iterator it) {
  const host_pool& pool = it->second;
  if (pool.active == 0 && pool.idle.empty() && pool.waiters.empty()) st.pools.erase(it);
}

/// Gives the slot to the first waiter, or frees it.
void release_slot(state& st, const std::string& key) {
  auto it = st.pools.find(key);
  TOPUP_ASSERT(it != st.pools.end());
  host_pool& pool = it->second;
  if (!pool.waiters.empty() && !st.closed) {
    auto next = std::move(pool.waiters.front());
    pool.waiters.pop_front();
    next->granted = true;
    next->timer.cancel();
    return;
  }
  TOPUP_ASSERT(pool.active > 0);
  --pool.active;
  erase_if_unused(st, it);
}

/// Holds one connection slot of an origin for the life of a request.
class slot_guard {
 public:
  slot_guard(std::shared_ptr<state> st, std::string key)
      : st_(std::move(st)), key_(std::move(key)) {}
  ~slot_guard() { release_slot(*st_, key_); }
  slot_guard(const slot_guard&) = delete;
  slot_guard& operator=(const slot_guard&) = delete;

 private:
  std::shared_ptr<state> st_;
  std::string key_;
};

/// Takes a slot of `key`, waiting in FIFO order up to `deadline` when all are busy.
asio::awaitable<error_code> acquire_slot(std::shared_ptr<state> st, std::string key,
                                         clock_type::time_point deadline) {
  host_pool& pool = st->pools[key];
  if (pool.active < st->options.max_connections_per_host) {
    ++pool.active;
    co_return error_code{};
  }
  if (pool.waiters.size() >= st->options.max_waiting_per_host)
    co_return make_error_code(http_client_errc::queue_full);
  auto self = std::make_shared<waiter>(st->io);
  self->timer.expires_at(deadline);
  pool.waiters.push_back(self);
  co_await self->timer.async_wait(as_tuple_awaitable);
  // `granted` decides, not the wait's error: the deadline may have fired just as a slot came.
  if (self->granted) {
    if (st->closed) {
      release_slot(*st, key);
      co_return aborted_error();
    }
    co_return error_code{};
  }
  auto it = st->pools.find(key);
  if (it != st->pools.end()) {
    it->second.waiters.remove(self);
    erase_if_unused(*st, it);
  }
  co_return st->closed ? aborted_error() : make_error_code(http_client_errc::queue_timeout);
}

/// Closes idle connections that expired or were closed by their server; returns how many stay.
std::size_t prune_idle(state& st) {
  std::size_t left = 0;
  const auto now = clock_type::now();
  for (auto it = st.pools.begin(); it != st.pools.end();) {
    auto& idle = it->second.idle;
    std::erase_if(idle, [&](std::unique_ptr<connection>& c) {
      if (now - c->idle_since < st.options.idle_timeout && c->looks_idle_and_open()) return false;
      c->close();
      return true;
    });
    left += idle.size();
    auto next = std::next(it);
    erase_if_unused(st, it);
    it = next;
  }
  return left;
}

/// Runs while idle connections exist, so a server's close or the idle timeout frees the socket
/// even if that host is never asked again.
asio::awaitable<void> sweep_idle(std::shared_ptr<state> st) {
  const auto interval = std::clamp(st->options.idle_timeout / 2, std::chrono::milliseconds(50),
                                   std::chrono::milliseconds(5'000));
  while (!st->closed) {
    st->sweep_timer.expires_after(interval);
    co_await st->sweep_timer.async_wait(as_tuple_awaitable);
    if (st->closed || prune_idle(*st) == 0) break;
  }
  st->sweeping = false;
}

/// A reusable idle connection of `key`, most recently used first, or nullptr.
std::unique_ptr<connection> take_idle(state& st, const std::string& key) {
  auto it = st.pools.find(key);
  if (it == st.pools.end()) return nullptr;
  auto& idle = it->second.idle;
  while (!idle.empty()) {
    auto conn = std::move(idle.back());
    idle.pop_back();
    if (clock_type::now() - conn->idle_since < st.options.idle_timeout &&
        conn->looks_idle_and_open())
      return conn;
    conn->close();
  }
  return nullptr;
}

void put_idle(const std::shared_ptr<state>& st, const std::string& key,
              std::unique_ptr<connection> conn) {
  auto it = st->pools.find(key);
  if (st->closed || st->options.max_idle_per_host == 0 || it == st->pools.end()) {
    conn->close();
    return;
  }
  auto& idle = it->second.idle;
  if (idle.size() >= st->options.max_idle_per_host) {  // keep the freshest ones
    idle.front()->close();
    idle.erase(idle.begin());
  }
  // No deadline while idle: the next request sets its own before using the connection.
  conn->lowest().expires_never();
  conn->idle_since = clock_type::now();
  idle.push_back(std::move(conn));
  if (!st->sweeping) {
    st->sweeping = true;
    asio::co_spawn(st->io, sweep_idle(st), asio::detached);
  }
}

error_code ensure_tls_context(state& st) {
  if (st.tls) return {};
  try {
    ssl::context ctx(ssl::context::tls_client);
    error_code ec;
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                        ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                    ec);
    if (!ec && st.options.verify_tls) {
      ctx.set_default_verify_paths(ec);
      if (!ec && !st.options.extra_ca_pem.empty())
        ctx.add_certificate_authority(asio::buffer(st.options.extra_ca_pem), ec);
      if (!ec) ctx.set_verify_mode(ssl::verify_peer, ec);
    } else if (!ec) {
      ctx.set_verify_mode(ssl::verify_none, ec);
    }
    if (ec) {
      logger("protocol")->error("http client TLS setup failed: {}", ec.message());
      return make_error_code(http_client_errc::tls_unavailable);
    }
    st.tls.emplace(std::move(ctx));
  } catch (const std::exception& e) {
    logger("protocol")->error("http client TLS setup failed: {}", e.what());
    return make_error_code(http_client_errc::tls_unavailable);
  }
  return {};
}

/// SNI (names only: RFC 6066 forbids IP literals there) and certificate checks for one stream.
error_code prepare_tls_stream(ssl::stream<beast::tcp_stream>& stream, const http_url& url,
                              bool verify) {
  error_code literal_ec;
  asio::ip::make_address(url.host, literal_ec);
  if (literal_ec && !SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str()))
    return error_code(static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category());
  error_code ec;
  if (verify) {
    stream.set_verify_mode(ssl::verify_peer, ec);
    // Checks the DNS names (or IP addresses) of the certificate against the URL's host.
    if (!ec) stream.set_verify_callback(ssl::host_name_verification(url.host), ec);
  } else {
    stream.set_verify_mode(ssl::verify_none, ec);
  }
  return ec;
}

std::vector<tcp::endpoint> allowed_endpoints(std::vector<tcp::endpoint> endpoints,
                                             bool allow_private) {
  if (!allow_private)
    std::erase_if(endpoints,
                  [](const tcp::endpoint& e) { return is_forbidden_target(e.address()); });
  return endpoints;
}

struct resolved {
  error_code ec;
  std::vector<tcp::endpoint> endpoints;
};

/// The result of a resolve, shared with its completion handler, which may outlive the waiting
/// request (a resolve cannot be interrupted once getaddrinfo runs; its answer is then dropped).
struct resolve_wait {
  explicit resolve_wait(asio::io_context& io) : timer(io) {}
  asio::steady_timer timer;
  bool done = false;
  error_code ec;
  std::vector<tcp::endpoint> endpoints;
};

void start_resolve(tcp::resolver& resolver, const std::string& host, std::uint16_t port,
                   std::shared_ptr<resolve_wait> wait) {
  // No AI_ADDRCONFIG: on hosts with only loopback configured it hides even loopback answers.
  resolver.async_resolve(host, std::to_string(port), tcp::resolver::numeric_service,
                         [wait](const error_code& ec, const tcp::resolver::results_type& results) {
                           wait->done = true;
                           wait->ec = ec;
                           for (const auto& entry : results)
                             wait->endpoints.push_back(entry.endpoint());
                           wait->timer.cancel();
                         });
}

/// Resolves `host` under `deadline`. Asio runs getaddrinfo on a helper thread that cannot be
/// interrupted, so the request waits on a timer that either the answer or the deadline ends.
asio::awaitable<resolved> resolve_host(std::shared_ptr<state> st, std::string host,
                                       std::uint16_t port, clock_type::time_point deadline,
                                       inflight& track) {
  auto wait = std::make_shared<resolve_wait>(st->io);
  wait->timer.expires_at(deadline);
  tcp::resolver resolver(st->io);
  start_resolve(resolver, host, port, wait);
  track.timer = &wait->timer;
  co_await wait->timer.async_wait(as_tuple_awaitable);
  track.timer = nullptr;
  if (!wait->done) resolver.cancel();
  if (st->closed) co_return resolved{aborted_error(), {}};
  if (!wait->done) co_return resolved{make_error_code(http_client_errc::timeout), {}};
  if (wait->ec) co_return resolved{wait->ec, {}};
  co_return resolved{error_code{}, std::move(wait->endpoints)};
}

struct opened {
  error_code ec;
  std::unique_ptr<connection> conn;
};

/// A new connection to `url`: resolve, SSRF filter, connect, SSRF check, TLS handshake.
asio::awaitable<opened> open_connection(std::shared_ptr<state> st, http_url url,
                                        clock_type::time_point deadline, inflight& track) {
  // DNS and TCP connect share connect_timeout; the TLS handshake has what is left of the request.
  const auto connect_deadline = std::min(deadline, clock_type::now() + st->options.connect_timeout);
  std::vector<tcp::endpoint> endpoints;
  error_code literal_ec;
  const auto literal = asio::ip::make_address(url.host, literal_ec);
  if (!literal_ec) {
    endpoints.emplace_back(literal, url.port);
  } else {
    resolved names = co_await resolve_host(st, url.host, url.port, connect_deadline, track);
    if (names.ec) co_return opened{names.ec, nullptr};
    endpoints = std::move(names.endpoints);
  }
  if (endpoints.empty()) co_return opened{make_error_code(http_client_errc::no_address), nullptr};
  // Forbidden addresses are skipped before connecting (no probe of internal ports either).
  endpoints = allowed_endpoints(std::move(endpoints), st->options.allow_private_targets);
  if (endpoints.empty())
    co_return opened{make_error_code(http_client_errc::forbidden_target), nullptr};

  beast::tcp_stream stream(st->io);
  stream.expires_at(connect_deadline);
  track.stream = &stream;
  auto [connect_ec, connected] = co_await stream.async_connect(endpoints, as_tuple_awaitable);
  track.stream = nullptr;
  if (st->closed) co_return opened{aborted_error(), nullptr};
  if (connect_ec) co_return opened{map_error(connect_ec), nullptr};

  // The address actually connected to is what counts (spec §5), checked before any write.
  error_code peer_ec;
  const auto peer = stream.socket().remote_endpoint(peer_ec);
  if (peer_ec) co_return opened{peer_ec, nullptr};
  if (!st->options.allow_private_targets && is_forbidden_target(peer.address())) {
    stream.close();
    co_return opened{make_error_code(http_client_errc::forbidden_target), nullptr};
  }
  error_code ignored;
  stream.socket().set_option(tcp::no_delay(true), ignored);
  ++st->counters.connections_opened;

  auto conn = std::make_unique<connection>();
  conn->peer = peer;
  if (!url.tls) {
    conn->plain.emplace(std::move(stream));
    co_return opened{error_code{}, std::move(conn)};
  }
  TOPUP_ASSERT(st->tls.has_value());
  conn->secure.emplace(std::move(stream), *st->tls);
  if (auto ec = prepare_tls_stream(*conn->secure, url, st->options.verify_tls)) {
    conn->close();
    co_return opened{ec, nullptr};
  }
  conn->lowest().expires_at(deadline);
  track.stream = &conn->lowest();
  auto [handshake_ec] =
      co_await conn->secure->async_handshake(ssl::stream_base::client, as_tuple_awaitable);
  track.stream = nullptr;
  if (st->closed) co_return opened{aborted_error(), nullptr};
  if (handshake_ec) {
    conn->close();
    co_return opened{map_error(handshake_ec), nullptr};
  }
  co_return opened{error_code{}, std::move(conn)};
}

http::request<http::string_body> build_request(http::verb method, const http_url& url,
                                               std::string body, const std::string& content_type,
                                               const http_client_options& options) {
  http::request<http::string_body> request(method, url.target, 11);
  request.set(http::field::host, url.host_header());
  request.set(http::field::user_agent, options.user_agent);
  if (!content_type.empty()) request.set(http::field::content_type, content_type);
  request.body() = std::move(body);
  request.keep_alive(options.max_idle_per_host > 0);
  request.prepare_payload();
  return request;
}

struct exchanged {
  error_code ec;
  bool got_answer_bytes = false;  // whether any byte of an answer arrived (retry rule)
  http::response<http::string_body> response;
};

/// Interim (1xx) answers skipped before giving up on a server that sends only those.
constexpr int k_interim_answers_max = 4;

/// Writes `request` and reads its final answer on an open connection, under the deadline
/// already set on the connection's lowest layer.
template <class Stream>
asio::awaitable<void> exchange(Stream& stream, connection& conn,
                               http::request<http::string_body>& request,
                               const http_client_options& options, exchanged& out) {
  auto [write_ec, written] = co_await http::async_write(stream, request, as_tuple_awaitable);
  if (write_ec) {
    out.ec = write_ec;
    co_return;
  }
  for (int interim = 0; interim <= k_interim_answers_max; ++interim) {
    // A fresh parser per message; the connection's buffer keeps bytes read past this one.
    http::response_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(options.max_response_header_bytes));
    parser.body_limit(static_cast<std::uint64_t>(options.max_response_body_bytes));
    if (request.method() == http::verb::head) parser.skip(true);
    auto [read_ec, read] =
        co_await http::async_read(stream, conn.buffer, parser, as_tuple_awaitable);
    if (parser.got_some() || read > 0) out.got_answer_bytes = true;
    if (read_ec) {
      out.ec = read_ec;
      co_return;
    }
    auto message = parser.release();
    const unsigned status = message.result_int();
    if (status >= 100 && status < 200 && message.result() != http::status::switching_protocols)
      continue;
    out.response = std::move(message);
    co_return;
  }
  out.ec = http::error::bad_status;
}

asio::awaitable<boost::system::result<http_client_response>> run_request(
    std::shared_ptr<state> st, http::verb method, std::string url_text, std::string body,
    std::string content_type, std::chrono::milliseconds timeout, bool idempotent) {
  auto url = parse_http_url(url_text);
  if (!url) co_return url.error();
  if (st->closed) co_return aborted_error();
  if (timeout <= std::chrono::milliseconds::zero()) timeout = st->options.request_timeout;
  const auto deadline = clock_type::now() + timeout;
  if (url->tls) {
    if (auto ec = ensure_tls_context(*st)) co_return ec;
  }
  const std::string key = url->origin();

  inflight_registration track(st);
  if (auto ec = co_await acquire_slot(st, key, deadline)) co_return ec;
  const slot_guard slot(st, key);

  auto request = build_request(method, *url, std::move(body), content_type, st->options);
  for (int attempt = 1;; ++attempt) {
    auto conn = attempt == 1 ? take_idle(*st, key) : nullptr;
    const bool reused = conn != nullptr;
    if (!conn) {
      opened fresh = co_await open_connection(st, *url, deadline, track.entry());
      if (fresh.ec) co_return fresh.ec;
      conn = std::move(fresh.conn);
    }
    conn->lowest().expires_at(deadline);
    track.entry().stream = &conn->lowest();
    ++st->counters.requests_sent;
    exchanged out;
    if (conn->secure) {
      co_await exchange(*conn->secure, *conn, request, st->options, out);
    } else {
      co_await exchange(*conn->plain, *conn, request, st->options, out);
    }
    track.entry().stream = nullptr;
    if (st->closed) {
      conn->close();
      co_return aborted_error();
    }
    if (out.ec) {
      conn->close();
      // Only the caller may decide that a second copy of the request is harmless.
      if (attempt == 1 && reused && idempotent && !out.got_answer_bytes &&
          is_stale_connection_error(out.ec) && clock_type::now() < deadline)
        continue;
      co_return map_error(out.ec);
    }
    http_client_response response;
    response.status = out.response.result_int();
    response.peer = conn->peer;
    response.reused_connection = reused;
    // Bytes past the answer would be the start of an answer to nothing: do not reuse.
    const bool reusable =
        out.response.keep_alive() && !out.response.need_eof() && conn->buffer.size() == 0;
    response.body = std::move(out.response.body());
    response.headers = std::move(static_cast<http::fields&>(out.response.base()));
    if (reusable) {
      put_idle(st, key, std::move(conn));
    } else {
      conn->close();
    }
    co_return response;
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// http_client

http_client::http_client(asio::io_context& io, http_client_options options) {
  options.max_connections_per_host = std::max<std::size_t>(options.max_connections_per_host, 1);
  state_ = std::make_shared<state>(io, std::move(options));
}

http_client::~http_client() { close(); }

asio::awaitable<boost::system::result<http_client_response>> http_client::request(
    http::verb method, std::string url, std::string body, std::string content_type,
    std::chrono::milliseconds timeout, bool idempotent) {
  return run_request(state_, method, std::move(url), std::move(body), std::move(content_type),
                     timeout, idempotent);
}

asio::awaitable<boost::system::result<http_client_response>> http_client::post_form(
    std::string url, std::string body, std::chrono::milliseconds timeout) {
  return run_request(state_, http::verb::post, std::move(url), std::move(body),
                     "application/x-www-form-urlencoded", timeout, false);
}

void http_client::close() {
  state& st = *state_;
  st.closed = true;
  // Cancelling only queues completions, so `running` does not change during this loop.
  for (inflight* request : st.running) {
    if (request->timer) request->timer->cancel();
    if (request->stream) request->stream->cancel();
  }
  for (auto it = st.pools.begin(); it != st.pools.end();) {
    for (auto& w : it->second.waiters) w->timer.cancel();
    it->second.waiters.clear();
    for (auto& c : it->second.idle) c->close();
    it->second.idle.clear();
    auto next = std::next(it);
    erase_if_unused(st, it);
    it = next;
  }
  st.sweep_timer.cancel();
}

const http_client_options& http_client::options() const noexcept { return state_->options; }

http_client_stats http_client::stats() const noexcept {
  http_client_stats out = state_->counters;
  out.idle_connections = 0;
  for (const auto& [key, pool] : state_->pools) out.idle_connections += pool.idle.size();
  return out;
}

}  // namespace topup::protocol
