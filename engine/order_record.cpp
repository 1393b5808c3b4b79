#include "engine/order_record.hpp"

#include <array>
#include <charconv>

#include "engine/errc.hpp"

namespace topup::engine {

namespace {

// Index of each core field; the bit of a required one must be set once parsing ends.
enum field_id : unsigned {
  f_order_number,
  f_order_no,
  f_merchant_id,
  f_store_id,
  f_mobile,
  f_carrier,
  f_money,
  f_recharge_type,
  f_notify_url,
  f_change,
  f_source,
  f_fingerprint,
  f_cost,
  f_status,
  f_reason,
  f_created_at,
  f_updated_at,
  f_finished_at,
  f_events,
  f_refunded,
  f_count,
};

constexpr std::array<std::string_view, f_count> k_field_names = {
    "order_number",  "order_no",   "merchant_id", "store_id",    "mobile",      "carrier", "money",
    "recharge_type", "notify_url", "change",      "source",      "fingerprint", "cost",    "status",
    "reason",        "created_at", "updated_at",  "finished_at", "events",      "refunded"};

constexpr unsigned bit(field_id f) { return 1u << f; }

constexpr unsigned k_required = bit(f_order_number) | bit(f_order_no) | bit(f_merchant_id) |
                                bit(f_mobile) | bit(f_carrier) | bit(f_money) | bit(f_cost) |
                                bit(f_status) | bit(f_created_at);

std::optional<field_id> core_field(std::string_view name) noexcept {
  for (unsigned i = 0; i < f_count; ++i)
    if (k_field_names[i] == name) return static_cast<field_id>(i);
  return std::nullopt;
}

// Strict decimal: optional '-', then digits; nothing else, no overflow.
std::optional<std::int64_t> parse_int(std::string_view text) noexcept {
  if (text.empty() || text.front() == '+') return std::nullopt;
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<bool> parse_flag(std::string_view text) noexcept {
  if (text == "1") return true;
  if (text == "0") return false;
  return std::nullopt;
}

// Stores one core field; false when the value does not parse.
bool assign(order_record& r, field_id f, std::string value) {
  switch (f) {
    case f_order_number:
      r.order_number = std::move(value);
      return !r.order_number.empty();
    case f_order_no:
      r.order_no = std::move(value);
      return !r.order_no.empty();
    case f_store_id:
      r.store_id = std::move(value);
      return true;
    case f_mobile:
      r.mobile = std::move(value);
      return true;
    case f_notify_url:
      r.notify_url = std::move(value);
      return true;
    case f_source:
      r.source = std::move(value);
      return true;
    case f_fingerprint:
      r.fingerprint = std::move(value);
      return true;
    case f_reason:
      r.reason = std::move(value);
      return true;
    case f_carrier: {
      auto c = carrier_from_code(value);
      if (!c) return false;
      r.carrier = *c;
      return true;
    }
    case f_status: {
      auto n = parse_int(value);
      auto s = n && *n >= 0 && *n <= 9 ? status_from_int(static_cast<int>(*n)) : std::nullopt;
      if (!s) return false;
      r.status = *s;
      return true;
    }
    case f_recharge_type: {
      auto flag = parse_flag(value);
      if (!flag) return false;
      r.recharge_type = *flag ? 1 : 0;
      return true;
    }
    case f_change: {
      auto flag = parse_flag(value);
      if (!flag) return false;
      r.change = *flag;
      return true;
    }
    case f_refunded: {
      auto flag = parse_flag(value);
      if (!flag) return false;
      r.refunded = *flag;
      return true;
    }
    case f_merchant_id:
    case f_money:
    case f_cost:
    case f_created_at:
    case f_updated_at:
    case f_finished_at:
    case f_events: {
      auto n = parse_int(value);
      if (!n || *n < 0) return false;
      switch (f) {
        case f_merchant_id:
          r.merchant_id = *n;
          return *n > 0;
        case f_money:
          r.money_yuan = *n;
          return true;
        case f_cost:
          r.cost_fen = *n;
          return true;
        case f_created_at:
          r.created_at_ms = *n;
          return true;
        case f_updated_at:
          r.updated_at_ms = *n;
          return true;
        case f_finished_at:
          r.finished_at_ms = *n;
          return true;
        default:
          r.event_count = *n;
          return true;
      }
    }
    case f_count:
      break;
  }
  return false;
}

bool is_string(const redis::reply& r) noexcept {
  return r.type == redis::reply::kind::string || r.type == redis::reply::kind::status;
}

}  // namespace

std::optional<std::string_view> order_record::extra_field(std::string_view name) const noexcept {
  for (const auto& [k, v] : extra)
    if (k == name) return std::string_view(v);
  return std::nullopt;
}

bool is_core_order_field(std::string_view name) noexcept { return core_field(name).has_value(); }

boost::system::result<order_record> order_record_from_reply(const redis::reply& flat) {
  if (flat.type != redis::reply::kind::array || flat.elements.size() % 2 != 0)
    return make_error_code(errc::storage_protocol);
  order_record record;
  unsigned seen = 0;
  for (std::size_t i = 0; i < flat.elements.size(); i += 2) {
    const auto& name = flat.elements[i];
    const auto& value = flat.elements[i + 1];
    if (!is_string(name) || !is_string(value)) return make_error_code(errc::storage_protocol);
    if (auto f = core_field(name.str)) {
      if (!assign(record, *f, value.str)) return make_error_code(errc::storage_protocol);
      seen |= bit(*f);
    } else {
      record.extra.emplace_back(name.str, value.str);
    }
  }
  if ((seen & k_required) != k_required) return make_error_code(errc::storage_protocol);
  return record;
}

std::optional<std::string_view> order_event::field(std::string_view name) const noexcept {
  for (const auto& [k, v] : fields)
    if (k == name) return std::string_view(v);
  return std::nullopt;
}

boost::system::result<std::vector<order_event>> order_events_from_reply(const redis::reply& range) {
  if (range.type != redis::reply::kind::array) return make_error_code(errc::storage_protocol);
  std::vector<order_event> events;
  events.reserve(range.elements.size());
  for (const auto& entry : range.elements) {
    // Each entry is [id, [field, value, ...]].
    if (entry.type != redis::reply::kind::array || entry.elements.size() != 2 ||
        !is_string(entry.elements[0]) || entry.elements[1].type != redis::reply::kind::array ||
        entry.elements[1].elements.size() % 2 != 0)
      return make_error_code(errc::storage_protocol);
    order_event event;
    event.id = entry.elements[0].str;
    const auto& kv = entry.elements[1].elements;
    event.fields.reserve(kv.size() / 2);
    for (std::size_t i = 0; i < kv.size(); i += 2) {
      if (!is_string(kv[i]) || !is_string(kv[i + 1]))
        return make_error_code(errc::storage_protocol);
      event.fields.emplace_back(kv[i].str, kv[i + 1].str);
    }
    events.push_back(std::move(event));
  }
  return events;
}

void set_extra(order_record& order, std::string name, std::string value) {
  for (auto& [n, v] : order.extra) {
    if (n == name) {
      v = std::move(value);
      return;
    }
  }
  order.extra.emplace_back(std::move(name), std::move(value));
}

}  // namespace topup::engine
