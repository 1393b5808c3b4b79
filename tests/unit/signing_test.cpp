#include <gtest/gtest.h>

#include "engine/config/sign_method.hpp"
#include "protocol/form.hpp"
#include "protocol/signing.hpp"

#include <atomic>
#include <cstdint>
#include <limits>
#include <string>
#include <thread>
#include <vector>

using topup::engine::sign_method;
using namespace topup::protocol;

namespace {

constexpr std::string_view k_secret = "s3cret";
constexpr std::string_view k_spec_md5 = "A3C3AF0CC80D0262CB17E414E9DB21BA";
constexpr std::string_view k_spec_hmac =
    "1EFA772BC1FD016BA2C282A618CFFA15886D6C93BAFD9EF62FFD5B8E20446CA6";

/// The example of spec §2.
form_params spec_params() {
  form_params p;
  p.insert("app_key", "k1");
  p.insert("mobile", "13800138000");
  p.insert("money", "100");
  p.insert("timestamp", "1700000000");
  return p;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

}  // namespace

TEST(Signing, SpecExampleSigningString) {
  EXPECT_EQ(signing_string(spec_params(), k_secret),
            "app_key=k1&mobile=13800138000&money=100&timestamp=1700000000&key=s3cret");
}

TEST(Signing, SpecExampleMd5Sign) {
  EXPECT_EQ(sign_params(spec_params(), sign_method::md5, k_secret), k_spec_md5);
  EXPECT_EQ(compute_sign(signing_string(spec_params(), k_secret), sign_method::md5, k_secret),
            k_spec_md5);
}

TEST(Signing, SpecExampleHmacSha256Sign) {
  EXPECT_EQ(sign_params(spec_params(), sign_method::hmac_sha256, k_secret), k_spec_hmac);
}

TEST(Signing, SpecExampleVerifiesWithBothMethods) {
  EXPECT_TRUE(verify_sign(spec_params(), sign_method::md5, k_secret, k_spec_md5));
  EXPECT_TRUE(verify_sign(spec_params(), sign_method::hmac_sha256, k_secret, k_spec_hmac));
}

TEST(Signing, SpecExampleDecodedFromTheWireVerifies) {
  auto p = decode_form("app_key=k1&sign=A3C3AF0CC80D0262CB17E414E9DB21BA",
                       "mobile=13800138000&money=100&timestamp=1700000000");
  ASSERT_TRUE(p);
  EXPECT_TRUE(verify_sign(*p, sign_method::md5, k_secret, *p->find("sign")));
}

TEST(Signing, SignParamIsExcluded) {
  auto p = spec_params();
  p.insert("sign", "ANYTHING");
  EXPECT_EQ(signing_string(p, k_secret), signing_string(spec_params(), k_secret));
  EXPECT_EQ(sign_params(p, sign_method::md5, k_secret), k_spec_md5);
  EXPECT_TRUE(verify_sign(p, sign_method::md5, k_secret, k_spec_md5));
}

TEST(Signing, EmptyValuesAreDropped) {
  auto p = spec_params();
  p.insert("notify_url", "");
  p.insert("a", "");
  p.insert("zz", "");
  EXPECT_EQ(signing_string(p, k_secret), signing_string(spec_params(), k_secret));
  EXPECT_TRUE(verify_sign(p, sign_method::md5, k_secret, k_spec_md5));
}

TEST(Signing, WithNoParamsOnlyTheKeyIsSigned) {
  EXPECT_EQ(signing_string(form_params{}, k_secret), "key=s3cret");
  EXPECT_EQ(sign_params(form_params{}, sign_method::md5, k_secret),
            "D417549F937EA8A30307A100072EE1AE");
}

TEST(Signing, SignTypeAndDecodedValuesAreSigned) {
  // sign_type is a parameter like any other; values are signed as decoded ('+' is a space).
  auto p = decode_form("",
                       "app_key=k1&mobile=13800138000&money=100&timestamp=1700000000"
                       "&sign_type=HMAC-SHA256&reason=%E5%85%85%E5%80%BC+%E5%A4%B1%E8%B4%A5");
  ASSERT_TRUE(p);
  EXPECT_EQ(signing_string(*p, k_secret),
            "app_key=k1&mobile=13800138000&money=100&reason=充值 失败&sign_type=HMAC-SHA256"
            "&timestamp=1700000000&key=s3cret");
  EXPECT_EQ(sign_params(*p, sign_method::hmac_sha256, k_secret),
            "9B5B67ED41A322E19DF93D25A72656B041F7C39A233A3DA0460CE70034FE82A6");
}

TEST(Signing, WrongSignIsRejected) {
  std::string md5(k_spec_md5);
  md5.back() = md5.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(verify_sign(spec_params(), sign_method::md5, k_secret, md5));
  std::string hmac(k_spec_hmac);
  hmac.front() = hmac.front() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(verify_sign(spec_params(), sign_method::hmac_sha256, k_secret, hmac));
}

TEST(Signing, ChangedParamIsRejected) {
  auto p = spec_params();
  p.assign("money", "200");
  EXPECT_FALSE(verify_sign(p, sign_method::md5, k_secret, k_spec_md5));
  EXPECT_FALSE(verify_sign(p, sign_method::hmac_sha256, k_secret, k_spec_hmac));
}

TEST(Signing, WrongSecretIsRejected) {
  EXPECT_FALSE(verify_sign(spec_params(), sign_method::md5, "s3cret2", k_spec_md5));
  EXPECT_FALSE(verify_sign(spec_params(), sign_method::hmac_sha256, "S3CRET", k_spec_hmac));
}

TEST(Signing, SignOfTheOtherMethodIsRejected) {
  EXPECT_FALSE(verify_sign(spec_params(), sign_method::hmac_sha256, k_secret, k_spec_md5));
  EXPECT_FALSE(verify_sign(spec_params(), sign_method::md5, k_secret, k_spec_hmac));
}

TEST(Signing, SignIsComparedWithoutRegardToCase) {
  // Spec §2: PHP's md5() is lower case, so the hex digits may come in either case.
  EXPECT_TRUE(verify_sign(spec_params(), sign_method::md5, k_secret, lower(k_spec_md5)));
  EXPECT_TRUE(verify_sign(spec_params(), sign_method::hmac_sha256, k_secret, lower(k_spec_hmac)));
  std::string mixed(k_spec_md5);
  for (std::size_t i = 0; i < mixed.size(); i += 2) mixed[i] = lower(mixed.substr(i, 1))[0];
  EXPECT_TRUE(verify_sign(spec_params(), sign_method::md5, k_secret, mixed));
  // Case-folding only touches letters: a wrong digit, or a non-hex letter that folds onto
  // nothing valid, is still refused.
  std::string wrong = lower(k_spec_md5);
  wrong.back() = wrong.back() == 'a' ? 'b' : 'a';
  EXPECT_FALSE(verify_sign(spec_params(), sign_method::md5, k_secret, wrong));
  std::string shifted(k_spec_md5);
  for (char& c : shifted)
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c + 0x20 + 0x80);  // not 'a'..'f'
  EXPECT_FALSE(verify_sign(spec_params(), sign_method::md5, k_secret, shifted));
  // topupd itself still produces upper case.
  EXPECT_EQ(lower(sign_params(spec_params(), sign_method::md5, k_secret)), lower(k_spec_md5));
  EXPECT_EQ(sign_params(spec_params(), sign_method::md5, k_secret), k_spec_md5);
}

TEST(Signing, SignOfWrongLengthIsRejected) {
  const std::string md5(k_spec_md5);
  EXPECT_FALSE(verify_sign(spec_params(), sign_method::md5, k_secret, ""));
  EXPECT_FALSE(verify_sign(spec_params(), sign_method::md5, k_secret, std::string_view{}));
  EXPECT_FALSE(verify_sign(spec_params(), sign_method::md5, k_secret, md5.substr(0, 31)));
  EXPECT_FALSE(verify_sign(spec_params(), sign_method::md5, k_secret, md5 + "0"));
  EXPECT_FALSE(verify_sign(spec_params(), sign_method::md5, k_secret, md5 + md5 + md5));
  EXPECT_FALSE(
      verify_sign(spec_params(), sign_method::hmac_sha256, k_secret, k_spec_hmac.substr(0, 32)));
}

TEST(Signing, EmptySecretNeverReusesThePreviousKey) {
  // EVP_MAC_init with a null key keeps the last key; an empty secret must not inherit the
  // previous merchant's. Expected: HMAC-SHA256 with an empty key over "key=".
  ASSERT_EQ(sign_params(spec_params(), sign_method::hmac_sha256, k_secret), k_spec_hmac);
  EXPECT_EQ(sign_params(form_params{}, sign_method::hmac_sha256, ""),
            "B6148FF91A05BACF553E673517762938D4E60A5A80D22495401777FCC731239B");
}

TEST(Signing, VerifiesConcurrentlyOnSeveralThreads) {
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&failures, t] {
      const auto params = spec_params();
      for (int i = 0; i < 500; ++i) {
        const bool hmac = (i + t) % 2 == 0;
        const bool ok = hmac ? verify_sign(params, sign_method::hmac_sha256, k_secret, k_spec_hmac)
                             : verify_sign(params, sign_method::md5, k_secret, k_spec_md5);
        const bool bad = verify_sign(params, sign_method::md5, "other", k_spec_md5);
        if (!ok || bad) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(Signing, RequestedSignMethodDefaultsToMd5) {
  form_params p;
  EXPECT_EQ(requested_sign_method(p), sign_method::md5);
  p.assign("sign_type", "");
  EXPECT_EQ(requested_sign_method(p), sign_method::md5);
  p.assign("sign_type", "MD5");
  EXPECT_EQ(requested_sign_method(p), sign_method::md5);
  p.assign("sign_type", "HMAC-SHA256");
  EXPECT_EQ(requested_sign_method(p), sign_method::hmac_sha256);
  p.assign("sign_type", "hmac-sha256");
  EXPECT_EQ(requested_sign_method(p), sign_method::hmac_sha256);
  p.assign("sign_type", "md5");
  EXPECT_EQ(requested_sign_method(p), sign_method::md5);
  p.assign("sign_type", "SHA1");
  EXPECT_EQ(requested_sign_method(p), std::nullopt);
}

TEST(SignMethod, NamesAreCaseInsensitiveButOtherwiseExact) {
  using topup::engine::sign_method_from_name;
  using topup::engine::sign_method_name;
  EXPECT_EQ(sign_method_from_name("MD5"), sign_method::md5);
  EXPECT_EQ(sign_method_from_name("HMAC-SHA256"), sign_method::hmac_sha256);
  EXPECT_EQ(sign_method_from_name("md5"), sign_method::md5);
  EXPECT_EQ(sign_method_from_name("Hmac-Sha256"), sign_method::hmac_sha256);
  EXPECT_EQ(sign_method_from_name("hmac-sha256"), sign_method::hmac_sha256);
  EXPECT_EQ(sign_method_from_name("MD5 "), std::nullopt);
  EXPECT_EQ(sign_method_from_name("HMAC_SHA256"), std::nullopt);
  EXPECT_EQ(sign_method_from_name(" MD5"), std::nullopt);
  EXPECT_EQ(sign_method_from_name(""), std::nullopt);
  EXPECT_EQ(sign_method_name(sign_method::md5), "MD5");
  EXPECT_EQ(sign_method_name(sign_method::hmac_sha256), "HMAC-SHA256");
}

TEST(TimestampWindow, AcceptsWithinSkewInclusive) {
  EXPECT_TRUE(timestamp_within("1700000000", 1700000000, 300));
  EXPECT_TRUE(timestamp_within("1700000300", 1700000000, 300));
  EXPECT_TRUE(timestamp_within("1699999700", 1700000000, 300));
  EXPECT_TRUE(timestamp_within("01700000000", 1700000000, 0));
}

TEST(TimestampWindow, RejectsOutsideSkew) {
  EXPECT_FALSE(timestamp_within("1700000301", 1700000000, 300));
  EXPECT_FALSE(timestamp_within("1699999699", 1700000000, 300));
  EXPECT_FALSE(timestamp_within("0", 1700000000, 300));
  EXPECT_FALSE(timestamp_within("1700000000", 1700000000, -1));
}

TEST(TimestampWindow, RejectsAnythingButDigits) {
  for (std::string_view ts : {"", "-1700000000", "+1700000000", " 1700000000", "1700000000 ",
                              "1700000000.0", "1.7e9", "0x65", "17000000OO"}) {
    EXPECT_FALSE(timestamp_within(ts, 1700000000, 300)) << ts;
  }
}

TEST(TimestampWindow, RejectsOverflowWithoutUndefinedBehaviour) {
  EXPECT_FALSE(timestamp_within("99999999999999999999", 1700000000, 300));
  EXPECT_FALSE(timestamp_within("9223372036854775808", 1700000000, 300));
  EXPECT_TRUE(timestamp_within("9223372036854775807", std::numeric_limits<std::int64_t>::max(), 0));
  EXPECT_FALSE(timestamp_within("9223372036854775807", std::numeric_limits<std::int64_t>::min(),
                                std::numeric_limits<std::int64_t>::max()));
}
