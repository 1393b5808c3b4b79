#include "protocol/http_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>

#include <list>

#include "engine/support/errc.hpp"
#include "engine/support/log.hpp"
#include "protocol/answers.hpp"
#include "protocol/errc.hpp"

namespace topup::protocol {

namespace asio = boost::asio;
namespace beast = boost::beast;
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

asio::awaitable<void> write_response(beast::tcp_stream& stream, http_response& res,
                                     std::chrono::milliseconds timeout, beast::error_code& ec) {
  stream.expires_after(timeout);
  auto [write_ec, n] = co_await http::async_write(stream, res, as_tuple_awaitable);
  ec = write_ec;
}

asio::awaitable<void> run_session(std::shared_ptr<http_server::state> st, tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  boost::system::error_code addr_ec;
  auto remote = stream.socket().remote_endpoint(addr_ec).address();
  auto entry = st->sessions.insert(st->sessions.end(), {&stream, false});
  beast::flat_buffer buffer(8192);
  const auto& opt = st->options;

  for (;;) {
    if (st->draining) break;
    beast::error_code ec;
    if (buffer.size() == 0) {
      // Wait for the next request's first bytes under the idle timeout only; once bytes arrive
      // the whole request must come within read_timeout (slow clients cannot pin us).
      stream.expires_after(opt.idle_timeout);
      auto [read_ec, n] = co_await stream.async_read_some(buffer.prepare(4096), as_tuple_awaitable);
      if (read_ec) break;  // closed, idle timeout, or cancelled by shutdown: all normal endings
      buffer.commit(n);
    }
    entry->busy = true;
    http::request_parser<http::string_body> parser;
    parser.body_limit(opt.max_body_bytes);
    parser.header_limit(static_cast<std::uint32_t>(opt.max_header_bytes));
    stream.expires_after(opt.read_timeout);
    auto [read_ec, n] = co_await http::async_read(stream, buffer, parser, as_tuple_awaitable);
    if (read_ec) {
      if (read_ec == http::error::end_of_stream || read_ec == beast::error::timeout ||
          read_ec == asio::error::operation_aborted || read_ec == asio::error::connection_reset ||
          read_ec == asio::error::eof)
        break;
      auto res = parse_failure_response(read_ec);
      co_await write_response(stream, res, opt.read_timeout, ec);
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
    if (ec || !res.keep_alive()) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.close();
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
    asio::co_spawn(st->io, run_session(st, std::move(socket)), [shard = st->shard](std::exception_ptr e) {
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
