#pragma once
// The configuration file of spec §8, parsed and validated as a whole before anything starts.
// Validation stops at the first problem and reports it as ONE line, "<field path>: <problem>",
// e.g. `channels[1].cost_rate: must be a number in (0, 2]`, which `topupd --check-config`
// prints as is. Unknown keys are ignored (the spec allows more keys); a known key with a value
// of the wrong type is an error, and so is a key repeated within one object.
//
// Conventions shared by every field:
// - integers must be JSON integers (`5`, not `5.0` or `"5"`), within the range the message names;
// - booleans accept `true`/`false` and also `1`/`0` (the spec's own `"default_change": 1`);
// - `null` is not "absent": a key that is present must have a value of its type;
// - rates (`price_rate`, `cost_rate`) are numbers in (0, 2] with at most 6 decimals, held as
//   integer parts per million (engine/order/money.hpp);
// - values echoed in messages are quoted and escaped; secrets are never echoed.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "engine/order/carrier.hpp"
#include "engine/config/sign_method.hpp"

namespace topup::engine {

/// `server.tls`: the PEM files of the merchant port's certificate and private key. Only the
/// paths are checked here; protocol/tls_server_context reads and checks the files themselves.
struct tls_files {
  std::string cert_path;  ///< The certificate, then any intermediates (a chain file).
  std::string key_path;   ///< The private key of the first certificate, unencrypted.
};

/// The `server` section: where and how the HTTP server runs.
struct server_config {
  /// An IP literal, without brackets for IPv6; `"localhost"` in the file becomes "127.0.0.1", so
  /// the runtime can hand it to `asio::ip::make_address` directly.
  std::string listen_host;
  std::uint16_t listen_port = 0;
  unsigned threads = 0;  ///< 0..256; 0 = one shard per core, resolved by the runtime.
  /// Base URL under which suppliers reach this instance (`<public_url>/notify/<channel id>`);
  /// http:// or https://, trailing '/' removed.
  std::string public_url;
  std::size_t max_body_bytes = 16384;     ///< 1024..1048576; over it: HTTP 413.
  std::size_t max_header_bytes = 8192;    ///< 1024..65536.
  std::uint32_t instance_id = 0;          ///< 0..999; distinguishes instances sharing one Redis.
  /// 1000..600000: how long the instance's lease in Redis lasts unrenewed (engine/store/lease). It is
  /// renewed every third of that; a topupd that cannot renew it for this long stops.
  std::uint32_t lease_ms = 10000;
  std::uint32_t read_timeout_ms = 10000;  ///< 1..3600000
  std::uint32_t idle_timeout_ms = 60000;  ///< 1..86400000
  std::uint32_t max_inflight_orders = 10000;  ///< 1..10000000, per shard; over it: 429/1008.
  /// Orders one shard keeps parked in 6 for a channel (wait lines), 1..100000000; a new order
  /// that would have to wait beyond it is refused 429/1008 before any debit.
  std::uint32_t max_waiting_orders = 1'000'000;
  /// Optional "host:port" (rules of `listen`, not its address): /metrics only there; empty = main.
  std::string metrics_listen;
  std::string log_level = "info";  ///< trace, debug, info, warn, error, critical or off.
  /// Set: the merchant port (`listen`) speaks TLS only. `metrics_listen` stays plain HTTP.
  std::optional<tls_files> tls;
};

/// The `redis` section.
struct redis_config {
  std::string host;  ///< A host name or an IP address (no port: that is `port`). Not with cluster.
  std::uint16_t port = 0;                   ///< Required without `cluster`; not with it.
  /// Redis Cluster (engine/redis/cluster_router): the slot map is read from `nodes`.
  bool cluster = false;
  /// With `cluster` (required then, only then): seed nodes, "host:port" (a host name or IPv4
  /// address, a port 1..65535), at least one, no repeats; any reachable one will do.
  std::vector<std::string> nodes;
  std::string prefix = "topup";             ///< Key prefix: 1-64 characters of [A-Za-z0-9_.:-].
  std::string password;                     ///< Empty = no AUTH.
  std::uint32_t connect_timeout_ms = 2000;  ///< 1..600000
  /// A command unanswered this long drops the connection (pending commands fail, reconnect).
  std::uint32_t command_timeout_ms = 5000;  ///< 1..600000
  /// 0..16: an accept (or credit) is acknowledged only once WAIT confirms this many replicas
  /// have it; fewer within replica_wait_ms: answered as an unknown outcome (5002).
  std::uint32_t min_replicas_acked = 0;
  std::uint32_t replica_wait_ms = 500;  ///< 1..60000: WAIT's timeout.
};

/// The `admin` section: the bearer token of the operations API (spec §7).
/// One entry of `admin.operators` (spec §7): every operator reads; `operator` also re-notifies,
/// enables and disables channels, changes the blacklist and settles; `finance` also credits.
struct admin_operator {
  std::string name;    ///< 1-64 of [A-Za-z0-9_.-], unique: what the actions are recorded with.
  std::string token;   ///< Visible ASCII, unique across operators.
  bool operate = false;
  bool credit = false;
};

struct admin_config {
  /// The single `admin.token` (optional when `operators` are given): the operator `admin`, with
  /// every role. Empty when not set.
  std::string token;
  /// Every operator, `admin` included when `token` is set (appended last). Never empty.
  std::vector<admin_operator> operators;
};

/// `risk` (spec §3.8, §8): limits of 0 mean none.
struct risk_config {
  std::int64_t per_mobile_orders = 0;  ///< 0..1000000 orders per number per window.
  std::int64_t per_mobile_amount = 0;  ///< 0..1000000000 yuan (face value) per number per window.
  std::int64_t daily_amount = 0;       ///< 0..1000000000000 yuan per merchant per business day.
  std::int64_t window_s = 86400;       ///< 1..86400: the per-number rolling window (tests shorten it).
  /// The business day's UTC offset: `statements.timezone`'s (spec §3.7).
  std::int64_t day_offset_s = 8 * 3600;
};

/// The `storage` section (spec §8, issue 16): how long a final order stays in Redis.
struct storage_config {
  /// `retention_days` (1..3650, default 7) in ms, or `retention_s` (1..315360000) when set, which
  /// tests use. Must exceed twice `security.timestamp_skew_s`: a signed request replayed
  /// byte for byte is refused (1004) before its order can have left Redis, so a replay never
  /// makes a second order (docs/DECISIONS.md "Retention").
  std::int64_t retention_ms = 7LL * 86400 * 1000;
};

/// The `statements` section (spec §3.7, §8): daily statements and the archive of what left Redis.
struct statements_config {
  std::string dir = "/var/lib/topupd/statements";  ///< Non-empty; shared storage across instances.
  std::int64_t offset_s = 8 * 3600;  ///< `timezone` "+08:00": the business day's UTC offset.
  std::int64_t delay_s = 600;        ///< 0..86400: how long after midnight a day's statement waits.
};

/// The `security` section.
struct security_config {
  std::int64_t timestamp_skew_s = 300;  ///< 1..86400; wider than that gets 1004 (spec §2).
};

/// The `callbacks` section: merchant result callbacks (spec §5).
struct callbacks_config {
  std::uint32_t max_attempts = 6;  ///< 1..50 deliveries in all, the first one included.
  /// Delay before each delivery: entry n-1 is the wait before delivery n, counted from the order
  /// becoming final for n = 1 and from the previous failed delivery otherwise. Non-empty, each
  /// 0..604800000 (7 days). Shorter than `max_attempts`: the last value repeats; longer: the
  /// extra values are unused.
  std::vector<std::uint64_t> backoff_ms = {0, 15000, 60000, 300000, 1800000, 7200000};
  std::uint32_t timeout_ms = 5000;  ///< 1..600000, per delivery.
  bool allow_private_targets = false;
  std::uint32_t max_concurrent_per_host = 8;  ///< 1..10000
  /// 1..1000000: deliveries out at once per shard; beyond it callbacks stay due for a later scan.
  std::uint32_t max_inflight = 1000;

  /// The wait before delivery `attempt` (1-based), applying the "last value repeats" rule.
  std::uint64_t delay_before_attempt_ms(std::uint32_t attempt) const noexcept {
    const std::size_t index = attempt == 0 ? 0 : attempt - 1;
    return backoff_ms.empty() ? 0 : backoff_ms[std::min(index, backoff_ms.size() - 1)];
  }
};

/// One entry of `merchants`.
struct merchant_config {
  std::int64_t id = 0;                 ///< 1..999999999999, unique.
  std::string app_key;                 ///< Non-empty, unique across merchants.
  std::string app_secret;              ///< Non-empty.
  std::vector<std::string> store_ids;  ///< Non-empty, each non-empty, no duplicates.
  /// Methods this merchant may sign with; "MD5" / "HMAC-SHA256", non-empty, no duplicates.
  std::vector<sign_method> sign_types = {sign_method::md5, sign_method::hmac_sha256};
  std::int64_t price_rate_ppm = 0;  ///< Required `price_rate`: debit = money x rate.
  bool default_change = true;       ///< `change` when the request leaves it out.
  /// IPv4/IPv6 addresses or CIDR networks (no host bits beyond the prefix); empty = any source.
  std::vector<std::string> allowed_ips;
  std::uint32_t rate_limit_rps = 0;       ///< 0..1000000; 0 = unlimited.
  std::uint32_t rate_limit_burst = 0;     ///< 0..1000000; 0 = same as rps.
  std::uint32_t slow_deadline_s = 86400;  ///< 1..2592000: how long a slow order may wait in 6.
  /// 1..2592000: how long a fast order may wait in 6 for a channel with capacity or health.
  std::uint32_t fast_deadline_s = 60;
  bool enabled = true;
  /// A test merchant (spec §3.8): its orders go only to simulated channels, whatever `source`.
  bool sandbox = false;
  /// This merchant's own `daily_amount` (yuan per business day, 0: none), instead of risk's.
  std::optional<std::int64_t> daily_amount;
};

/// The channel kind that simulates a supplier in-process (channels/sim): the only kind a sandbox
/// merchant's orders may reach.
inline constexpr std::string_view k_simulated_kind = "sim";

/// One entry of `channels`: the fields every kind has. Kind-specific fields stay in `raw_json`
/// and are checked by the kind validator (channels/channel_kinds.hpp).
struct channel_config {
  std::string id;                 ///< 1-32 characters of [A-Za-z0-9_-], unique.
  std::string kind;               ///< Non-empty; whether it is known is the kind validator's call.
  std::vector<carrier> carriers;  ///< Non-empty, no duplicates ("cmcc", "cucc", ...).
  std::vector<std::int64_t> amounts;       ///< Yuan, each 1..10000, non-empty, no duplicates.
  std::vector<int> recharge_types;         ///< Non-empty subset of {0, 1}, no duplicates.
  std::int64_t cost_rate_ppm = 0;          ///< Required `cost_rate`.
  int priority = 0;                        ///< -1000000..1000000; higher wins among equal costs.
  std::uint32_t timeout_ms = 3000;         ///< 1..600000, per supplier request.
  std::uint32_t query_interval_ms = 1000;  ///< 1..3600000
  std::uint64_t unknown_grace_ms = 60000;  ///< 0..604800000
  std::int64_t unknown_max_s = 86400;      ///< 1..2592000; then in the exception queue (spec §6)
  std::uint32_t max_inflight = 1000;       ///< 1..1000000
  bool enabled = true;
  /// The channel's whole JSON object, re-serialized (minified), for kind-specific fields.
  std::string raw_json;

  /// An in-process simulated supplier (kind `sim`): no top-up reaches a carrier through it.
  bool simulated() const noexcept { return kind == k_simulated_kind; }
};

/// The whole validated configuration; immutable once the server runs.
struct config {
  server_config server;
  redis_config redis;
  admin_config admin;
  security_config security;
  risk_config risk;
  storage_config storage;
  statements_config statements;
  callbacks_config callbacks;
  std::vector<merchant_config> merchants;  ///< At least one.
  std::vector<channel_config> channels;    ///< May be empty: orders then wait in 6.
};

/// Why a configuration was refused: one line, no newline, "<field path>: <problem>".
struct config_error {
  std::string message;
};

/// Checks the kind-specific part of one channel, after its common fields passed. Returns one
/// line naming the field (prefixed with `field_path_prefix`, e.g. "channels[1]") and the
/// problem, an unknown kind included; nullopt when the channel is fine.
using channel_kind_validator = std::function<std::optional<std::string>(
    const channel_config&, std::string_view field_path_prefix)>;

/// Parses and validates the JSON text of a configuration. Never throws for bad input. An
/// empty `validate_kind` accepts every kind (for tests of the engine alone).
std::variant<config, config_error> parse_config(std::string_view json_text,
                                                const channel_kind_validator& validate_kind);

/// Reads `path` and parses it; an unreadable file gives "config: cannot read <path>: <reason>".
std::variant<config, config_error> load_config_file(const std::string& path,
                                                    const channel_kind_validator& validate_kind);

/// The whole of a file the configuration names (the configuration itself, `server.tls`'s PEM
/// files), at most `max_bytes`; nullopt with `why` set ("No such file or directory", "Is a
/// directory", "larger than N bytes", ...) when it cannot be read.
std::optional<std::string> read_config_input(const std::string& path, std::size_t max_bytes,
                                             std::string& why);

/// A parsed "host:port" as `server.listen` accepts it.
struct listen_address {
  std::string host;  ///< IP literal, IPv6 without brackets; "localhost" becomes "127.0.0.1".
  std::uint16_t port = 0;
};

/// "1.2.3.4:80", "[::1]:80" or "localhost:80" with a port in 1..65535; nullopt otherwise.
std::optional<listen_address> parse_listen_address(std::string_view text);

/// True for "http://" or "https://" followed by a non-empty host (a bracketed IPv6 literal or a
/// name), an optional port in 1..65535 and an optional path; no query, fragment, user info,
/// spaces or control characters.
bool is_http_url(std::string_view text);

/// `text` in double quotes with '"', '\\' and control characters escaped and at most 64
/// characters kept, so that a value echoed in an error message cannot break its one line.
std::string quote_for_message(std::string_view text);

}  // namespace topup::engine
