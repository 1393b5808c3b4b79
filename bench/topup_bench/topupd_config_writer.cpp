#include "bench/topup_bench/topupd_config_writer.hpp"

#include <boost/json.hpp>

#include <algorithm>

#include "bench/topup_bench/merchant_roster.hpp"

namespace topup::bench {

namespace json = boost::json;

namespace {

json::object sim_channel(channel_profile profile) {
  json::object c;
  c["id"] = "sim-bench";
  c["kind"] = "sim";
  c["carriers"] = json::array{"cmcc", "cucc", "ctcc", "cbn"};
  c["amounts"] = json::array{10, 20, 30, 50, 100, 200, 300, 500};
  c["cost_rate"] = 0.99;
  c["priority"] = 0;
  c["success_rate"] = 1.0;
  c["seed"] = 7;
  switch (profile) {
    case channel_profile::hold:
      c["recharge_types"] = json::array{0, 1};
      c["latency_ms"] = json::array{600000, 600000};
      c["max_inflight"] = 1000000;
      break;
    case channel_profile::instant:
      c["recharge_types"] = json::array{0, 1};
      c["latency_ms"] = json::array{0, 0};
      c["max_inflight"] = 1000000;
      break;
    case channel_profile::saturated_slow:
      c["recharge_types"] = json::array{0};
      c["latency_ms"] = json::array{600000, 600000};
      c["max_inflight"] = 1;
      break;
  }
  return c;
}

}  // namespace

std::string topupd_config_json(const topupd_settings& s) {
  const std::string listen = "127.0.0.1:" + std::to_string(s.port);
  json::object server;
  server["listen"] = listen;
  server["threads"] = s.threads;
  server["public_url"] = "http://" + listen;
  server["log_level"] = s.log_level;
  // The default bound (10,000 pushes in flight per shard) is far above what the bench's
  // connections can have outstanding; raised anyway so 429s can only mean a real limit.
  server["max_inflight_orders"] = 100000;
  if (!s.tls_cert_path.empty() || !s.tls_key_path.empty())
    server["tls"] = json::object{{"cert", s.tls_cert_path}, {"key", s.tls_key_path}};

  json::object redis;
  redis["host"] = "127.0.0.1";
  redis["port"] = s.redis_port;
  redis["prefix"] = k_bench_redis_prefix;
  if (s.min_replicas_acked > 0) redis["min_replicas_acked"] = s.min_replicas_acked;

  json::object callbacks;
  callbacks["max_attempts"] = 6;
  callbacks["backoff_ms"] = json::array{0, 1000, 5000};
  callbacks["timeout_ms"] = 5000;
  callbacks["allow_private_targets"] = true;  // the sink listens on loopback
  callbacks["max_concurrent_per_host"] = s.callback_concurrency_per_host;

  json::array merchants;
  for (const auto& m : merchant_roster(s.merchants)) {
    json::object o;
    o["id"] = m.id;
    o["app_key"] = m.app_key;
    o["app_secret"] = m.app_secret;
    o["store_ids"] = json::array{json::string(m.store_id)};
    o["sign_types"] = json::array{"MD5", "HMAC-SHA256"};
    o["price_rate"] = 0.995;
    o["default_change"] = 1;
    o["slow_deadline_s"] = 2592000;  // memory scenario: slow orders wait in 6 for the whole run
    merchants.push_back(std::move(o));
  }

  json::object root;
  root["server"] = std::move(server);
  root["redis"] = std::move(redis);
  root["admin"] = json::object{{"token", s.admin_token}};
  unsigned skew_s = 300;
  if (s.retention_s > 0) {
    skew_s = std::clamp((s.retention_s - 1) / 2, 1u, skew_s);
    root["storage"] = json::object{{"retention_s", s.retention_s}};
  }
  root["security"] = json::object{{"timestamp_skew_s", skew_s}};
  if (!s.statements_dir.empty()) root["statements"] = json::object{{"dir", s.statements_dir}};
  root["callbacks"] = std::move(callbacks);
  root["merchants"] = std::move(merchants);
  root["channels"] = json::array{sim_channel(s.profile)};
  return json::serialize(root);
}

bool parse_channel_profile(const std::string& name, channel_profile& out) {
  if (name == "hold") return out = channel_profile::hold, true;
  if (name == "instant") return out = channel_profile::instant, true;
  if (name == "saturated_slow") return out = channel_profile::saturated_slow, true;
  return false;
}

}  // namespace topup::bench
