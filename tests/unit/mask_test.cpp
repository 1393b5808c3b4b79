// Mobile numbers in logs (spec §8): masked wherever a line shows one, nothing else touched.
#include <gtest/gtest.h>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>
#include <string>

#include "engine/support/log.hpp"
#include "engine/support/mask.hpp"

namespace {

using topup::engine::masked_mobiles;
using topup::engine::shows_a_mobile;

TEST(MaskedMobiles, ElevenDigitsFromOneAreMaskedWhereverTheyStand) {
  EXPECT_EQ(masked_mobiles("13800138000"), "138****8000");
  EXPECT_EQ(masked_mobiles("mobile=13800138000 amount=100"), "mobile=138****8000 amount=100");
  EXPECT_EQ(masked_mobiles(R"({"mobile":"19212345678","x":"18600001111"})"),
            R"({"mobile":"192****5678","x":"186****1111"})");
  EXPECT_EQ(masked_mobiles("+8613800138000"), "+86138****8000");
  EXPECT_EQ(masked_mobiles("tel:13800138000."), "tel:138****8000.");
}

TEST(MaskedMobiles, OtherDigitRunsAreLeftAlone) {
  for (const std::string text :
       {"T170000000000000000000001M3101",  // an order number: 24 digits
        "1764720000123",                   // a time in ms: 13 digits
        "1764720000",                      // seconds: 10 digits
        "23800138000",                     // 11 digits not starting with 1
        "1380013800", "138001380001",      // one too few, one too many
        "8713800138000", "no digits at all", ""}) {
    EXPECT_EQ(masked_mobiles(text), text) << text;
    EXPECT_FALSE(shows_a_mobile(text)) << text;
  }
  EXPECT_TRUE(shows_a_mobile("a 13800138000 b"));
}

TEST(MaskedMobiles, EveryLoggerLineGoesThroughTheMaskAtEveryLevel) {
  std::ostringstream out;
  auto sink = topup::masking(std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
  spdlog::logger log("mask-test", sink);
  log.set_pattern("%l %v");
  log.set_level(spdlog::level::trace);
  log.info("order={} mobile={}", "T1", "13800138000");
  log.debug("body=\"{}\"", R"({"mobile":"13912345678"})");
  log.warn("no number here 1764720000123");
  EXPECT_EQ(out.str(),
            "info order=T1 mobile=138****8000\n"
            "debug body=\"{\"mobile\":\"139****5678\"}\"\n"
            "warning no number here 1764720000123\n");
}

}  // namespace
