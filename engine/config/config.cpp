#include "engine/config/config.hpp"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>
#include <boost/json/stream_parser.hpp>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <system_error>
#include <type_traits>
#include <utility>

#include "engine/order/money.hpp"
#include "engine/retention/business_day.hpp"

namespace topup::engine {
namespace {

namespace dom = simdjson::dom;
namespace ip = boost::asio::ip;

/// Bigger than any sane configuration, small enough that reading one is never a memory hazard.
constexpr std::size_t k_max_config_bytes = 16 * 1024 * 1024;
constexpr std::int64_t k_max_backoff_ms = 7LL * 24 * 3600 * 1000;

enum class presence { optional, required };

/// Keeps the first problem found. Later checks see `failed()` and do nothing, so the report
/// names exactly one field even though validation code reads straight through a section.
class problem_sink {
 public:
  bool failed() const noexcept { return message_.has_value(); }

  void fail(std::string_view path, std::string_view problem) {
    if (message_) return;
    message_.emplace(path);
    message_->append(": ").append(problem);
  }

  /// A complete line from elsewhere (the kind validator); kept on one line whatever it holds.
  void fail_line(std::string line) {
    if (message_) return;
    for (char& c : line) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    message_ = std::move(line);
  }

  const std::string& message() const { return *message_; }

 private:
  std::optional<std::string> message_;
};

std::string member_path(std::string_view parent, std::string_view key) {
  std::string path(parent);
  if (!path.empty()) path += '.';
  path += key;
  return path;
}

std::string item_path(std::string_view parent, std::size_t index) {
  std::string path(parent);
  path.append("[").append(std::to_string(index)).append("]");
  return path;
}

/// One JSON object under validation: looks known keys up, refuses a key given twice (simdjson
/// would silently pick one of them, and which value an operator meant is anyone's guess).
class object_fields {
 public:
  object_fields(dom::object object, std::string path, problem_sink& sink)
      : object_(object), path_(std::move(path)), sink_(&sink) {
    std::vector<std::string_view> seen;
    for (dom::key_value_pair field : object_) {
      if (std::find(seen.begin(), seen.end(), field.key) != seen.end()) {
        sink_->fail(path_.empty() ? "config" : path_,
                    "key " + quote_for_message(field.key) + " appears more than once");
        return;
      }
      seen.push_back(field.key);
    }
  }

  /// The value of `key`; nullopt when absent or once a problem has been recorded.
  std::optional<dom::element> find(std::string_view key) const {
    if (sink_->failed()) return std::nullopt;
    dom::element value;
    if (object_.at_key(key).get(value) != simdjson::SUCCESS) return std::nullopt;
    return value;
  }

  std::string path_of(std::string_view key) const { return member_path(path_, key); }
  bool failed() const noexcept { return sink_->failed(); }
  problem_sink& sink() const noexcept { return *sink_; }
  void fail(std::string_view key, std::string_view problem) const {
    sink_->fail(path_of(key), problem);
  }

 private:
  dom::object object_;
  std::string path_;
  problem_sink* sink_;
};

/// The element of a present key, or nullopt; records "is required" when a required key is absent.
std::optional<dom::element> find_field(const object_fields& fields, std::string_view key,
                                       presence p) {
  if (fields.failed()) return std::nullopt;
  auto value = fields.find(key);
  if (!value && p == presence::required) fields.fail(key, "is required");
  return value;
}

std::string range_text(std::int64_t min, std::int64_t max) {
  return std::to_string(min) + ".." + std::to_string(max);
}

/// A JSON integer (not 5.0, not "5") within [min, max].
std::optional<std::int64_t> integer_in(dom::element e, std::int64_t min, std::int64_t max) {
  std::int64_t value = 0;
  // Integers above INT64_MAX come as UINT64 and get_int64 refuses them: out of every range here.
  if (e.get_int64().get(value) != simdjson::SUCCESS) return std::nullopt;
  if (value < min || value > max) return std::nullopt;
  return value;
}

template <class T>
void read_integer(const object_fields& fields, std::string_view key, std::int64_t min,
                  std::int64_t max, T& out, presence p = presence::optional) {
  static_assert(std::is_integral_v<T>);
  auto value = find_field(fields, key, p);
  if (!value) return;
  auto number = integer_in(*value, min, max);
  if (!number) return fields.fail(key, "must be an integer in " + range_text(min, max));
  out = static_cast<T>(*number);
}

enum class string_rule { any, non_empty };

std::optional<std::string_view> read_string(const object_fields& fields, std::string_view key,
                                            presence p, string_rule rule) {
  auto value = find_field(fields, key, p);
  if (!value) return std::nullopt;
  std::string_view text;
  if (value->get_string().get(text) != simdjson::SUCCESS ||
      (rule == string_rule::non_empty && text.empty())) {
    fields.fail(key,
                rule == string_rule::non_empty ? "must be a non-empty string" : "must be a string");
    return std::nullopt;
  }
  return text;
}

/// true/false, or 1/0 as the spec's own example writes `"default_change": 1`.
void read_flag(const object_fields& fields, std::string_view key, bool& out) {
  auto value = find_field(fields, key, presence::optional);
  if (!value) return;
  bool flag = false;
  std::int64_t number = 0;
  if (value->get_bool().get(flag) == simdjson::SUCCESS) {
    out = flag;
  } else if (value->get_int64().get(number) == simdjson::SUCCESS && (number == 0 || number == 1)) {
    out = number == 1;
  } else {
    fields.fail(key, "must be true, false, 0 or 1");
  }
}

/// A required rate in (0, 2], exact to the ppm: a rate finer than that would be rounded
/// silently, and rates decide how much money moves.
void read_rate(const object_fields& fields, std::string_view key, std::int64_t& out_ppm) {
  auto value = find_field(fields, key, presence::required);
  if (!value) return;
  double rate = 0;
  if (value->get_double().get(rate) != simdjson::SUCCESS || !(rate > 0.0 && rate <= 2.0)) {
    return fields.fail(key, "must be a number in (0, 2]");
  }
  auto ppm = rate_to_ppm(rate);
  const double scaled = rate * static_cast<double>(k_rate_one_ppm);
  if (!ppm || std::abs(scaled - static_cast<double>(*ppm)) > 1e-3) {
    return fields.fail(key, "must have at most 6 decimal places");
  }
  out_ppm = *ppm;
}

/// The array of a present key; records `must be a [non-empty ]array of <what>` otherwise.
std::optional<dom::array> read_array(const object_fields& fields, std::string_view key, presence p,
                                     bool allow_empty, std::string_view what) {
  auto value = find_field(fields, key, p);
  if (!value) return std::nullopt;
  dom::array items;
  if (value->get_array().get(items) != simdjson::SUCCESS || (!allow_empty && items.size() == 0)) {
    fields.fail(key,
                std::string(allow_empty ? "must be an array of " : "must be a non-empty array of ")
                    .append(what));
    return std::nullopt;
  }
  return items;
}

std::optional<object_fields> read_object(const object_fields& parent, std::string_view key,
                                         presence p) {
  auto value = find_field(parent, key, p);
  if (!value) return std::nullopt;
  dom::object object;
  if (value->get_object().get(object) != simdjson::SUCCESS) {
    parent.fail(key, "must be an object");
    return std::nullopt;
  }
  object_fields fields(object, parent.path_of(key), parent.sink());
  if (fields.failed()) return std::nullopt;
  return fields;
}

bool visible_ascii(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  unsigned value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value < 1 || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

/// A DNS name (labels of [A-Za-z0-9-], not starting or ending with '-') or an IPv4 literal.
bool is_host_name(std::string_view text) {
  if (text.empty() || text.size() > 253) return false;
  std::size_t label_start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '.') {
      const std::string_view label = text.substr(label_start, i - label_start);
      if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
        return false;
      }
      label_start = i + 1;
      continue;
    }
    const char c = text[i];
    const bool allowed =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!allowed) return false;
  }
  return true;
}

bool is_ip_address(std::string_view text) {
  if (!visible_ascii(text)) return false;  // asio copies to a C string: no NUL may hide a tail
  boost::system::error_code ec;
  ip::make_address(text, ec);
  return !ec;
}

/// Checks one `allowed_ips` entry; nullopt when it is a valid address or network.
std::optional<std::string> ip_entry_problem(std::string_view text) {
  const std::string bad = quote_for_message(text) + " is not an IP address or CIDR network";
  if (!visible_ascii(text)) return bad;
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) {
    if (!is_ip_address(text)) return bad;
    return std::nullopt;
  }
  boost::system::error_code ec;
  bool host_bits = false;
  if (text.find(':') == std::string_view::npos) {
    const ip::network_v4 network = ip::make_network_v4(text, ec);
    host_bits = !ec && network.address() != network.network();
  } else {
    const ip::network_v6 network = ip::make_network_v6(text, ec);
    host_bits = !ec && network.address() != network.network();
  }
  if (ec) return bad;
  // "10.0.0.1/8" is most likely a typo for an address or for "10.0.0.0/8": make the operator say.
  if (host_bits) {
    return quote_for_message(text) + " has bits set after the /" +
           std::string(text.substr(slash + 1)) + " prefix";
  }
  return std::nullopt;
}

void read_server(const object_fields& top, server_config& out) {
  auto fields = read_object(top, "server", presence::required);
  if (!fields) return;
  const object_fields& f = *fields;
  if (auto listen = read_string(f, "listen", presence::required, string_rule::any)) {
    auto address = parse_listen_address(*listen);
    if (!address)
      return f.fail("listen", "must be host:port (IPv4, [IPv6] or localhost; port 1..65535)");
    out.listen_host = std::move(address->host);
    out.listen_port = address->port;
  }
  read_integer(f, "threads", 0, 256, out.threads);
  if (auto url = read_string(f, "public_url", presence::required, string_rule::any)) {
    if (!is_http_url(*url))
      return f.fail("public_url", "must be an http:// or https:// URL with a host");
    std::string_view base = *url;
    // Trailing '/' would double up in "<public_url>/notify/<channel id>".
    while (base.back() == '/') base.remove_suffix(1);
    out.public_url = std::string(base);
  }
  read_integer(f, "max_body_bytes", 1024, 1024 * 1024, out.max_body_bytes);
  read_integer(f, "max_header_bytes", 1024, 65536, out.max_header_bytes);
  read_integer(f, "instance_id", 0, 999, out.instance_id);
  read_integer(f, "lease_ms", 1000, 600'000, out.lease_ms);
  read_integer(f, "read_timeout_ms", 1, 3'600'000, out.read_timeout_ms);
  read_integer(f, "idle_timeout_ms", 1, 86'400'000, out.idle_timeout_ms);
  read_integer(f, "max_inflight_orders", 1, 10'000'000, out.max_inflight_orders);
  read_integer(f, "max_waiting_orders", 1, 100'000'000, out.max_waiting_orders);
  if (auto metrics = read_string(f, "metrics_listen", presence::optional, string_rule::any)) {
    const auto address = metrics->empty() ? std::nullopt : parse_listen_address(*metrics);
    if (!metrics->empty() && !address) {
      return f.fail("metrics_listen",
                    "must be empty or host:port (IPv4, [IPv6] or localhost; port 1..65535)");
    }
    // Both listeners set SO_REUSEPORT: on the merchant port (or a wildcard over it) the kernel
    // would let the metrics listener bind and hand it a share of the merchant connections.
    const auto unspecified = [](const std::string& host) {
      boost::system::error_code ec;
      const auto parsed = ip::make_address(host, ec);
      return !ec && parsed.is_unspecified();
    };
    if (address && address->port == out.listen_port &&
        (address->host == out.listen_host || unspecified(address->host) ||
         unspecified(out.listen_host))) {
      return f.fail("metrics_listen", "must not be the address and port of server.listen");
    }
    out.metrics_listen = std::string(*metrics);
  }
  if (auto level = read_string(f, "log_level", presence::optional, string_rule::any)) {
    constexpr std::array<std::string_view, 7> k_levels = {"trace", "debug",    "info", "warn",
                                                          "error", "critical", "off"};
    if (std::find(k_levels.begin(), k_levels.end(), *level) == k_levels.end()) {
      return f.fail("log_level", "must be one of trace, debug, info, warn, error, critical, off");
    }
    out.log_level = std::string(*level);
  }
  if (auto tls = read_object(f, "tls", presence::optional)) {
    auto cert = read_string(*tls, "cert", presence::required, string_rule::non_empty);
    auto key = read_string(*tls, "key", presence::required, string_rule::non_empty);
    if (cert && key) out.tls = tls_files{std::string(*cert), std::string(*key)};
  }
}

/// A required non-empty array of distinct strings under `key`, each one `fine` (else that item
/// fails with `bad`); a repeat fails as "duplicate <one> \"...\"".
template <class Fine>
void read_distinct_strings(const object_fields& f, std::string_view key, std::string_view plural,
                           std::string_view bad, std::string_view one, Fine fine,
                           std::vector<std::string>& out) {
  auto items = read_array(f, key, presence::required, false, plural);
  if (!items) return;
  const std::string path = f.path_of(key);
  std::size_t index = 0;
  for (dom::element item : *items) {
    std::string_view text;
    if (item.get_string().get(text) != simdjson::SUCCESS || !fine(text)) {
      return f.sink().fail(item_path(path, index), bad);
    }
    if (std::find(out.begin(), out.end(), text) != out.end()) {
      return f.sink().fail(item_path(path, index),
                           "duplicate " + std::string(one) + " " + quote_for_message(text));
    }
    out.emplace_back(text);
    ++index;
  }
}

/// `redis.nodes`: "host:port" seeds of a Redis Cluster.
void read_cluster_nodes(const object_fields& f, std::vector<std::string>& out) {
  auto is_node = [](std::string_view node) {
    const auto colon = node.rfind(':');
    if (colon == std::string_view::npos) return false;
    const auto host = node.substr(0, colon);
    return (is_host_name(host) || is_ip_address(host)) && parse_port(node.substr(colon + 1));
  };
  read_distinct_strings(f, "nodes", "\"host:port\" strings",
                        "must be \"host:port\" (a host name or IP address, a port 1..65535)",
                        "node", is_node, out);
}

void read_redis(const object_fields& top, redis_config& out) {
  auto fields = read_object(top, "redis", presence::required);
  if (!fields) return;
  const object_fields& f = *fields;
  read_flag(f, "cluster", out.cluster);
  if (out.cluster) {
    // The seeds are `nodes`: a `host` or `port` as well would leave the operator guessing which
    // one topupd uses.
    for (std::string_view single : {std::string_view("host"), std::string_view("port")})
      if (f.find(single)) return f.fail(single, "not used with redis.cluster (see redis.nodes)");
    read_cluster_nodes(f, out.nodes);
  } else {
    if (f.find("nodes")) return f.fail("nodes", "only with redis.cluster: true");
    if (auto host = read_string(f, "host", presence::required, string_rule::any)) {
      if (!is_host_name(*host) && !is_ip_address(*host)) {
        return f.fail("host", "must be a host name or IP address");
      }
      out.host = std::string(*host);
    }
    read_integer(f, "port", 1, 65535, out.port, presence::required);
  }
  if (auto prefix = read_string(f, "prefix", presence::optional, string_rule::any)) {
    // Braces would interfere with the hash tags that keep a merchant's keys on one slot.
    const bool fine = !prefix->empty() && prefix->size() <= 64 &&
                      std::all_of(prefix->begin(), prefix->end(), [](char c) {
                        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                               (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' ||
                               c == '-';
                      });
    if (!fine) return f.fail("prefix", "must be 1-64 characters of [A-Za-z0-9_.:-]");
    out.prefix = std::string(*prefix);
  }
  if (auto password = read_string(f, "password", presence::optional, string_rule::any)) {
    out.password = std::string(*password);
  }
  read_integer(f, "connect_timeout_ms", 1, 600'000, out.connect_timeout_ms);
  read_integer(f, "command_timeout_ms", 1, 600'000, out.command_timeout_ms);
  read_integer(f, "min_replicas_acked", 0, 16, out.min_replicas_acked);
  read_integer(f, "replica_wait_ms", 1, 60'000, out.replica_wait_ms);
}

/// A token travels in "Authorization: Bearer <token>": nothing a header cannot carry verbatim.
std::optional<std::string> read_token(const object_fields& f, presence p) {
  auto token = read_string(f, "token", p, string_rule::non_empty);
  if (!token) return std::nullopt;
  if (!visible_ascii(*token)) {
    f.fail("token", "must be visible ASCII characters, without spaces");
    return std::nullopt;
  }
  return std::string(*token);
}

bool is_operator_name(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-';
  });
}

void read_operator(const object_fields& f, const std::vector<admin_operator>& earlier,
                   admin_operator& out) {
  if (auto name = read_string(f, "name", presence::required, string_rule::any)) {
    if (!is_operator_name(*name)) return f.fail("name", "must be 1-64 characters of [A-Za-z0-9_.-]");
    for (const auto& other : earlier)
      if (other.name == *name) return f.fail("name", "duplicate name " + quote_for_message(*name));
    out.name = std::string(*name);
  }
  if (auto token = read_token(f, presence::required)) {
    for (const auto& other : earlier)
      if (other.token == *token) return f.fail("token", "the same token as " + other.name);
    out.token = std::move(*token);
  }
  if (auto role = read_string(f, "role", presence::required, string_rule::any)) {
    if (*role == "operator") out.operate = true;
    else if (*role == "finance") out.credit = true;
    else if (*role != "viewer") return f.fail("role", "must be viewer, operator or finance");
  }
}

void read_admin(const object_fields& top, admin_config& out) {
  auto fields = read_object(top, "admin", presence::required);
  if (!fields) return;
  const object_fields& f = *fields;
  auto items = read_array(f, "operators", presence::optional, true, "objects");
  if (f.failed()) return;
  if (items) {
    std::size_t index = 0;
    for (dom::element item : *items) {
      const std::string path = item_path("admin.operators", index++);
      dom::object object;
      if (item.get_object().get(object) != simdjson::SUCCESS)
        return f.sink().fail(path, "must be an object");
      object_fields op_fields(object, path, f.sink());
      admin_operator op;
      read_operator(op_fields, out.operators, op);
      if (f.failed()) return;
      out.operators.push_back(std::move(op));
    }
  }
  if (auto token = read_token(f, out.operators.empty() ? presence::required : presence::optional)) {
    for (const auto& other : out.operators) {
      if (other.token == *token) return f.fail("token", "the same token as " + other.name);
      if (other.name == "admin")
        return f.fail("token", "an operator is named admin already (admin.token is admin)");
    }
    out.token = *token;
    out.operators.push_back(admin_operator{"admin", std::move(*token), true, true});
  }
}

void read_security(const object_fields& top, security_config& out) {
  auto fields = read_object(top, "security", presence::optional);
  if (!fields) return;
  read_integer(*fields, "timestamp_skew_s", 1, 86400, out.timestamp_skew_s);
}

void read_risk(const object_fields& top, risk_config& out) {
  auto fields = read_object(top, "risk", presence::optional);
  if (!fields) return;
  read_integer(*fields, "per_mobile_orders", 0, 1'000'000, out.per_mobile_orders);
  read_integer(*fields, "per_mobile_amount", 0, 1'000'000'000, out.per_mobile_amount);
  read_integer(*fields, "daily_amount", 0, 1'000'000'000'000, out.daily_amount);
  read_integer(*fields, "window_s", 1, 86400, out.window_s);
}

void read_storage(const object_fields& top, const security_config& security,
                  storage_config& out) {
  auto fields = read_object(top, "storage", presence::optional);
  if (!fields) return;
  std::int64_t days = 7;
  std::int64_t seconds = 0;
  read_integer(*fields, "retention_days", 1, 3650, days);
  read_integer(*fields, "retention_s", 1, 3650LL * 86400, seconds);
  out.retention_ms = (seconds > 0 ? seconds : days * 86400) * 1000;
  if (!fields->failed() && out.retention_ms <= 2 * security.timestamp_skew_s * 1000) {
    fields->fail(seconds > 0 ? "retention_s" : "retention_days",
                 "must exceed twice security.timestamp_skew_s (a replayed request must never "
                 "outlive its order's idempotency)");
  }
}

void read_statements(const object_fields& top, statements_config& out) {
  auto fields = read_object(top, "statements", presence::optional);
  if (!fields) return;
  if (auto dir = read_string(*fields, "dir", presence::optional, string_rule::non_empty)) {
    out.dir = std::string(*dir);
  }
  if (auto zone = read_string(*fields, "timezone", presence::optional, string_rule::any)) {
    auto offset = parse_utc_offset(*zone);
    if (!offset) return fields->fail("timezone", "must be a UTC offset like +08:00, -12:00..+14:00");
    out.offset_s = *offset;
  }
  read_integer(*fields, "delay_s", 0, 86400, out.delay_s);
}

void read_callbacks(const object_fields& top, callbacks_config& out) {
  auto fields = read_object(top, "callbacks", presence::optional);
  if (!fields) return;
  const object_fields& f = *fields;
  read_integer(f, "max_attempts", 1, 50, out.max_attempts);
  if (auto items = read_array(f, "backoff_ms", presence::optional, false, "integers")) {
    std::vector<std::uint64_t> backoff;
    std::size_t index = 0;
    for (dom::element item : *items) {
      auto delay = integer_in(item, 0, k_max_backoff_ms);
      if (!delay) {
        return f.sink().fail(item_path(f.path_of("backoff_ms"), index),
                             "must be an integer in " + range_text(0, k_max_backoff_ms));
      }
      backoff.push_back(static_cast<std::uint64_t>(*delay));
      ++index;
    }
    out.backoff_ms = std::move(backoff);
  }
  read_integer(f, "timeout_ms", 1, 600'000, out.timeout_ms);
  read_flag(f, "allow_private_targets", out.allow_private_targets);
  read_integer(f, "max_concurrent_per_host", 1, 10'000, out.max_concurrent_per_host);
  read_integer(f, "max_inflight", 1, 1'000'000, out.max_inflight);
}

/// Reads a non-empty array of distinct non-empty strings (store ids).
void read_store_ids(const object_fields& f, std::vector<std::string>& out) {
  read_distinct_strings(f, "store_ids", "strings", "must be a non-empty string", "store id",
                        [](std::string_view id) { return !id.empty(); }, out);
}

void read_sign_types(const object_fields& f, std::vector<sign_method>& out) {
  auto items = read_array(f, "sign_types", presence::optional, false, "sign types");
  if (!items) return;
  const std::string path = f.path_of("sign_types");
  std::vector<sign_method> methods;
  std::size_t index = 0;
  for (dom::element item : *items) {
    std::string_view name;
    if (item.get_string().get(name) != simdjson::SUCCESS) {
      return f.sink().fail(item_path(path, index), "must be a string");
    }
    auto method = sign_method_from_name(name);
    if (!method) {
      return f.sink().fail(item_path(path, index), "unknown sign type " + quote_for_message(name) +
                                                       " (known: MD5, HMAC-SHA256)");
    }
    if (std::find(methods.begin(), methods.end(), *method) != methods.end()) {
      return f.sink().fail(item_path(path, index),
                           "duplicate sign type " + quote_for_message(name));
    }
    methods.push_back(*method);
    ++index;
  }
  out = std::move(methods);
}

void read_allowed_ips(const object_fields& f, std::vector<std::string>& out) {
  auto items =
      read_array(f, "allowed_ips", presence::optional, true, "IP addresses or CIDR networks");
  if (!items) return;
  const std::string path = f.path_of("allowed_ips");
  std::size_t index = 0;
  for (dom::element item : *items) {
    std::string_view entry;
    if (item.get_string().get(entry) != simdjson::SUCCESS) {
      return f.sink().fail(item_path(path, index), "must be a string");
    }
    if (auto problem = ip_entry_problem(entry)) {
      return f.sink().fail(item_path(path, index), *problem);
    }
    out.emplace_back(entry);
    ++index;
  }
}

void read_merchant(const object_fields& f, const std::vector<merchant_config>& earlier,
                   merchant_config& out) {
  read_integer(f, "id", 1, 999'999'999'999, out.id, presence::required);
  if (!f.failed()) {
    for (const merchant_config& other : earlier) {
      if (other.id == out.id) return f.fail("id", "duplicate id " + std::to_string(out.id));
    }
  }
  if (auto key = read_string(f, "app_key", presence::required, string_rule::non_empty)) {
    for (const merchant_config& other : earlier) {
      if (other.app_key == *key) {
        return f.fail("app_key", "duplicate app_key " + quote_for_message(*key));
      }
    }
    out.app_key = std::string(*key);
  }
  if (auto secret = read_string(f, "app_secret", presence::required, string_rule::non_empty)) {
    out.app_secret = std::string(*secret);
  }
  read_store_ids(f, out.store_ids);
  read_sign_types(f, out.sign_types);
  read_rate(f, "price_rate", out.price_rate_ppm);
  read_flag(f, "default_change", out.default_change);
  read_allowed_ips(f, out.allowed_ips);
  read_integer(f, "rate_limit_rps", 0, 1'000'000, out.rate_limit_rps);
  read_integer(f, "rate_limit_burst", 0, 1'000'000, out.rate_limit_burst);
  read_integer(f, "slow_deadline_s", 1, 30 * 86400, out.slow_deadline_s);
  read_integer(f, "fast_deadline_s", 1, 30 * 86400, out.fast_deadline_s);
  read_flag(f, "enabled", out.enabled);
  read_flag(f, "sandbox", out.sandbox);
  std::int64_t daily = 0;
  if (find_field(f, "daily_amount", presence::optional)) {
    read_integer(f, "daily_amount", 0, 1'000'000'000'000, daily);
    out.daily_amount = daily;
  }
}

bool is_channel_id(std::string_view id) {
  return !id.empty() && id.size() <= 32 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

void read_carriers(const object_fields& f, std::vector<carrier>& out) {
  auto items = read_array(f, "carriers", presence::required, false, "carrier codes");
  if (!items) return;
  const std::string path = f.path_of("carriers");
  std::size_t index = 0;
  for (dom::element item : *items) {
    std::string_view code;
    if (item.get_string().get(code) != simdjson::SUCCESS) {
      return f.sink().fail(item_path(path, index), "must be a string");
    }
    auto parsed = carrier_from_code(code);
    if (!parsed) {
      return f.sink().fail(item_path(path, index), "unknown carrier " + quote_for_message(code) +
                                                       " (known: cmcc, cucc, ctcc, cbn)");
    }
    if (std::find(out.begin(), out.end(), *parsed) != out.end()) {
      return f.sink().fail(item_path(path, index), "duplicate carrier " + quote_for_message(code));
    }
    out.push_back(*parsed);
    ++index;
  }
}

void read_amounts(const object_fields& f, std::vector<std::int64_t>& out) {
  auto items = read_array(f, "amounts", presence::required, false, "integers");
  if (!items) return;
  const std::string path = f.path_of("amounts");
  std::size_t index = 0;
  for (dom::element item : *items) {
    auto amount = integer_in(item, 1, 10000);
    if (!amount) return f.sink().fail(item_path(path, index), "must be an integer in 1..10000");
    if (std::find(out.begin(), out.end(), *amount) != out.end()) {
      return f.sink().fail(item_path(path, index), "duplicate amount " + std::to_string(*amount));
    }
    out.push_back(*amount);
    ++index;
  }
}

void read_recharge_types(const object_fields& f, std::vector<int>& out) {
  auto items = read_array(f, "recharge_types", presence::required, false, "0 and/or 1");
  if (!items) return;
  const std::string path = f.path_of("recharge_types");
  std::size_t index = 0;
  for (dom::element item : *items) {
    auto type = integer_in(item, 0, 1);
    if (!type) return f.sink().fail(item_path(path, index), "must be 0 or 1");
    if (std::find(out.begin(), out.end(), static_cast<int>(*type)) != out.end()) {
      return f.sink().fail(item_path(path, index),
                           "duplicate recharge type " + std::to_string(*type));
    }
    out.push_back(static_cast<int>(*type));
    ++index;
  }
}

void read_channel(const object_fields& f, const std::vector<channel_config>& earlier,
                  channel_config& out) {
  if (auto id = read_string(f, "id", presence::required, string_rule::any)) {
    if (!is_channel_id(*id)) return f.fail("id", "must be 1-32 characters of [A-Za-z0-9_-]");
    for (const channel_config& other : earlier) {
      if (other.id == *id) return f.fail("id", "duplicate id " + quote_for_message(*id));
    }
    out.id = std::string(*id);
  }
  if (auto kind = read_string(f, "kind", presence::required, string_rule::non_empty)) {
    out.kind = std::string(*kind);
  }
  read_carriers(f, out.carriers);
  read_amounts(f, out.amounts);
  read_recharge_types(f, out.recharge_types);
  read_rate(f, "cost_rate", out.cost_rate_ppm);
  read_integer(f, "priority", -1'000'000, 1'000'000, out.priority);
  read_integer(f, "timeout_ms", 1, 600'000, out.timeout_ms);
  read_integer(f, "query_interval_ms", 1, 3'600'000, out.query_interval_ms);
  read_integer(f, "unknown_grace_ms", 0, k_max_backoff_ms, out.unknown_grace_ms);
  read_integer(f, "unknown_max_s", 1, 30 * 86400, out.unknown_max_s);
  read_integer(f, "max_inflight", 1, 1'000'000, out.max_inflight);
  read_flag(f, "enabled", out.enabled);
}

void read_merchants(const object_fields& top, std::vector<merchant_config>& out) {
  auto items = read_array(top, "merchants", presence::required, false, "objects");
  if (!items) return;
  std::size_t index = 0;
  for (dom::element item : *items) {
    const std::string path = item_path("merchants", index);
    dom::object object;
    if (item.get_object().get(object) != simdjson::SUCCESS) {
      return top.sink().fail(path, "must be an object");
    }
    object_fields fields(object, path, top.sink());
    merchant_config merchant;
    read_merchant(fields, out, merchant);
    if (top.failed()) return;
    out.push_back(std::move(merchant));
    ++index;
  }
}

void read_channels(const object_fields& top, const channel_kind_validator& validate_kind,
                   std::vector<channel_config>& out) {
  auto items = read_array(top, "channels", presence::optional, true, "objects");
  if (!items) return;
  std::size_t index = 0;
  for (dom::element item : *items) {
    const std::string path = item_path("channels", index);
    dom::object object;
    if (item.get_object().get(object) != simdjson::SUCCESS) {
      return top.sink().fail(path, "must be an object");
    }
    object_fields fields(object, path, top.sink());
    channel_config channel;
    read_channel(fields, out, channel);
    if (top.failed()) return;
    channel.raw_json = simdjson::to_string(item);
    if (validate_kind) {
      if (auto problem = validate_kind(channel, path)) return top.sink().fail_line(*problem);
    }
    out.push_back(std::move(channel));
    ++index;
  }
}

/// One line for text simdjson refused. simdjson does not say where; boost.json's incremental
/// parser does (the bytes it consumed before failing), so it is run on this cold path only.
std::string describe_invalid_json(std::string_view text, std::size_t skipped_bytes,
                                  simdjson::error_code error) {
  if (error == simdjson::EMPTY) return "config: empty document";
  boost::json::parse_options options;
  options.max_depth = 1024;  // as deep as simdjson goes, so depth is never the first complaint
  boost::json::stream_parser locator({}, options);
  boost::system::error_code located;
  const std::size_t consumed = locator.write(text.data(), text.size(), located);
  if (!located) locator.finish(located);

  std::string line = "config: invalid JSON";
  if (located) {
    const std::string_view before = text.substr(0, std::min(consumed, text.size()));
    const std::size_t line_number =
        1 + static_cast<std::size_t>(std::count(before.begin(), before.end(), '\n'));
    const std::size_t last_newline = before.rfind('\n');
    const std::size_t column =
        1 +
        (last_newline == std::string_view::npos ? before.size() : before.size() - last_newline - 1);
    line += " at line " + std::to_string(line_number) + " column " + std::to_string(column) +
            " (byte " + std::to_string(consumed + skipped_bytes) + ")";
  }
  line += ": ";
  // The message must describe the place named. boost's is about the byte where it stopped;
  // simdjson's is sharper only for faults that boost also stops on, at that very byte.
  const bool same_fault = error == simdjson::UTF8_ERROR || error == simdjson::UNESCAPED_CHARS;
  line +=
      (located && !same_fault) ? located.message() : std::string(simdjson::error_message(error));
  return line;
}

}  // namespace

std::variant<config, config_error> parse_config(std::string_view json_text,
                                                const channel_kind_validator& validate_kind) {
  // Editors on some systems save a UTF-8 byte order mark; it is not JSON, but not a mistake.
  constexpr std::string_view k_bom = "\xEF\xBB\xBF";
  std::size_t skipped_bytes = 0;
  if (json_text.substr(0, k_bom.size()) == k_bom) {
    json_text.remove_prefix(k_bom.size());
    skipped_bytes = k_bom.size();
  }
  if (json_text.size() > k_max_config_bytes) {
    return config_error{"config: larger than " + std::to_string(k_max_config_bytes) + " bytes"};
  }

  dom::parser parser;
  dom::element root;
  const simdjson::padded_string padded(json_text);
  if (auto error = parser.parse(padded).get(root); error != simdjson::SUCCESS) {
    return config_error{describe_invalid_json(json_text, skipped_bytes, error)};
  }
  dom::object root_object;
  if (root.get_object().get(root_object) != simdjson::SUCCESS) {
    return config_error{"config: must be a JSON object"};
  }

  problem_sink sink;
  const object_fields top(root_object, "", sink);
  config result;
  read_server(top, result.server);
  read_redis(top, result.redis);
  read_admin(top, result.admin);
  read_security(top, result.security);
  read_risk(top, result.risk);
  read_storage(top, result.security, result.storage);
  read_statements(top, result.statements);
  result.risk.day_offset_s = result.statements.offset_s;
  read_callbacks(top, result.callbacks);
  read_merchants(top, result.merchants);
  read_channels(top, validate_kind, result.channels);
  if (sink.failed()) return config_error{sink.message()};
  return result;
}

std::optional<std::string> read_config_input(const std::string& path, std::size_t max_bytes,
                                             std::string& why) {
  const auto errno_text = [](int error) { return std::generic_category().message(error); };
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                       &std::fclose);
  if (!file) {
    why = errno_text(errno);
    return std::nullopt;
  }
  std::string text;
  std::array<char, 65536> chunk{};
  for (;;) {
    const std::size_t n = std::fread(chunk.data(), 1, chunk.size(), file.get());
    text.append(chunk.data(), n);
    if (text.size() > max_bytes) {
      why = "larger than " + std::to_string(max_bytes) + " bytes";
      return std::nullopt;
    }
    if (n < chunk.size()) {
      // A directory opens fine on Linux and fails here with EISDIR.
      if (std::ferror(file.get())) {
        why = errno_text(errno);
        return std::nullopt;
      }
      break;
    }
  }
  return text;
}

std::variant<config, config_error> load_config_file(const std::string& path,
                                                    const channel_kind_validator& validate_kind) {
  std::string why;
  auto text = read_config_input(path, k_max_config_bytes, why);
  if (!text) return config_error{"config: cannot read " + path + ": " + why};
  return parse_config(*text, validate_kind);
}

std::optional<listen_address> parse_listen_address(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const std::string_view host = text.substr(0, colon);
  const auto port = parse_port(text.substr(colon + 1));
  if (!port || !visible_ascii(host)) return std::nullopt;
  boost::system::error_code ec;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    const std::string_view inner = host.substr(1, host.size() - 2);
    ip::make_address_v6(inner, ec);
    if (ec) return std::nullopt;
    return listen_address{std::string(inner), *port};
  }
  if (host == "localhost") return listen_address{"127.0.0.1", *port};
  ip::make_address_v4(host, ec);
  if (ec) return std::nullopt;
  return listen_address{std::string(host), *port};
}

bool is_http_url(std::string_view text) {
  std::string_view rest;
  if (text.starts_with("http://")) {
    rest = text.substr(7);
  } else if (text.starts_with("https://")) {
    rest = text.substr(8);
  } else {
    return false;
  }
  const bool clean = std::all_of(rest.begin(), rest.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte > 0x20 && byte != 0x7f && c != '?' && c != '#';
  });
  if (!clean) return false;
  const std::string_view authority = rest.substr(0, rest.find('/'));
  if (authority.find('@') != std::string_view::npos) return false;
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return false;
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return false;
      port = after.substr(1);
      if (!parse_port(port)) return false;
    }
    boost::system::error_code ec;
    ip::make_address_v6(host, ec);
    return !ec;
  }
  if (const auto colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    if (!parse_port(authority.substr(colon + 1))) return false;
  }
  return is_host_name(host);
}

std::string quote_for_message(std::string_view text) {
  constexpr std::size_t k_max_chars = 64;
  std::string quoted = "\"";
  std::size_t kept = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    const bool continuation = (byte & 0xC0) == 0x80;  // never cut a UTF-8 sequence in two
    if (!continuation && kept == k_max_chars) {
      quoted += "...";
      break;
    }
    if (!continuation) ++kept;
    if (byte == '"' || byte == '\\') {
      quoted += '\\';
      quoted += static_cast<char>(byte);
    } else if (byte == '\n') {
      quoted += "\\n";
    } else if (byte == '\r') {
      quoted += "\\r";
    } else if (byte == '\t') {
      quoted += "\\t";
    } else if (byte < 0x20 || byte == 0x7f) {
      constexpr std::string_view k_hex = "0123456789abcdef";
      quoted += "\\x";
      quoted += k_hex[byte >> 4];
      quoted += k_hex[byte & 0xF];
    } else {
      quoted += static_cast<char>(byte);
    }
  }
  quoted += '"';
  return quoted;
}

}  // namespace topup::engine
