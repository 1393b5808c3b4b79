#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "channels/channel_kinds.hpp"
#include "engine/config/config.hpp"
#include "engine/order/money.hpp"

namespace {

using topup::channels::validate_channel_kind;
using topup::engine::carrier;
using topup::engine::config;
using topup::engine::config_error;
using topup::engine::sign_method;

/// A valid configuration using every section; each broken case changes one thing in it.
/// Channel 0 is a wikeyun channel, 1 and 2 are sim channels (2 exists so that a duplicate id
/// or an unknown kind can be shown at an index other than 0).
constexpr std::string_view k_base_config = R"({
  "server": {"listen": "127.0.0.1:8080", "threads": 2, "public_url": "http://127.0.0.1:8080"},
  "redis": {"host": "127.0.0.1", "port": 6379, "prefix": "topup"},
  "admin": {"token": "change-me"},
  "security": {"timestamp_skew_s": 300},
  "callbacks": {"max_attempts": 6, "backoff_ms": [0, 15000, 60000], "timeout_ms": 5000,
                "allow_private_targets": false},
  "merchants": [
    {"id": 1001, "app_key": "k1", "app_secret": "s3cret", "store_ids": ["s1"],
     "sign_types": ["MD5", "HMAC-SHA256"], "price_rate": 0.995, "default_change": 1},
    {"id": 1002, "app_key": "k2", "app_secret": "other", "store_ids": ["s1", "s2"],
     "price_rate": 1}
  ],
  "channels": [
    {"id": "up1", "kind": "wikeyun", "url": "http://127.0.0.1:9000", "app_key": "ak",
     "app_secret": "as", "store_id": "st", "carriers": ["cmcc", "cucc", "ctcc"],
     "amounts": [50, 100, 200], "recharge_types": [0, 1], "cost_rate": 0.98, "priority": 10},
    {"id": "sim1", "kind": "sim", "carriers": ["cmcc"], "amounts": [50, 100],
     "recharge_types": [1], "cost_rate": 0.99, "priority": 5, "success_rate": 0.95,
     "latency_ms": [5, 50]},
    {"id": "sim2", "kind": "sim", "carriers": ["cbn"], "amounts": [10], "recharge_types": [0],
     "cost_rate": 1.5}
  ]
})";

std::variant<config, config_error> parse(std::string_view text) {
  return topup::engine::parse_config(text, &validate_channel_kind);
}

/// The error line of a refused config, or a marker that makes a wrong acceptance obvious.
std::string error_of(std::string_view text) {
  auto result = parse(text);
  if (auto* error = std::get_if<config_error>(&result)) return error->message;
  return "<accepted>";
}

config accepted(std::string_view text) {
  auto result = parse(text);
  if (auto* error = std::get_if<config_error>(&result)) {
    ADD_FAILURE() << "refused: " << error->message;
    return {};
  }
  return std::get<config>(std::move(result));
}

/// k_base_config with the value at JSON pointer `pointer` replaced by (or set to) `value_json`,
/// or removed when `value_json` is nullopt.
std::string mutated(std::string_view pointer, std::optional<std::string_view> value_json) {
  boost::json::value root = boost::json::parse(k_base_config);
  boost::json::value* parent = &root;
  std::string_view rest = pointer.substr(1);
  for (;;) {
    const auto slash = rest.find('/');
    const std::string token(rest.substr(0, slash));
    if (slash == std::string_view::npos) {
      if (auto* object = parent->if_object()) {
        if (value_json) {
          (*object)[token] = boost::json::parse(*value_json);
        } else {
          object->erase(token);
        }
      } else {
        auto& array = parent->as_array();
        const std::size_t index = std::stoul(token);
        if (value_json) {
          array.at(index) = boost::json::parse(*value_json);
        } else {
          array.erase(array.begin() + static_cast<std::ptrdiff_t>(index));
        }
      }
      return boost::json::serialize(root);
    }
    parent = parent->is_object() ? &parent->as_object().at(token)
                                 : &parent->as_array().at(std::stoul(token));
    rest = rest.substr(slash + 1);
  }
}

TEST(ConfigFiles, ExampleFileIsValid) {
  auto result = topup::engine::load_config_file(TOPUP_SOURCE_DIR "/deploy/topupd.example.json",
                                                &validate_channel_kind);
  ASSERT_TRUE(std::holds_alternative<config>(result)) << std::get<config_error>(result).message;
  const config& c = std::get<config>(result);
  EXPECT_EQ(c.server.listen_host, "127.0.0.1");
  EXPECT_EQ(c.server.listen_port, 8080);
  EXPECT_EQ(c.server.threads, 2u);
  EXPECT_EQ(c.server.public_url, "http://127.0.0.1:8080");
  EXPECT_EQ(c.server.metrics_listen, "127.0.0.1:9100");
  EXPECT_EQ(c.redis.port, 6379);
  EXPECT_EQ(c.admin.token, "change-me");
  EXPECT_EQ(c.callbacks.backoff_ms,
            (std::vector<std::uint64_t>{0, 15000, 60000, 300000, 1800000, 7200000}));
  ASSERT_EQ(c.merchants.size(), 3u);
  EXPECT_EQ(c.merchants[0].id, 1001);
  EXPECT_EQ(c.merchants[1].daily_amount, 500000);
  EXPECT_TRUE(c.merchants[2].sandbox);
  EXPECT_EQ(c.risk.per_mobile_orders, 20);
  EXPECT_EQ(c.risk.per_mobile_amount, 2000);
  EXPECT_EQ(c.merchants[0].price_rate_ppm, 995000);
  EXPECT_TRUE(c.merchants[0].default_change);
  EXPECT_EQ(c.merchants[1].sign_types, std::vector<sign_method>{sign_method::hmac_sha256});
  EXPECT_EQ(c.merchants[1].allowed_ips.size(), 3u);
  EXPECT_EQ(c.merchants[1].price_rate_ppm, 1002000);
  EXPECT_FALSE(c.merchants[1].default_change);
  ASSERT_EQ(c.channels.size(), 2u);
  EXPECT_EQ(c.channels[0].id, "up1");
  EXPECT_EQ(c.channels[0].cost_rate_ppm, 980000);
  EXPECT_EQ(c.channels[0].unknown_max_s, 86400);
  EXPECT_EQ(c.channels[1].carriers, std::vector<carrier>{carrier::cmcc});

  const auto wikeyun = topup::channels::parse_wikeyun_settings(c.channels[0]);
  EXPECT_EQ(wikeyun.url, "http://127.0.0.1:9000");
  EXPECT_EQ(wikeyun.app_key, "topupd-at-up1");
  EXPECT_EQ(wikeyun.app_secret, "up1-s3cret");
  EXPECT_EQ(wikeyun.store_id, "up1-store");
}

TEST(ConfigFiles, DemoFileIsValid) {
  auto result = topup::engine::load_config_file(TOPUP_SOURCE_DIR "/deploy/topupd.demo.json",
                                                &validate_channel_kind);
  ASSERT_TRUE(std::holds_alternative<config>(result)) << std::get<config_error>(result).message;
  const config& c = std::get<config>(result);
  EXPECT_EQ(c.server.listen_host, "127.0.0.1");
  EXPECT_EQ(c.server.listen_port, 8080);
  EXPECT_EQ(c.redis.host, "127.0.0.1");
  EXPECT_EQ(c.redis.port, 6399);
  EXPECT_EQ(c.redis.prefix, "topup-demo");
  EXPECT_EQ(c.admin.token, "demo-admin-token");
  ASSERT_EQ(c.merchants.size(), 1u);
  EXPECT_EQ(c.merchants[0].id, 1001);
  EXPECT_EQ(c.merchants[0].app_key, "demo");
  EXPECT_EQ(c.merchants[0].app_secret, "demo-secret");
  EXPECT_EQ(c.merchants[0].store_ids, std::vector<std::string>{"s1"});
  // sim1 first (cheaper), sim2 takes what sim1 fails; one number is held at sim1 for the
  // exception queue (deploy/demo-trickle.sh).
  ASSERT_EQ(c.channels.size(), 2u);
  const auto& sim = c.channels[0];
  EXPECT_EQ(sim.id, "sim1");
  EXPECT_EQ(sim.kind, "sim");
  EXPECT_EQ(sim.carriers,
            (std::vector<carrier>{carrier::cmcc, carrier::cucc, carrier::ctcc, carrier::cbn}));
  EXPECT_EQ(sim.amounts, (std::vector<std::int64_t>{10, 20, 30, 50, 100, 200, 300, 500}));
  EXPECT_EQ(sim.recharge_types, (std::vector<int>{0, 1}));
  EXPECT_EQ(sim.cost_rate_ppm, 990000);

  const auto settings = topup::channels::parse_sim_settings(sim);
  EXPECT_EQ(sim.unknown_max_s, 10);
  EXPECT_DOUBLE_EQ(settings.success_rate, 0.7);
  EXPECT_DOUBLE_EQ(settings.unknown_rate, 0.05);
  EXPECT_EQ(settings.latency_ms_min, 20u);
  EXPECT_EQ(settings.latency_ms_max, 200u);
  EXPECT_EQ(settings.seed, 173u);
  EXPECT_EQ(settings.hold_mobiles, std::vector<std::string>{"13999999999"});

  const auto& second = c.channels[1];
  EXPECT_EQ(second.id, "sim2");
  EXPECT_GT(second.cost_rate_ppm, sim.cost_rate_ppm);
  EXPECT_EQ(second.amounts, sim.amounts);
  EXPECT_TRUE(topup::channels::parse_sim_settings(second).hold_mobiles.empty());
}

TEST(ConfigFiles, UnreadableFileIsOneLine) {
  EXPECT_EQ(std::get<config_error>(
                topup::engine::load_config_file("/nonexistent/topupd.json", &validate_channel_kind))
                .message,
            "config: cannot read /nonexistent/topupd.json: No such file or directory");
  EXPECT_EQ(std::get<config_error>(
                topup::engine::load_config_file(TOPUP_SOURCE_DIR "/deploy", &validate_channel_kind))
                .message,
            "config: cannot read " TOPUP_SOURCE_DIR "/deploy: Is a directory");
}

TEST(ConfigParse, TlsNamesTheCertificateAndKeyFiles) {
  const config c =
      accepted(mutated("/server/tls", R"({"cert": "/etc/topupd/cert.pem", "key": "key.pem"})"));
  ASSERT_TRUE(c.server.tls.has_value());
  EXPECT_EQ(c.server.tls->cert_path, "/etc/topupd/cert.pem");
  EXPECT_EQ(c.server.tls->key_path, "key.pem");
}

TEST(ConfigParse, BaseConfigIsValidAndDefaultsApply) {
  const config c = accepted(k_base_config);
  EXPECT_FALSE(c.server.tls.has_value()) << "plain HTTP unless server.tls is given";
  EXPECT_EQ(c.server.max_body_bytes, 16384u);
  EXPECT_EQ(c.server.max_header_bytes, 8192u);
  EXPECT_EQ(c.server.instance_id, 0u);
  EXPECT_EQ(c.server.lease_ms, 10000u);
  EXPECT_EQ(c.server.read_timeout_ms, 10000u);
  EXPECT_EQ(c.server.idle_timeout_ms, 60000u);
  EXPECT_EQ(c.server.max_inflight_orders, 10000u);
  EXPECT_EQ(c.server.max_waiting_orders, 1000000u);
  EXPECT_EQ(c.server.metrics_listen, "");
  EXPECT_EQ(c.server.log_level, "info");
  EXPECT_EQ(c.redis.password, "");
  EXPECT_EQ(c.redis.connect_timeout_ms, 2000u);
  EXPECT_EQ(c.redis.command_timeout_ms, 5000u);
  EXPECT_EQ(c.redis.min_replicas_acked, 0u);
  EXPECT_EQ(c.redis.replica_wait_ms, 500u);
  EXPECT_FALSE(c.redis.cluster);
  EXPECT_TRUE(c.redis.nodes.empty());
  EXPECT_EQ(c.callbacks.max_concurrent_per_host, 8u);
  EXPECT_EQ(c.callbacks.max_inflight, 1000u);
  const auto& m = c.merchants[1];
  EXPECT_EQ(m.sign_types, (std::vector<sign_method>{sign_method::md5, sign_method::hmac_sha256}));
  EXPECT_EQ(m.price_rate_ppm, topup::engine::k_rate_one_ppm);
  EXPECT_TRUE(m.default_change);
  EXPECT_TRUE(m.allowed_ips.empty());
  EXPECT_EQ(m.rate_limit_rps, 0u);
  EXPECT_EQ(m.rate_limit_burst, 0u);
  EXPECT_EQ(m.slow_deadline_s, 86400u);
  EXPECT_EQ(m.fast_deadline_s, 60u);
  EXPECT_TRUE(m.enabled);
  const auto& ch = c.channels[2];
  EXPECT_EQ(ch.priority, 0);
  EXPECT_EQ(ch.timeout_ms, 3000u);
  EXPECT_EQ(ch.query_interval_ms, 1000u);
  EXPECT_EQ(ch.unknown_grace_ms, 60000u);
  EXPECT_EQ(ch.unknown_max_s, 86400);
  EXPECT_EQ(ch.max_inflight, 1000u);
  EXPECT_TRUE(ch.enabled);
  const auto sim = topup::channels::parse_sim_settings(ch);
  EXPECT_DOUBLE_EQ(sim.success_rate, 1.0);
  EXPECT_DOUBLE_EQ(sim.unknown_rate, 0.0);
  EXPECT_EQ(sim.latency_ms_min, 0u);
  EXPECT_EQ(sim.latency_ms_max, 0u);
  EXPECT_EQ(sim.seed, 0u);
  EXPECT_TRUE(sim.hold_mobiles.empty());
}

TEST(ConfigParse, RedisClusterTakesSeedNodesInsteadOfHostAndPort) {
  const config c = accepted(
      R"({"server": {"listen": "127.0.0.1:8080", "public_url": "http://127.0.0.1:8080"},
    "redis": {"cluster": true, "nodes": ["10.0.0.1:7000", "redis-b.internal:7001"], "prefix": "p"},
    "admin": {"token": "t"},
    "merchants": [{"id": 1, "app_key": "k", "app_secret": "s", "store_ids": ["s"], "price_rate": 2}]})");
  EXPECT_TRUE(c.redis.cluster);
  EXPECT_EQ(c.redis.nodes, (std::vector<std::string>{"10.0.0.1:7000", "redis-b.internal:7001"}));
  EXPECT_EQ(c.redis.host, "");
  EXPECT_EQ(c.redis.port, 0);
  EXPECT_EQ(c.redis.prefix, "p");
}

TEST(ConfigParse, MinimalConfigNeedsNoOptionalSection) {
  const config c = accepted(
      R"({"server": {"listen": "[::1]:8080", "public_url": "https://pay.example.com/topup/"},
    "redis": {"host": "redis.internal", "port": 6379}, "admin": {"token": "t"},
    "merchants": [{"id": 1, "app_key": "k", "app_secret": "s", "store_ids": ["s"], "price_rate": 2}]})");
  EXPECT_EQ(c.server.listen_host, "::1");
  EXPECT_EQ(c.server.threads, 0u);
  EXPECT_EQ(c.server.public_url, "https://pay.example.com/topup");  // trailing '/' dropped
  EXPECT_EQ(c.redis.prefix, "topup");
  EXPECT_EQ(c.security.timestamp_skew_s, 300);
  EXPECT_EQ(c.callbacks.max_attempts, 6u);
  EXPECT_EQ(c.callbacks.backoff_ms.size(), 6u);
  EXPECT_EQ(c.callbacks.timeout_ms, 5000u);
  EXPECT_FALSE(c.callbacks.allow_private_targets);
  EXPECT_TRUE(c.channels.empty());
  EXPECT_EQ(c.merchants[0].price_rate_ppm, 2 * topup::engine::k_rate_one_ppm);
}

TEST(ConfigParse, LocalhostListenBecomesLoopbackLiteral) {
  const config c = accepted(mutated("/server/listen", R"("localhost:9000")"));
  EXPECT_EQ(c.server.listen_host, "127.0.0.1");
  EXPECT_EQ(c.server.listen_port, 9000);
}

TEST(ConfigParse, UnknownKeysAreIgnoredEverywhere) {
  std::string text = mutated("/future_section", R"({"x": [1, 2]})");
  boost::json::value root = boost::json::parse(text);
  root.at("server").as_object()["future_flag"] = true;
  root.at("merchants").as_array().at(0).as_object()["note"] = "vip";
  root.at("channels").as_array().at(1).as_object()["region"] = "east";
  const config c = accepted(boost::json::serialize(root));
  EXPECT_EQ(c.channels.size(), 3u);
}

TEST(ConfigParse, LeaseMsTakesBothEndsOfItsRange) {
  EXPECT_EQ(accepted(mutated("/server/lease_ms", "1000")).server.lease_ms, 1000u);
  EXPECT_EQ(accepted(mutated("/server/lease_ms", "600000")).server.lease_ms, 600000u);
}

TEST(ConfigParse, UnknownMaxIsPerChannel) {
  const config c = accepted(mutated("/channels/1/unknown_max_s", "3600"));
  EXPECT_EQ(c.channels[1].unknown_max_s, 3600);
  EXPECT_EQ(c.channels[0].unknown_max_s, 86400);  // the default, where it is left out
  EXPECT_EQ(accepted(mutated("/channels/0/unknown_max_s", "1")).channels[0].unknown_max_s, 1);
  EXPECT_EQ(accepted(mutated("/channels/0/unknown_max_s", "2592000")).channels[0].unknown_max_s,
            2592000);
}

TEST(ConfigParse, BooleansAcceptZeroAndOne) {
  EXPECT_FALSE(accepted(mutated("/merchants/0/default_change", "0")).merchants[0].default_change);
  EXPECT_FALSE(
      accepted(mutated("/merchants/0/default_change", "false")).merchants[0].default_change);
  EXPECT_TRUE(
      accepted(mutated("/callbacks/allow_private_targets", "1")).callbacks.allow_private_targets);
  EXPECT_FALSE(accepted(mutated("/channels/1/enabled", "false")).channels[1].enabled);
}

TEST(ConfigParse, SandboxIsAMerchantFlagOffByDefault) {
  EXPECT_FALSE(accepted(k_base_config).merchants[0].sandbox);
  EXPECT_TRUE(accepted(mutated("/merchants/0/sandbox", "true")).merchants[0].sandbox);
  const config c = accepted(k_base_config);
  for (const auto& ch : c.channels) EXPECT_EQ(ch.simulated(), ch.kind == "sim") << ch.id;
}

TEST(ConfigParse, RetentionIsSevenDaysUnlessSetAndStatementsFollowTheirTimezone) {
  const config plain = accepted(k_base_config);
  EXPECT_EQ(plain.storage.retention_ms, 7LL * 86400 * 1000);
  EXPECT_EQ(plain.statements.offset_s, 8 * 3600);
  EXPECT_EQ(plain.risk.day_offset_s, 8 * 3600);
  EXPECT_EQ(plain.statements.delay_s, 600);
  EXPECT_EQ(accepted(mutated("/storage", R"({"retention_days": 30})")).storage.retention_ms,
            30LL * 86400 * 1000);
  // retention_s overrides the days (tests); the skew must be short enough for it.
  const config shortened = accepted(mutated(
      "/storage", R"({"retention_days": 30, "retention_s": 601})"));
  EXPECT_EQ(shortened.storage.retention_ms, 601000);  // > 2 x the skew of 300 s
  const config zone = accepted(mutated("/statements", R"({"timezone": "-05:30", "dir": "/srv/st"})"));
  EXPECT_EQ(zone.statements.offset_s, -(5 * 3600 + 30 * 60));
  EXPECT_EQ(zone.risk.day_offset_s, zone.statements.offset_s);
  EXPECT_EQ(zone.statements.dir, "/srv/st");
}

TEST(ConfigParse, RiskLimitsAreOffUnlessSetAndAMerchantMaySetItsOwnDailyAmount) {
  const config plain = accepted(k_base_config);
  EXPECT_EQ(plain.risk.per_mobile_orders, 0);
  EXPECT_EQ(plain.risk.per_mobile_amount, 0);
  EXPECT_EQ(plain.risk.daily_amount, 0);
  EXPECT_EQ(plain.risk.window_s, 86400);
  EXPECT_FALSE(plain.merchants[0].daily_amount.has_value());
  const config c = accepted(mutated(
      "/risk", R"({"per_mobile_orders": 20, "per_mobile_amount": 2000, "daily_amount": 0})"));
  EXPECT_EQ(c.risk.per_mobile_orders, 20);
  EXPECT_EQ(c.risk.per_mobile_amount, 2000);
  EXPECT_EQ(accepted(mutated("/merchants/0/daily_amount", "0")).merchants[0].daily_amount, 0);
  EXPECT_EQ(accepted(mutated("/merchants/0/daily_amount", "50000")).merchants[0].daily_amount,
            50000);
}

TEST(ConfigParse, OperatorsHaveRolesAndTheSingleTokenIsAdminWithEveryRole) {
  const config legacy = accepted(k_base_config);
  ASSERT_EQ(legacy.admin.operators.size(), 1u);
  EXPECT_EQ(legacy.admin.operators[0].name, "admin");
  EXPECT_EQ(legacy.admin.operators[0].token, "change-me");
  EXPECT_TRUE(legacy.admin.operators[0].operate);
  EXPECT_TRUE(legacy.admin.operators[0].credit);
  const config c = accepted(mutated("/admin", R"({"operators": [
      {"name": "watcher", "token": "tv", "role": "viewer"},
      {"name": "ops1", "token": "to", "role": "operator"},
      {"name": "fin1", "token": "tf", "role": "finance"}]})"));
  ASSERT_EQ(c.admin.operators.size(), 3u);  // no admin.token: no admin
  EXPECT_TRUE(c.admin.token.empty());
  EXPECT_FALSE(c.admin.operators[0].operate || c.admin.operators[0].credit);
  EXPECT_TRUE(c.admin.operators[1].operate);
  EXPECT_FALSE(c.admin.operators[1].credit);
  EXPECT_FALSE(c.admin.operators[2].operate);
  EXPECT_TRUE(c.admin.operators[2].credit);
}

TEST(ConfigParse, ChannelsMayBeEmpty) {
  EXPECT_TRUE(accepted(mutated("/channels", "[]")).channels.empty());
  EXPECT_TRUE(accepted(mutated("/channels", std::nullopt)).channels.empty());
}

TEST(ConfigParse, AllowedIpsTakeAddressesAndNetworks) {
  const config c =
      accepted(mutated("/merchants/0/allowed_ips",
                       R"(["10.1.2.3", "10.0.0.0/8", "::1", "2001:db8::/32", "0.0.0.0/0"])"));
  EXPECT_EQ(c.merchants[0].allowed_ips.size(), 5u);
}

TEST(ConfigParse, RawJsonKeepsKindSpecificFields) {
  const config c = accepted(k_base_config);
  const auto root = boost::json::parse(c.channels[0].raw_json);
  EXPECT_EQ(root.at("store_id").as_string(), "st");
  EXPECT_EQ(root.at("id").as_string(), "up1");
}

TEST(ConfigParse, ByteOrderMarkIsSkipped) {
  EXPECT_EQ(accepted("\xEF\xBB\xBF" + std::string(k_base_config)).merchants.size(), 2u);
}

TEST(ConfigParse, BackoffLastValueRepeats) {
  const config c = accepted(k_base_config);  // backoff_ms [0, 15000, 60000], max_attempts 6
  EXPECT_EQ(c.callbacks.delay_before_attempt_ms(1), 0u);
  EXPECT_EQ(c.callbacks.delay_before_attempt_ms(2), 15000u);
  EXPECT_EQ(c.callbacks.delay_before_attempt_ms(3), 60000u);
  EXPECT_EQ(c.callbacks.delay_before_attempt_ms(6), 60000u);
}

TEST(ConfigParse, SimSeedTakesTheWholeUnsignedRange) {
  const config c = accepted(mutated("/channels/1/seed", "18446744073709551615"));
  EXPECT_EQ(topup::channels::parse_sim_settings(c.channels[1]).seed, 18446744073709551615u);
}

TEST(ConfigParse, SimHoldMobilesAreKeptInOrder) {
  const config c =
      accepted(mutated("/channels/1/hold_mobiles", R"(["13999999999", "18600000000"])"));
  EXPECT_EQ(topup::channels::parse_sim_settings(c.channels[1]).hold_mobiles,
            (std::vector<std::string>{"13999999999", "18600000000"}));
}

TEST(ConfigParse, EmptyKindValidatorAcceptsAnyKind) {
  auto result = topup::engine::parse_config(mutated("/channels/2/kind", R"("future")"), {});
  ASSERT_TRUE(std::holds_alternative<config>(result));
  EXPECT_EQ(std::get<config>(result).channels[2].kind, "future");
}

TEST(ConfigParse, KindValidatorGetsChannelPathAndStaysOnOneLine) {
  std::vector<std::string> paths;
  auto result =
      topup::engine::parse_config(k_base_config,
                                  [&paths](const topup::engine::channel_config& channel,
                                           std::string_view path) -> std::optional<std::string> {
                                    paths.emplace_back(path);
                                    if (channel.id == "sim2")
                                      return std::string(path) + ".x: two\nlines";
                                    return std::nullopt;
                                  });
  EXPECT_EQ(paths, (std::vector<std::string>{"channels[0]", "channels[1]", "channels[2]"}));
  ASSERT_TRUE(std::holds_alternative<config_error>(result));
  EXPECT_EQ(std::get<config_error>(result).message, "channels[2].x: two lines");
}

TEST(ConfigValidation, MalformedJsonSaysWhere) {
  EXPECT_EQ(error_of("{\"server\": }"),
            "config: invalid JSON at line 1 column 12 (byte 11): syntax error");
  EXPECT_EQ(error_of("{\n  \"a\": 1,\n  \"b\": 2,\n}"),
            "config: invalid JSON at line 4 column 1 (byte 22): syntax error");
  EXPECT_EQ(error_of("{\"a\": 1} x"),
            "config: invalid JSON at line 1 column 10 (byte 9): extra data");
  EXPECT_EQ(error_of("{\"a\": [1, 2"),
            "config: invalid JSON at line 1 column 12 (byte 11): incomplete JSON");
  EXPECT_EQ(error_of("{\"a\": \"\xff\"}"),
            "config: invalid JSON at line 1 column 8 (byte 7): The input is not valid UTF-8");
  EXPECT_EQ(error_of("\xEF\xBB\xBF{,}"),
            "config: invalid JSON at line 1 column 2 (byte 4): syntax error");
  EXPECT_EQ(error_of("{\"a\": 123456789012345678901234567890}"),
            "config: invalid JSON: Problem while parsing a number");
}

TEST(ConfigValidation, EmptyDocument) {
  EXPECT_EQ(error_of(""), "config: empty document");
  EXPECT_EQ(error_of(" \n\t "), "config: empty document");
}

TEST(ConfigValidation, OversizedDocument) {
  EXPECT_EQ(error_of(std::string(16 * 1024 * 1024 + 1, ' ')), "config: larger than 16777216 bytes");
}

TEST(ConfigValidation, TopLevelMustBeAnObject) {
  EXPECT_EQ(error_of("[]"), "config: must be a JSON object");
  EXPECT_EQ(error_of("42"), "config: must be a JSON object");
  EXPECT_EQ(error_of("\"server\""), "config: must be a JSON object");
  EXPECT_EQ(error_of("null"), "config: must be a JSON object");
}

TEST(ConfigValidation, RepeatedKeysAreRefused) {
  std::string text(k_base_config);
  text.insert(1, R"("admin": {"token": "other"},)");
  EXPECT_EQ(error_of(text), R"(config: key "admin" appears more than once)");

  text = k_base_config;
  const auto at = text.find(R"("app_secret": "s3cret")");
  text.insert(at, R"("app_secret": "first", )");
  EXPECT_EQ(error_of(text), R"(merchants[0]: key "app_secret" appears more than once)");

  text = k_base_config;
  text.insert(text.find(R"("kind": "wikeyun")"), R"("kind": "sim", )");
  EXPECT_EQ(error_of(text), R"(channels[0]: key "kind" appears more than once)");
}

TEST(ConfigValidation, EchoedValuesCannotBreakTheLine) {
  EXPECT_EQ(error_of(mutated("/channels/2/kind", R"("fo\no\"")")),
            R"(channels[2].kind: unknown channel kind "fo\no\"" (known: sim, wikeyun))");
  const std::string long_kind(100, 'k');
  EXPECT_EQ(error_of(mutated("/channels/2/kind", "\"" + long_kind + "\"")),
            "channels[2].kind: unknown channel kind \"" + std::string(64, 'k') +
                "...\" (known: sim, wikeyun)");
}

struct broken_case {
  std::string_view pointer;               ///< JSON pointer into k_base_config
  std::optional<std::string_view> value;  ///< new JSON value; nullopt removes the key
  std::string_view expected;              ///< the exact one-line error
};

void PrintTo(const broken_case& c, std::ostream* os) {
  *os << c.pointer << " = " << (c.value ? *c.value : "<removed>");
}

class ConfigBrokenField : public testing::TestWithParam<broken_case> {};

TEST_P(ConfigBrokenField, NamesTheFieldAndTheProblem) {
  const broken_case& c = GetParam();
  const std::string message = error_of(mutated(c.pointer, c.value));
  EXPECT_EQ(message, c.expected);
  EXPECT_EQ(message.find('\n'), std::string::npos);
}

constexpr std::string_view k_bad_hold_mobiles =
    "channels[1].hold_mobiles: must be an array of at most 100 mobile numbers (11 digits, "
    "1[3-9]...)";

const broken_case k_broken_cases[] = {
    // server
    {"/server", std::nullopt, "server: is required"},
    {"/server", "[]", "server: must be an object"},
    {"/server/listen", std::nullopt, "server.listen: is required"},
    {"/server/listen", "8080", "server.listen: must be a string"},
    {"/server/listen", R"("127.0.0.1")",
     "server.listen: must be host:port (IPv4, [IPv6] or localhost; port 1..65535)"},
    {"/server/listen", R"("127.0.0.1:0")",
     "server.listen: must be host:port (IPv4, [IPv6] or localhost; port 1..65535)"},
    {"/server/listen", R"("127.0.0.1:65536")",
     "server.listen: must be host:port (IPv4, [IPv6] or localhost; port 1..65535)"},
    {"/server/listen", R"("example.com:80")",
     "server.listen: must be host:port (IPv4, [IPv6] or localhost; port 1..65535)"},
    {"/server/listen", R"("::1:80")",
     "server.listen: must be host:port (IPv4, [IPv6] or localhost; port 1..65535)"},
    {"/server/listen", R"("[127.0.0.1]:80")",
     "server.listen: must be host:port (IPv4, [IPv6] or localhost; port 1..65535)"},
    {"/server/listen", R"(":80")",
     "server.listen: must be host:port (IPv4, [IPv6] or localhost; port 1..65535)"},
    {"/server/threads", "257", "server.threads: must be an integer in 0..256"},
    {"/server/threads", "-1", "server.threads: must be an integer in 0..256"},
    {"/server/threads", "2.0", "server.threads: must be an integer in 0..256"},
    {"/server/threads", R"("2")", "server.threads: must be an integer in 0..256"},
    {"/server/threads", "null", "server.threads: must be an integer in 0..256"},
    {"/server/public_url", std::nullopt, "server.public_url: is required"},
    {"/server/public_url", R"("ftp://example.com")",
     "server.public_url: must be an http:// or https:// URL with a host"},
    {"/server/public_url", R"("http://")",
     "server.public_url: must be an http:// or https:// URL with a host"},
    {"/server/public_url", R"("http:///notify")",
     "server.public_url: must be an http:// or https:// URL with a host"},
    {"/server/public_url", R"("http://example.com/?a=1")",
     "server.public_url: must be an http:// or https:// URL with a host"},
    {"/server/public_url", R"("http://example.com:0")",
     "server.public_url: must be an http:// or https:// URL with a host"},
    {"/server/public_url", R"("http://user@example.com")",
     "server.public_url: must be an http:// or https:// URL with a host"},
    {"/server/public_url", R"("http://exa mple.com")",
     "server.public_url: must be an http:// or https:// URL with a host"},
    {"/server/max_body_bytes", "100", "server.max_body_bytes: must be an integer in 1024..1048576"},
    {"/server/max_header_bytes", "70000",
     "server.max_header_bytes: must be an integer in 1024..65536"},
    {"/server/instance_id", "1000", "server.instance_id: must be an integer in 0..999"},
    {"/server/lease_ms", "999", "server.lease_ms: must be an integer in 1000..600000"},
    {"/server/lease_ms", "600001", "server.lease_ms: must be an integer in 1000..600000"},
    {"/server/lease_ms", R"("10000")", "server.lease_ms: must be an integer in 1000..600000"},
    {"/server/read_timeout_ms", "0", "server.read_timeout_ms: must be an integer in 1..3600000"},
    {"/server/idle_timeout_ms", "0", "server.idle_timeout_ms: must be an integer in 1..86400000"},
    {"/server/max_inflight_orders", "0",
     "server.max_inflight_orders: must be an integer in 1..10000000"},
    {"/server/max_waiting_orders", "0",
     "server.max_waiting_orders: must be an integer in 1..100000000"},
    {"/server/metrics_listen", R"("9100")",
     "server.metrics_listen: must be empty or host:port (IPv4, [IPv6] or localhost; port "
     "1..65535)"},
    // The merchant port itself, or a wildcard over it: with SO_REUSEPORT both listeners would
    // bind and split the merchant connections between them.
    {"/server/metrics_listen", R"("127.0.0.1:8080")",
     "server.metrics_listen: must not be the address and port of server.listen"},
    {"/server/metrics_listen", R"("localhost:8080")",
     "server.metrics_listen: must not be the address and port of server.listen"},
    {"/server/metrics_listen", R"("0.0.0.0:8080")",
     "server.metrics_listen: must not be the address and port of server.listen"},
    {"/server/log_level", R"("verbose")",
     "server.log_level: must be one of trace, debug, info, warn, error, critical, off"},
    {"/server/tls", R"("server.pem")", "server.tls: must be an object"},
    {"/server/tls", "null", "server.tls: must be an object"},
    {"/server/tls", R"({"key": "key.pem"})", "server.tls.cert: is required"},
    {"/server/tls", R"({"cert": "cert.pem"})", "server.tls.key: is required"},
    {"/server/tls", R"({"cert": "", "key": "key.pem"})",
     "server.tls.cert: must be a non-empty string"},
    {"/server/tls", R"({"cert": "cert.pem", "key": 1})",
     "server.tls.key: must be a non-empty string"},
    // redis
    {"/redis", std::nullopt, "redis: is required"},
    {"/redis/host", std::nullopt, "redis.host: is required"},
    {"/redis/host", "1", "redis.host: must be a string"},
    {"/redis/host", R"("")", "redis.host: must be a host name or IP address"},
    {"/redis/host", R"("127.0.0.1:6379")", "redis.host: must be a host name or IP address"},
    {"/redis/port", std::nullopt, "redis.port: is required"},
    {"/redis/port", "0", "redis.port: must be an integer in 1..65535"},
    {"/redis/port", "65536", "redis.port: must be an integer in 1..65535"},
    {"/redis/port", R"("6379")", "redis.port: must be an integer in 1..65535"},
    {"/redis/prefix", R"("")", "redis.prefix: must be 1-64 characters of [A-Za-z0-9_.:-]"},
    {"/redis/prefix", R"("topup{1}")", "redis.prefix: must be 1-64 characters of [A-Za-z0-9_.:-]"},
    {"/redis/password", "123", "redis.password: must be a string"},
    {"/redis/connect_timeout_ms", "0", "redis.connect_timeout_ms: must be an integer in 1..600000"},
    {"/redis/command_timeout_ms", "0", "redis.command_timeout_ms: must be an integer in 1..600000"},
    {"/redis/command_timeout_ms", "600001",
     "redis.command_timeout_ms: must be an integer in 1..600000"},
    {"/redis/min_replicas_acked", "17", "redis.min_replicas_acked: must be an integer in 0..16"},
    {"/redis/min_replicas_acked", "-1", "redis.min_replicas_acked: must be an integer in 0..16"},
    {"/redis/replica_wait_ms", "0", "redis.replica_wait_ms: must be an integer in 1..60000"},
    {"/redis/cluster", R"("yes")", "redis.cluster: must be true, false, 0 or 1"},
    {"/redis/nodes", R"(["127.0.0.1:7000"])", "redis.nodes: only with redis.cluster: true"},
    {"/redis", R"({"cluster": true})", "redis.nodes: is required"},
    {"/redis", R"({"cluster": true, "nodes": []})",
     R"(redis.nodes: must be a non-empty array of "host:port" strings)"},
    {"/redis", R"({"cluster": true, "nodes": "127.0.0.1:7000"})",
     R"(redis.nodes: must be a non-empty array of "host:port" strings)"},
    {"/redis", R"({"cluster": true, "nodes": ["127.0.0.1"]})",
     R"(redis.nodes[0]: must be "host:port" (a host name or IP address, a port 1..65535))"},
    {"/redis", R"({"cluster": true, "nodes": ["127.0.0.1:7000", "127.0.0.1:0"]})",
     R"(redis.nodes[1]: must be "host:port" (a host name or IP address, a port 1..65535))"},
    {"/redis", R"({"cluster": true, "nodes": ["a b:7000"]})",
     R"(redis.nodes[0]: must be "host:port" (a host name or IP address, a port 1..65535))"},
    {"/redis", R"({"cluster": true, "nodes": [7000]})",
     R"(redis.nodes[0]: must be "host:port" (a host name or IP address, a port 1..65535))"},
    {"/redis", R"({"cluster": true, "nodes": ["h:7000", "h:7000"]})",
     R"(redis.nodes[1]: duplicate node "h:7000")"},
    {"/redis", R"({"cluster": true, "nodes": ["h:7000"], "host": "127.0.0.1"})",
     "redis.host: not used with redis.cluster (see redis.nodes)"},
    {"/redis", R"({"cluster": true, "nodes": ["h:7000"], "port": 6379})",
     "redis.port: not used with redis.cluster (see redis.nodes)"},
    // admin
    {"/admin", std::nullopt, "admin: is required"},
    {"/admin/token", std::nullopt, "admin.token: is required"},
    {"/admin", R"({"operators": []})", "admin.token: is required"},
    {"/admin", R"({"operators": [{"name": "a b", "token": "t1", "role": "viewer"}]})",
     "admin.operators[0].name: must be 1-64 characters of [A-Za-z0-9_.-]"},
    {"/admin", R"({"operators": [{"name": "ops", "token": "t1", "role": "root"}]})",
     "admin.operators[0].role: must be viewer, operator or finance"},
    {"/admin", R"({"operators": [{"name": "ops", "token": "t1"}]})",
     "admin.operators[0].role: is required"},
    {"/admin",
     R"({"operators": [{"name": "a", "token": "t1", "role": "viewer"},
                      {"name": "a", "token": "t2", "role": "viewer"}]})",
     R"(admin.operators[1].name: duplicate name "a")"},
    {"/admin",
     R"({"operators": [{"name": "a", "token": "t1", "role": "viewer"},
                      {"name": "b", "token": "t1", "role": "finance"}]})",
     "admin.operators[1].token: the same token as a"},
    {"/admin", R"({"token": "t1", "operators": [{"name": "a", "token": "t1", "role": "viewer"}]})",
     "admin.token: the same token as a"},
    {"/admin", R"({"token": "t9", "operators": [{"name": "admin", "token": "t1", "role": "viewer"}]})",
     "admin.token: an operator is named admin already (admin.token is admin)"},
    {"/admin/token", R"("")", "admin.token: must be a non-empty string"},
    {"/admin/token", R"("change me")",
     "admin.token: must be visible ASCII characters, without spaces"},
    // security
    {"/security", "300", "security: must be an object"},
    {"/security/timestamp_skew_s", "0",
     "security.timestamp_skew_s: must be an integer in 1..86400"},
    // callbacks
    {"/callbacks/max_attempts", "0", "callbacks.max_attempts: must be an integer in 1..50"},
    {"/callbacks/max_attempts", "51", "callbacks.max_attempts: must be an integer in 1..50"},
    {"/callbacks/backoff_ms", "[]", "callbacks.backoff_ms: must be a non-empty array of integers"},
    {"/callbacks/backoff_ms", "0", "callbacks.backoff_ms: must be a non-empty array of integers"},
    {"/callbacks/backoff_ms", "[0, -1]",
     "callbacks.backoff_ms[1]: must be an integer in 0..604800000"},
    {"/callbacks/backoff_ms", "[0, 1.5]",
     "callbacks.backoff_ms[1]: must be an integer in 0..604800000"},
    {"/callbacks/timeout_ms", "0", "callbacks.timeout_ms: must be an integer in 1..600000"},
    {"/callbacks/allow_private_targets", R"("yes")",
     "callbacks.allow_private_targets: must be true, false, 0 or 1"},
    {"/callbacks/allow_private_targets", "2",
     "callbacks.allow_private_targets: must be true, false, 0 or 1"},
    {"/callbacks/max_concurrent_per_host", "0",
     "callbacks.max_concurrent_per_host: must be an integer in 1..10000"},
    {"/callbacks/max_inflight", "0", "callbacks.max_inflight: must be an integer in 1..1000000"},
    {"/callbacks/max_inflight", "1000001",
     "callbacks.max_inflight: must be an integer in 1..1000000"},
    // merchants
    {"/merchants", std::nullopt, "merchants: is required"},
    {"/merchants", "[]", "merchants: must be a non-empty array of objects"},
    {"/merchants", "{}", "merchants: must be a non-empty array of objects"},
    {"/merchants/0", "1001", "merchants[0]: must be an object"},
    {"/merchants/0/id", std::nullopt, "merchants[0].id: is required"},
    {"/merchants/0/id", "0", "merchants[0].id: must be an integer in 1..999999999999"},
    {"/merchants/0/id", "1000000000000", "merchants[0].id: must be an integer in 1..999999999999"},
    {"/merchants/0/id", R"("1001")", "merchants[0].id: must be an integer in 1..999999999999"},
    {"/merchants/1/id", "1001", "merchants[1].id: duplicate id 1001"},
    {"/merchants/0/app_key", std::nullopt, "merchants[0].app_key: is required"},
    {"/merchants/0/app_key", R"("")", "merchants[0].app_key: must be a non-empty string"},
    {"/merchants/1/app_key", R"("k1")", R"(merchants[1].app_key: duplicate app_key "k1")"},
    {"/merchants/0/app_secret", std::nullopt, "merchants[0].app_secret: is required"},
    {"/merchants/0/app_secret", R"("")", "merchants[0].app_secret: must be a non-empty string"},
    {"/merchants/0/app_secret", "42", "merchants[0].app_secret: must be a non-empty string"},
    {"/merchants/0/store_ids", std::nullopt, "merchants[0].store_ids: is required"},
    {"/merchants/0/store_ids", "[]",
     "merchants[0].store_ids: must be a non-empty array of strings"},
    {"/merchants/0/store_ids", R"("s1")",
     "merchants[0].store_ids: must be a non-empty array of strings"},
    {"/merchants/0/store_ids", R"(["s1", ""])",
     "merchants[0].store_ids[1]: must be a non-empty string"},
    {"/merchants/0/store_ids", R"(["s1", 2])",
     "merchants[0].store_ids[1]: must be a non-empty string"},
    {"/merchants/0/store_ids", R"(["s1", "s1"])",
     R"(merchants[0].store_ids[1]: duplicate store id "s1")"},
    {"/merchants/0/sign_types", "[]",
     "merchants[0].sign_types: must be a non-empty array of sign types"},
    {"/merchants/0/sign_types", R"(["SHA1"])",
     R"(merchants[0].sign_types[0]: unknown sign type "SHA1" (known: MD5, HMAC-SHA256))"},
    // Names are case-insensitive (spec §2), so "md5" is MD5 again.
    {"/merchants/0/sign_types", R"(["MD5", "md5"])",
     R"(merchants[0].sign_types[1]: duplicate sign type "md5")"},
    {"/merchants/0/sign_types", R"(["HMAC_SHA256"])",
     R"(merchants[0].sign_types[0]: unknown sign type "HMAC_SHA256" (known: MD5, HMAC-SHA256))"},
    {"/merchants/0/sign_types", "[1]", "merchants[0].sign_types[0]: must be a string"},
    {"/merchants/0/sign_types", R"(["MD5", "MD5"])",
     R"(merchants[0].sign_types[1]: duplicate sign type "MD5")"},
    {"/merchants/0/price_rate", std::nullopt, "merchants[0].price_rate: is required"},
    {"/merchants/0/price_rate", "0", "merchants[0].price_rate: must be a number in (0, 2]"},
    {"/merchants/0/price_rate", "-0.5", "merchants[0].price_rate: must be a number in (0, 2]"},
    {"/merchants/0/price_rate", "2.000001", "merchants[0].price_rate: must be a number in (0, 2]"},
    {"/merchants/0/price_rate", R"("0.995")",
     "merchants[0].price_rate: must be a number in (0, 2]"},
    {"/merchants/0/price_rate", "true", "merchants[0].price_rate: must be a number in (0, 2]"},
    {"/merchants/0/price_rate", "0.9951234",
     "merchants[0].price_rate: must have at most 6 decimal places"},
    {"/merchants/0/price_rate", "1e-9",
     "merchants[0].price_rate: must have at most 6 decimal places"},
    {"/merchants/0/default_change", "2",
     "merchants[0].default_change: must be true, false, 0 or 1"},
    {"/merchants/0/default_change", R"("1")",
     "merchants[0].default_change: must be true, false, 0 or 1"},
    {"/merchants/0/sandbox", R"("yes")", "merchants[0].sandbox: must be true, false, 0 or 1"},
    {"/merchants/0/daily_amount", "-1",
     "merchants[0].daily_amount: must be an integer in 0..1000000000000"},
    {"/risk", "[]", "risk: must be an object"},
    {"/risk", R"({"per_mobile_orders": 1.5})",
     "risk.per_mobile_orders: must be an integer in 0..1000000"},
    {"/risk", R"({"per_mobile_amount": "2000"})",
     "risk.per_mobile_amount: must be an integer in 0..1000000000"},
    {"/risk", R"({"window_s": 0})", "risk.window_s: must be an integer in 1..86400"},
    {"/storage", R"({"retention_days": 0})", "storage.retention_days: must be an integer in 1..3650"},
    {"/storage", R"({"retention_s": 600})",
     "storage.retention_s: must exceed twice security.timestamp_skew_s (a replayed request must "
     "never outlive its order's idempotency)"},
    {"/statements", R"({"timezone": "+8"})",
     "statements.timezone: must be a UTC offset like +08:00, -12:00..+14:00"},
    {"/statements", R"({"timezone": "+14:30"})",
     "statements.timezone: must be a UTC offset like +08:00, -12:00..+14:00"},
    {"/statements", R"({"dir": ""})", "statements.dir: must be a non-empty string"},
    {"/statements", R"({"delay_s": -1})", "statements.delay_s: must be an integer in 0..86400"},
    {"/merchants/0/allowed_ips", R"("10.0.0.1")",
     "merchants[0].allowed_ips: must be an array of IP addresses or CIDR networks"},
    {"/merchants/0/allowed_ips", "[5]", "merchants[0].allowed_ips[0]: must be a string"},
    {"/merchants/0/allowed_ips", R"([""])",
     R"(merchants[0].allowed_ips[0]: "" is not an IP address or CIDR network)"},
    {"/merchants/0/allowed_ips", R"(["10.0.0.0/8", "300.1.1.1"])",
     R"(merchants[0].allowed_ips[1]: "300.1.1.1" is not an IP address or CIDR network)"},
    {"/merchants/0/allowed_ips", R"(["10.0.0.0/33"])",
     R"(merchants[0].allowed_ips[0]: "10.0.0.0/33" is not an IP address or CIDR network)"},
    {"/merchants/0/allowed_ips", R"(["10.0.0.0/"])",
     R"(merchants[0].allowed_ips[0]: "10.0.0.0/" is not an IP address or CIDR network)"},
    {"/merchants/0/allowed_ips", R"(["example.com"])",
     R"(merchants[0].allowed_ips[0]: "example.com" is not an IP address or CIDR network)"},
    {"/merchants/0/allowed_ips", R"(["2001:db8::/129"])",
     R"(merchants[0].allowed_ips[0]: "2001:db8::/129" is not an IP address or CIDR network)"},
    {"/merchants/0/allowed_ips", R"(["10.0.0.1/8"])",
     R"(merchants[0].allowed_ips[0]: "10.0.0.1/8" has bits set after the /8 prefix)"},
    {"/merchants/0/allowed_ips", R"(["2001:db8::1/32"])",
     R"(merchants[0].allowed_ips[0]: "2001:db8::1/32" has bits set after the /32 prefix)"},
    {"/merchants/0/rate_limit_rps", "-1",
     "merchants[0].rate_limit_rps: must be an integer in 0..1000000"},
    {"/merchants/0/rate_limit_burst", "1000001",
     "merchants[0].rate_limit_burst: must be an integer in 0..1000000"},
    {"/merchants/0/slow_deadline_s", "0",
     "merchants[0].slow_deadline_s: must be an integer in 1..2592000"},
    {"/merchants/0/fast_deadline_s", "0",
     "merchants[0].fast_deadline_s: must be an integer in 1..2592000"},
    {"/merchants/0/enabled", R"("true")", "merchants[0].enabled: must be true, false, 0 or 1"},
    // channels: common fields
    {"/channels", "{}", "channels: must be an array of objects"},
    {"/channels/0", R"("up1")", "channels[0]: must be an object"},
    {"/channels/0/id", std::nullopt, "channels[0].id: is required"},
    {"/channels/0/id", R"("")", "channels[0].id: must be 1-32 characters of [A-Za-z0-9_-]"},
    {"/channels/0/id", R"("up 1")", "channels[0].id: must be 1-32 characters of [A-Za-z0-9_-]"},
    {"/channels/0/id", R"("abcdefghijklmnopqrstuvwxyz0123456")",
     "channels[0].id: must be 1-32 characters of [A-Za-z0-9_-]"},
    {"/channels/0/id", "1", "channels[0].id: must be a string"},
    {"/channels/2/id", R"("up1")", R"(channels[2].id: duplicate id "up1")"},
    {"/channels/0/kind", std::nullopt, "channels[0].kind: is required"},
    {"/channels/0/kind", R"("")", "channels[0].kind: must be a non-empty string"},
    {"/channels/2/kind", R"("foo")",
     R"(channels[2].kind: unknown channel kind "foo" (known: sim, wikeyun))"},
    {"/channels/1/carriers", std::nullopt, "channels[1].carriers: is required"},
    {"/channels/1/carriers", "[]",
     "channels[1].carriers: must be a non-empty array of carrier codes"},
    {"/channels/1/carriers", R"(["CMCC"])",
     R"(channels[1].carriers[0]: unknown carrier "CMCC" (known: cmcc, cucc, ctcc, cbn))"},
    {"/channels/1/carriers", "[1]", "channels[1].carriers[0]: must be a string"},
    {"/channels/1/carriers", R"(["cmcc", "cmcc"])",
     R"(channels[1].carriers[1]: duplicate carrier "cmcc")"},
    {"/channels/1/amounts", std::nullopt, "channels[1].amounts: is required"},
    {"/channels/1/amounts", "[]", "channels[1].amounts: must be a non-empty array of integers"},
    {"/channels/1/amounts", "[0]", "channels[1].amounts[0]: must be an integer in 1..10000"},
    {"/channels/1/amounts", "[50, 10001]",
     "channels[1].amounts[1]: must be an integer in 1..10000"},
    {"/channels/1/amounts", "[50.5]", "channels[1].amounts[0]: must be an integer in 1..10000"},
    {"/channels/1/amounts", R"(["50"])", "channels[1].amounts[0]: must be an integer in 1..10000"},
    {"/channels/1/amounts", "[50, 50]", "channels[1].amounts[1]: duplicate amount 50"},
    {"/channels/1/recharge_types", std::nullopt, "channels[1].recharge_types: is required"},
    {"/channels/1/recharge_types", "[]",
     "channels[1].recharge_types: must be a non-empty array of 0 and/or 1"},
    {"/channels/1/recharge_types", "[2]", "channels[1].recharge_types[0]: must be 0 or 1"},
    {"/channels/1/recharge_types", "[1, 1]",
     "channels[1].recharge_types[1]: duplicate recharge type 1"},
    {"/channels/1/cost_rate", std::nullopt, "channels[1].cost_rate: is required"},
    {"/channels/1/cost_rate", "0", "channels[1].cost_rate: must be a number in (0, 2]"},
    {"/channels/1/cost_rate", "2.01", "channels[1].cost_rate: must be a number in (0, 2]"},
    {"/channels/1/cost_rate", R"("0.99")", "channels[1].cost_rate: must be a number in (0, 2]"},
    {"/channels/1/priority", "1000001",
     "channels[1].priority: must be an integer in -1000000..1000000"},
    {"/channels/1/priority", "1.5",
     "channels[1].priority: must be an integer in -1000000..1000000"},
    {"/channels/1/timeout_ms", "0", "channels[1].timeout_ms: must be an integer in 1..600000"},
    {"/channels/1/query_interval_ms", "0",
     "channels[1].query_interval_ms: must be an integer in 1..3600000"},
    {"/channels/1/unknown_grace_ms", "-1",
     "channels[1].unknown_grace_ms: must be an integer in 0..604800000"},
    {"/channels/1/unknown_max_s", "0",
     "channels[1].unknown_max_s: must be an integer in 1..2592000"},
    {"/channels/1/unknown_max_s", "-86400",
     "channels[1].unknown_max_s: must be an integer in 1..2592000"},
    {"/channels/1/unknown_max_s", "2592001",
     "channels[1].unknown_max_s: must be an integer in 1..2592000"},
    {"/channels/1/unknown_max_s", "3600.5",
     "channels[1].unknown_max_s: must be an integer in 1..2592000"},
    {"/channels/1/unknown_max_s", R"("86400")",
     "channels[1].unknown_max_s: must be an integer in 1..2592000"},
    {"/channels/1/max_inflight", "0", "channels[1].max_inflight: must be an integer in 1..1000000"},
    {"/channels/1/enabled", "3", "channels[1].enabled: must be true, false, 0 or 1"},
    // channels: wikeyun fields
    {"/channels/0/url", std::nullopt, "channels[0].url: is required"},
    {"/channels/0/url", R"("")", "channels[0].url: must be a non-empty string"},
    {"/channels/0/url", R"("127.0.0.1:9000")",
     "channels[0].url: must be an http:// or https:// URL with a host"},
    {"/channels/0/app_key", std::nullopt, "channels[0].app_key: is required"},
    {"/channels/0/app_key", R"("")", "channels[0].app_key: must be a non-empty string"},
    {"/channels/0/app_secret", std::nullopt, "channels[0].app_secret: is required"},
    {"/channels/0/app_secret", "7", "channels[0].app_secret: must be a non-empty string"},
    {"/channels/0/store_id", std::nullopt, "channels[0].store_id: is required"},
    {"/channels/0/store_id", "[]", "channels[0].store_id: must be a non-empty string"},
    // channels: sim fields
    {"/channels/1/success_rate", "1.5", "channels[1].success_rate: must be a number in [0, 1]"},
    {"/channels/1/success_rate", R"("0.9")",
     "channels[1].success_rate: must be a number in [0, 1]"},
    {"/channels/1/unknown_rate", "-0.1", "channels[1].unknown_rate: must be a number in [0, 1]"},
    {"/channels/1/latency_ms", "[50, 5]",
     "channels[1].latency_ms: must be [min, max]: integers with 0 <= min <= max <= 600000"},
    {"/channels/1/latency_ms", "[5]",
     "channels[1].latency_ms: must be [min, max]: integers with 0 <= min <= max <= 600000"},
    {"/channels/1/latency_ms", "[-1, 5]",
     "channels[1].latency_ms: must be [min, max]: integers with 0 <= min <= max <= 600000"},
    {"/channels/1/latency_ms", "[0, 600001]",
     "channels[1].latency_ms: must be [min, max]: integers with 0 <= min <= max <= 600000"},
    {"/channels/1/latency_ms", "5",
     "channels[1].latency_ms: must be [min, max]: integers with 0 <= min <= max <= 600000"},
    {"/channels/1/seed", "-1", "channels[1].seed: must be a non-negative integer"},
    {"/channels/1/seed", "1.5", "channels[1].seed: must be a non-negative integer"},
    {"/channels/1/hold_mobiles", R"("13999999999")", k_bad_hold_mobiles},
    {"/channels/1/hold_mobiles", R"([13999999999])", k_bad_hold_mobiles},
    {"/channels/1/hold_mobiles", R"(["1399999999"])", k_bad_hold_mobiles},
    {"/channels/1/hold_mobiles", R"(["12999999999"])", k_bad_hold_mobiles},
};

INSTANTIATE_TEST_SUITE_P(ConfigValidation, ConfigBrokenField, testing::ValuesIn(k_broken_cases));

TEST(ConfigHelpers, ParseListenAddress) {
  auto v4 = topup::engine::parse_listen_address("0.0.0.0:80");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "0.0.0.0");
  EXPECT_EQ(v4->port, 80);
  auto v6 = topup::engine::parse_listen_address("[::]:65535");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::");
  EXPECT_EQ(v6->port, 65535);
  EXPECT_FALSE(topup::engine::parse_listen_address("1.2.3.4:+80"));
  EXPECT_FALSE(topup::engine::parse_listen_address("1.2.3.4:"));
  EXPECT_FALSE(topup::engine::parse_listen_address(std::string_view("1.2.3.4\0x:80", 11)));
}

TEST(ConfigHelpers, IsHttpUrl) {
  EXPECT_TRUE(topup::engine::is_http_url("http://127.0.0.1:9000"));
  EXPECT_TRUE(topup::engine::is_http_url("https://supplier.example.com/api/v2"));
  EXPECT_TRUE(topup::engine::is_http_url("http://[::1]:8080/"));
  EXPECT_FALSE(topup::engine::is_http_url("http://[::1"));
  EXPECT_FALSE(topup::engine::is_http_url("http://[zz]/"));
  EXPECT_FALSE(topup::engine::is_http_url("HTTP://example.com"));
  EXPECT_FALSE(topup::engine::is_http_url("http://example.com#top"));
  EXPECT_FALSE(topup::engine::is_http_url("http://-bad-.com"));
}

}  // namespace
