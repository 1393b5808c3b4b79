// engine/store/order_ownership: which orders an instance drives — its own, less those another
// instance took over while it was dead; plus those of dead instances it took over.
#include <gtest/gtest.h>

#include "engine/order/order_number.hpp"
#include "engine/store/order_ownership.hpp"

namespace {

using namespace topup::engine;

std::string number(std::uint32_t instance, std::uint32_t shard, std::uint64_t ms) {
  order_number_parts p;
  p.unix_ms = ms;
  p.instance = instance;
  p.shard = shard;
  p.sequence = 1;
  p.merchant_id = 1001;
  return make_order_number(p);
}

TEST(OrderOwnership, OwnOrdersByInstanceAndShard) {
  order_ownership o(3);
  EXPECT_TRUE(o.drives(number(3, 0, 1'700'000'000'000), 0, 2));
  EXPECT_FALSE(o.drives(number(3, 1, 1'700'000'000'000), 0, 2));
  EXPECT_TRUE(o.drives(number(3, 1, 1'700'000'000'000), 1, 2));
  EXPECT_TRUE(o.drives(number(3, 5, 1'700'000'000'000), 1, 2));  // shard 5 of an older run: 5 % 2
  EXPECT_FALSE(o.drives(number(4, 0, 1'700'000'000'000), 0, 2));
  EXPECT_FALSE(o.drives("not-a-number", 0, 1));
  EXPECT_TRUE(o.drives(number(3, 1, 1'700'000'000'000)));  // on whichever shard
}

TEST(OrderOwnership, OwnOrdersTakenOverAreSkippedUpToTheCutoff) {
  order_ownership o(3);
  o.set_taken_until(1'700'000'000'500);
  EXPECT_FALSE(o.drives(number(3, 0, 1'700'000'000'000), 0, 1));
  EXPECT_FALSE(o.drives(number(3, 0, 1'700'000'000'500), 0, 1));  // the cutoff is inclusive
  EXPECT_TRUE(o.drives(number(3, 0, 1'700'000'000'501), 0, 1));   // accepted after: ours
  o.set_taken_until(std::nullopt);  // the takeover ended: all ours again
  EXPECT_TRUE(o.drives(number(3, 0, 1'700'000'000'000), 0, 1));
}

TEST(OrderOwnership, ClaimsAddADeadInstancesOrdersUpToTheirCutoff) {
  order_ownership o(3);
  o.set_claims({foster_claim{7, 1'700'000'000'500, 4}});
  EXPECT_TRUE(o.drives(number(7, 0, 1'700'000'000'000), 0, 1));
  EXPECT_FALSE(o.drives(number(7, 0, 1'700'000'000'501), 0, 1));  // the restarted 7's own
  EXPECT_FALSE(o.drives(number(8, 0, 1'700'000'000'000), 0, 1));
  EXPECT_TRUE(order_ownership::fostered_by(o.claims()[0], number(7, 2, 1'700'000'000'000), 0, 2));
  EXPECT_FALSE(order_ownership::fostered_by(o.claims()[0], number(7, 1, 1'700'000'000'000), 0, 2));
  o.set_claims({});
  EXPECT_FALSE(o.drives(number(7, 0, 1'700'000'000'000), 0, 1));
}

}  // namespace
