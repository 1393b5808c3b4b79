#include "tests/support/admin_order_view.hpp"

namespace topup::test {

namespace json = boost::json;

namespace {

std::int64_t int_member(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v) return -1;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->as_uint64());
  return -1;
}

}  // namespace

std::string json_text(const json::value& data, std::string_view key) {
  if (!data.is_object()) return "<no data>";
  const auto* v = data.as_object().if_contains(key);
  if (!v) return "<missing>";
  if (v->is_string()) return std::string(v->as_string());
  return json::serialize(*v);
}

shown_order parse_admin_order(const api_answer& a) {
  shown_order out;
  out.code = a.code;
  out.raw = a.raw;
  out.status = json_text(a.data, "status");
  if (!a.data.is_object()) return out;
  const auto& data = a.data.as_object();
  out.updated_at_ms = int_member(data, "updated_at_ms");
  if (const auto* extra = data.if_contains("extra"); extra && extra->is_object())
    out.cb_status = json_text(*extra, "cb_status");
  if (const auto* cbs = data.if_contains("callbacks"); cbs && cbs->is_array()) {
    for (const auto& v : cbs->as_array()) {
      if (!v.is_object()) continue;
      const auto& o = v.as_object();
      shown_attempt s;
      s.attempt = int_member(o, "attempt");
      s.at_ms = int_member(o, "at_ms");
      s.http_status = int_member(o, "http_status");
      s.body = json_text(o, "body");
      s.error = json_text(o, "error");
      if (const auto* d = o.if_contains("delivered"); d && d->is_bool()) s.delivered = d->as_bool();
      out.callbacks.push_back(std::move(s));
    }
  }
  return out;
}

shown_order admin_order(int port, const std::string& token, const std::string& number) {
  http_client http(port);
  return parse_admin_order(admin_get(http, token, "/admin/orders/" + number));
}

}  // namespace topup::test
