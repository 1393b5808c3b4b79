#include "engine/order/order_record.hpp"
#include "engine/order/packed_values.hpp"

#include <array>
#include <charconv>

#include "engine/support/errc.hpp"

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

// The named fields of the record's tail that map to typed members: the attempt's and the
// callback's (docs/STORAGE.md). Each reads its text and writes it back.
struct named_field {
  std::string_view name;
  bool (*read)(order_record&, std::string&&);
  void (*write)(const order_record&, std::string&);  // empty: the field is left out
};

bool read_count(std::int64_t& out, std::string_view text) {
  auto n = parse_int(text);
  if (!n || *n < 0) return false;
  out = *n;
  return true;
}

void write_count(std::int64_t value, std::string& out) {
  if (value != 0) out = std::to_string(value);
}

std::optional<callback_status> callback_status_from(std::string_view text) noexcept {
  for (auto s : {callback_status::pending, callback_status::delivered, callback_status::failed})
    if (callback_status_name(s) == text) return s;
  return std::nullopt;
}

constexpr std::array<named_field, 14> k_named_fields = {{
    {"channel", [](order_record& r, std::string&& v) { r.attempt.channel = std::move(v); return true; },
     [](const order_record& r, std::string& out) { out = r.attempt.channel; }},
    {"attempts", [](order_record& r, std::string&& v) { return read_count(r.attempt.number, v); },
     [](const order_record& r, std::string& out) { write_count(r.attempt.number, out); }},
    {"attempt_id", [](order_record& r, std::string&& v) { r.attempt.id = std::move(v); return true; },
     [](const order_record& r, std::string& out) { out = r.attempt.id; }},
    {"tried", [](order_record& r, std::string&& v) { r.attempt.tried = split_ids(v); return true; },
     [](const order_record& r, std::string& out) { out = join_ids(r.attempt.tried); }},
    {"matched_at", [](order_record& r, std::string&& v) { return read_count(r.attempt.matched_at_ms, v); },
     [](const order_record& r, std::string& out) { write_count(r.attempt.matched_at_ms, out); }},
    {"submit", [](order_record& r, std::string&& v) { r.attempt.submit = std::move(v); return true; },
     [](const order_record& r, std::string& out) { out = r.attempt.submit; }},
    {"submitted_at", [](order_record& r, std::string&& v) { return read_count(r.attempt.submitted_at_ms, v); },
     [](const order_record& r, std::string& out) { write_count(r.attempt.submitted_at_ms, out); }},
    {"last_outcome", [](order_record& r, std::string&& v) { r.attempt.last_outcome = std::move(v); return true; },
     [](const order_record& r, std::string& out) { out = r.attempt.last_outcome; }},
    {"cb_status",
     [](order_record& r, std::string&& v) {
       auto s = callback_status_from(v);
       if (s) r.callback.status = *s;
       return s.has_value();
     },
     [](const order_record& r, std::string& out) {
       if (r.callback.status != callback_status::none) out = callback_status_name(r.callback.status);
     }},
    // A callback that has a status also says how many deliveries it made, 0 included.
    {"cb_attempts", [](order_record& r, std::string&& v) { return read_count(r.callback.attempts, v); },
     [](const order_record& r, std::string& out) {
       if (r.callback.status != callback_status::none || r.callback.attempts != 0)
         out = std::to_string(r.callback.attempts);
     }},
    {"cb_last_at", [](order_record& r, std::string&& v) { return read_count(r.callback.last_at_ms, v); },
     [](const order_record& r, std::string& out) { write_count(r.callback.last_at_ms, out); }},
    {"cb_round_base", [](order_record& r, std::string&& v) { return read_count(r.callback.round_base, v); },
     [](const order_record& r, std::string& out) { write_count(r.callback.round_base, out); }},
    {"cb_renotify_seq", [](order_record& r, std::string&& v) { return read_count(r.callback.renotify_seq, v); },
     [](const order_record& r, std::string& out) { write_count(r.callback.renotify_seq, out); }},
    // Stored only when set ("1"): records of other merchants carry nothing for it.
    {"sandbox",
     [](order_record& r, std::string&& v) {
       if (v != "0" && v != "1") return false;
       r.sandbox = v == "1";
       return true;
     },
     [](const order_record& r, std::string& out) { if (r.sandbox) out = "1"; }},
}};

const named_field* find_named(std::string_view name) noexcept {
  for (const auto& f : k_named_fields)
    if (f.name == name) return &f;
  return nullptr;
}

bool is_string(const redis::reply& r) noexcept {
  return r.type == redis::reply::kind::string || r.type == redis::reply::kind::status;
}

}  // namespace

field_pairs order_record::named_fields() const {
  field_pairs out;
  for (const auto& f : k_named_fields) {
    std::string value;
    f.write(*this, value);
    if (!value.empty()) out.emplace_back(std::string(f.name), std::move(value));
  }
  out.insert(out.end(), extra.begin(), extra.end());
  return out;
}

std::optional<std::string> order_record::named_field(std::string_view name) const {
  if (const auto* f = find_named(name)) {
    std::string value;
    f->write(*this, value);
    if (value.empty()) return std::nullopt;
    return value;
  }
  for (const auto& [k, v] : extra)
    if (k == name) return v;
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
    } else if (!apply_field(record, name.str, value.str)) {
      return make_error_code(errc::storage_protocol);
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

std::int64_t order_event::at_ms() const noexcept {
  std::int64_t ms = 0;
  std::from_chars(id.data(), id.data() + id.size(), ms);
  return ms;
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

namespace {

// The packed record's fields, in order (docs/STORAGE.md "The packed record"); the first four are
// what the money scripts read.
constexpr std::array<field_id, 20> k_packed_order = {
    f_events,   f_status,     f_cost,          f_refunded,   f_order_number, f_order_no,
    f_merchant_id, f_store_id, f_mobile,       f_carrier,    f_money,        f_recharge_type,
    f_notify_url, f_change,   f_source,        f_fingerprint, f_reason,      f_created_at,
    f_updated_at, f_finished_at};

constexpr char k_sep = '\x1f';
constexpr char k_esc = '\x1e';

// Appends the runs between escapes whole: a character at a time was ~8k instructions a record.
void put(std::string& out, std::string_view value) {
  std::size_t run = 0;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char ch = value[i];
    if (ch != k_sep && ch != k_esc) continue;
    out.append(value.data() + run, i - run);
    out.push_back(k_esc);
    out.push_back(ch == k_sep ? '1' : '0');
    run = i + 1;
  }
  out.append(value.data() + run, value.size() - run);
}

void put_int(std::string& out, std::int64_t value) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, end);
}

void put_core(std::string& out, const order_record& r, field_id f) {
  switch (f) {
    case f_order_number: return put(out, r.order_number);
    case f_order_no: return put(out, r.order_no);
    case f_merchant_id: return put_int(out, r.merchant_id);
    case f_store_id: return put(out, r.store_id);
    case f_mobile: return put(out, r.mobile);
    case f_carrier: return put(out, carrier_code(r.carrier));
    case f_money: return put_int(out, r.money_yuan);
    case f_recharge_type: return put_int(out, r.recharge_type != 0 ? 1 : 0);
    case f_notify_url: return put(out, r.notify_url);
    case f_change: return put_int(out, r.change ? 1 : 0);
    case f_source: return put(out, r.source);
    case f_fingerprint: return put(out, r.fingerprint);
    case f_cost: return put_int(out, r.cost_fen);
    case f_status: return put_int(out, to_int(r.status));
    case f_reason: return put(out, r.reason);
    case f_created_at: return put_int(out, r.created_at_ms);
    case f_updated_at: return put_int(out, r.updated_at_ms);
    case f_finished_at: return put_int(out, r.finished_at_ms);
    case f_events: return put_int(out, r.event_count);
    case f_refunded: return put_int(out, r.refunded ? 1 : 0);
    case f_count: return;
  }
}

// Splits off one field at `pos`, undoing the escapes; false on a dangling or unknown escape.
bool take(std::string_view packed, std::size_t& pos, std::string& value) {
  value.clear();
  std::size_t run = pos;  // the start of the characters not yet copied
  while (pos < packed.size() && packed[pos] != k_sep) {
    if (packed[pos] != k_esc) {
      ++pos;
      continue;
    }
    value.append(packed.data() + run, pos - run);
    if (++pos >= packed.size()) return false;
    const char code = packed[pos++];
    if (code == '1') value.push_back(k_sep);
    else if (code == '0') value.push_back(k_esc);
    else return false;
    run = pos;
  }
  value.append(packed.data() + run, pos - run);
  if (pos < packed.size()) ++pos;  // past the separator
  return true;
}

}  // namespace

std::string pack_order(const order_record& r) {
  std::string out;
  out.reserve(224 + r.notify_url.size());
  bool first = true;
  for (field_id f : k_packed_order) {
    if (!first) out.push_back(k_sep);
    first = false;
    put_core(out, r, f);
  }
  std::string value;
  for (const auto& f : k_named_fields) {
    value.clear();
    f.write(r, value);
    if (value.empty()) continue;
    out.push_back(k_sep);
    put(out, f.name);
    out.push_back(k_sep);
    put(out, value);
  }
  for (const auto& [name, extra_value] : r.extra) {
    out.push_back(k_sep);
    put(out, name);
    out.push_back(k_sep);
    put(out, extra_value);
  }
  return out;
}

void append_packed_value(std::string& out, std::string_view value, bool first) {
  if (!first) out.push_back(k_sep);
  put(out, value);
}

boost::system::result<std::vector<std::string>> unpack_values(std::string_view packed) {
  std::vector<std::string> fields;
  fields.reserve(k_packed_order.size() + 12);
  std::size_t pos = 0;
  do {
    std::string value;
    if (!take(packed, pos, value)) return make_error_code(errc::storage_protocol);
    fields.push_back(std::move(value));
  } while (pos < packed.size());
  if (!packed.empty() && packed.back() == k_sep) fields.emplace_back();  // a trailing empty value
  return fields;
}

boost::system::result<order_record> unpack_order(std::string_view packed) {
  auto values = unpack_values(packed);
  if (!values) return values.error();
  std::vector<std::string>& fields = *values;
  if (fields.size() < k_packed_order.size() || (fields.size() - k_packed_order.size()) % 2 != 0)
    return make_error_code(errc::storage_protocol);
  order_record record;
  for (std::size_t i = 0; i < k_packed_order.size(); ++i)
    if (!assign(record, k_packed_order[i], std::move(fields[i])))
      return make_error_code(errc::storage_protocol);
  if (record.event_count < 1) return make_error_code(errc::storage_protocol);
  for (std::size_t i = k_packed_order.size(); i < fields.size(); i += 2) {
    if (fields[i].empty() || !apply_field(record, fields[i], std::move(fields[i + 1])))
      return make_error_code(errc::storage_protocol);
  }
  return record;
}

bool apply_field(order_record& order, std::string_view name, std::string value) {
  // Each reader assigns only a value that parses.
  if (const auto* f = find_named(name)) return f->read(order, std::move(value));
  for (auto& [n, v] : order.extra) {
    if (n == name) {
      v = std::move(value);
      return true;
    }
  }
  order.extra.emplace_back(std::string(name), std::move(value));
  return true;
}

std::string_view callback_status_name(callback_status s) noexcept {
  switch (s) {
    case callback_status::none: return "";
    case callback_status::pending: return "pending";
    case callback_status::delivered: return "delivered";
    case callback_status::failed: return "failed";
  }
  return "";
}

std::vector<std::string> split_ids(std::string_view csv) {
  std::vector<std::string> out;
  while (!csv.empty()) {
    auto comma = csv.find(',');
    if (auto id = csv.substr(0, comma); !id.empty()) out.emplace_back(id);
    if (comma == std::string_view::npos) break;
    csv.remove_prefix(comma + 1);
  }
  return out;
}

std::string join_ids(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) {
    if (!out.empty()) out.push_back(',');
    out += id;
  }
  return out;
}

}  // namespace topup::engine
