// Redis Cluster routing rules (engine/redis/cluster_slots): slots against values redis-server
// 7.0 itself gives (CLUSTER KEYSLOT), the route of every command the engine sends, redirections
// and the CLUSTER SLOTS map.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/redis/cluster_slots.hpp"
#include "engine/redis/command.hpp"
#include "engine/store/ledger_scripts.hpp"
#include "engine/store/lease.hpp"
#include "engine/store/log_checkpoint.hpp"
#include "engine/store/order_log.hpp"

namespace topup::engine::redis {
namespace {

using engine::log_checkpoint;
using engine::log_event;
using engine::merchant_keys;
using engine::order_record;
using engine::work_change;
namespace ledger_scripts = engine::ledger_scripts;

command_route route(const std::vector<std::string>& words) {
  const std::string resp = format_command(words);
  auto parsed = resp_words(resp);
  EXPECT_TRUE(parsed.has_value());
  return parsed ? route_of(*parsed) : command_route{};
}

TEST(ClusterSlots, Crc16IsXmodem) {
  EXPECT_EQ(crc16_xmodem("123456789"), 0x31C3);  // the CRC catalogue's check value
  EXPECT_EQ(crc16_xmodem(""), 0);
}

TEST(ClusterSlots, KeySlotsAsRedisComputesThem) {
  EXPECT_EQ(key_slot("foo"), 12182);
  EXPECT_EQ(key_slot("bar"), 5061);
  EXPECT_EQ(key_slot(""), 0);
  EXPECT_EQ(key_slot("{user1000}.following"), 3443);
  EXPECT_EQ(key_slot("{user1000}.following"), key_slot("{user1000}.followers"));
  EXPECT_EQ(key_slot("topup:{m1001}:acct"), 1209);
  EXPECT_EQ(key_slot("topup:{m1001}:acct"), key_slot("m1001"));
}

TEST(ClusterSlots, HashTagRules) {
  // "{}" first: no tag, the whole key is hashed (not the later "{bar}").
  EXPECT_EQ(key_slot("foo{}{bar}"), 8363);
  EXPECT_NE(key_slot("foo{}{bar}"), key_slot("bar"));
  // The first '{' and the first '}' after it: "{bar".
  EXPECT_EQ(key_slot("foo{{bar}}zap"), 4015);
  EXPECT_EQ(key_slot("foo{{bar}}zap"), key_slot("{bar"));
  // Only the first tag counts.
  EXPECT_EQ(key_slot("foo{bar}{zap}"), key_slot("bar"));
  // An unclosed '{' is no tag.
  EXPECT_EQ(key_slot("foo{bar"), crc16_xmodem("foo{bar") & 16383);
}

TEST(ClusterSlots, RespWordsReadsWhatFormatCommandWrites) {
  const std::vector<std::string> words{"HSET", "k", std::string("a\r\nb\0c", 6), ""};
  const std::string resp = format_command(words);
  auto parsed = resp_words(resp);
  ASSERT_TRUE(parsed);
  ASSERT_EQ(parsed->size(), 4u);
  for (std::size_t i = 0; i < words.size(); ++i) EXPECT_EQ((*parsed)[i], words[i]);
  EXPECT_FALSE(resp_words(""));
  EXPECT_FALSE(resp_words("*1\r\n$3\r\nGE\r\n"));
  EXPECT_FALSE(resp_words(resp + "x"));
  EXPECT_FALSE(resp_words("PING\r\n"));
}

TEST(ClusterSlots, SingleKeyCommandsGoToTheirKeysSlot) {
  for (const char* name :
       {"HGET", "HMGET", "HSET", "HGETALL", "HSCAN", "XADD", "XRANGE", "XREVRANGE", "XTRIM",
        "ZADD", "ZRANGE", "ZRANGEBYSCORE", "ZREVRANGEBYSCORE", "ZCOUNT", "ZREM", "ZSCAN", "SET",
        "GET", "INCR", "PEXPIRE", "SMEMBERS", "SADD", "SREM"}) {
    auto r = route(args(name, "topup:{m7}:o", "x"));
    EXPECT_EQ(r.to, command_route::kind::slot) << name;
    EXPECT_EQ(r.slot, key_slot("m7")) << name;
  }
}

TEST(ClusterSlots, ScriptsGoToTheSlotOfTheirKeys) {
  auto one = route(args("EVALSHA", "abc", "2", "P:{m1}:a", "P:{m1}:b", "arg"));
  EXPECT_EQ(one.to, command_route::kind::slot);
  EXPECT_EQ(one.slot, key_slot("m1"));
  // Arguments are not keys.
  auto args_only = route(args("EVALSHA", "abc", "1", "P:{m1}:a", "P:{m2}:b"));
  EXPECT_EQ(args_only.slot, key_slot("m1"));
  // No keys: any node.
  EXPECT_EQ(route(args("EVAL", "return 1", "0")).to, command_route::kind::any);
}

TEST(ClusterSlots, ScriptsWhoseKeysSpanSlotsAreRefused) {
  auto r = route(args("EVALSHA", "abc", "2", "P:{m1}:acct", "P:{m2}:acct"));
  EXPECT_EQ(r.to, command_route::kind::refused);
  EXPECT_NE(r.why.find("span slots"), std::string::npos) << r.why;
  EXPECT_EQ(route(args("EVALSHA", "abc", "2", "P:lease:1", "P:epoch:1")).to,
            command_route::kind::refused);
  EXPECT_EQ(route(args("EVALSHA", "abc", "3", "a")).to, command_route::kind::refused);
  EXPECT_EQ(route(args("EVALSHA", "abc", "x")).to, command_route::kind::refused);
  EXPECT_EQ(route(args("DEL", "a", "b")).to, command_route::kind::refused);
  EXPECT_EQ(route(args("MSET", "{t}a", "1", "{t}b", "2")).to, command_route::kind::slot);
  EXPECT_EQ(route(args("MSET", "a", "1", "b", "2")).to, command_route::kind::refused);
}

TEST(ClusterSlots, KeylessAndConnectionBoundCommands) {
  EXPECT_EQ(route(args("PING")).to, command_route::kind::any);
  EXPECT_EQ(route(args("TIME")).to, command_route::kind::any);
  EXPECT_EQ(route(args("INFO", "replication")).to, command_route::kind::any);
  EXPECT_EQ(route(args("CLUSTER", "SLOTS")).to, command_route::kind::any);
  EXPECT_EQ(route(args("SCRIPT", "LOAD", "return 1")).to, command_route::kind::every);
  EXPECT_EQ(route(args("script", "load", "return 1")).to, command_route::kind::every);
  for (const char* name : {"MULTI", "EXEC", "WAIT", "SELECT", "KEYS", "FLUSHALL", "ASKING"})
    EXPECT_EQ(route(args(name, "1", "2")).to, command_route::kind::refused) << name;
}

TEST(ClusterSlots, RedirectionsAreRead) {
  auto moved = parse_redirection("MOVED 3999 127.0.0.1:6381");
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->type, redirection::kind::moved);
  EXPECT_EQ(moved->slot, 3999);
  EXPECT_EQ(moved->to, (node_address{"127.0.0.1", 6381}));
  auto ask = parse_redirection("ASK 12 redis-b.internal:7000");
  ASSERT_TRUE(ask);
  EXPECT_EQ(ask->type, redirection::kind::ask);
  EXPECT_EQ(ask->to.text(), "redis-b.internal:7000");
  auto no_host = parse_redirection("MOVED 7 :7001");  // the router fills in the node that answered
  ASSERT_TRUE(no_host);
  EXPECT_EQ(no_host->to, (node_address{"", 7001}));
  for (const char* not_one : {"MOVED", "MOVED 3999", "MOVED x 127.0.0.1:1", "MOVED 16384 a:1",
                              "MOVED 1 a:0", "ASK 1 a", "ERR MOVED 1 a:1", "NOSCRIPT"})
    EXPECT_FALSE(parse_redirection(not_one)) << not_one;
  EXPECT_TRUE(is_cluster_retry("TRYAGAIN Multiple keys request during rehashing of slot"));
  EXPECT_TRUE(is_cluster_retry("CLUSTERDOWN Hash slot not served"));
  EXPECT_TRUE(is_cluster_retry("CLUSTERDOWN"));
  EXPECT_FALSE(is_cluster_retry("CLUSTERDOWNS"));
  EXPECT_FALSE(is_cluster_retry("MOVED 1 a:1"));
}

reply integer(std::int64_t n) {
  reply r;
  r.type = reply::kind::integer;
  r.integer = n;
  return r;
}

reply text(std::string s) {
  reply r;
  r.type = reply::kind::string;
  r.str = std::move(s);
  return r;
}

reply array(std::vector<reply> elements) {
  reply r;
  r.type = reply::kind::array;
  r.elements = std::move(elements);
  return r;
}

reply range(int first, int last, const std::string& host, int port) {
  return array({integer(first), integer(last), array({text(host), integer(port), text("id")}),
                array({text(host), integer(port + 3), text("replica")})});
}

TEST(ClusterSlots, ClusterSlotsReplyBecomesTheMap) {
  auto map = parse_cluster_slots(
      array({range(0, 5460, "10.0.0.1", 7000), range(5461, 10921, "", 7001),
             range(10922, 16383, "10.0.0.1", 7000)}),
      "10.0.0.9");
  ASSERT_TRUE(map);
  ASSERT_EQ(map->masters.size(), 2u);  // replicas are not masters; one master, two ranges
  EXPECT_EQ(map->masters[0].text(), "10.0.0.1:7000");
  EXPECT_EQ(map->masters[1].text(), "10.0.0.9:7001");  // no host: the node that answered
  EXPECT_EQ(map->owner[0], 0);
  EXPECT_EQ(map->owner[5461], 1);
  EXPECT_EQ(map->owner[10921], 1);
  EXPECT_EQ(map->owner[16383], 0);
  EXPECT_TRUE(map->complete());

  auto partial = parse_cluster_slots(array({range(0, 100, "h", 1)}), "x");
  ASSERT_TRUE(partial);
  EXPECT_FALSE(partial->complete());
  EXPECT_EQ(partial->owner[101], -1);

  EXPECT_FALSE(parse_cluster_slots(text("no"), "x"));
  EXPECT_FALSE(parse_cluster_slots(array({range(5, 4, "h", 1)}), "x"));
  EXPECT_FALSE(parse_cluster_slots(array({range(0, 16384, "h", 1)}), "x"));
  EXPECT_FALSE(parse_cluster_slots(array({array({integer(0), integer(1)})}), "x"));
}

// Every script the engine runs: its keys are one slot (the merchant's hash tag), or one key.
TEST(ClusterSlots, EveryLedgerScriptCallTouchesOneSlot) {
  const merchant_keys keys("topup", 1001);
  const fence_token fence{"1", 1};
  order_record record;
  record.merchant_id = 1001;
  const std::vector<log_event> events{log_event{"step", {}}};
  const std::vector<ledger_scripts::call> calls{
      ledger_scripts::accept_call(keys, fence),
      ledger_scripts::append_call(keys, fence, 1, record, events, work_change::keep()),
      ledger_scripts::refund_call(keys, fence, 1, 3, "why", record, work_change::remove()),
      ledger_scripts::credit_call(keys, fence, "ref", 100),
      ledger_scripts::retire_call(keys, fence, {}),
      ledger_scripts::trim_call(keys, fence, "0-0", "1-0", "2-0", log_checkpoint{}),
  };
  for (const auto& call : calls) {
    ASSERT_FALSE(call.keys.empty());
    for (const auto& key : call.keys) EXPECT_EQ(key_slot(key), key_slot("m1001")) << key;
  }
}

}  // namespace
}  // namespace topup::engine::redis
