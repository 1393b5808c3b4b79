#include <gtest/gtest.h>

#include "protocol/envelope.hpp"

#include <boost/json.hpp>

#include <cstdint>
#include <limits>

using topup::protocol::make_envelope;

TEST(Envelope, SuccessWithDataInSpecFieldOrder) {
  boost::json::value data = {{"order_number", "T1700000000000001"}};
  EXPECT_EQ(
      make_envelope("0000", "推送成功", 1700000000, data),
      R"({"code":"0000","msg":"推送成功","time":"1700000000","data":{"order_number":"T1700000000000001"}})");
}

TEST(Envelope, NullDataIsWrittenAsNull) {
  EXPECT_EQ(make_envelope("2004", "余额不足", 1700000000, nullptr),
            R"({"code":"2004","msg":"余额不足","time":"1700000000","data":null})");
}

TEST(Envelope, ChineseStaysRawUtf8) {
  boost::json::value data = {{"carrier", "移动"}, {"amounts", {30, 50, 100}}};
  const std::string out = make_envelope("0000", "获取成功", 1, data);
  EXPECT_NE(out.find(R"("msg":"获取成功")"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("carrier":"移动")"), std::string::npos) << out;
  EXPECT_EQ(out.find("\\u"), std::string::npos) << out;
}

TEST(Envelope, QuotesBackslashesAndControlCharsAreEscaped) {
  const std::string out = make_envelope("1001", "参数错误: a\"b\\c\nd\x01", 5, nullptr);
  EXPECT_EQ(out, R"({"code":"1001","msg":"参数错误: a\"b\\c\nd\u0001","time":"5","data":null})");
  // And it parses back to the same text.
  const auto parsed = boost::json::parse(out).as_object();
  EXPECT_EQ(parsed.at("msg").as_string(), "参数错误: a\"b\\c\nd\x01");
}

TEST(Envelope, TimeIsAStringOfSeconds) {
  const auto parsed = boost::json::parse(make_envelope("0000", "ok", 0, nullptr)).as_object();
  EXPECT_EQ(parsed.at("time").as_string(), "0");
  const auto big = boost::json::parse(
      make_envelope("0000", "ok", std::numeric_limits<std::int64_t>::max(), nullptr));
  EXPECT_EQ(big.as_object().at("time").as_string(), "9223372036854775807");
}

TEST(Envelope, ParsesBackWithAllFourFields) {
  boost::json::value data = {{"money", "1234.50"}, {"id", 1001}};
  const auto parsed = boost::json::parse(make_envelope("0000", "获取成功", 1700000000, data));
  const auto& o = parsed.as_object();
  EXPECT_EQ(o.size(), 4u);
  EXPECT_EQ(o.at("code").as_string(), "0000");
  EXPECT_EQ(o.at("data").at("money").as_string(), "1234.50");
  EXPECT_EQ(o.at("data").at("id").as_int64(), 1001);
}
