#include <gtest/gtest.h>

#include "engine/support/errc.hpp"
#include "protocol/errc.hpp"

TEST(Errc, CategoriesNameThemselves) {
  boost::system::error_code e = topup::engine::errc::insufficient_balance;
  boost::system::error_code p = topup::protocol::errc::bad_signature;
  EXPECT_EQ(e.category().name(), std::string("topup.engine"));
  EXPECT_EQ(p.message(), "signature invalid");
}
