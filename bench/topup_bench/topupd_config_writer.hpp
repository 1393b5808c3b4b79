#pragma once
// The topupd configuration of each benchmark scenario (spec §8 shape), written as JSON text.
#include <cstdint>
#include <string>

namespace topup::bench {

/// topupd's `redis.prefix` in every scenario (the soak's sampler reads the keys under it).
inline constexpr const char* k_bench_redis_prefix = "bench";

/// How the one `sim` channel of a scenario behaves.
enum class channel_profile {
  /// Accepts every order and never answers within a run (latency 10 min, the sim's maximum;
  /// capacity 1,000,000): accepted orders sit in 7, so only intake is measured.
  hold,
  /// Succeeds at once (latency 0, success_rate 1): orders go 6→7→1→2 and are called back.
  instant,
  /// Serves only slow orders (recharge_type 0) and is always at capacity (max_inflight 1, one
  /// order parked for 10 min): every further slow order waits in 6 (slow_deadline_s 30 days).
  saturated_slow,
};

struct topupd_settings {
  std::uint16_t port = 0;
  std::uint16_t redis_port = 0;
  unsigned threads = 1;
  unsigned merchants = 8;
  channel_profile profile = channel_profile::hold;
  std::string log_level = "warn";
  std::string admin_token = "bench-admin-token";
  /// Concurrent callback deliveries per merchant host and shard (the bench's sink is one host).
  unsigned callback_concurrency_per_host = 64;
  /// Both set: `server.tls` with these PEM files (the intake_tls scenario); both empty: plain.
  std::string tls_cert_path;
  std::string tls_key_path;
  /// Non-zero: `storage.retention_s` (the soak scenario: final orders leave Redis after this many
  /// seconds untouched). topupd requires it to exceed twice `security.timestamp_skew_s`, so the
  /// skew becomes (retention_s - 1) / 2 (at most 300, the bench's default), and the requests of a
  /// run longer than that must carry paced timestamps (push_order_recipe).
  unsigned retention_s = 0;
  /// Non-empty: `statements.dir`, where retention archives the orders it takes out of Redis.
  std::string statements_dir;
  /// Non-zero: `redis.min_replicas_acked` (the intake_replica scenario: a replica must confirm
  /// every batch before its orders are acknowledged).
  unsigned min_replicas_acked = 0;
};

/// The configuration file text for `settings`.
std::string topupd_config_json(const topupd_settings& settings);

/// "hold" / "instant" / "saturated_slow"; false for any other name.
bool parse_channel_profile(const std::string& name, channel_profile& out);

}  // namespace topup::bench
