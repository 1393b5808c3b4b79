#include "channels/channel_kinds.hpp"

#include <simdjson.h>

#include <utility>

#include "engine/order/carrier.hpp"
#include "engine/support/assert.hpp"

namespace topup::channels {
namespace {

namespace dom = simdjson::dom;

constexpr std::int64_t k_max_latency_ms = 600'000;

/// The kind-specific keys of one channel object. The engine has already refused repeated keys
/// and checked the common fields; this only reads what the kind adds.
class channel_fields {
 public:
  channel_fields(const engine::channel_config& channel, std::string_view path) : path_(path) {
    ok_ = parser_.parse(channel.raw_json).get(object_) == simdjson::SUCCESS;
  }

  /// False only if raw_json is not an object, which parse_config never produces.
  bool parsed() const noexcept { return ok_; }

  std::optional<dom::element> find(std::string_view key) const {
    dom::element value;
    if (object_.at_key(key).get(value) != simdjson::SUCCESS) return std::nullopt;
    return value;
  }

  std::string problem(std::string_view key, std::string_view what) const {
    std::string line(path_);
    line.append(".").append(key).append(": ").append(what);
    return line;
  }

 private:
  std::string_view path_;
  dom::parser parser_;
  dom::object object_;
  bool ok_ = false;
};

std::optional<std::string> read_rate(const channel_fields& fields, std::string_view key,
                                     double& out) {
  auto value = fields.find(key);
  if (!value) return std::nullopt;
  double rate = 0;
  if (value->get_double().get(rate) != simdjson::SUCCESS || !(rate >= 0.0 && rate <= 1.0)) {
    return fields.problem(key, "must be a number in [0, 1]");
  }
  out = rate;
  return std::nullopt;
}

std::optional<std::string> read_sim(const channel_fields& fields, sim_settings& out) {
  if (auto problem = read_rate(fields, "success_rate", out.success_rate)) return problem;
  if (auto problem = read_rate(fields, "unknown_rate", out.unknown_rate)) return problem;
  if (auto value = fields.find("latency_ms")) {
    const std::string bad =
        "must be [min, max]: integers with 0 <= min <= max <= " + std::to_string(k_max_latency_ms);
    dom::array pair;
    if (value->get_array().get(pair) != simdjson::SUCCESS || pair.size() != 2) {
      return fields.problem("latency_ms", bad);
    }
    std::int64_t bounds[2] = {0, 0};
    std::size_t index = 0;
    for (dom::element item : pair) {
      if (item.get_int64().get(bounds[index]) != simdjson::SUCCESS || bounds[index] < 0 ||
          bounds[index] > k_max_latency_ms) {
        return fields.problem("latency_ms", bad);
      }
      ++index;
    }
    if (bounds[0] > bounds[1]) return fields.problem("latency_ms", bad);
    out.latency_ms_min = static_cast<std::uint32_t>(bounds[0]);
    out.latency_ms_max = static_cast<std::uint32_t>(bounds[1]);
  }
  if (auto value = fields.find("seed")) {
    // get_uint64 takes every non-negative JSON integer, up to 2^64 - 1.
    if (value->get_uint64().get(out.seed) != simdjson::SUCCESS) {
      return fields.problem("seed", "must be a non-negative integer");
    }
  }
  if (auto value = fields.find("hold_mobiles")) {
    const std::string bad = "must be an array of at most " +
                            std::to_string(sim_settings::k_hold_mobiles_max) +
                            " mobile numbers (11 digits, 1[3-9]...)";
    dom::array numbers;
    if (value->get_array().get(numbers) != simdjson::SUCCESS ||
        numbers.size() > sim_settings::k_hold_mobiles_max) {
      return fields.problem("hold_mobiles", bad);
    }
    for (dom::element item : numbers) {
      std::string_view mobile;
      if (item.get_string().get(mobile) != simdjson::SUCCESS ||
          !engine::valid_mobile_format(mobile)) {
        return fields.problem("hold_mobiles", bad);
      }
      out.hold_mobiles.emplace_back(mobile);
    }
  }
  return std::nullopt;
}

std::optional<std::string> read_required_string(const channel_fields& fields, std::string_view key,
                                                std::string& out) {
  auto value = fields.find(key);
  if (!value) return fields.problem(key, "is required");
  std::string_view text;
  if (value->get_string().get(text) != simdjson::SUCCESS || text.empty()) {
    return fields.problem(key, "must be a non-empty string");
  }
  out = std::string(text);
  return std::nullopt;
}

std::optional<std::string> read_wikeyun(const channel_fields& fields, wikeyun_settings& out) {
  if (auto problem = read_required_string(fields, "url", out.url)) return problem;
  if (!engine::is_http_url(out.url)) {
    return fields.problem("url", "must be an http:// or https:// URL with a host");
  }
  if (auto problem = read_required_string(fields, "app_key", out.app_key)) return problem;
  if (auto problem = read_required_string(fields, "app_secret", out.app_secret)) return problem;
  if (auto problem = read_required_string(fields, "store_id", out.store_id)) return problem;
  return std::nullopt;
}

}  // namespace

std::optional<std::string> validate_channel_kind(const engine::channel_config& channel,
                                                 std::string_view path) {
  const channel_fields fields(channel, path);
  if (!fields.parsed()) return std::string(path) + ": must be an object";
  if (channel.kind == "sim") {
    sim_settings settings;
    return read_sim(fields, settings);
  }
  if (channel.kind == "wikeyun") {
    wikeyun_settings settings;
    return read_wikeyun(fields, settings);
  }
  return std::string(path) + ".kind: unknown channel kind " +
         engine::quote_for_message(channel.kind) + " (known: sim, wikeyun)";
}

sim_settings parse_sim_settings(const engine::channel_config& channel) {
  TOPUP_ASSERT(channel.kind == "sim");
  const channel_fields fields(channel, channel.id);
  TOPUP_ASSERT(fields.parsed());
  sim_settings settings;
  const auto problem = read_sim(fields, settings);
  TOPUP_ASSERT(!problem.has_value());
  return settings;
}

wikeyun_settings parse_wikeyun_settings(const engine::channel_config& channel) {
  TOPUP_ASSERT(channel.kind == "wikeyun");
  const channel_fields fields(channel, channel.id);
  TOPUP_ASSERT(fields.parsed());
  wikeyun_settings settings;
  const auto problem = read_wikeyun(fields, settings);
  TOPUP_ASSERT(!problem.has_value());
  return settings;
}

}  // namespace topup::channels
