#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>

#include "engine/order/order_number.hpp"

namespace {

using topup::engine::make_order_number;
using topup::engine::order_number_parts;
using topup::engine::parse_order_number;

constexpr std::uint64_t k_ms_max = 9'999'999'999'999;
constexpr std::int64_t k_merchant_max = 999'999'999'999;

order_number_parts parts(std::uint64_t ms, std::uint32_t instance, std::uint32_t shard,
                         std::uint32_t sequence, std::int64_t merchant) {
  order_number_parts p;
  p.unix_ms = ms;
  p.instance = instance;
  p.shard = shard;
  p.sequence = sequence;
  p.merchant_id = merchant;
  return p;
}

void expect_same(const order_number_parts& a, const order_number_parts& b) {
  EXPECT_EQ(a.unix_ms, b.unix_ms);
  EXPECT_EQ(a.instance, b.instance);
  EXPECT_EQ(a.shard, b.shard);
  EXPECT_EQ(a.sequence, b.sequence);
  EXPECT_EQ(a.merchant_id, b.merchant_id);
}

// What spec §6 allows for an upstream order_no: 1-64 of [A-Za-z0-9_-].
bool valid_order_no(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (const char c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool alphanumeric(std::string_view s) {
  for (const char c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

TEST(OrderNumber, HeaderExample) {
  EXPECT_EQ(make_order_number(parts(1700000000123, 1, 0, 42, 1001)),
            "T170000000012300100000042M1001");
}

TEST(OrderNumber, RoundTrip) {
  const order_number_parts p = parts(1700000000123, 1, 0, 42, 1001);
  const auto parsed = parse_order_number(make_order_number(p));
  ASSERT_TRUE(parsed.has_value());
  expect_same(*parsed, p);
}

TEST(OrderNumber, MinimumValues) {
  const order_number_parts p = parts(0, 0, 0, 0, 1);
  const std::string n = make_order_number(p);
  EXPECT_EQ(n, "T000000000000000000000000M1");
  EXPECT_EQ(n.size(), 27u);
  const auto parsed = parse_order_number(n);
  ASSERT_TRUE(parsed.has_value());
  expect_same(*parsed, p);
}

TEST(OrderNumber, MaximumValuesFitIn38Chars) {
  const order_number_parts p = parts(k_ms_max, 999, 999, 99'999, k_merchant_max);
  const std::string n = make_order_number(p);
  EXPECT_EQ(n, "T999999999999999999999999M999999999999");
  EXPECT_EQ(n.size(), 38u);
  const auto parsed = parse_order_number(n);
  ASSERT_TRUE(parsed.has_value());
  expect_same(*parsed, p);
}

TEST(OrderNumber, AttemptSuffixStaysAValidOrderNo) {
  // spec §6: "<order_number>-<attempt>" goes upstream as order_no (<= 64 of [A-Za-z0-9_-]).
  const std::string longest = make_order_number(parts(k_ms_max, 999, 999, 99'999, k_merchant_max));
  EXPECT_TRUE(alphanumeric(longest));
  EXPECT_TRUE(valid_order_no(longest + "-1"));
  EXPECT_TRUE(valid_order_no(longest + "-" + std::to_string(UINT32_MAX)));
  EXPECT_LE(longest.size() + 1 + 20, 64u);  // even a 20-digit attempt number fits
}

TEST(OrderNumber, RandomRoundTripsAreAlphanumericAndBounded) {
  std::mt19937_64 rng(20250101);  // seeded: a failure replays
  std::uniform_int_distribution<std::uint64_t> ms(0, k_ms_max);
  std::uniform_int_distribution<std::uint32_t> small(0, 999);
  std::uniform_int_distribution<std::uint32_t> seq(0, 99'999);
  std::uniform_int_distribution<int> merchant_digits(1, 12);
  for (int i = 0; i < 5000; ++i) {
    // Spread merchant ids over every length, not just the 12-digit majority.
    std::int64_t upper = 1;
    for (int d = merchant_digits(rng); d > 0; --d) upper *= 10;
    std::uniform_int_distribution<std::int64_t> merchant(upper / 10 == 0 ? 1 : upper / 10,
                                                         upper - 1);
    const order_number_parts p = parts(ms(rng), small(rng), small(rng), seq(rng), merchant(rng));
    const std::string n = make_order_number(p);
    ASSERT_GE(n.size(), 27u) << n;
    ASSERT_LE(n.size(), 38u) << n;
    ASSERT_TRUE(alphanumeric(n)) << n;
    const auto parsed = parse_order_number(n);
    ASSERT_TRUE(parsed.has_value()) << n;
    expect_same(*parsed, p);
    ASSERT_EQ(make_order_number(*parsed), n);
  }
}

TEST(OrderNumber, DistinctPartsGiveDistinctNumbers) {
  std::set<std::string> seen;
  for (std::uint32_t shard = 0; shard < 3; ++shard) {
    for (std::uint32_t seq = 0; seq < 100; ++seq) {
      for (std::int64_t merchant : {1, 10, 1001}) {
        EXPECT_TRUE(
            seen.insert(make_order_number(parts(1700000000000, 0, shard, seq, merchant))).second);
      }
    }
  }
}

TEST(OrderNumber, SortsByTimeWithinAMerchant) {
  // Fixed width: lexical order is acceptance order for the same merchant.
  const std::string a = make_order_number(parts(999'999'999'999, 5, 5, 5, 7));
  const std::string b = make_order_number(parts(1'000'000'000'000, 0, 0, 0, 7));
  EXPECT_LT(a, b);
}

TEST(OrderNumber, SequenceWrapsModulo100000) {
  const std::string wrapped = make_order_number(parts(1700000000123, 1, 0, 100'042, 1001));
  EXPECT_EQ(wrapped, "T170000000012300100000042M1001");
  EXPECT_EQ(make_order_number(parts(1, 0, 0, UINT32_MAX, 1)),
            make_order_number(parts(1, 0, 0, UINT32_MAX % 100'000, 1)));
}

TEST(OrderNumber, ParseRejectsGarbage) {
  const std::string good = "T170000000012300100000042M1001";
  ASSERT_TRUE(parse_order_number(good).has_value());
  for (const std::string_view bad : {
           "",
           "T",
           "TM",
           "garbage",
           "t170000000012300100000042M1001",           // lower-case marker
           "T170000000012300100000042m1001",           // lower-case marker
           "X170000000012300100000042M1001",           // wrong first marker
           "T170000000012300100000042X1001",           // wrong second marker
           "170000000012300100000042M1001",            // no T
           "T170000000012300100000042M",               // no merchant
           "T17000000001230010000004M1001",            // one digit short before M
           "T1700000000123001000000420M1001",          // one digit extra before M
           "T170000000012300100000042M0",              // merchant 0
           "T170000000012300100000042M01001",          // leading zero
           "T170000000012300100000042M1000000000000",  // 13-digit merchant, 39 chars
           "T170000000012300100000042M-1001",
           "T170000000012300100000042M+1001",
           "T170000000012300100000042M10 1",
           "T170000000012300100000042M1001 ",
           " T170000000012300100000042M1001",
           "T1700000000123001000000-2M1001",
           "T17000000001230010000004aM1001",
           "T170000000012300100000042M100a",
           "T170000000012300100000042M1001-1",  // an upstream order_no is not an order_number
           "T170000000012300100000042M1M01",
           "TT70000000012300100000042M1001",
           "T１70000000012300100000042M1001",  // full-width digit
       }) {
    EXPECT_EQ(parse_order_number(bad), std::nullopt) << "'" << bad << "'";
  }
  EXPECT_EQ(parse_order_number(std::string_view("T170000000012300100000042M100\0", 30)),
            std::nullopt);
  std::string with_nul = good;
  with_nul[5] = '\0';
  EXPECT_EQ(parse_order_number(with_nul), std::nullopt);
}

TEST(OrderNumber, ParseRejectsEveryNonDigitInEveryDigitPosition) {
  const std::string good = "T170000000012300100000042M1001";
  for (std::size_t i = 0; i < good.size(); ++i) {
    if (i == 0 || i == 25) continue;  // the markers
    for (const char c : {'/', ':', 'a', 'Z', ' ', '.', '-', '\xff'}) {
      std::string bad = good;
      bad[i] = c;
      EXPECT_EQ(parse_order_number(bad), std::nullopt) << "position " << i << " char " << c;
    }
  }
}

TEST(OrderNumberDeathTest, OutOfRangePartsAreBugs) {
  EXPECT_DEATH(make_order_number(parts(k_ms_max + 1, 0, 0, 0, 1)), "assertion failed");
  EXPECT_DEATH(make_order_number(parts(0, 1000, 0, 0, 1)), "assertion failed");
  EXPECT_DEATH(make_order_number(parts(0, 0, 1000, 0, 1)), "assertion failed");
  EXPECT_DEATH(make_order_number(parts(0, 0, 0, 0, 0)), "assertion failed");
  EXPECT_DEATH(make_order_number(parts(0, 0, 0, 0, -5)), "assertion failed");
  EXPECT_DEATH(make_order_number(parts(0, 0, 0, 0, k_merchant_max + 1)), "assertion failed");
}

}  // namespace
