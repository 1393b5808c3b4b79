#include "protocol/http_server.hpp"

#include <openssl/ssl.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <list>
#include <type_traits>

#include "engine/support/errc.hpp"
#include "engine/support/log.hpp"
#include "protocol/answers.hpp"
#include "protocol/errc.hpp"

namespace topup::protocol {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
constexpr auto as_tuple_awaitable = asio::as_tuple(asio::use_awaitable);

struct http_server::state {
  asio::io_context& io;
  unsigned shard;
  http_server_options options;
  http_handler handler;
  tcp::acceptor acceptor;
  bool draining = false;

  /// A live connection; `busy` while a request is being handled and answered.
  struct session_entry {
    beast::tcp_stream* stream = nullptr;
    bool busy = false;
  };
  std::list<session_entry> sessions;

  state(asio::io_context& io_, unsigned shard_, http_server_options options_, http_handler h)
      : io(io_), shard(shard_), options(std::move(options_)), handler(std::move(h)), acceptor(io_) {}
};

http_response make_response(http::status status, std::string body, std::string_view content_type,
                            unsigned version, bool keep_alive) {
  http_response res{status, version};
  res.set(http::field::content_type, content_type);
  res.body() = std::move(body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

namespace {

/// Answer for a request the parser refused, a JSON envelope like every answer (spec §1); the
/// connection closes after it.
http_response parse_failure_response(const beast::error_code& ec) {
  if (ec == http::error::body_limit) return error_answer(errc::body_too_large, 11, false);
  if (ec == http::error::header_limit) return error_answer(errc::header_too_large, 11, false);
  return error_answer(errc::bad_request, 11, false);
}

template <class Stream>
constexpr bool k_tls = !std::is_same_v<Stream, beast::tcp_stream>;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;

template <class Stream>
asio::awaitable<void> write_response(Stream& stream, http_response& res,
                                     std::chrono::milliseconds timeout, beast::error_code& ec) {
  beast::get_lowest_layer(stream).expires_after(timeout);
  auto [write_ec, n] = co_await http::async_write(stream, res, as_tuple_awaitable);
  ec = write_ec;
}

/// Read errors after which nothing can be answered: the peer left, a timeout, shutdown; over
/// TLS also a truncated or broken TLS stream. Any other error is the parser's, answered.
template <class Stream>
bool connection_lost(const beast::error_code& ec) {
  if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
      ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
      ec == asio::error::eof)
    return true;
  if constexpr (k_tls<Stream>)
    return ec == ssl::error::stream_truncated || ec.category() == asio::error::get_ssl_category();
  return false;
}

/// One connection: reads, answers, then reads the next request. Instantiated for the plain
/// stream and for TLS (no per-read branch on the plain path); the TLS one first shakes hands.
template <class Stream>
asio::awaitable<void> run_session(std::shared_ptr<http_server::state> st, tcp::socket socket) {
  auto stream = [&] {
    if constexpr (k_tls<Stream>)
      return Stream(std::move(socket), *st->options.tls);
    else
      return Stream(std::move(socket));
  }();
  beast::tcp_stream& tcp_layer = beast::get_lowest_layer(stream);
  boost::system::error_code addr_ec;
  auto remote = tcp_layer.socket().remote_endpoint(addr_ec).address();
  auto entry = st->sessions.insert(st->sessions.end(), {&tcp_layer, false});
  beast::flat_buffer buffer(8192);
  const auto& opt = st->options;
  // False once the connection cannot carry anything more (the peer left, an error, a timeout).
  bool usable = true;

  if constexpr (k_tls<Stream>) {
    // The handshake is bounded like reading a request: a client that stalls in it, speaks
    // plain HTTP or offers only TLS 1.1 is closed within read_timeout, nothing answered.
    tcp_layer.expires_after(opt.read_timeout);
    auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, as_tuple_awaitable);
    if (ec) {
      logger("protocol")
          ->debug("shard={} remote={} TLS handshake failed: {}", st->shard, remote.to_string(),
                  ec.message());
      usable = false;
    }
  }

  while (usable) {
    if (st->draining) break;
    beast::error_code ec;
    if (buffer.size() == 0) {
      // Wait for the next request's first bytes under the idle timeout only; once bytes arrive
      // the whole request must come within read_timeout (slow clients cannot pin us).
      tcp_layer.expires_after(opt.idle_timeout);
      auto [read_ec, n] = co_await stream.async_read_some(buffer.prepare(4096), as_tuple_awaitable);
      if (read_ec) {
        // Closed, idle timeout, or cancelled by shutdown: all normal endings.
        usable = read_ec == asio::error::operation_aborted;
        break;
      }
      buffer.commit(n);
    }
    entry->busy = true;
    http::request_parser<http::string_body> parser;
    parser.body_limit(opt.max_body_bytes);
    parser.header_limit(static_cast<std::uint32_t>(opt.max_header_bytes));
    tcp_layer.expires_after(opt.read_timeout);
    auto [read_ec, n] = co_await http::async_read(stream, buffer, parser, as_tuple_awaitable);
    if (read_ec) {
      if (connection_lost<Stream>(read_ec)) {
        usable = false;
        break;
      }
      auto res = parse_failure_response(read_ec);
      co_await write_response(stream, res, opt.read_timeout, ec);
      usable = !ec;
      break;
    }
    http_request req{parser.release(), remote, st->shard};
    bool keep_alive = req.message.keep_alive();
    unsigned version = req.message.version();
    http_response res;
    try {
      res = co_await st->handler(std::move(req));
    } catch (const std::exception& e) {
      // A handler that throws has a bug (expected failures are values): answer 5001 (spec §1,
      // HTTP 200, a JSON envelope like every answer), close this connection, stay up.
      logger("protocol")->error("shard={} handler threw: {}", st->shard, e.what());
      res = error_answer(engine::errc::internal, version, false);
    }
    res.version(version);
    if (!keep_alive || st->draining) res.keep_alive(false);
    co_await write_response(stream, res, opt.read_timeout, ec);
    entry->busy = false;
    if (ec) usable = false;
    if (ec || !res.keep_alive()) break;
  }
  if constexpr (k_tls<Stream>) {
    if (usable && tcp_layer.socket().is_open()) {
      // close_notify, without waiting for the client's own (RFC 8446 §6.1 allows it): marking
      // the client's as received makes the shutdown one write, like the plain path's FIN.
      SSL_set_shutdown(stream.native_handle(), SSL_RECEIVED_SHUTDOWN);
      tcp_layer.expires_after(opt.read_timeout);
      auto [ec] = co_await stream.async_shutdown(as_tuple_awaitable);
      (void)ec;  // the connection closes either way
    }
  }
  beast::error_code ignored;
  tcp_layer.socket().shutdown(tcp::socket::shutdown_send, ignored);
  tcp_layer.close();
  st->sessions.erase(entry);
}

asio::awaitable<void> accept_loop(std::shared_ptr<http_server::state> st) {
  for (;;) {
    auto [ec, socket] = co_await st->acceptor.async_accept(as_tuple_awaitable);
    if (ec == asio::error::operation_aborted || !st->acceptor.is_open()) co_return;
    if (ec) {
      // EMFILE and friends: back off briefly instead of spinning.
      logger("protocol")->warn("shard={} accept failed: {}", st->shard, ec.message());
      asio::steady_timer pause(st->io, std::chrono::milliseconds(50));
      co_await pause.async_wait(as_tuple_awaitable);
      continue;
    }
    if (st->sessions.size() >= st->options.max_connections) {
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto session = st->options.tls ? run_session<tls_stream>(st, std::move(socket))
                                   : run_session<beast::tcp_stream>(st, std::move(socket));
    asio::co_spawn(st->io, std::move(session), [shard = st->shard](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        logger("protocol")->error("shard={} session ended by exception: {}", shard, ex.what());
      }
    });
  }
}

}  // namespace

http_server::http_server(asio::io_context& io, unsigned shard, http_server_options options,
                         http_handler handler)
    : state_(std::make_shared<state>(io, shard, std::move(options), std::move(handler))) {}

http_server::~http_server() {
  boost::system::error_code ignored;
  state_->acceptor.close(ignored);
}

boost::system::error_code http_server::listen() {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(state_->options.host, ec);
  if (ec) return ec;
  tcp::endpoint endpoint(address, state_->options.port);
  auto& acc = state_->acceptor;
  acc.open(endpoint.protocol(), ec);
  if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc.set_option(reuse_port(true), ec);
  if (!ec) acc.bind(endpoint, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    boost::system::error_code ignored;
    acc.close(ignored);
    return ec;
  }
  asio::co_spawn(state_->io, accept_loop(state_), asio::detached);
  return {};
}

std::uint16_t http_server::port() const {
  boost::system::error_code ec;
  return state_->acceptor.local_endpoint(ec).port();
}

void http_server::shutdown() {
  state_->draining = true;
  boost::system::error_code ignored;
  state_->acceptor.close(ignored);
  // Idle connections are closed now; busy ones finish their request, answer with
  // Connection: close, and end (run_session checks `draining`).
  for (auto& s : state_->sessions)
    if (!s.busy) s.stream->socket().cancel(ignored);
}

std::size_t http_server::open_connections() const { return state_->sessions.size(); }

}  // namespace topup::protocol
