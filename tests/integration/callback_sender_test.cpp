// The merchant callback sender against a real loopback receiver: connection reuse.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "protocol/callback_sender.hpp"
#include "tests/support/callback_receiver.hpp"

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

TEST(CallbackSender, KeepsEveryConnectionItsConcurrencyBoundAllowsAlive) {
  topup::test::callback_receiver receiver;
  asio::io_context io;
  topup::engine::callbacks_config cfg;
  cfg.allow_private_targets = true;
  cfg.max_concurrent_per_host = 8;
  topup::protocol::callback_sender sender(io, cfg);

  // Two bursts of 8 concurrent callbacks: the second must reuse the first burst's 8
  // connections, not open new ones (each new one costs a connect and a close).
  int delivered = 0;
  for (int burst = 0; burst < 2; ++burst) {
    for (int i = 0; i < 8; ++i) {
      std::vector<std::pair<std::string, std::string>> params{{"order_no", std::to_string(i)},
                                                              {"status", "2"}};
      asio::co_spawn(io,
                     sender.send(receiver.url("m"), std::move(params), "secret",
                                 topup::engine::sign_method::md5),
                     [&](std::exception_ptr e, topup::engine::callback_delivery d) {
                       if (!e && d.delivered) ++delivered;
                     });
    }
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (delivered < 8 * (burst + 1) && std::chrono::steady_clock::now() < until)
      io.run_for(5ms);
    ASSERT_EQ(delivered, 8 * (burst + 1));
  }
  EXPECT_EQ(receiver.count("m"), 16u);
  EXPECT_EQ(receiver.connections(), 8u);
  sender.close();
  io.run_for(50ms);
}

}  // namespace
