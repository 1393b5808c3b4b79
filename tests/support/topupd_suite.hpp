#pragma once
// A gtest fixture base for suites that share one redis-server and one topupd.
#include <gtest/gtest.h>

#include <functional>
#include <memory>

#include "tests/support/redis_server.hpp"
#include "tests/support/topupd_process.hpp"

namespace topup::test {

/// One redis-server and one topupd for every test of the suite `Suite` (the deriving fixture:
/// each suite gets processes of its own). The fixture's SetUpTestSuite calls start_suite; each
/// test fails at once if topupd did not start, and fails if topupd died during it. Tests leave
/// both processes as they found them.
template <class Suite>
class shared_topupd_suite : public ::testing::Test {
 protected:
  /// Starts redis-server, then topupd with `make_config(port, redis port)` on a free port.
  static void start_suite(
      const std::function<topupd_config(int port, int redis_port)>& make_config) {
    redis_ = std::make_unique<redis_server>();
    topupd_ = std::make_unique<topupd_process>();
    port_ =
        start_on_free_port(*topupd_, [&](int port) { return make_config(port, redis_->port()); });
  }
  static void TearDownTestSuite() {
    topupd_.reset();
    redis_.reset();
  }
  void SetUp() override {
    ASSERT_TRUE(topupd_ && topupd_->running()) << "the suite's topupd did not start";
  }
  void TearDown() override {
    if (topupd_) {
      EXPECT_TRUE(topupd_->running()) << "topupd died during the test:\n" << topupd_->log_tail();
    }
  }

  static inline std::unique_ptr<redis_server> redis_;
  static inline std::unique_ptr<topupd_process> topupd_;
  static inline int port_ = 0;
};

}  // namespace topup::test
