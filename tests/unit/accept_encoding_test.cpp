// protocol::accepts_gzip: the Accept-Encoding reading behind statement downloads (spec §3.7).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/statement_download.hpp"

namespace {

using topup::protocol::accepts_gzip;

TEST(AcceptEncoding, GzipOnlyWhenListedWithAPositiveWeightOrByStar) {
  struct row {
    std::string header;
    bool gzip;
  };
  const std::vector<row> rows = {
      {"", false},
      {"gzip", true},
      {"GZIP", true},
      {"x-gzip", true},
      {"deflate, gzip", true},
      {"deflate,gzip;q=0.5", true},
      {" gzip ; q=1 ", true},
      {"gzip;Q=0.001", true},
      {"*", true},
      {"br, *;q=0.1", true},
      {"gzip;q=0", false},
      {"gzip;q=0.0", false},
      {"gzip; q=0.000", false},
      {"*;q=0", false},
      {"*, gzip;q=0", false},  // gzip named: its own weight decides, not the star's
      {"gzip;q=0, *", false},
      {"gzip, gzip;q=0", false},  // contradictory: the refusal wins
      {"identity", false},
      {"deflate, br", false},
      {"gzipped", false},
      {"gzip;q=2", false},     // not a qvalue: unreadable, so not accepted
      {"gzip;q=1.5", false},
      {"gzip;q=abc", false},
      {"gzip;q=0.0001", false},
  };
  for (const auto& r : rows) EXPECT_EQ(accepts_gzip(r.header), r.gzip) << "'" << r.header << "'";
}

}  // namespace
