#include <gtest/gtest.h>

#include "protocol/errc.hpp"
#include "protocol/form.hpp"

#include <boost/system/system_error.hpp>

#include <string>

using topup::protocol::decode_form;
using topup::protocol::form_encode;
using topup::protocol::form_fault;
using topup::protocol::form_params;

namespace {

form_params decoded(std::string_view query, std::string_view body) {
  auto r = decode_form(query, body);
  EXPECT_TRUE(r.has_value()) << "refused, key=" << (r ? "" : r.error().key);
  return r ? *r : form_params{};
}

std::string value_of(const form_params& p, std::string_view key) {
  const std::string* v = p.find(key);
  EXPECT_NE(v, nullptr) << "missing " << key;
  return v ? *v : std::string("<absent>");
}

void expect_refused(std::string_view query, std::string_view body, std::string_view key,
                    form_fault fault) {
  auto r = decode_form(query, body);
  ASSERT_FALSE(r.has_value()) << "accepted query='" << query << "' body='" << body << "'";
  EXPECT_EQ(r.error().ec, topup::protocol::errc::bad_param);
  EXPECT_EQ(r.error().key, key);
  EXPECT_EQ(r.error().fault, fault);
}

}  // namespace

TEST(FormDecoding, DecodesARealPushOrderBody) {
  auto p = decoded("",
                   "app_key=k1&store_id=s1&mobile=13800138000&order_no=A-1&money=100"
                   "&recharge_type=1&timestamp=1700000000&sign=A3C3AF0CC80D0262CB17E414E9DB21BA");
  EXPECT_EQ(p.size(), 8u);
  EXPECT_EQ(value_of(p, "mobile"), "13800138000");
  EXPECT_EQ(value_of(p, "order_no"), "A-1");
  EXPECT_EQ(p.find("notify_url"), nullptr);
}

TEST(FormDecoding, EmptyQueryAndBodyGiveNoParams) {
  EXPECT_TRUE(decoded("", "").empty());
  EXPECT_TRUE(decoded("&&", "&").empty());
}

TEST(FormDecoding, EmptyValueIsKeptAsEmpty) {
  auto p = decoded("", "a=&b=2");
  ASSERT_NE(p.find("a"), nullptr);
  EXPECT_EQ(*p.find("a"), "");
  EXPECT_EQ(value_of(p, "b"), "2");
}

TEST(FormDecoding, KeyWithoutEqualsHasEmptyValue) {
  auto p = decoded("", "flag&b=2");
  ASSERT_TRUE(p.contains("flag"));
  EXPECT_EQ(value_of(p, "flag"), "");
}

TEST(FormDecoding, EmptyPiecesAreSkipped) {
  auto p = decoded("", "&a=1&&b=2&");
  EXPECT_EQ(p.size(), 2u);
  EXPECT_EQ(value_of(p, "a"), "1");
  EXPECT_EQ(value_of(p, "b"), "2");
}

TEST(FormDecoding, OnlyTheFirstEqualsSplits) {
  EXPECT_EQ(value_of(decoded("", "url=http://x/?a=1"), "url"), "http://x/?a=1");
}

TEST(FormDecoding, PlusDecodesToSpace) {
  EXPECT_EQ(value_of(decoded("", "reason=card+not+found"), "reason"), "card not found");
}

TEST(FormDecoding, PercentTwoBDecodesToPlus) {
  EXPECT_EQ(value_of(decoded("", "v=1%2B1"), "v"), "1+1");
  EXPECT_EQ(value_of(decoded("", "v=%2b"), "v"), "+");
}

TEST(FormDecoding, EscapesDecodeInEitherHexCase) {
  auto p = decoded("", "u=http%3A%2F%2Fa.cn%2fcb%3fx%3d1");
  EXPECT_EQ(value_of(p, "u"), "http://a.cn/cb?x=1");
}

TEST(FormDecoding, KeysArePercentDecodedToo) {
  auto p = decoded("", "order%5Fno=1");
  EXPECT_EQ(value_of(p, "order_no"), "1");
}

TEST(FormDecoding, MalformedEscapeIsRejected) {
  expect_refused("", "mobile=%zz", "mobile", form_fault::malformed);
  expect_refused("", "mobile=138%4", "mobile", form_fault::malformed);
  expect_refused("", "mobile=138%", "mobile", form_fault::malformed);
  expect_refused("", "a=1&mobile=%g1&b=2", "mobile", form_fault::malformed);
  expect_refused("mobile=%", "", "mobile", form_fault::malformed);
}

TEST(FormDecoding, MalformedEscapeInKeyNamesTheRawKey) {
  expect_refused("", "mob%zzile=1", "mob%zzile", form_fault::malformed);
}

TEST(FormDecoding, EmptyKeyIsRejected) {
  expect_refused("", "=1", "", form_fault::empty_key);
  expect_refused("", "a=1&=", "", form_fault::empty_key);
}

TEST(FormDecoding, RepeatedKeyInBodyIsRejected) {
  expect_refused("", "money=100&mobile=13800138000&money=50", "money", form_fault::repeated);
}

TEST(FormDecoding, RepeatedKeyInQueryIsRejected) {
  expect_refused("money=1&money=1", "", "money", form_fault::repeated);
}

TEST(FormDecoding, RepeatedKeyAcrossQueryAndBodyIsRejected) {
  expect_refused("money=100", "mobile=13800138000&money=100", "money", form_fault::repeated);
}

TEST(FormDecoding, RepeatedKeyWithEmptyValueIsRejected) {
  // An empty value is still a value: "a=&a=1" is no more acceptable than "a=1&a=2".
  expect_refused("", "sign=&sign=ABC", "sign", form_fault::repeated);
  expect_refused("", "flag&flag", "flag", form_fault::repeated);
}

TEST(FormDecoding, RepeatedKeyHiddenByEscapingIsRejected) {
  expect_refused("", "money=1&%6Doney=2", "money", form_fault::repeated);
}

TEST(FormDecoding, KeyOnlyInQueryStringIsMerged) {
  auto p = decoded("app_key=k1&timestamp=1700000000", "mobile=13800138000");
  EXPECT_EQ(p.size(), 3u);
  EXPECT_EQ(value_of(p, "app_key"), "k1");
  EXPECT_EQ(value_of(p, "mobile"), "13800138000");
}

TEST(FormDecoding, ChineseViaPercentEscapesIsDecoded) {
  // 移动 = E7 A7 BB E5 8A A8
  auto p = decoded("", "carrier=%E7%A7%BB%e5%8a%a8&reason=%E5%85%85%E5%80%BC+%E5%A4%B1%E8%B4%A5");
  EXPECT_EQ(value_of(p, "carrier"), "移动");
  EXPECT_EQ(value_of(p, "reason"), "充值 失败");
}

TEST(FormDecoding, RawUtf8IsAccepted) {
  EXPECT_EQ(value_of(decoded("", "carrier=联通"), "carrier"), "联通");
}

TEST(FormDecoding, InvalidUtf8IsRejected) {
  expect_refused("", "reason=%FF", "reason", form_fault::malformed);
  expect_refused("", "reason=%C0%AF", "reason", form_fault::malformed);        // overlong '/'
  expect_refused("", "reason=%ED%A0%80", "reason", form_fault::malformed);     // surrogate
  expect_refused("", "reason=%E7%A7", "reason", form_fault::malformed);        // truncated
  expect_refused("", "reason=%F4%90%80%80", "reason", form_fault::malformed);  // > U+10FFFF
  expect_refused("", "reason=%80abc", "reason", form_fault::malformed);        // lone continuation
  expect_refused("", "reason=\xE7\xA7", "reason", form_fault::malformed);      // raw, truncated
}

TEST(FormDecoding, FourByteUtf8IsAccepted) {
  EXPECT_EQ(value_of(decoded("", "e=%F0%9F%98%80"), "e"), "\xF0\x9F\x98\x80");
}

TEST(FormDecoding, InvalidUtf8KeyIsNamedPrintably) {
  expect_refused("", "k%FFey=1", "k%FFey", form_fault::malformed);
  expect_refused("",
                 "k\xFF"
                 "ey=1",
                 "k?ey", form_fault::malformed);
}

TEST(FormDecoding, ErrorKeyOfAHugeMalformedKeyIsCut) {
  const std::string key = std::string(500, 'k') + "%zz";
  auto r = decode_form("", key + "=1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().key, std::string(64, 'k'));
}

TEST(FormDecoding, ParamCountIsBounded) {
  std::string body;
  for (int i = 0; i < 64; ++i) body += "p" + std::to_string(i) + "=1&";
  ASSERT_TRUE(decode_form("", body));  // exactly the default bound
  auto r = decode_form("", body + "p64=1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().fault, form_fault::too_many);
  EXPECT_EQ(r.error().ec, topup::protocol::errc::bad_param);
  // The bound counts query and body together.
  EXPECT_FALSE(decode_form("a=1&b=2", "c=3", 2));
  EXPECT_TRUE(decode_form("a=1", "c=3", 2));
}

TEST(FormDecoding, ParamsAreSortedByKeyInByteOrder) {
  auto p = decoded("b=2", "a=1&B=3&_x=4&aa=5");
  std::vector<std::string> keys;
  for (const auto& [k, v] : p) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"B", "_x", "a", "aa", "b"}));
}

TEST(FormDecoding, ValueOfARefusedFormThrowsSystemError) {
  auto r = decode_form("", "a=1&a=2");
  EXPECT_THROW((void)r.value(), boost::system::system_error);
}

TEST(FormParams, InsertKeepsOrderAndRefusesDuplicates) {
  form_params p;
  EXPECT_TRUE(p.insert("timestamp", "1"));
  EXPECT_TRUE(p.insert("app_key", "k1"));
  EXPECT_FALSE(p.insert("app_key", "k2"));
  EXPECT_EQ(*p.find("app_key"), "k1");
  EXPECT_EQ(p.begin()->first, "app_key");
}

TEST(FormParams, AssignReplacesAndEraseRemoves) {
  form_params p;
  p.assign("sign", "X");
  p.assign("sign", "Y");
  EXPECT_EQ(p.size(), 1u);
  EXPECT_EQ(*p.find("sign"), "Y");
  EXPECT_TRUE(p.erase("sign"));
  EXPECT_FALSE(p.erase("sign"));
  EXPECT_TRUE(p.empty());
}

TEST(FormEncoding, EscapesEverythingButUnreserved) {
  form_params p;
  p.insert("notify_url", "http://a.cn/cb?x=1&y=2");
  p.insert("reason", "充值 失败+1%");
  p.insert("order_no", "A-1_b.c~d");
  p.insert("empty", "");
  EXPECT_EQ(form_encode(p),
            "empty=&notify_url=http%3A%2F%2Fa.cn%2Fcb%3Fx%3D1%26y%3D2&order_no=A-1_b.c~d"
            "&reason=%E5%85%85%E5%80%BC%20%E5%A4%B1%E8%B4%A5%2B1%25");
}

TEST(FormEncoding, EmptyParamsEncodeToEmptyBody) { EXPECT_EQ(form_encode(form_params{}), ""); }

TEST(FormEncoding, RoundTripsThroughDecoding) {
  form_params p;
  p.insert("a&b", "=x= y+z%");
  p.insert("mobile", "13800138000");
  p.insert("carrier", "移动");
  p.insert("empty", "");
  auto back = decode_form("", form_encode(p));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, p);
}
