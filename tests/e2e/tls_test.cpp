// End-to-end: the merchant port over TLS (`server.tls`, spec §8; issue 19). The certificate is
// made by the test at run time (tests/support/self_signed_cert). Orders and queries over one
// keep-alive TLS connection, the HTTP limits and envelopes unchanged, TLS 1.1 refused, clients
// that do not speak TLS closed without harm to the shard. The graceful stop over TLS is in
// server_test.cpp (ServerShutdown).
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/admin_order_view.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/merchant_client.hpp"
#include "tests/support/raw_socket.hpp"
#include "tests/support/self_signed_cert.hpp"
#include "tests/support/topupd_suite.hpp"

namespace topup::test {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

long long elapsed_ms(clock_type::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - since).count();
}

/// A TLS client context offering TLS 1.1 only, at OpenSSL security level 0: OpenSSL 3 refuses
/// TLS 1.1 at its default level on the client side already, and the point is to see the
/// *server* refuse it (TlsServer.Tls11IsRefused checks this client against a server that allows
/// it).
ssl::context tls11_only_client() {
  ssl::context ctx(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_1_VERSION);
  SSL_CTX_set_max_proto_version(ctx.native_handle(), TLS1_1_VERSION);
  SSL_CTX_set_cipher_list(ctx.native_handle(), "DEFAULT:@SECLEVEL=0");
  ctx.set_verify_mode(ssl::verify_none);
  return ctx;
}

/// Handshakes with 127.0.0.1:port using `ctx`; the error, empty when the handshake succeeded.
boost::system::error_code handshake_with(int port, ssl::context& ctx) {
  asio::io_context io;
  ssl::stream<tcp::socket> stream(io, ctx);
  boost::system::error_code ec;
  stream.next_layer().connect(
      tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)), ec);
  if (!ec) stream.handshake(ssl::stream_base::client, ec);
  return ec;
}

/// One topupd (2 shards, merchant port over TLS, 300 ms idle and read timeouts) on one
/// redis-server, shared by the tests that leave both as they found them.
class TlsServer : public shared_topupd_suite<TlsServer> {
 protected:
  static void SetUpTestSuite() {
    start_suite([](int port, int redis_port) {
      topupd_config cfg(port, redis_port, 2);
      cfg.use_tls();
      auto& server = cfg.json["server"].as_object();
      server["idle_timeout_ms"] = 300;
      server["read_timeout_ms"] = 300;
      return cfg;
    });
  }
};

TEST_F(TlsServer, OrdersAndQueriesShareOneKeepAliveConnection) {
  http_client admin(port_, 5s, transport::tls);
  ASSERT_EQ(admin_credit(admin, "test-admin-token", 1001, "1000", "tls-credit").code, "0000");

  merchant_client m(port_, "k1", "s3cret", engine::sign_method::md5, transport::tls);
  const long long before = m.balance_fen();
  std::vector<std::string> numbers;
  for (int i = 0; i < 3; ++i) {
    auto pushed = m.push("tls-order-" + std::to_string(i), "13800138000", 50);
    ASSERT_EQ(pushed.code, "0000") << pushed.raw;
    numbers.push_back(json_text(pushed.data, "order_number"));
  }
  // The sim channel answers at once: each order reaches 2 (success) within moments.
  for (const auto& number : numbers) {
    std::string status;
    const auto deadline = clock_type::now() + 5s;
    while (status != "2" && clock_type::now() < deadline) {
      auto q = m.query(number);
      ASSERT_EQ(q.code, "0000") << q.raw;
      status = json_text(q.data, "status");
      if (status != "2") std::this_thread::sleep_for(10ms);
    }
    EXPECT_EQ(status, "2") << "order " << number << " did not succeed";
  }
  EXPECT_EQ(m.balance_fen(), before - 3 * 4975);  // 50 yuan at rate 0.995, three times
  EXPECT_EQ(m.http().connects(), 1u) << "the server closed the keep-alive TLS connection";
  const std::string version = m.http().tls_version();
  EXPECT_TRUE(version == "TLSv1.3" || version == "TLSv1.2") << version;
}

TEST_F(TlsServer, LimitsAndRefusalsAreTheSameJsonEnvelopes) {
  http_client c(port_, 5s, transport::tls);
  expect_json_envelope(c.get("/nope"), 404, "4004");
  expect_json_envelope(c.post("/healthz", ""), 405, "4005");

  expect_raw_request_refused(port_, transport::tls, k_oversized_body_request, 413, "4013");
  expect_raw_request_refused(port_, transport::tls, k_malformed_request, 400, "4000");
}

TEST_F(TlsServer, IdleTlsConnectionIsClosedAfterIdleTimeout) {
  http_client c(port_, 5s, transport::tls);
  ASSERT_EQ(c.get("/healthz").status, 200u);
  const auto start = clock_type::now();
  EXPECT_FALSE(c.read_response().has_value());
  const auto waited = elapsed_ms(start);
  EXPECT_GE(waited, 150) << "closed before the idle timeout";
  EXPECT_LT(waited, 2500) << "idle TLS connection not closed (idle_timeout_ms=300)";
}

TEST_F(TlsServer, Tls11IsRefused) {
  auto old_client = tls11_only_client();

  // The same client completes a handshake with a server that allows TLS 1.1: so what refuses
  // it below is topupd, not this machine's OpenSSL.
  {
    const pem_pair pems = make_self_signed_cert();
    ssl::context lenient(ssl::context::tls_server);
    SSL_CTX_set_min_proto_version(lenient.native_handle(), TLS1_1_VERSION);
    SSL_CTX_set_cipher_list(lenient.native_handle(), "DEFAULT:@SECLEVEL=0");
    lenient.use_certificate_chain(asio::buffer(pems.cert_pem));
    lenient.use_private_key(asio::buffer(pems.key_pem), ssl::context::pem);
    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    std::thread server([&] {
      ssl::stream<tcp::socket> stream(io, lenient);
      boost::system::error_code ec;
      acceptor.accept(stream.next_layer(), ec);
      if (!ec) stream.handshake(ssl::stream_base::server, ec);
    });
    const auto control = handshake_with(acceptor.local_endpoint().port(), old_client);
    server.join();
    ASSERT_FALSE(control) << "a TLS 1.1 client cannot be made on this machine: "
                          << control.message();
  }

  const auto refused = handshake_with(port_, old_client);
  EXPECT_TRUE(refused) << "topupd accepted a TLS 1.1 handshake";
  // A client of today is served as before.
  http_client modern(port_, 5s, transport::tls);
  EXPECT_EQ(modern.get("/healthz").status, 200u);
}

TEST_F(TlsServer, PlainHttpClientIsClosedAndEveryShardServesOn) {
  for (int i = 0; i < 8; ++i) {  // fresh connections: both shards meet some
    raw_socket plain(port_);
    ASSERT_TRUE(plain.connected());
    ASSERT_TRUE(plain.send_all("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    std::string received;
    const auto start = clock_type::now();
    EXPECT_TRUE(plain.closed_within(2500ms, &received)) << "plain HTTP kept open on the TLS port";
    EXPECT_LT(elapsed_ms(start), 1500);
    EXPECT_EQ(received.find("HTTP/1."), std::string::npos)
        << "a plain HTTP answer on the TLS port: " << received;
  }
  // A client that connects and says nothing is closed within the read timeout (the handshake
  // is bounded like a request), not after the 300 ms idle wait plus anything.
  raw_socket silent(port_);
  ASSERT_TRUE(silent.connected());
  const auto start = clock_type::now();
  EXPECT_TRUE(silent.closed_within(2500ms)) << "a silent client kept its TLS port connection";
  EXPECT_GE(elapsed_ms(start), 150);

  EXPECT_EQ(shards_answering(port_, "/healthz", 200, 2, 10s, transport::tls), (std::set<int>{0, 1}))
      << "a shard stopped serving TLS after the plain-HTTP clients";
}

}  // namespace
}  // namespace topup::test
