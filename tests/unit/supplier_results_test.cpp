// engine::supplier_results over the in-memory log: a supplier callback counts only when its
// attempt id names a stored order and the channel it came in on holds that attempt (spec §6);
// anything else is refused, nothing handed on, so the supplier asks again or gives up.
#include <gtest/gtest.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/order/order_number.hpp"
#include "engine/order/order_record.hpp"
#include "engine/service/supplier_results.hpp"
#include "engine/support/errc.hpp"
#include "tests/support/io_run.hpp"
#include "tests/support/manual_clock.hpp"
#include "tests/support/memory_log.hpp"

namespace topup::engine {
namespace {

namespace asio = boost::asio;
using test::at_once;

constexpr std::int64_t k_merchant = 3101;
constexpr std::int64_t k_t0_ms = 1'700'000'000'000;

class SupplierResults : public ::testing::Test {
 protected:
  SupplierResults() {
    log_.set_balance(k_merchant, 1'000'000);
    order_record r;
    r.order_number = make_order_number({static_cast<std::uint64_t>(k_t0_ms), 0, 0, 1, k_merchant});
    r.order_no = "no-1";
    r.merchant_id = k_merchant;
    r.store_id = "s1";
    r.mobile = "13800138000";
    r.carrier = carrier::cmcc;
    r.money_yuan = 100;
    r.recharge_type = 1;
    r.fingerprint = "fp";
    r.cost_fen = 9950;
    r.status = order_status::matched;
    // Attempt 1 went to A, attempt 2 is at B.
    field_pairs attempt = {{"channel", "B"}, {"attempts", "2"}, {"tried", join_ids({"A", "B"})}};
    auto accepted = at_once(log_.accept(r, k_t0_ms, std::move(attempt)));
    EXPECT_TRUE(accepted && !accepted->duplicate);
    number_ = r.order_number;
  }

  supplier_receipt receive(std::string channel, std::string attempt_id) {
    supplier_callback cb;
    cb.attempt_id = std::move(attempt_id);
    cb.result.outcome = attempt_outcome::succeeded;
    return at_once(results_.receive(std::move(channel), std::move(cb)));
  }

  test::manual_clock clock_{k_t0_ms};
  test::memory_log log_{clock_};
  std::vector<std::pair<std::string, supplier_callback>> handed_;
  supplier_results results_{log_, [this](std::string number, supplier_callback cb) {
                              handed_.emplace_back(std::move(number), std::move(cb));
                            }};
  std::string number_;
};

TEST_F(SupplierResults, TheHoldersWordIsHandedToTheDrivingShardWithItsChannel) {
  EXPECT_EQ(receive("B", number_ + "-2"), supplier_receipt::taken);
  ASSERT_EQ(handed_.size(), 1u);
  EXPECT_EQ(handed_[0].first, number_);
  EXPECT_EQ(handed_[0].second.channel_id, "B");
  EXPECT_EQ(handed_[0].second.attempt_id, number_ + "-2");
  // The earlier attempt's holder is A: its word goes on too (the dispatcher decides it is old).
  EXPECT_EQ(receive("A", number_ + "-1"), supplier_receipt::taken);
  EXPECT_EQ(handed_.size(), 2u);
}

TEST_F(SupplierResults, AnotherChannelsWordAboutTheAttemptIsRefused) {
  EXPECT_EQ(receive("A", number_ + "-2"), supplier_receipt::wrong_channel);
  EXPECT_EQ(receive("B", number_ + "-1"), supplier_receipt::wrong_channel);
  EXPECT_EQ(receive("B", number_ + "-3"), supplier_receipt::wrong_channel);  // never placed
  EXPECT_EQ(receive("B", number_ + "-0"), supplier_receipt::wrong_channel);
  EXPECT_TRUE(handed_.empty());
}

TEST_F(SupplierResults, AnAttemptIdNamingNoOrderIsRefused) {
  EXPECT_EQ(receive("B", "nodash"), supplier_receipt::malformed_attempt);
  EXPECT_EQ(receive("B", "not-an-order-2"), supplier_receipt::malformed_attempt);
  const auto stranger =
      make_order_number({static_cast<std::uint64_t>(k_t0_ms), 0, 0, 99, k_merchant});
  EXPECT_EQ(receive("B", stranger + "-1"), supplier_receipt::unknown_order);
  EXPECT_TRUE(handed_.empty());
}

TEST_F(SupplierResults, StorageDownIsRefusedSoTheSupplierAsksAgain) {
  log_.fail_reads(errc::storage_unavailable, 1);
  EXPECT_EQ(receive("B", number_ + "-2"), supplier_receipt::unknown_order);
  EXPECT_TRUE(handed_.empty());
  EXPECT_EQ(receive("B", number_ + "-2"), supplier_receipt::taken);
}

}  // namespace
}  // namespace topup::engine
