#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "engine/order/carrier.hpp"

namespace {

using topup::engine::carrier;
using topup::engine::carrier_code;
using topup::engine::carrier_from_code;
using topup::engine::carrier_name_zh;
using topup::engine::detect_carrier;
using topup::engine::valid_mobile_format;

// A number in the segment: the prefix padded with zeros to 11 digits.
std::string number(std::string_view prefix, char fill = '0') {
  std::string n(prefix);
  n.resize(11, fill);
  return n;
}

TEST(Carrier, EdgeNumbersFromTheBrief) {
  EXPECT_EQ(detect_carrier("13400000000"), carrier::cmcc);
  EXPECT_EQ(detect_carrier("13490000000"), carrier::ctcc);
  EXPECT_EQ(detect_carrier("19200000000"), carrier::cbn);
  EXPECT_EQ(detect_carrier("16600000000"), carrier::cucc);
  EXPECT_EQ(detect_carrier("19900000000"), carrier::ctcc);
  EXPECT_EQ(detect_carrier("14000000000"), std::nullopt);
  EXPECT_TRUE(valid_mobile_format("14000000000"));  // well-formed, just not served
  EXPECT_EQ(detect_carrier("12345678901"), std::nullopt);
  EXPECT_FALSE(valid_mobile_format("12345678901"));
}

TEST(Carrier, EveryThreeDigitSegment) {
  // The full 130..199 map, as in the segment list of 2025.
  const std::map<int, std::optional<carrier>> expected = {
      {130, carrier::cucc}, {131, carrier::cucc}, {132, carrier::cucc}, {133, carrier::ctcc},
      {135, carrier::cmcc}, {136, carrier::cmcc}, {137, carrier::cmcc}, {138, carrier::cmcc},
      {139, carrier::cmcc}, {140, std::nullopt},  {141, std::nullopt},  {142, std::nullopt},
      {143, std::nullopt},  {144, std::nullopt},  {145, carrier::cucc}, {146, carrier::cucc},
      {147, carrier::cmcc}, {148, carrier::cmcc}, {149, carrier::ctcc}, {150, carrier::cmcc},
      {151, carrier::cmcc}, {152, carrier::cmcc}, {153, carrier::ctcc}, {154, std::nullopt},
      {155, carrier::cucc}, {156, carrier::cucc}, {157, carrier::cmcc}, {158, carrier::cmcc},
      {159, carrier::cmcc}, {160, std::nullopt},  {161, std::nullopt},  {162, carrier::ctcc},
      {163, std::nullopt},  {164, std::nullopt},  {165, carrier::cmcc}, {166, carrier::cucc},
      {167, carrier::cucc}, {168, std::nullopt},  {169, std::nullopt},  {171, carrier::cucc},
      {172, carrier::cmcc}, {173, carrier::ctcc}, {175, carrier::cucc}, {176, carrier::cucc},
      {177, carrier::ctcc}, {178, carrier::cmcc}, {179, std::nullopt},  {180, carrier::ctcc},
      {181, carrier::ctcc}, {182, carrier::cmcc}, {183, carrier::cmcc}, {184, carrier::cmcc},
      {185, carrier::cucc}, {186, carrier::cucc}, {187, carrier::cmcc}, {188, carrier::cmcc},
      {189, carrier::ctcc}, {190, carrier::ctcc}, {191, carrier::ctcc}, {192, carrier::cbn},
      {193, carrier::ctcc}, {194, std::nullopt},  {195, carrier::cmcc}, {196, carrier::cucc},
      {197, carrier::cmcc}, {198, carrier::cmcc}, {199, carrier::ctcc},
  };
  EXPECT_EQ(expected.size(), 70u - 3u);  // all but the 4-digit segments 134, 170, 174
  for (const auto& [segment, want] : expected) {
    // The rest of the number never matters for a 3-digit segment.
    for (const char fill : {'0', '5', '9'}) {
      const std::string n = number(std::to_string(segment), fill);
      EXPECT_EQ(detect_carrier(n), want) << n;
    }
  }
}

TEST(Carrier, Segment134ByFourthDigit) {
  for (char d = '0'; d <= '8'; ++d) {
    EXPECT_EQ(detect_carrier(number(std::string("134") + d, '7')), carrier::cmcc) << d;
  }
  EXPECT_EQ(detect_carrier("13499999999"), carrier::ctcc);
  EXPECT_EQ(detect_carrier("13489999999"), carrier::cmcc);
}

TEST(Carrier, VirtualOperators170ByFourthDigit) {
  const std::map<char, carrier> expected = {
      {'0', carrier::ctcc}, {'1', carrier::ctcc}, {'2', carrier::ctcc}, {'3', carrier::cmcc},
      {'4', carrier::cucc}, {'5', carrier::cmcc}, {'6', carrier::cmcc}, {'7', carrier::cucc},
      {'8', carrier::cucc}, {'9', carrier::cucc},
  };
  for (const auto& [d, want] : expected) {
    const std::string n = number(std::string("170") + d, '1');
    EXPECT_EQ(detect_carrier(n), want) << n;
  }
}

TEST(Carrier, Segment174OnlySatelliteBlockServed) {
  EXPECT_EQ(detect_carrier("17400000000"), carrier::ctcc);
  EXPECT_EQ(detect_carrier("17405999999"), carrier::ctcc);
  EXPECT_EQ(detect_carrier("17409999999"), carrier::ctcc);
  for (char d = '1'; d <= '9'; ++d) {
    EXPECT_EQ(detect_carrier(number(std::string("174") + d)), std::nullopt) << d;
  }
}

TEST(Carrier, OtherMvnoSegments) {
  EXPECT_EQ(detect_carrier("16200000000"), carrier::ctcc);
  EXPECT_EQ(detect_carrier("16500000000"), carrier::cmcc);
  EXPECT_EQ(detect_carrier("16700000000"), carrier::cucc);
  EXPECT_EQ(detect_carrier("17100000000"), carrier::cucc);
}

TEST(Carrier, TypicalNumbers) {
  EXPECT_EQ(detect_carrier("13800138000"), carrier::cmcc);
  EXPECT_EQ(detect_carrier("18612345678"), carrier::cucc);
  EXPECT_EQ(detect_carrier("18912345678"), carrier::ctcc);
  EXPECT_EQ(detect_carrier("19212345678"), carrier::cbn);
}

TEST(MobileFormat, AcceptsElevenDigitsStartingOneThreeToNine) {
  for (char second = '3'; second <= '9'; ++second) {
    EXPECT_TRUE(valid_mobile_format(std::string("1") + second + "000000000")) << second;
    EXPECT_TRUE(valid_mobile_format(std::string("1") + second + "999999999")) << second;
  }
}

TEST(MobileFormat, RejectsBadShapes) {
  for (const std::string_view bad : {
           "",
           "1",
           "1380013800",    // 10 digits
           "138001380000",  // 12 digits
           "10000000000",   // 1[0-2]
           "11000000000",
           "12000000000",
           "23800138000",  // must start with 1
           "03800138000",
           "1380013800a",
           "a3800138000",
           "138 0013800",
           " 13800138000",
           "13800138000 ",
           "+8613800138000",
           "8613800138000",
           "138-0013-8000",
           "1380013800.",
           "1380013800/",  // '/' and ':' bracket the ASCII digits
           "1380013800:",
       }) {
    EXPECT_FALSE(valid_mobile_format(bad)) << "'" << bad << "'";
    EXPECT_EQ(detect_carrier(bad), std::nullopt) << "'" << bad << "'";
  }
}

TEST(MobileFormat, RejectsFullWidthAndNonAsciiDigits) {
  // Full-width digits (U+FF10..): 3 bytes each in UTF-8.
  EXPECT_FALSE(valid_mobile_format("１３８００１３８０００"));
  EXPECT_EQ(detect_carrier("１３８００１３８０００"), std::nullopt);
  // One full-width digit among ASCII ones.
  EXPECT_FALSE(valid_mobile_format("1380013800０"));
  // Arabic-Indic digit (2 bytes) replacing two ASCII digits keeps the length at 11 bytes.
  EXPECT_FALSE(valid_mobile_format("138001380\xd9\xa0"));
  // High bytes that a signed char could turn into anything.
  EXPECT_FALSE(valid_mobile_format("1380013800\xb0"));
  EXPECT_FALSE(valid_mobile_format(std::string_view("1380013800\0", 11)));
}

TEST(CarrierCode, RoundTripsAndNames) {
  for (const carrier c : {carrier::cmcc, carrier::cucc, carrier::ctcc, carrier::cbn}) {
    EXPECT_EQ(carrier_from_code(carrier_code(c)), c);
  }
  EXPECT_EQ(carrier_code(carrier::cmcc), "cmcc");
  EXPECT_EQ(carrier_code(carrier::cucc), "cucc");
  EXPECT_EQ(carrier_code(carrier::ctcc), "ctcc");
  EXPECT_EQ(carrier_code(carrier::cbn), "cbn");
  EXPECT_EQ(carrier_name_zh(carrier::cmcc), "移动");
  EXPECT_EQ(carrier_name_zh(carrier::cucc), "联通");
  EXPECT_EQ(carrier_name_zh(carrier::ctcc), "电信");
  EXPECT_EQ(carrier_name_zh(carrier::cbn), "广电");
}

TEST(CarrierCode, RejectsUnknownAndMiscased) {
  for (const std::string_view bad :
       {"", "CMCC", "Cmcc", "cmcc ", " cmcc", "cm", "cmccc", "unicom", "移动"}) {
    EXPECT_EQ(carrier_from_code(bad), std::nullopt) << "'" << bad << "'";
  }
  EXPECT_EQ(carrier_from_code(std::string_view("cbn\0", 4)), std::nullopt);
}

}  // namespace
