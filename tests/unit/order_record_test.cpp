// The packed record (docs/STORAGE.md "The packed record"): what the money scripts read at its
// head, and a strict reader that never makes a half-filled order of a damaged value.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "engine/support/errc.hpp"
#include "engine/order/order_record.hpp"

namespace {

using namespace topup::engine;

order_record sample() {
  order_record r;
  r.order_number = "T1796200000000001002000017M1001";
  r.order_no = "shop-42";
  r.merchant_id = 1001;
  r.store_id = "s1";
  r.mobile = "13800138000";
  r.carrier = carrier::cucc;
  r.money_yuan = 50;
  r.recharge_type = 0;
  r.notify_url = "http://m.example/cb?x=1&y=2";
  r.change = true;
  r.source = "up2";
  r.fingerprint = std::string(40, 'a');
  r.cost_fen = 4975;
  r.status = order_status::recharging;
  r.reason = "";
  r.created_at_ms = 1796200000000;
  r.updated_at_ms = 1796200000123;
  r.finished_at_ms = 0;
  r.event_count = 3;
  r.refunded = false;
  r.attempt.channel = "up2";
  r.attempt.number = 2;
  r.attempt.id = r.order_number + "-2";
  r.attempt.tried = {"up1", "up2"};
  r.attempt.matched_at_ms = 1796200000100;
  r.attempt.submit = "accepted";
  r.attempt.submitted_at_ms = 1796200000120;
  r.attempt.last_outcome = "refused";
  r.extra = {{"a_later_field", "kept"}};
  return r;
}

void expect_same(const order_record& a, const order_record& b) {
  EXPECT_EQ(a.order_number, b.order_number);
  EXPECT_EQ(a.order_no, b.order_no);
  EXPECT_EQ(a.merchant_id, b.merchant_id);
  EXPECT_EQ(a.store_id, b.store_id);
  EXPECT_EQ(a.mobile, b.mobile);
  EXPECT_EQ(a.carrier, b.carrier);
  EXPECT_EQ(a.money_yuan, b.money_yuan);
  EXPECT_EQ(a.recharge_type, b.recharge_type);
  EXPECT_EQ(a.notify_url, b.notify_url);
  EXPECT_EQ(a.change, b.change);
  EXPECT_EQ(a.source, b.source);
  EXPECT_EQ(a.fingerprint, b.fingerprint);
  EXPECT_EQ(a.cost_fen, b.cost_fen);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.created_at_ms, b.created_at_ms);
  EXPECT_EQ(a.updated_at_ms, b.updated_at_ms);
  EXPECT_EQ(a.finished_at_ms, b.finished_at_ms);
  EXPECT_EQ(a.event_count, b.event_count);
  EXPECT_EQ(a.refunded, b.refunded);
  EXPECT_EQ(a.sandbox, b.sandbox);
  EXPECT_EQ(a.attempt, b.attempt);
  EXPECT_EQ(a.callback, b.callback);
  EXPECT_EQ(a.extra, b.extra);
}

TEST(PackedRecord, RoundTripsEveryField) {
  const order_record r = sample();
  auto back = unpack_order(pack_order(r));
  ASSERT_TRUE(back) << back.error().message();
  expect_same(r, *back);
}

TEST(PackedRecord, ASandboxOrderSaysSoAndOthersCarryNothingForIt) {
  order_record r = sample();
  EXPECT_EQ(pack_order(r).find("sandbox"), std::string::npos);
  EXPECT_FALSE(unpack_order(pack_order(r))->sandbox);
  r.sandbox = true;
  auto back = unpack_order(pack_order(r));
  ASSERT_TRUE(back);
  expect_same(r, *back);
  EXPECT_EQ(back->named_field("sandbox"), "1");
  auto damaged = unpack_order(pack_order(sample()) + "\x1f" "sandbox\x1f" "yes");
  ASSERT_FALSE(damaged);
  EXPECT_EQ(damaged.error(), errc::storage_protocol);
}

TEST(PackedRecord, HeadIsWhatTheMoneyScriptsMatch) {
  // version status cost refunded order_number: string.match('^(%d+)\31(%d)\31(%d+)\31([01])\31')
  EXPECT_EQ(pack_order(sample()).rfind("3\x1f" "1\x1f" "4975\x1f" "0\x1f" "T1796200000000001002000017M1001\x1f", 0),
            0u);
}

TEST(PackedRecord, SeparatorsAndEscapesInValuesSurvive) {
  order_record r = sample();
  r.reason = "a\x1f" "b\x1e" "c\x1e" "1";  // the separator, the escape, and an escape look-alike
  r.notify_url = "\x1f";
  r.store_id = "";
  r.attempt.submit = "\x1e\x1f\x1e";
  r.extra.emplace_back("empty", "");
  auto back = unpack_order(pack_order(r));
  ASSERT_TRUE(back);
  expect_same(r, *back);
}

TEST(PackedRecord, TheCallbackRoundTripsAndAPendingOneSaysItsAttempts) {
  order_record r = sample();
  r.status = order_status::success;
  r.callback.status = callback_status::pending;
  const std::string packed = pack_order(r);
  EXPECT_NE(packed.find("cb_status\x1f" "pending\x1f" "cb_attempts\x1f" "0"), std::string::npos);
  r.callback = {callback_status::delivered, 3, 1796200009999, 1, 1};
  auto back = unpack_order(pack_order(r));
  ASSERT_TRUE(back);
  expect_same(r, *back);
  EXPECT_EQ(back->named_field("cb_status"), "delivered");
  EXPECT_EQ(back->named_field("tried"), "up1,up2");
  EXPECT_EQ(back->named_field("a_later_field"), "kept");
  EXPECT_EQ(back->named_field("absent"), std::nullopt);
  // The admin view's `extra`: every named field as stored, typed ones first, unknown ones kept.
  const auto all = back->named_fields();
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all.front(), (std::pair<std::string, std::string>("channel", "up2")));
  EXPECT_EQ(all.back(), (std::pair<std::string, std::string>("a_later_field", "kept")));
  EXPECT_NE(std::find(all.begin(), all.end(),
                      std::pair<std::string, std::string>("cb_attempts", "3")),
            all.end());
}

TEST(PackedRecord, ATypedFieldThatDoesNotParseIsStorageProtocol) {
  const std::string good = pack_order(sample());
  for (const std::string tail : {"\x1f" "attempts\x1f" "two", "\x1f" "matched_at\x1f" "-5",
                                 "\x1f" "cb_status\x1f" "maybe", "\x1f" "cb_attempts\x1f" "1e3"}) {
    auto r = unpack_order(good + tail);
    ASSERT_FALSE(r) << tail;
    EXPECT_EQ(r.error(), errc::storage_protocol) << tail;
  }
  order_record o = sample();
  EXPECT_FALSE(apply_field(o, "attempts", "x"));
  EXPECT_EQ(o.attempt.number, 2);  // unchanged
  EXPECT_TRUE(apply_field(o, "attempts", "3"));
  EXPECT_EQ(o.attempt.number, 3);
}

TEST(PackedRecord, DamagedValuesAreStorageProtocolNeverHalfAnOrder) {
  const std::string good = pack_order(sample());
  const auto refused = [](const std::string& packed) {
    auto r = unpack_order(packed);
    return !r && r.error() == errc::storage_protocol;
  };
  EXPECT_TRUE(refused(""));
  EXPECT_TRUE(refused(good.substr(0, good.find("shop-42"))));  // truncated in the core fields
  EXPECT_TRUE(refused(good + "\x1f" "lonely"));                   // an extra name without value
  EXPECT_TRUE(refused("x" + good));                              // version not a number
  EXPECT_TRUE(refused("0" + good.substr(1)));                    // version 0: no accepted event
  std::string bad_status = good;
  bad_status[2] = '8';  // status 8 does not exist
  EXPECT_TRUE(refused(bad_status));
  std::string bad_escape = good;
  bad_escape.insert(bad_escape.find("shop-42"), "\x1e" "7");
  EXPECT_TRUE(refused(bad_escape));
  EXPECT_TRUE(refused(good + "\x1f\x1f" "value"));  // an extra with an empty name
}

}  // namespace
