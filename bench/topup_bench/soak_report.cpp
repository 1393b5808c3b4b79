#include "bench/topup_bench/soak_report.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>
#include <sstream>

#include "bench/topup_bench/report_format.hpp"

namespace topup::bench {

namespace json = boost::json;

namespace {

constexpr double k_mib = 1024.0 * 1024.0;

/// The array at `key` of the series as numbers; empty if absent.
std::vector<double> series_of(const json::object& series, std::string_view key) {
  std::vector<double> out;
  auto it = series.find(key);
  if (it == series.end() || !it->value().is_array()) return out;
  for (const auto& v : it->value().as_array()) out.push_back(v.is_number() ? v.to_number<double>() : 0);
  return out;
}

/// Least-squares slope of y over t for the samples from index `first` on (per second).
double slope(const std::vector<double>& t, const std::vector<double>& y, std::size_t first) {
  const std::size_t n = std::min(t.size(), y.size());
  if (n < first + 2) return 0;
  double st = 0, sy = 0;
  for (std::size_t i = first; i < n; ++i) st += t[i], sy += y[i];
  const double count = static_cast<double>(n - first);
  const double mt = st / count, my = sy / count;
  double num = 0, den = 0;
  for (std::size_t i = first; i < n; ++i) {
    num += (t[i] - mt) * (y[i] - my);
    den += (t[i] - mt) * (t[i] - mt);
  }
  return den > 0 ? num / den : 0;
}

/// Index of the first sample at or after `t0`.
std::size_t index_at(const std::vector<double>& t, double t0) {
  return static_cast<std::size_t>(std::lower_bound(t.begin(), t.end(), t0) - t.begin());
}

double mean_from(const std::vector<double>& y, std::size_t first) {
  if (first >= y.size()) return 0;
  double sum = 0;
  for (std::size_t i = first; i < y.size(); ++i) sum += y[i];
  return sum / static_cast<double>(y.size() - first);
}

/// y = a + b x1 + c x2 by least squares: {a, b, c}; nullopt when x1 and x2 move together (too
/// close to tell apart).
std::optional<std::array<double, 3>> fit2(const std::vector<double>& x1, const std::vector<double>& x2,
                                          const std::vector<double>& y) {
  const double n = static_cast<double>(y.size());
  const double m1 = mean_from(x1, 0), m2 = mean_from(x2, 0), my = mean_from(y, 0);
  double s11 = 0, s22 = 0, s12 = 0, s1y = 0, s2y = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    const double a = x1[i] - m1, b = x2[i] - m2, c = y[i] - my;
    s11 += a * a, s22 += b * b, s12 += a * b, s1y += a * c, s2y += b * c;
  }
  const double det = s11 * s22 - s12 * s12;
  // Correlation above ~0.995: the window never filled, orders and log grew together.
  if (n < 3 || !(det > 0.01 * s11 * s22)) return std::nullopt;
  const double b = (s22 * s1y - s12 * s2y) / det;
  const double c = (s11 * s2y - s12 * s1y) / det;
  return std::array<double, 3>{my - b * m1 - c * m2, b, c};
}

/// "233k", "1.9M", "512".
std::string count_text(double n) {
  const double a = std::abs(n);
  if (a >= 1e6) return fixed(n / 1e6, 1) + "M";
  if (a >= 1e4) return fixed(n / 1e3, 0) + "k";
  if (a >= 1e3) return fixed(n / 1e3, 1) + "k";
  return fixed(n, 0);
}

std::string signed_text(double v, int decimals) { return (v >= 0 ? "+" : "") + fixed(v, decimals); }

}  // namespace

soak_figures analyse_soak(const json::object& soak) {
  soak_figures f;
  auto it = soak.find("redis_memory");
  if (it == soak.end() || !it->value().is_object()) return f;
  const json::object& series = it->value().as_object();
  const auto t = series_of(series, "t_s");
  const auto used = series_of(series, "used_memory");
  const auto orders = series_of(series, "orders");
  const auto entries = series_of(series, "log_entries");
  if (t.size() < 2 || used.size() != t.size() || orders.size() != t.size() ||
      entries.size() != t.size())
    return f;
  f.valid = true;
  f.seconds = t.back();
  f.rate = number_at(soak, {"rate_target"});
  f.retention_s = number_at(soak, {"retention_s"});
  f.refused = number_at(soak, {"failed"}) + number_at(soak, {"transport_errors"});
  f.max_send_lag_s = number_at(soak, {"max_send_lag_ms"}) / 1000;
  f.used_start_mib = used.front() / k_mib;
  f.used_end_mib = used.back() / k_mib;
  f.used_peak_mib = *std::max_element(used.begin(), used.end()) / k_mib;

  // The window is full once the orders held stop rising: judged against their level at the end.
  const double tail_start = f.seconds - std::min(60.0, f.seconds / 3);
  f.orders_level = mean_from(orders, index_at(t, tail_start));
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (orders[i] >= 0.9 * f.orders_level && f.orders_level > 0) {
      f.full_at_s = t[i];
      break;
    }
  }
  const double since_full = f.full_at_s >= 0 ? f.seconds - f.full_at_s : 0;
  f.window_s = since_full >= 10 ? std::min(60.0, since_full) : f.seconds / 3;
  const std::size_t first = index_at(t, f.seconds - f.window_s);
  f.orders_level = mean_from(orders, first);
  f.used_growth_mib = slope(t, used, first) * f.window_s / k_mib;
  f.orders_growth = slope(t, orders, first) * f.window_s;
  f.log_entries_growth = slope(t, entries, first) * f.window_s;
  f.log_entries_end = entries.back();

  const auto split = [&](const char* kind) { return number_at(series, {"split", kind}) / k_mib; };
  f.log_mib = split("log");
  f.orders_mib = split("o");
  f.time_index_mib = split("t");
  if (auto s = series.find("split"); s != series.end() && s->value().is_object()) {
    for (const auto& kv : s->value().as_object()) {
      const std::string_view kind = kv.key();
      if (kind != "log" && kind != "o" && kind != "t" && kv.value().is_number())
        f.other_mib += kv.value().to_number<double>() / k_mib;
    }
  }
  f.memory_usage_log_bytes_per_entry =
      f.log_entries_end > 0 ? f.log_mib * k_mib / f.log_entries_end : 0;
  f.log_bytes_per_entry = f.memory_usage_log_bytes_per_entry;
  if (const auto fit = fit2(orders, entries, used)) {
    f.fitted = true;
    f.base_mib = (*fit)[0] / k_mib;
    f.bytes_per_order_held = (*fit)[1];
    f.log_bytes_per_entry = (*fit)[2];
  }
  return f;
}

std::vector<std::string> soak_lines(const soak_figures& f) {
  if (!f.valid) return {"soak          no Redis series in the result"};
  std::vector<std::string> lines;
  std::string pushes;
  if (f.refused > 0 || f.max_send_lag_s > 1) {
    // An open loop the box cannot keep up with sends late; past security.timestamp_skew_s
    // (under half the retention) topupd refuses the request as 1004.
    pushes = "; generator behind: sent up to " + fixed(f.max_send_lag_s, 1) + " s late, " +
             count_text(f.refused) + " pushes refused";
  }
  lines.push_back("soak          " + fixed(f.seconds, 0) + " s at " + fixed(f.rate, 0) +
                  "/s, retention " + fixed(f.retention_s, 0) + " s: Redis used_memory " +
                  fixed(f.used_start_mib, 1) + " -> " + fixed(f.used_end_mib, 1) + " MiB (peak " +
                  fixed(f.used_peak_mib, 1) + "); orders held " +
                  (f.full_at_s >= 0 ? "level at ~" + count_text(f.orders_level) + " from " +
                                          fixed(f.full_at_s, 0) + " s"
                                    : "never levelled") +
                  pushes);
  const double log_growth_mib = f.log_entries_growth * f.log_bytes_per_entry / k_mib;
  lines.push_back("              last " + fixed(f.window_s, 0) + " s: used_memory " +
                  signed_text(f.used_growth_mib, 1) + " MiB, orders held " +
                  signed_text(f.orders_growth, 0) + ", log " +
                  signed_text(f.log_entries_growth, 0) + " entries (~" +
                  signed_text(log_growth_mib, 1) + " MiB at " + fixed(f.log_bytes_per_entry, 0) +
                  " B/entry): all but the log " +
                  signed_text(f.used_growth_mib - log_growth_mib, 1) + " MiB");
  if (f.fitted) {
    lines.push_back("              fit over the run: used_memory = " + fixed(f.base_mib, 1) +
                    " MiB + " + fixed(f.bytes_per_order_held, 0) + " B x orders held + " +
                    fixed(f.log_bytes_per_entry, 0) + " B x log entries; at the end the logs ~" +
                    fixed(f.log_entries_end * f.log_bytes_per_entry / k_mib, 1) + " MiB (" +
                    count_text(f.log_entries_end) + " entries) of " + fixed(f.used_end_mib, 1));
  }
  lines.push_back("              MEMORY USAGE at the end: logs " + fixed(f.log_mib, 1) + " MiB (" +
                  fixed(f.memory_usage_log_bytes_per_entry, 0) + " B/entry, an overestimate), o " +
                  fixed(f.orders_mib, 1) + " MiB, t " + fixed(f.time_index_mib, 1) +
                  " MiB, other keys " + fixed(f.other_mib, 1) + " MiB");
  return lines;
}

json::object soak_json(const soak_figures& f) {
  return json::object{{"seconds", f.seconds},
                      {"rate", f.rate},
                      {"retention_s", f.retention_s},
                      {"used_memory_start_mib", f.used_start_mib},
                      {"used_memory_end_mib", f.used_end_mib},
                      {"used_memory_peak_mib", f.used_peak_mib},
                      {"orders_level", f.orders_level},
                      {"full_at_s", f.full_at_s},
                      {"window_s", f.window_s},
                      {"used_memory_growth_in_window_mib", f.used_growth_mib},
                      {"orders_growth_in_window", f.orders_growth},
                      {"log_entries_growth_in_window", f.log_entries_growth},
                      {"fitted", f.fitted},
                      {"fit_base_mib", f.base_mib},
                      {"fit_bytes_per_order_held", f.bytes_per_order_held},
                      {"log_bytes_per_entry", f.log_bytes_per_entry},
                      {"memory_usage_log_bytes_per_entry", f.memory_usage_log_bytes_per_entry},
                      {"log_growth_in_window_mib",
                       f.log_entries_growth * f.log_bytes_per_entry / k_mib},
                      {"memory_usage_end_mib", json::object{{"log", f.log_mib},
                                                     {"o", f.orders_mib},
                                                     {"t", f.time_index_mib},
                                                     {"other", f.other_mib}}}};
}

std::string soak_panel_svg(const json::object& soak, const soak_figures& f, double top,
                           double width) {
  std::ostringstream s;
  const double x0 = 70, w = width - 150, y0 = top + 30, h = k_soak_panel_height - 160;
  s << "<text x=\"" << x0 << "\" y=\"" << top + 12
    << "\" font-weight=\"bold\">soak: Redis memory and orders held over time (retention "
    << fixed(f.retention_s, 0) << " s, " << fixed(f.rate, 0) << " pushes/s)</text>\n";
  if (!f.valid) return s.str();
  const json::object& series = soak.at("redis_memory").as_object();
  const auto t = series_of(series, "t_s");
  const auto used = series_of(series, "used_memory");
  const auto orders = series_of(series, "orders");
  const auto entries = series_of(series, "log_entries");
  const double t_top = std::max(f.seconds, 1.0);
  const double mib_top = axis_top(f.used_peak_mib);
  const double orders_top = axis_top(*std::max_element(orders.begin(), orders.end()));
  const auto x_of = [&](double v) { return x0 + w * v / t_top; };
  const auto y_of = [&](double v, double axis) { return y0 + h - h * v / axis; };
  // axis_top is 1, 1.5, 2, 3 ... times a power of ten: fifths of it are round.
  for (int i = 0; i <= 5; ++i) {
    const double y = y0 + h - h * i / 5;
    s << "<line x1=\"" << x0 << "\" x2=\"" << x0 + w << "\" y1=\"" << y << "\" y2=\"" << y
      << "\" stroke=\"#ddd\"/>\n<text x=\"" << x0 - 6 << "\" y=\"" << y + 4
      << "\" text-anchor=\"end\" fill=\"#4e79a7\">" << fixed(mib_top * i / 5, 0)
      << "</text>\n<text x=\"" << x0 + w + 6 << "\" y=\"" << y + 4 << "\" fill=\"#f28e2b\">"
      << count_text(orders_top * i / 5) << "</text>\n";
  }
  for (int i = 0; i <= 6; ++i) {
    const double v = t_top * i / 6;
    s << "<text x=\"" << x_of(v) << "\" y=\"" << y0 + h + 16 << "\" text-anchor=\"middle\">"
      << fixed(v, 0) << " s</text>\n";
  }
  if (f.retention_s > 0 && f.retention_s < t_top) {
    s << "<line x1=\"" << x_of(f.retention_s) << "\" x2=\"" << x_of(f.retention_s) << "\" y1=\""
      << y0 << "\" y2=\"" << y0 + h << "\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>\n<text x=\""
      << x_of(f.retention_s) + 4 << "\" y=\"" << y0 + 12 << "\" fill=\"#777\">retention</text>\n";
  }
  struct line {
    const std::vector<double>* values;
    double scale;  // multiplies each value
    double axis;
    const char* color;
    const char* dash;
    const char* name;
  };
  // What a trimmed log would leave: used_memory less the log's estimate.
  std::vector<double> rest(used.size());
  for (std::size_t i = 0; i < used.size(); ++i) rest[i] = used[i] - entries[i] * f.log_bytes_per_entry;
  const line lines[] = {
      {&used, 1 / k_mib, mib_top, "#4e79a7", "", "used_memory (MiB, left)"},
      {&rest, 1 / k_mib, mib_top, "#59a14f", "", "used_memory less the logs"},
      {&entries, f.log_bytes_per_entry / k_mib, mib_top, "#4e79a7", "5 4",
       "logs (entries x fitted B/entry)"},
      {&orders, 1, orders_top, "#f28e2b", "", "orders held (right)"},
  };
  double legend_x = x0;
  for (const auto& l : lines) {
    s << "<polyline fill=\"none\" stroke=\"" << l.color << "\" stroke-width=\"1.5\"";
    if (*l.dash) s << " stroke-dasharray=\"" << l.dash << "\"";
    s << " points=\"";
    for (std::size_t i = 0; i < t.size() && i < l.values->size(); ++i)
      s << fixed(x_of(t[i]), 1) << ',' << fixed(y_of((*l.values)[i] * l.scale, l.axis), 1) << ' ';
    s << "\"/>\n<line x1=\"" << legend_x << "\" x2=\"" << legend_x + 24 << "\" y1=\""
      << y0 + h + 34 << "\" y2=\"" << y0 + h + 34 << "\" stroke=\"" << l.color
      << "\" stroke-width=\"2\"" << (*l.dash ? std::string(" stroke-dasharray=\"") + l.dash + "\"" : "")
      << "/>\n<text x=\"" << legend_x + 30 << "\" y=\"" << y0 + h + 38 << "\">"
      << xml_escape(l.name) << "</text>\n";
    legend_x += 50 + 6.8 * static_cast<double>(std::string_view(l.name).size());
  }
  const auto summary = soak_lines(f);
  for (std::size_t i = 1; i < summary.size(); ++i) {
    s << "<text x=\"" << x0 << "\" y=\"" << y0 + h + 40 + 18 * static_cast<double>(i)
      << "\" font-size=\"11\">" << xml_escape(summary[i].substr(14)) << "</text>\n";
  }
  return s.str();
}

}  // namespace topup::bench
