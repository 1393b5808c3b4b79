#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "engine/order/money.hpp"

namespace {

using topup::engine::apply_rate_half_up;
using topup::engine::fen_t;
using topup::engine::format_fen;
using topup::engine::k_rate_one_ppm;
using topup::engine::parse_yuan;
using topup::engine::rate_to_ppm;

constexpr fen_t k_max_fen = 9'000'000'000'000'000;

TEST(ParseYuan, WholeYuan) {
  EXPECT_EQ(parse_yuan("0"), 0);
  EXPECT_EQ(parse_yuan("1"), 100);
  EXPECT_EQ(parse_yuan("12"), 1200);
  EXPECT_EQ(parse_yuan("100"), 10000);
  EXPECT_EQ(parse_yuan("-7"), -700);
}

TEST(ParseYuan, OneAndTwoDecimals) {
  EXPECT_EQ(parse_yuan("12.5"), 1250);
  EXPECT_EQ(parse_yuan("12.50"), 1250);
  EXPECT_EQ(parse_yuan("12.05"), 1205);
  EXPECT_EQ(parse_yuan("0.01"), 1);
  EXPECT_EQ(parse_yuan("0.1"), 10);
  EXPECT_EQ(parse_yuan("0.00"), 0);
  EXPECT_EQ(parse_yuan("0.0"), 0);
  EXPECT_EQ(parse_yuan("99.50"), 9950);
}

TEST(ParseYuan, Negative) {
  EXPECT_EQ(parse_yuan("-0.05"), -5);
  EXPECT_EQ(parse_yuan("-0.5"), -50);
  EXPECT_EQ(parse_yuan("-12.34"), -1234);
}

TEST(ParseYuan, NegativeZeroRejected) {
  EXPECT_EQ(parse_yuan("-0"), std::nullopt);
  EXPECT_EQ(parse_yuan("-0.0"), std::nullopt);
  EXPECT_EQ(parse_yuan("-0.00"), std::nullopt);
}

TEST(ParseYuan, LeadingZerosRejected) {
  EXPECT_EQ(parse_yuan("01"), std::nullopt);
  EXPECT_EQ(parse_yuan("00"), std::nullopt);
  EXPECT_EQ(parse_yuan("00.5"), std::nullopt);
  EXPECT_EQ(parse_yuan("-01"), std::nullopt);
  EXPECT_EQ(parse_yuan("007.00"), std::nullopt);
  // Zeros after the first digit and in the fraction are fine.
  EXPECT_EQ(parse_yuan("100.00"), 10000);
  EXPECT_EQ(parse_yuan("0.05"), 5);
}

TEST(ParseYuan, MalformedRejected) {
  for (const std::string_view bad :
       {"",   "-",   "+1",   "1.",    ".5",  "-.5", "1.234", "0.001", "1e3",  " 1",
        "1 ", "1,5", "1..2", "1.2.3", "--1", "-+1", "0x10",  "1.-5",  "1.+5", "１",
        "1a", "a1",  "NaN",  "inf",   ".",   "-.",  "1.2 ",  "\t1"}) {
    EXPECT_EQ(parse_yuan(bad), std::nullopt) << "input: '" << bad << "'";
  }
  EXPECT_EQ(parse_yuan(std::string_view("1\0", 2)), std::nullopt);
}

TEST(ParseYuan, LimitIsNineE15Fen) {
  EXPECT_EQ(parse_yuan("90000000000000"), k_max_fen);
  EXPECT_EQ(parse_yuan("90000000000000.00"), k_max_fen);
  EXPECT_EQ(parse_yuan("-90000000000000"), -k_max_fen);
  EXPECT_EQ(parse_yuan("89999999999999.99"), k_max_fen - 1);
  EXPECT_EQ(parse_yuan("90000000000000.01"), std::nullopt);
  EXPECT_EQ(parse_yuan("-90000000000000.01"), std::nullopt);
  EXPECT_EQ(parse_yuan("99999999999999.99"), std::nullopt);
  EXPECT_EQ(parse_yuan("100000000000000"), std::nullopt);
  // Far beyond int64: rejected, never wrapped.
  EXPECT_EQ(parse_yuan("92233720368547758.07"), std::nullopt);
  EXPECT_EQ(parse_yuan("99999999999999999999999999"), std::nullopt);
}

TEST(FormatFen, TwoDecimalsAlways) {
  EXPECT_EQ(format_fen(0), "0.00");
  EXPECT_EQ(format_fen(1), "0.01");
  EXPECT_EQ(format_fen(10), "0.10");
  EXPECT_EQ(format_fen(100), "1.00");
  EXPECT_EQ(format_fen(9950), "99.50");
  EXPECT_EQ(format_fen(123456), "1234.56");
}

TEST(FormatFen, Negative) {
  EXPECT_EQ(format_fen(-5), "-0.05");
  EXPECT_EQ(format_fen(-50), "-0.50");
  EXPECT_EQ(format_fen(-100), "-1.00");
  EXPECT_EQ(format_fen(-123456), "-1234.56");
}

TEST(FormatFen, Extremes) {
  EXPECT_EQ(format_fen(k_max_fen), "90000000000000.00");
  EXPECT_EQ(format_fen(-k_max_fen), "-90000000000000.00");
  EXPECT_EQ(format_fen(std::numeric_limits<fen_t>::max()), "92233720368547758.07");
  EXPECT_EQ(format_fen(std::numeric_limits<fen_t>::min()), "-92233720368547758.08");
}

TEST(FormatFen, RoundTripsThroughParse) {
  for (const fen_t v :
       {fen_t{0}, fen_t{1}, fen_t{-1}, fen_t{9}, fen_t{10}, fen_t{99}, fen_t{100}, fen_t{-101},
        fen_t{9950}, fen_t{1234567}, k_max_fen, -k_max_fen, k_max_fen - 1}) {
    EXPECT_EQ(parse_yuan(format_fen(v)), v) << v;
  }
}

TEST(RateToPpm, ExactForConfiguredRates) {
  EXPECT_EQ(rate_to_ppm(0.995), 995'000);
  EXPECT_EQ(rate_to_ppm(0.98), 980'000);
  EXPECT_EQ(rate_to_ppm(0.99), 990'000);
  EXPECT_EQ(rate_to_ppm(1.0), k_rate_one_ppm);
  EXPECT_EQ(rate_to_ppm(0.1), 100'000);
  EXPECT_EQ(rate_to_ppm(0.7), 700'000);
  EXPECT_EQ(rate_to_ppm(0.000001), 1);
  EXPECT_EQ(rate_to_ppm(1.05), 1'050'000);
  EXPECT_EQ(rate_to_ppm(1000.0), 1000 * k_rate_one_ppm);
}

TEST(RateToPpm, RoundsToNearestPpm) {
  EXPECT_EQ(rate_to_ppm(0.9950004), 995'000);
  EXPECT_EQ(rate_to_ppm(0.9950006), 995'001);
  EXPECT_EQ(rate_to_ppm(0.123456789), 123'457);
}

TEST(RateToPpm, RejectsOutOfRange) {
  EXPECT_EQ(rate_to_ppm(0.0), std::nullopt);
  EXPECT_EQ(rate_to_ppm(-0.0), std::nullopt);
  EXPECT_EQ(rate_to_ppm(-0.5), std::nullopt);
  EXPECT_EQ(rate_to_ppm(1000.000001), std::nullopt);
  EXPECT_EQ(rate_to_ppm(1e18), std::nullopt);
  EXPECT_EQ(rate_to_ppm(std::nan("")), std::nullopt);
  EXPECT_EQ(rate_to_ppm(std::numeric_limits<double>::infinity()), std::nullopt);
  EXPECT_EQ(rate_to_ppm(-std::numeric_limits<double>::infinity()), std::nullopt);
  EXPECT_EQ(rate_to_ppm(std::numeric_limits<double>::denorm_min()), std::nullopt);
  // Positive but rounds to 0 ppm: would make orders free.
  EXPECT_EQ(rate_to_ppm(0.0000004), std::nullopt);
}

TEST(ApplyRateHalfUp, SpecExamples) {
  EXPECT_EQ(apply_rate_half_up(10'000, 995'000), 9950);  // 100 yuan x 0.995
  EXPECT_EQ(apply_rate_half_up(1, 500'000), 1);          // 0.5 fen -> 1
  EXPECT_EQ(apply_rate_half_up(3, 500'000), 2);          // 1.5 fen -> 2
}

TEST(ApplyRateHalfUp, HalfFenRoundsAwayFromZeroBothSigns) {
  EXPECT_EQ(apply_rate_half_up(5, 500'000), 3);        // 2.5
  EXPECT_EQ(apply_rate_half_up(-1, 500'000), -1);      // -0.5
  EXPECT_EQ(apply_rate_half_up(-3, 500'000), -2);      // -1.5
  EXPECT_EQ(apply_rate_half_up(-5, 500'000), -3);      // -2.5
  EXPECT_EQ(apply_rate_half_up(3050, 995'000), 3035);  // 3034.75 -> 3035
  EXPECT_EQ(apply_rate_half_up(1010, 995'000), 1005);  // 1004.95 -> 1005
  EXPECT_EQ(apply_rate_half_up(100, 995'000), 100);    // 99.5 -> 100
  EXPECT_EQ(apply_rate_half_up(-100, 995'000), -100);  // -99.5 -> -100
}

TEST(ApplyRateHalfUp, JustBelowAndAboveHalf) {
  EXPECT_EQ(apply_rate_half_up(1, 499'999), 0);   // 0.499999
  EXPECT_EQ(apply_rate_half_up(1, 500'001), 1);   // 0.500001
  EXPECT_EQ(apply_rate_half_up(-1, 499'999), 0);  // -0.499999
  EXPECT_EQ(apply_rate_half_up(-1, 500'001), -1);
  EXPECT_EQ(apply_rate_half_up(1, 1), 0);  // 0.000001 fen
}

TEST(ApplyRateHalfUp, IdentityAndZero) {
  EXPECT_EQ(apply_rate_half_up(0, 995'000), 0);
  EXPECT_EQ(apply_rate_half_up(12'345, k_rate_one_ppm), 12'345);
  EXPECT_EQ(apply_rate_half_up(-12'345, k_rate_one_ppm), -12'345);
}

TEST(ApplyRateHalfUp, FaceValuesTimesTypicalRates) {
  // money x price_rate for the face values merchants actually order.
  EXPECT_EQ(apply_rate_half_up(3'000, 995'000), 2985);
  EXPECT_EQ(apply_rate_half_up(5'000, 995'000), 4975);
  EXPECT_EQ(apply_rate_half_up(20'000, 980'000), 19600);
  EXPECT_EQ(apply_rate_half_up(50'000, 987'654), 49383);  // 49382.7
  EXPECT_EQ(apply_rate_half_up(10'000, 1'050'000), 10500);
}

TEST(ApplyRateHalfUp, NoOverflowNearLimits) {
  // 9e15 fen x 1000: the product needs 128 bits, the result still fits in int64.
  EXPECT_EQ(apply_rate_half_up(k_max_fen, k_rate_one_ppm), k_max_fen);
  EXPECT_EQ(apply_rate_half_up(k_max_fen, 995'000), 8'955'000'000'000'000);
  EXPECT_EQ(apply_rate_half_up(-k_max_fen, 995'000), -8'955'000'000'000'000);
  EXPECT_EQ(apply_rate_half_up(9'000'000'000'000'000 / 1000, 1000 * k_rate_one_ppm), k_max_fen);
  const fen_t big = std::numeric_limits<fen_t>::max();
  EXPECT_EQ(apply_rate_half_up(big, k_rate_one_ppm), big);
  EXPECT_EQ(apply_rate_half_up(big, 500'000), big / 2 + 1);  // x.5 rounds up
  EXPECT_EQ(apply_rate_half_up(std::numeric_limits<fen_t>::min(), 500'000),
            std::numeric_limits<fen_t>::min() / 2);
}

TEST(ApplyRateHalfUpDeathTest, RejectsRatesRateToPpmCannotProduce) {
  EXPECT_DEATH(apply_rate_half_up(100, 0), "assertion failed");
  EXPECT_DEATH(apply_rate_half_up(100, -1), "assertion failed");
  EXPECT_DEATH(apply_rate_half_up(100, 1000 * k_rate_one_ppm + 1), "assertion failed");
}

TEST(ApplyRateHalfUpDeathTest, ResultOverflowIsABug) {
  EXPECT_DEATH(apply_rate_half_up(std::numeric_limits<fen_t>::max(), 2 * k_rate_one_ppm),
               "assertion failed");
}

}  // namespace
