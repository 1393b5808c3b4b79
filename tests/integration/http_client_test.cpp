// protocol/http_client against a scripted HTTP/1.1 peer on loopback (plain and TLS): keep-alive,
// per-host bounds, deadlines, the SSRF guard, body limits, re-send rules and close(). Every wait
// has a deadline, so a bug fails the test instead of hanging it.
#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <chrono>
#include <exception>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "protocol/http_client.hpp"
#include "tests/support/io_run.hpp"
#include "tests/support/process.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using topup::protocol::http_client;
using topup::protocol::http_client_errc;
using topup::protocol::http_client_options;
using topup::protocol::http_client_response;
using client_result = boost::system::result<http_client_response>;
using steady = std::chrono::steady_clock;
constexpr auto as_tuple_awaitable = asio::as_tuple(asio::use_awaitable);

// ---------------------------------------------------------------------------------------------
// Running coroutines with deadlines

using pending_request = topup::test::pending<client_result>;
using topup::test::run_for;
using topup::test::run_until;
using topup::test::spawn;

/// Runs one request to its end; a request still running at the deadline fails the test.
client_result run(asio::io_context& io, asio::awaitable<client_result> request,
                  std::chrono::milliseconds deadline = 10s) {
  auto out = topup::test::run(io, std::move(request), deadline);
  if (!out) return boost::system::error_code(asio::error::timed_out);
  return std::move(*out);
}

// ---------------------------------------------------------------------------------------------
// The scripted peer

struct seen_request {
  std::size_t connection = 0;  // 1-based number of the TCP connection it came on
  http::verb method = http::verb::unknown;
  std::string target;
  std::string body;
  std::string host;
  std::string content_type;
};

/// How the peer answers one request.
struct peer_answer {
  unsigned status = 200;
  std::string body = "ok";
  std::chrono::milliseconds delay{0};
  bool connection_close = false;  // answer with Connection: close, then close
  bool close_after = false;       // answer (keep-alive headers), then close without warning
  bool drop = false;              // close without answering
  std::string raw;                // write these bytes instead of an answer, then close
};

using peer_script = std::function<peer_answer(const seen_request&, std::size_t index)>;

struct peer_state {
  explicit peer_state(asio::io_context& io_) : io(io_), acceptor(io_) {}
  asio::io_context& io;
  tcp::acceptor acceptor;
  std::optional<ssl::context> tls;
  peer_script script;
  std::size_t accepted = 0;
  std::size_t in_handler = 0;
  std::size_t max_in_handler = 0;
  std::vector<seen_request> requests;
  std::vector<std::string> server_names;  // SNI of each TLS handshake
  std::list<tcp::socket*> open;
};

seen_request describe(const http::request<http::string_body>& req, std::size_t connection) {
  seen_request seen;
  seen.connection = connection;
  seen.method = req.method();
  seen.target = std::string(req.target());
  seen.body = req.body();
  seen.host = std::string(req[http::field::host]);
  seen.content_type = std::string(req[http::field::content_type]);
  return seen;
}

peer_answer answer_for(peer_state& st, const seen_request& seen, std::size_t index) {
  return st.script ? st.script(seen, index) : peer_answer{};
}

http::response<http::string_body> make_answer(const peer_answer& a, unsigned version) {
  http::response<http::string_body> res(static_cast<http::status>(a.status), version);
  res.set(http::field::content_type, "text/plain");
  res.body() = a.body;
  res.keep_alive(!a.connection_close);
  res.prepare_payload();
  return res;
}

template <class Stream>
asio::awaitable<void> serve_requests(std::shared_ptr<peer_state> st, Stream& stream,
                                     std::size_t connection) {
  beast::flat_buffer buffer;
  for (;;) {
    http::request<http::string_body> req;
    auto [read_ec, n] = co_await http::async_read(stream, buffer, req, as_tuple_awaitable);
    if (read_ec) co_return;
    const auto seen = describe(req, connection);
    const std::size_t index = st->requests.size();
    st->requests.push_back(seen);
    const peer_answer answer = answer_for(*st, seen, index);
    ++st->in_handler;
    st->max_in_handler = std::max(st->max_in_handler, st->in_handler);
    if (answer.delay > 0ms) {
      asio::steady_timer pause(st->io, answer.delay);
      co_await pause.async_wait(as_tuple_awaitable);
    }
    --st->in_handler;
    if (answer.drop) co_return;
    if (!answer.raw.empty()) {
      co_await asio::async_write(stream, asio::buffer(answer.raw), as_tuple_awaitable);
      co_return;
    }
    auto res = make_answer(answer, req.version());
    auto [write_ec, written] = co_await http::async_write(stream, res, as_tuple_awaitable);
    if (write_ec || answer.connection_close || answer.close_after) co_return;
  }
}

void close_socket(tcp::socket& socket) {
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

asio::awaitable<void> plain_session(std::shared_ptr<peer_state> st, tcp::socket socket,
                                    std::size_t connection) {
  auto it = st->open.insert(st->open.end(), &socket);
  co_await serve_requests(st, socket, connection);
  st->open.erase(it);
  close_socket(socket);
}

asio::awaitable<void> tls_session(std::shared_ptr<peer_state> st, tcp::socket socket,
                                  std::size_t connection) {
  ssl::stream<tcp::socket> stream(std::move(socket), *st->tls);
  auto it = st->open.insert(st->open.end(), &stream.next_layer());
  auto [handshake_ec] =
      co_await stream.async_handshake(ssl::stream_base::server, as_tuple_awaitable);
  if (!handshake_ec) {
    const char* name = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name);
    st->server_names.push_back(name ? name : "");
    co_await serve_requests(st, stream, connection);
  }
  st->open.erase(it);
  close_socket(stream.next_layer());
}

void log_exception(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    ADD_FAILURE() << "peer coroutine threw: " << ex.what();
  }
}

asio::awaitable<void> accept_loop(std::shared_ptr<peer_state> st) {
  for (;;) {
    auto [ec, socket] = co_await st->acceptor.async_accept(as_tuple_awaitable);
    if (ec) co_return;
    const std::size_t connection = ++st->accepted;
    if (st->tls) {
      asio::co_spawn(st->io, tls_session(st, std::move(socket), connection), log_exception);
    } else {
      asio::co_spawn(st->io, plain_session(st, std::move(socket), connection), log_exception);
    }
  }
}

/// An HTTP/1.1 server on 127.0.0.1 whose answers each test scripts; counts connections.
class scripted_peer {
 public:
  explicit scripted_peer(asio::io_context& io, std::optional<ssl::context> tls = std::nullopt)
      : st_(std::make_shared<peer_state>(io)) {
    st_->tls = std::move(tls);
    port_ = topup::test::free_loopback_port();
    const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"),
                                 static_cast<unsigned short>(port_));
    st_->acceptor.open(endpoint.protocol());
    st_->acceptor.set_option(asio::socket_base::reuse_address(true));
    st_->acceptor.bind(endpoint);
    st_->acceptor.listen();
    asio::co_spawn(io, accept_loop(st_), log_exception);
  }
  ~scripted_peer() {
    boost::system::error_code ignored;
    st_->acceptor.close(ignored);
    for (auto* socket : st_->open) socket->cancel(ignored);
  }
  scripted_peer(const scripted_peer&) = delete;
  scripted_peer& operator=(const scripted_peer&) = delete;

  void script(peer_script s) { st_->script = std::move(s); }
  int port() const { return port_; }
  std::string url(const std::string& path = "/x", const std::string& host = "127.0.0.1") const {
    return std::string(st_->tls ? "https://" : "http://") + host + ":" + std::to_string(port_) +
           path;
  }
  std::size_t accepted() const { return st_->accepted; }
  std::size_t max_in_handler() const { return st_->max_in_handler; }
  const std::vector<seen_request>& requests() const { return st_->requests; }
  const std::vector<std::string>& server_names() const { return st_->server_names; }

 private:
  std::shared_ptr<peer_state> st_;
  int port_ = 0;
};

http_client_options test_options() {
  http_client_options options;
  options.connect_timeout = 2s;
  options.request_timeout = 5s;
  return options;
}

// ---------------------------------------------------------------------------------------------
// Plain HTTP

TEST(HttpClient, KeepAliveReusesOneConnectionForSequentialRequests) {
  asio::io_context io(1);
  scripted_peer peer(io);
  peer.script([](const seen_request& seen, std::size_t index) {
    peer_answer a;
    a.body = "answer " + std::to_string(index) + " to " + seen.body;
    return a;
  });
  http_client client(io, test_options());
  for (int i = 0; i < 3; ++i) {
    auto r = run(
        io, client.post_form(peer.url("/rest/Recharge/query?x=1"), "n=" + std::to_string(i), 2s));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, 200u);
    EXPECT_EQ(r->body, "answer " + std::to_string(i) + " to n=" + std::to_string(i));
    EXPECT_EQ(r->reused_connection, i > 0);
    EXPECT_EQ(r->peer.address().to_string(), "127.0.0.1");
    EXPECT_EQ(r->peer.port(), peer.port());
    EXPECT_EQ(r->headers[http::field::content_type], "text/plain");
  }
  EXPECT_EQ(peer.accepted(), 1u);
  ASSERT_EQ(peer.requests().size(), 3u);
  for (const auto& seen : peer.requests()) {
    EXPECT_EQ(seen.connection, 1u);
    EXPECT_EQ(seen.method, http::verb::post);
    EXPECT_EQ(seen.target, "/rest/Recharge/query?x=1");
    EXPECT_EQ(seen.host, "127.0.0.1:" + std::to_string(peer.port()));
    EXPECT_EQ(seen.content_type, "application/x-www-form-urlencoded");
  }
  EXPECT_EQ(client.stats().connections_opened, 1u);
  EXPECT_EQ(client.stats().requests_sent, 3u);
  EXPECT_EQ(client.stats().idle_connections, 1u);
}

TEST(HttpClient, GenericRequestCarriesMethodAndContentType) {
  asio::io_context io(1);
  scripted_peer peer(io);
  http_client client(io, test_options());
  auto r = run(io, client.request(http::verb::put, peer.url("/p"), "{}", "application/json", 2s));
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(peer.requests().size(), 1u);
  EXPECT_EQ(peer.requests()[0].method, http::verb::put);
  EXPECT_EQ(peer.requests()[0].content_type, "application/json");
  EXPECT_EQ(peer.requests()[0].body, "{}");
}

TEST(HttpClient, AnyHttpStatusIsAnAnswer) {
  asio::io_context io(1);
  scripted_peer peer(io);
  peer.script([](const seen_request&, std::size_t) {
    peer_answer a;
    a.status = 502;
    a.body = "bad gateway";
    return a;
  });
  http_client client(io, test_options());
  auto r = run(io, client.post_form(peer.url(), "a=1", 2s));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 502u);
  EXPECT_EQ(r->body, "bad gateway");
}

TEST(HttpClient, ConnectionCloseAnswerIsNotReused) {
  asio::io_context io(1);
  scripted_peer peer(io);
  peer.script([](const seen_request&, std::size_t index) {
    peer_answer a;
    a.connection_close = index == 0;
    return a;
  });
  http_client client(io, test_options());
  auto first = run(io, client.post_form(peer.url(), "a=1", 2s));
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(client.stats().idle_connections, 0u);
  auto second = run(io, client.post_form(peer.url(), "a=2", 2s));
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_FALSE(second->reused_connection);
  EXPECT_EQ(peer.accepted(), 2u);
  ASSERT_EQ(peer.requests().size(), 2u);
  EXPECT_EQ(peer.requests()[1].connection, 2u);
}

TEST(HttpClient, IdleConnectionClosedByServerIsNotUsed) {
  asio::io_context io(1);
  scripted_peer peer(io);
  peer.script([](const seen_request&, std::size_t index) {
    peer_answer a;
    a.close_after = index == 0;  // keep-alive headers, then the server drops the connection
    return a;
  });
  http_client client(io, test_options());
  auto first = run(io, client.post_form(peer.url(), "a=1", 2s));
  ASSERT_TRUE(first) << first.error().message();
  run_for(io, 100ms);  // the FIN arrives
  // Not idempotent, yet it succeeds: the dead connection is seen before anything is sent.
  auto second = run(io, client.post_form(peer.url(), "a=2", 2s));
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_FALSE(second->reused_connection);
  EXPECT_EQ(peer.accepted(), 2u);
  EXPECT_EQ(peer.requests().size(), 2u);
}

TEST(HttpClient, IdleConnectionsAreSweptAfterIdleTimeout) {
  asio::io_context io(1);
  scripted_peer peer(io);
  auto options = test_options();
  options.idle_timeout = 200ms;
  http_client client(io, options);
  auto r = run(io, client.post_form(peer.url(), "a=1", 2s));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(client.stats().idle_connections, 1u);
  EXPECT_TRUE(run_until(
      io, [&] { return client.stats().idle_connections == 0; }, 2s));
}

TEST(HttpClient, NonIdempotentRequestIsNotResentWhenReusedConnectionDies) {
  asio::io_context io(1);
  scripted_peer peer(io);
  peer.script([](const seen_request&, std::size_t index) {
    peer_answer a;
    a.drop = index == 1;  // the second request is read, then the connection closes unanswered
    return a;
  });
  http_client client(io, test_options());
  ASSERT_TRUE(run(io, client.post_form(peer.url(), "a=1", 2s)));
  auto second = run(io, client.post_form(peer.url(), "a=2", 2s));
  EXPECT_FALSE(second);
  run_for(io, 100ms);
  // Exactly one copy of the second request reached the server: no silent re-send.
  EXPECT_EQ(peer.requests().size(), 2u);
  EXPECT_EQ(peer.accepted(), 1u);
}

TEST(HttpClient, IdempotentRequestIsResentOnceOnAFreshConnection) {
  asio::io_context io(1);
  scripted_peer peer(io);
  peer.script([](const seen_request&, std::size_t index) {
    peer_answer a;
    a.drop = index == 1;
    a.body = "answer " + std::to_string(index);
    return a;
  });
  http_client client(io, test_options());
  ASSERT_TRUE(run(io, client.request(http::verb::get, peer.url(), "", "", 2s, true)));
  auto second = run(io, client.request(http::verb::get, peer.url(), "", "", 2s, true));
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_EQ(second->body, "answer 2");
  EXPECT_FALSE(second->reused_connection);
  EXPECT_EQ(peer.requests().size(), 3u);
  EXPECT_EQ(peer.accepted(), 2u);
}

TEST(HttpClient, IdempotentRequestOnFreshConnectionIsNotResent) {
  asio::io_context io(1);
  scripted_peer peer(io);
  peer.script([](const seen_request&, std::size_t) {
    peer_answer a;
    a.drop = true;
    return a;
  });
  http_client client(io, test_options());
  auto r = run(io, client.request(http::verb::get, peer.url(), "", "", 2s, true));
  EXPECT_FALSE(r);
  EXPECT_EQ(peer.requests().size(), 1u);
}

TEST(HttpClient, ConcurrencyPerHostIsBoundedAndTheQueueToo) {
  asio::io_context io(1);
  scripted_peer peer(io);
  peer.script([](const seen_request&, std::size_t) {
    peer_answer a;
    a.delay = 300ms;
    return a;
  });
  auto options = test_options();
  options.max_connections_per_host = 2;
  options.max_waiting_per_host = 1;
  http_client client(io, options);
  std::vector<std::shared_ptr<pending_request>> requests;
  for (int i = 0; i < 4; ++i)
    requests.push_back(spawn(io, client.post_form(peer.url(), "i=" + std::to_string(i), 3s)));
  ASSERT_TRUE(run_until(
      io,
      [&] {
        return std::all_of(requests.begin(), requests.end(), [](auto& r) { return r->done(); });
      },
      5s));
  int ok = 0;
  int queue_full = 0;
  for (auto& r : requests) {
    if (*r->value) {
      ++ok;
    } else if (r->value->error() == http_client_errc::queue_full) {
      ++queue_full;
    } else {
      ADD_FAILURE() << r->value->error().message();
    }
  }
  EXPECT_EQ(ok, 3);
  EXPECT_EQ(queue_full, 1);
  EXPECT_EQ(peer.max_in_handler(), 2u);
  EXPECT_EQ(peer.accepted(), 2u);  // the waiting request took over a finished connection
  EXPECT_EQ(peer.requests().size(), 3u);
}

TEST(HttpClient, WaitingPastTheDeadlineFailsWithQueueTimeout) {
  asio::io_context io(1);
  scripted_peer peer(io);
  peer.script([](const seen_request&, std::size_t) {
    peer_answer a;
    a.delay = 600ms;
    return a;
  });
  auto options = test_options();
  options.max_connections_per_host = 1;
  http_client client(io, options);
  auto slow = spawn(io, client.post_form(peer.url(), "a=1", 3s));
  const auto start = steady::now();
  auto waiting = spawn(io, client.post_form(peer.url(), "a=2", 200ms));
  ASSERT_TRUE(run_until(
      io, [&] { return slow->done() && waiting->done(); }, 5s));
  ASSERT_FALSE(*waiting->value);
  EXPECT_EQ(waiting->value->error(), http_client_errc::queue_timeout);
  const auto waited = waiting->finished - start;
  EXPECT_GE(waited, 190ms);
  EXPECT_LT(waited, 550ms);
  EXPECT_TRUE(*slow->value);
  EXPECT_EQ(peer.requests().size(), 1u);
}

TEST(HttpClient, SlowServerTimesOutWithinTheBoundAndTheConnectionIsDropped) {
  asio::io_context io(1);
  scripted_peer peer(io);
  peer.script([](const seen_request&, std::size_t index) {
    peer_answer a;
    a.delay = index == 0 ? 3s : 0ms;
    return a;
  });
  http_client client(io, test_options());
  const auto start = steady::now();
  auto r = run(io, client.post_form(peer.url(), "a=1", 200ms));
  const auto took = steady::now() - start;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), http_client_errc::timeout);
  EXPECT_GE(took, 190ms);
  EXPECT_LT(took, 700ms);
  auto next = run(io, client.post_form(peer.url(), "a=2", 2s));
  ASSERT_TRUE(next) << next.error().message();
  EXPECT_FALSE(next->reused_connection);
  EXPECT_EQ(peer.accepted(), 2u);
}

TEST(HttpClient, SilentServerTimesOut) {
  // Accepts and never reads: the deadline covers the write and the wait for an answer.
  asio::io_context io(1);
  const int port = topup::test::free_loopback_port();
  tcp::acceptor acceptor(
      io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
  http_client client(io, test_options());
  const auto start = steady::now();
  auto r =
      run(io, client.post_form("http://127.0.0.1:" + std::to_string(port) + "/", "a=1", 250ms));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), http_client_errc::timeout);
  EXPECT_LT(steady::now() - start, 750ms);
}

TEST(HttpClient, SsrfGuardRefusesLoopbackWhenPrivateTargetsAreDisallowed) {
  asio::io_context io(1);
  scripted_peer peer(io);
  auto options = test_options();
  options.allow_private_targets = false;
  http_client guarded(io, options);
  auto by_address = run(io, guarded.post_form(peer.url(), "a=1", 2s));
  ASSERT_FALSE(by_address);
  EXPECT_EQ(by_address.error(), http_client_errc::forbidden_target);
  auto by_name = run(io, guarded.post_form(peer.url("/x", "localhost"), "a=1", 2s));
  ASSERT_FALSE(by_name);
  EXPECT_EQ(by_name.error(), http_client_errc::forbidden_target);
  auto v6 =
      run(io, guarded.post_form("http://[::1]:" + std::to_string(peer.port()) + "/", "a=1", 2s));
  ASSERT_FALSE(v6);
  EXPECT_EQ(v6.error(), http_client_errc::forbidden_target);
  auto metadata = run(io, guarded.post_form("http://169.254.169.254/latest/meta-data/", "", 2s));
  ASSERT_FALSE(metadata);
  EXPECT_EQ(metadata.error(), http_client_errc::forbidden_target);
  run_for(io, 50ms);
  EXPECT_EQ(peer.accepted(), 0u);  // nothing connected, nothing sent
  EXPECT_TRUE(peer.requests().empty());

  http_client open(io, test_options());  // allow_private_targets = true (the default)
  auto allowed = run(io, open.post_form(peer.url(), "a=1", 2s));
  ASSERT_TRUE(allowed) << allowed.error().message();
  auto allowed_by_name = run(io, open.post_form(peer.url("/x", "localhost"), "a=1", 2s));
  ASSERT_TRUE(allowed_by_name) << allowed_by_name.error().message();
  EXPECT_EQ(allowed_by_name->peer.address().to_string(), "127.0.0.1");
  EXPECT_EQ(peer.requests().size(), 2u);
}

TEST(HttpClient, ResponseBodyOverTheLimitIsAnError) {
  asio::io_context io(1);
  scripted_peer peer(io);
  peer.script([](const seen_request& seen, std::size_t) {
    peer_answer a;
    a.body = std::string(seen.body == "big" ? 2000 : 1024, 'x');
    return a;
  });
  auto options = test_options();
  options.max_response_body_bytes = 1024;
  http_client client(io, options);
  auto fits = run(io, client.post_form(peer.url(), "fits", 2s));
  ASSERT_TRUE(fits) << fits.error().message();
  EXPECT_EQ(fits->body.size(), 1024u);
  auto big = run(io, client.post_form(peer.url(), "big", 2s));
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error(), http_client_errc::body_too_large);
  EXPECT_EQ(client.stats().idle_connections, 0u);  // the half-read connection is gone
}

TEST(HttpClient, TruncatedAnswerIsAnError) {
  asio::io_context io(1);
  scripted_peer peer(io);
  peer.script([](const seen_request&, std::size_t) {
    peer_answer a;
    a.raw = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"code\":\"0000\"";
    return a;
  });
  http_client client(io, test_options());
  auto r = run(io, client.post_form(peer.url(), "a=1", 2s));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), http::error::partial_message) << r.error().message();
}

TEST(HttpClient, GarbageAnswerIsAnError) {
  asio::io_context io(1);
  scripted_peer peer(io);
  peer.script([](const seen_request&, std::size_t) {
    peer_answer a;
    a.raw = "SSH-2.0-OpenSSH_9.2\r\n\r\n";
    return a;
  });
  http_client client(io, test_options());
  auto r = run(io, client.post_form(peer.url(), "a=1", 2s));
  EXPECT_FALSE(r);
}

TEST(HttpClient, AnswerUntilEofIsReadButNotReused) {
  asio::io_context io(1);
  scripted_peer peer(io);
  peer.script([](const seen_request&, std::size_t) {
    peer_answer a;
    a.raw = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end";
    return a;
  });
  http_client client(io, test_options());
  auto r = run(io, client.post_form(peer.url(), "a=1", 2s));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->body, "until the end");
  EXPECT_EQ(client.stats().idle_connections, 0u);
}

TEST(HttpClient, InterimAnswersAreSkipped) {
  asio::io_context io(1);
  scripted_peer peer(io);
  peer.script([](const seen_request&, std::size_t) {
    peer_answer a;
    a.raw =
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
        "Connection: close\r\n\r\nfinal";
    return a;
  });
  http_client client(io, test_options());
  auto r = run(io, client.post_form(peer.url(), "a=1", 2s));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->body, "final");
}

TEST(HttpClient, RefusedConnectionFailsFast) {
  asio::io_context io(1);
  const int port = topup::test::free_loopback_port();  // nothing listens there
  http_client client(io, test_options());
  const auto start = steady::now();
  auto r = run(io, client.post_form("http://127.0.0.1:" + std::to_string(port) + "/", "a=1", 2s));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), asio::error::connection_refused) << r.error().message();
  EXPECT_LT(steady::now() - start, 1s);
}

TEST(HttpClient, BadUrlsFailWithoutNetwork) {
  asio::io_context io(1);
  http_client client(io, test_options());
  for (const char* url :
       {"ftp://127.0.0.1/", "127.0.0.1:80", "http://user@127.0.0.1/", "http://h:0/"}) {
    auto r = run(io, client.post_form(url, "", 1s));
    ASSERT_FALSE(r) << url;
    EXPECT_EQ(r.error(), http_client_errc::bad_url) << url;
  }
  EXPECT_EQ(client.stats().connections_opened, 0u);
}

TEST(HttpClient, UnknownHostNameFails) {
  asio::io_context io(1);
  http_client client(io, test_options());
  auto r = run(io, client.post_form("http://no-such-host.invalid/", "", 3s), 10s);
  EXPECT_FALSE(r);
}

TEST(HttpClient, CloseAbortsRunningAndWaitingRequestsPromptly) {
  asio::io_context io(1);
  scripted_peer peer(io);
  peer.script([](const seen_request&, std::size_t) {
    peer_answer a;
    a.delay = 5s;
    return a;
  });
  auto options = test_options();
  options.max_connections_per_host = 1;
  http_client client(io, options);
  auto running = spawn(io, client.post_form(peer.url(), "a=1", 10s));
  auto waiting = spawn(io, client.post_form(peer.url(), "a=2", 10s));
  ASSERT_TRUE(run_until(
      io, [&] { return peer.requests().size() == 1; }, 2s));
  const auto start = steady::now();
  client.close();
  ASSERT_TRUE(run_until(
      io, [&] { return running->done() && waiting->done(); }, 2s));
  EXPECT_LT(steady::now() - start, 500ms);
  ASSERT_FALSE(*running->value);
  EXPECT_EQ(running->value->error(), asio::error::operation_aborted);
  ASSERT_FALSE(*waiting->value);
  EXPECT_EQ(waiting->value->error(), asio::error::operation_aborted);
  auto after = run(io, client.post_form(peer.url(), "a=3", 1s));
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error(), asio::error::operation_aborted);
  EXPECT_EQ(peer.requests().size(), 1u);
}

TEST(HttpClient, DestroyingTheClientWithRequestsInFlightIsSafe) {
  asio::io_context io(1);
  scripted_peer peer(io);
  peer.script([](const seen_request&, std::size_t) {
    peer_answer a;
    a.delay = 5s;
    return a;
  });
  std::shared_ptr<pending_request> running;
  {
    http_client client(io, test_options());
    running = spawn(io, client.post_form(peer.url(), "a=1", 10s));
    ASSERT_TRUE(run_until(
        io, [&] { return peer.requests().size() == 1; }, 2s));
  }
  ASSERT_TRUE(run_until(
      io, [&] { return running->done(); }, 1s));
  ASSERT_FALSE(*running->value);
  EXPECT_EQ(running->value->error(), asio::error::operation_aborted);
}

TEST(HttpClient, HttpsToAPlainServerFailsWithoutHanging) {
  asio::io_context io(1);
  scripted_peer peer(io);
  http_client client(io, test_options());
  const auto start = steady::now();
  auto r = run(
      io, client.post_form("https://127.0.0.1:" + std::to_string(peer.port()) + "/", "a=1", 2s));
  EXPECT_FALSE(r);
  EXPECT_LT(steady::now() - start, 2500ms);
}

// ---------------------------------------------------------------------------------------------
// TLS, with a self-signed certificate for "localhost" made at run time

struct test_certificate {
  std::string cert_pem;
  std::string key_pem;
};

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

test_certificate make_certificate(const char* dns_name) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (!key) throw std::runtime_error("EVP_EC_gen failed");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("topupd test"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  const std::string san = std::string("DNS:") + dns_name;
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san.c_str());
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  X509_sign(cert, key, EVP_sha256());

  test_certificate out;
  BIO* cert_bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(cert_bio, cert);
  out.cert_pem = bio_text(cert_bio);
  BIO_free(cert_bio);
  BIO* key_bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(key_bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  out.key_pem = bio_text(key_bio);
  BIO_free(key_bio);
  X509_free(cert);
  EVP_PKEY_free(key);
  return out;
}

ssl::context server_context(const test_certificate& certificate) {
  ssl::context ctx(ssl::context::tls_server);
  ctx.use_certificate(asio::buffer(certificate.cert_pem), ssl::context::pem);
  ctx.use_private_key(asio::buffer(certificate.key_pem), ssl::context::pem);
  return ctx;
}

TEST(HttpClient, TlsWithATrustedCertificateWorksAndKeepsAlive) {
  asio::io_context io(1);
  const auto certificate = make_certificate("localhost");
  scripted_peer peer(io, server_context(certificate));
  auto options = test_options();
  options.extra_ca_pem = certificate.cert_pem;
  http_client client(io, options);
  for (int i = 0; i < 2; ++i) {
    auto r = run(io, client.post_form(peer.url("/secure", "localhost"), "a=1", 3s));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, 200u);
    EXPECT_EQ(r->body, "ok");
    EXPECT_EQ(r->reused_connection, i > 0);
  }
  EXPECT_EQ(peer.accepted(), 1u);
  ASSERT_EQ(peer.server_names().size(), 1u);
  EXPECT_EQ(peer.server_names()[0], "localhost");  // SNI
  ASSERT_EQ(peer.requests().size(), 2u);
  EXPECT_EQ(peer.requests()[0].host, "localhost:" + std::to_string(peer.port()));
}

TEST(HttpClient, TlsWithAnUntrustedCertificateIsRefused) {
  asio::io_context io(1);
  const auto certificate = make_certificate("localhost");
  scripted_peer peer(io, server_context(certificate));
  http_client client(io, test_options());  // system CAs only
  auto r = run(io, client.post_form(peer.url("/secure", "localhost"), "a=1", 3s));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().category(), asio::error::get_ssl_category()) << r.error().message();
  run_for(io, 50ms);
  EXPECT_TRUE(peer.requests().empty());
}

TEST(HttpClient, TlsHostNameMustMatchTheCertificate) {
  asio::io_context io(1);
  const auto certificate = make_certificate("localhost");
  scripted_peer peer(io, server_context(certificate));
  auto options = test_options();
  options.extra_ca_pem = certificate.cert_pem;
  http_client client(io, options);
  // Trusted certificate, but for "localhost" only: 127.0.0.1 is not a name it carries.
  auto r = run(io, client.post_form(peer.url("/secure", "127.0.0.1"), "a=1", 3s));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().category(), asio::error::get_ssl_category()) << r.error().message();
  run_for(io, 50ms);
  EXPECT_TRUE(peer.requests().empty());
}

TEST(HttpClient, TlsWithoutVerificationAcceptsAnyCertificate) {
  asio::io_context io(1);
  const auto certificate = make_certificate("localhost");
  scripted_peer peer(io, server_context(certificate));
  auto options = test_options();
  options.verify_tls = false;
  http_client client(io, options);
  auto r = run(io, client.post_form(peer.url("/secure", "127.0.0.1"), "a=1", 3s));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->body, "ok");
  EXPECT_TRUE(peer.server_names().at(0).empty());  // no SNI for an IP literal
}

}  // namespace
