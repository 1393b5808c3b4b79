#include "bench/topup_bench/report_format.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace topup::bench {

namespace json = boost::json;

double number_at(const json::object& o, std::initializer_list<std::string_view> path) {
  const json::value* v = nullptr;
  const json::object* cur = &o;
  for (auto key : path) {
    if (!cur) return 0;
    auto it = cur->find(key);
    if (it == cur->end()) return 0;
    v = &it->value();
    cur = v->is_object() ? &v->as_object() : nullptr;
  }
  if (!v) return 0;
  if (v->is_double()) return v->as_double();
  if (v->is_int64()) return static_cast<double>(v->as_int64());
  if (v->is_uint64()) return static_cast<double>(v->as_uint64());
  return 0;
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string xml_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

double axis_top(double max) {
  max = std::max(max, 1.0);
  const double magnitude = std::pow(10.0, std::floor(std::log10(max)));
  double top = std::ceil(max / magnitude) * magnitude;
  if (top < max * 1.08) top += magnitude / 2;
  return top;
}

}  // namespace topup::bench
