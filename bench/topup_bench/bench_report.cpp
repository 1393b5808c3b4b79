#include "bench/topup_bench/bench_report.hpp"

#include <sys/utsname.h>
#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "bench/topup_bench/report_format.hpp"
#include "bench/topup_bench/soak_report.hpp"

namespace topup::bench {

namespace json = boost::json;

namespace {

std::optional<json::object> read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  boost::system::error_code ec;
  json::value v = json::parse(ss.str(), ec);
  if (ec || !v.is_object()) return std::nullopt;
  return v.as_object();
}

/// Latency in ms with a precision that suits its size: 0.123, 12.3, 1234.
std::string ms(double v) {
  if (v <= 0) return "-";
  if (v < 10) return fixed(v, 3);
  if (v < 1000) return fixed(v, 1);
  return fixed(v, 0);
}

/// A power of ten as an axis label: 0.01, 0.1, 1, 10, 100.
std::string axis_label(double v) {
  if (v >= 1) return fixed(v, 0);
  const int decimals = static_cast<int>(std::ceil(-std::log10(v) - 1e-9));
  return fixed(v, decimals);
}

std::string pad(std::string s, std::size_t width, bool right = false) {
  // Table cells are ASCII only, so bytes = columns.
  if (s.size() >= width) return s;
  return right ? std::string(width - s.size(), ' ') + s : s + std::string(width - s.size(), ' ');
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        auto model = line.substr(colon + 1);
        model.erase(0, model.find_first_not_of(' '));
        return model;
      }
    }
  }
  return "unknown";
}

std::string now_utc() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

/// One row of the throughput chart and of the latency chart.
struct chart_row {
  std::string label;
  double rate = 0;
  std::vector<double> latency_ms;  // p50 p90 p99 p99.9 max; empty: none
};

std::vector<double> latency_of(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_object()) return {};
  const auto& l = it->value().as_object();
  if (number_at(l, {"count"}) <= 0) return {};
  return {number_at(l, {"p50"}), number_at(l, {"p90"}), number_at(l, {"p99"}),
          number_at(l, {"p999"}), number_at(l, {"max"})};
}

constexpr int k_chart_width = 1000;

/// The opening of the chart's SVG document: its size, a white page and the title.
std::string svg_open(double height, const std::string& title) {
  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << k_chart_width << "\" height=\""
    << height << "\" viewBox=\"0 0 " << k_chart_width << ' ' << height
    << "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n"
    << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    << "<text x=\"20\" y=\"28\" font-size=\"16\" font-weight=\"bold\">" << xml_escape(title)
    << "</text>\n";
  return s.str();
}

/// A panel drawn under the footer (the soak's), given the y it starts at.
struct chart_panel {
  std::function<std::string(double top)> draw;
  double height = 0;
};

std::string svg_chart(const std::vector<chart_row>& rows, const std::string& title,
                      const std::vector<std::string>& footer, const chart_panel& panel) {
  const double left_x = 70, left_w = 360, top = 70, plot_h = 330;
  const double footer_top = top + plot_h + 85;
  const double panel_top = footer_top + 18 * static_cast<double>(footer.size());
  std::ostringstream s;
  s << svg_open(panel_top + panel.height + 10, title);

  // Left: throughput, linear scale.
  double max_rate = 1;
  for (const auto& r : rows) max_rate = std::max(max_rate, r.rate);
  const double axis_max = axis_top(max_rate);
  s << "<text x=\"" << left_x << "\" y=\"" << top - 14
    << "\" font-weight=\"bold\">Throughput per second (ratio to ceiling below)</text>\n";
  for (int i = 0; i <= 5; ++i) {
    const double v = axis_max * i / 5;
    const double y = top + plot_h - plot_h * i / 5;
    s << "<line x1=\"" << left_x << "\" x2=\"" << left_x + left_w << "\" y1=\"" << y << "\" y2=\""
      << y << "\" stroke=\"#ddd\"/>\n"
      << "<text x=\"" << left_x - 6 << "\" y=\"" << y + 4 << "\" text-anchor=\"end\">"
      << fixed(v, 0) << "</text>\n";
  }
  const double slot = left_w / std::max<std::size_t>(rows.size(), 1);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const double h = plot_h * rows[i].rate / axis_max;
    const double x = left_x + slot * i + slot * 0.15;
    s << "<rect x=\"" << x << "\" y=\"" << top + plot_h - h << "\" width=\"" << slot * 0.7
      << "\" height=\"" << h << "\" fill=\"#4e79a7\"/>\n"
      << "<text x=\"" << x + slot * 0.35 << "\" y=\"" << top + plot_h - h - 4
      << "\" text-anchor=\"middle\">" << fixed(rows[i].rate, 0) << "</text>\n"
      << "<text x=\"" << x + slot * 0.35 << "\" y=\"" << top + plot_h + 16
      << "\" text-anchor=\"middle\" font-size=\"11\">" << xml_escape(rows[i].label) << "</text>\n";
    if (!rows.empty() && rows[0].rate > 0) {
      s << "<text x=\"" << x + slot * 0.35 << "\" y=\"" << top + plot_h + 30
        << "\" text-anchor=\"middle\" font-size=\"10\" fill=\"#555\">"
        << fixed(rows[i].rate / rows[0].rate, 3) << "x</text>\n";
    }
  }

  // Right: latency percentiles per scenario, log scale.
  const double right_x = 540, right_w = 430;
  double lo = 1e9, hi = 0;
  for (const auto& r : rows)
    for (double v : r.latency_ms)
      if (v > 0) lo = std::min(lo, v), hi = std::max(hi, v);
  if (hi <= 0) lo = 0.01, hi = 1;
  const double log_lo = std::floor(std::log10(lo));
  const double log_hi = std::max(std::ceil(std::log10(hi)), log_lo + 1);
  const auto y_of = [&](double v) {
    const double f = (std::log10(std::max(v, std::pow(10.0, log_lo))) - log_lo) / (log_hi - log_lo);
    return top + plot_h - plot_h * f;
  };
  s << "<text x=\"" << right_x << "\" y=\"" << top - 14
    << "\" font-weight=\"bold\">Latency (ms, log scale)</text>\n";
  for (double e = log_lo; e <= log_hi + 1e-9; e += 1) {
    const double y = y_of(std::pow(10.0, e));
    s << "<line x1=\"" << right_x << "\" x2=\"" << right_x + right_w << "\" y1=\"" << y
      << "\" y2=\"" << y << "\" stroke=\"#ddd\"/>\n"
      << "<text x=\"" << right_x - 6 << "\" y=\"" << y + 4 << "\" text-anchor=\"end\">"
      << axis_label(std::pow(10.0, e)) << "</text>\n";
  }
  const char* colors[] = {"#59a14f", "#edc948", "#f28e2b", "#e15759", "#76b7b2"};
  const char* names[] = {"p50", "p90", "p99", "p99.9", "max"};
  const double rslot = right_w / std::max<std::size_t>(rows.size(), 1);
  const double bar_w = rslot * 0.8 / 5;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const double x0 = right_x + rslot * i + rslot * 0.1;
    for (std::size_t k = 0; k < rows[i].latency_ms.size() && k < 5; ++k) {
      const double v = rows[i].latency_ms[k];
      const double y = y_of(v);
      s << "<rect x=\"" << x0 + bar_w * k << "\" y=\"" << y << "\" width=\"" << bar_w * 0.92
        << "\" height=\"" << top + plot_h - y << "\" fill=\"" << colors[k] << "\"><title>"
        << xml_escape(rows[i].label) << ' ' << names[k] << ": " << ms(v) << " ms</title></rect>\n";
    }
    if (rows[i].latency_ms.size() > 2) {
      s << "<text x=\"" << x0 + bar_w * 2.5 << "\" y=\"" << y_of(rows[i].latency_ms[4]) - 4
        << "\" text-anchor=\"middle\" font-size=\"10\">p99 " << ms(rows[i].latency_ms[2])
        << "</text>\n";
    }
    s << "<text x=\"" << x0 + bar_w * 2.5 << "\" y=\"" << top + plot_h + 16
      << "\" text-anchor=\"middle\" font-size=\"11\">" << xml_escape(rows[i].label) << "</text>\n";
  }
  for (std::size_t k = 0; k < 5; ++k) {
    const double x = right_x + 10 + 70.0 * k;
    s << "<rect x=\"" << x << "\" y=\"" << top + plot_h + 40
      << "\" width=\"12\" height=\"12\" fill=\"" << colors[k] << "\"/><text x=\"" << x + 16
      << "\" y=\"" << top + plot_h + 50 << "\">" << names[k] << "</text>\n";
  }
  double y = footer_top;
  for (const auto& line : footer) {
    s << "<text x=\"20\" y=\"" << y << "\" font-size=\"12\">" << xml_escape(line) << "</text>\n";
    y += 18;
  }
  if (panel.draw) s << panel.draw(panel_top);
  s << "</svg>\n";
  return s.str();
}

json::object machine_json() {
  utsname uts{};
  ::uname(&uts);
  json::object machine;
  machine["cpus"] = std::thread::hardware_concurrency();
  machine["cpu_model"] = cpu_model();
  machine["kernel"] = std::string(uts.sysname) + " " + uts.release;
  machine["note"] = "client (topup-bench), redis-server and topupd share these cores";
  return machine;
}

std::string chart_title(const std::optional<json::object>& run) {
  std::string mode = "run";
  if (run) {
    if (auto it = run->find("mode"); it != run->end() && it->value().is_string())
      mode = std::string(it->value().as_string()) + " run";
  }
  return "topupd benchmark, " + mode + ", " + now_utc() + ", " +
         std::to_string(std::thread::hardware_concurrency()) +
         " cores: client, redis-server, topupd";
}

/// Writes `text` to `path`; false (said on stderr) if it cannot.
bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out) std::cerr << "report: cannot write " << path << "\n";
  return static_cast<bool>(out);
}

/// The soak's panel of the chart.
chart_panel soak_panel(const json::object& soak, const soak_figures& figures) {
  return {[&soak, figures](double top) {
            return soak_panel_svg(soak, figures, top, k_chart_width);
          },
          k_soak_panel_height};
}

/// A run of the soak alone (`run.sh --only soak`): its lines, latest.json and its panel as the
/// chart; no RESULT line, since the figures it is made of were not measured.
int write_soak_report(const report_paths& paths, const std::optional<json::object>& run,
                      const json::object& soak) {
  const soak_figures figures = analyse_soak(soak);
  std::cout << "\n";
  for (const auto& line : soak_lines(figures)) std::cout << line << "\n";
  json::object root;
  root["generated_at"] = now_utc();
  if (run) root["run"] = *run;
  root["machine"] = machine_json();
  root["result"] = json::object{{"soak", soak_json(figures)}};
  root["scenarios"] = json::object{{"soak", soak}};
  const chart_panel panel = soak_panel(soak, figures);
  const std::string svg = svg_open(50 + panel.height, chart_title(run)) + panel.draw(50) + "</svg>\n";
  if (!write_file(paths.json_out, json::serialize(root) + "\n") || !write_file(paths.svg_out, svg))
    return 1;
  std::cout << "\nwrote " << paths.json_out << " and " << paths.svg_out
            << " (the soak alone: no RESULT line)\n";
  return 0;
}

/// `run.sh --only replica`: intake with and without a replica confirming each batch
/// (redis.min_replicas_acked 1), side by side, as a ratio of the same run; no RESULT line.
int write_replica_report(const report_paths& paths, const std::optional<json::object>& run,
                         const json::object& intake, const json::object& replica) {
  const double plain = number_at(intake, {"rate"}), waited = number_at(replica, {"rate"});
  const auto l_plain = latency_of(intake, "latency_ms"), l_wait = latency_of(replica, "latency_ms");
  std::cout << "\nintake          " << fixed(plain, 0) << " orders/s";
  if (l_plain.size() == 5) std::cout << "  p50 " << fixed(l_plain[0], 2) << " ms  p99 " << fixed(l_plain[2], 2) << " ms";
  std::cout << "\nintake_replica  " << fixed(waited, 0) << " orders/s";
  if (l_wait.size() == 5) std::cout << "  p50 " << fixed(l_wait[0], 2) << " ms  p99 " << fixed(l_wait[2], 2) << " ms";
  std::cout << "\nreplica / plain " << (plain > 0 ? fixed(waited / plain, 3) : std::string("-")) << "x\n";
  json::object root;
  root["generated_at"] = now_utc();
  if (run) root["run"] = *run;
  root["machine"] = machine_json();
  root["result"] = json::object{{"intake_rps", plain}, {"intake_replica_rps", waited},
                                {"replica_vs_plain", plain > 0 ? waited / plain : 0.0}};
  root["scenarios"] = json::object{{"intake", intake}, {"intake_replica", replica}};
  if (!write_file(paths.json_out, json::serialize(root) + "\n")) return 1;
  std::cout << "\nwrote " << paths.json_out << " (intake with and without a replica: no RESULT line)\n";
  return 0;
}

}  // namespace

int write_report(const report_paths& paths) {
  const auto file = [&](const char* name) { return paths.results_dir + "/" + name + ".json"; };
  const auto ceiling = read_json(file("ceiling"));
  const auto intake = read_json(file("intake"));
  const auto intake_always = read_json(file("intake_always"));
  const auto intake_tls = read_json(file("intake_tls"));  // full runs only, like intake_always
  const auto intake_replica = read_json(file("intake_replica"));  // full runs only
  const auto lifecycle = read_json(file("lifecycle"));
  const auto latency = read_json(file("latency"));
  const auto memory = read_json(file("memory"));
  const auto run = read_json(paths.results_dir + "/run.json");
  const auto redis_cost = read_json(file("redis_cost"));  // optional: bench/run.sh step 6
  const auto soak = read_json(file("soak"));              // optional: bench/run.sh step 7
  // run.sh --only soak may leave the ceiling and intake it measured the soak's rate with.
  if (soak && !(ceiling && intake && lifecycle && latency && memory))
    return write_soak_report(paths, run, *soak);
  if (intake && intake_replica && !(lifecycle && latency && memory))
    return write_replica_report(paths, run, *intake, *intake_replica);
  for (auto [name, value] : {std::pair{"ceiling", &ceiling},
                             {"intake", &intake},
                             {"lifecycle", &lifecycle},
                             {"latency", &latency},
                             {"memory", &memory}}) {
    if (!*value) {
      std::cerr << "report: missing or unreadable " << file(name) << "\n";
      return 1;
    }
  }

  const double ceiling_rps = number_at(*ceiling, {"rate"});
  const double intake_rps = number_at(*intake, {"rate"});
  const double lifecycle_rps = number_at(*lifecycle, {"callbacks", "rate"});
  const double push_p99_ms = number_at(*latency, {"latency_ms", "p99"});
  const double push_p999_ms = number_at(*latency, {"latency_ms", "p999"});
  const double bytes_per_order = number_at(*memory, {"memory", "bytes_per_order"});
  const double intake_ratio = ceiling_rps > 0 ? intake_rps / ceiling_rps : 0;
  const double lifecycle_ratio = ceiling_rps > 0 ? lifecycle_rps / ceiling_rps : 0;

  // The table.
  struct row {
    std::string name, what, load;
    double rate;
    std::vector<double> lat;
    std::string notes;
    std::string cpu;
  };
  // "topupd/redis/bench" share of one core during the run, in percent.
  const auto cpu_text = [](const json::object& o) {
    std::string text;
    for (const char* k :
         {"topupd_core_share", "redis_core_share", "bench_core_share", "others_core_share"}) {
      if (!text.empty()) text += "/";
      text += fixed(number_at(o, {"cpu", k}) * 100, 0);
    }
    return text;
  };
  const auto load_text = [](const json::object& o) {
    const std::string mode = json::value_to<std::string>(o.at("mode"));
    const auto conns = std::to_string(static_cast<long long>(number_at(o, {"connections"})));
    if (mode == "open") {
      return "open " + fixed(number_at(o, {"rate_target"}), 0) + "/s, " + conns + " conns";
    }
    return mode + ", " + conns + " conns";
  };
  const auto notes_of = [](const json::object& o) {
    std::string notes;
    const auto failed = number_at(o, {"failed"}) + number_at(o, {"transport_errors"});
    if (failed > 0) notes += fixed(failed, 0) + " failed; ";
    if (number_at(o, {"unanswered"}) > 0)
      notes += fixed(number_at(o, {"unanswered"}), 0) + " unanswered; ";
    if (auto it = o.find("pool_exhausted");
        it != o.end() && it->value().is_bool() && it->value().as_bool())
      notes += "ran out of prepared orders; ";
    return notes;
  };
  // A scenario's row from its result alone (rate = answers per second in the window).
  const auto plain_row = [&](std::string name, std::string what, const json::object& o,
                             std::string notes) {
    return row{std::move(name),
               std::move(what),
               load_text(o),
               number_at(o, {"rate"}),
               latency_of(o, "latency_ms"),
               notes_of(o) + notes,
               cpu_text(o)};
  };
  std::vector<row> rows;
  rows.push_back(plain_row("ceiling", "GET /healthz", *ceiling, ""));
  rows.push_back(plain_row("intake", "pushOrder acked (AOF everysec)", *intake, ""));
  if (intake_always)
    rows.push_back(plain_row("intake_always", "pushOrder acked (AOF always)", *intake_always, ""));
  double intake_tls_rps = 0;
  if (intake_tls) {
    intake_tls_rps = number_at(*intake_tls, {"rate"});
    // On a shared box the rates move with the neighbours; topupd's CPU per order says what TLS
    // itself costs.
    const auto topupd_us = [](const json::object& o) {
      return fixed(number_at(o, {"cpu", "topupd_us_per_op"}), 1);
    };
    std::string notes =
        "topupd " + topupd_us(*intake_tls) + " us/order (plain " + topupd_us(*intake) + ")";
    if (intake_rps > 0) notes = fixed(intake_tls_rps / intake_rps, 3) + "x plain intake; " + notes;
    rows.push_back(plain_row("intake_tls", "pushOrder acked, TLS (everysec)", *intake_tls, notes));
  }
  if (intake_replica) {
    // What redis.min_replicas_acked costs: a WAIT per batch, the rate and latency beside intake's.
    const double rps = number_at(*intake_replica, {"rate"});
    std::string notes = "min_replicas_acked 1";
    if (intake_rps > 0) notes = fixed(rps / intake_rps, 3) + "x plain intake; " + notes;
    rows.push_back(
        plain_row("intake_replica", "pushOrder acked after WAIT 1 replica", *intake_replica, notes));
  }
  {
    std::string notes = notes_of(*lifecycle);
    notes += "pushes " + fixed(number_at(*lifecycle, {"rate"}), 0) + "/s; called back " +
             fixed(number_at(*lifecycle, {"callbacks", "succeeded"}), 0) + "/" +
             fixed(number_at(*lifecycle, {"ok"}), 0);
    rows.push_back({"lifecycle", "push -> status 2 -> callback (e2e)", load_text(*lifecycle),
                    lifecycle_rps, latency_of(lifecycle->at("callbacks").as_object(), "e2e_ms"),
                    notes, cpu_text(*lifecycle)});
  }
  {
    std::string notes = notes_of(*latency);
    notes += "max send lag " + ms(number_at(*latency, {"max_send_lag_ms"})) + " ms";
    rows.push_back({"latency", "pushOrder at 50% of intake", load_text(*latency),
                    number_at(*latency, {"rate"}), latency_of(*latency, "latency_ms"), notes,
                    cpu_text(*latency)});
  }
  std::optional<soak_figures> soak_result;
  if (soak) {
    soak_result = analyse_soak(*soak);
    // Its rate and latencies are the pushes' (open loop), with lifecycle and retention running.
    const std::string notes = "push latency; called back " +
                              fixed(number_at(*soak, {"callbacks", "succeeded"}), 0) + "/" +
                              fixed(number_at(*soak, {"ok"}), 0) + "; max send lag " +
                              ms(number_at(*soak, {"max_send_lag_ms"})) + " ms";
    rows.push_back(plain_row("soak", "lifecycle with retention " +
                                         fixed(soak_result->retention_s, 0) + " s",
                             *soak, notes));
  }

  std::cout << "\n"
            << pad("scenario", 14) << pad("what", 36) << pad("load", 24) << pad("rate/s", 9, true)
            << pad("ratio", 7, true) << pad("p50", 9, true) << pad("p90", 9, true)
            << pad("p99", 9, true) << pad("p99.9", 9, true) << pad("max", 9, true)
            << pad("cpu% t/r/b/o", 16, true) << "  notes\n";
  for (const auto& r : rows) {
    std::cout << pad(r.name, 14) << pad(r.what, 36) << pad(r.load, 24)
              << pad(fixed(r.rate, 0), 9, true)
              << pad(ceiling_rps > 0 ? fixed(r.rate / ceiling_rps, 3) : "-", 7, true);
    for (std::size_t k = 0; k < 5; ++k) {
      std::cout << pad(k < r.lat.size() ? ms(r.lat[k]) : "-", 9, true);
    }
    std::cout << pad(r.cpu, 16, true) << "  " << r.notes << "\n";
  }
  std::cout
      << "(latencies in ms; lifecycle latency is push sent -> callback received; cpu% = share\n"
         " of one core used during the run by topupd / redis-server / topup-bench / all other\n"
         " processes on the machine)\n";
  const double orders = number_at(*memory, {"memory", "orders"});
  const double rss_before = number_at(*memory, {"memory", "rss_before_kb"});
  const double rss_after = number_at(*memory, {"memory", "rss_after_kb"});
  std::cout << pad("memory", 14) << fixed(orders, 0) << " slow orders waiting in 6: topupd RSS "
            << fixed(rss_before / 1024, 1) << " -> " << fixed(rss_after / 1024, 1)
            << " MiB = " << fixed(bytes_per_order, 0) << " bytes/order";
  if (number_at(*memory, {"memory", "redis_rss_after_kb"}) > 0) {
    const double redis_delta = number_at(*memory, {"memory", "redis_rss_after_kb"}) -
                               number_at(*memory, {"memory", "redis_rss_before_kb"});
    std::cout << " (redis-server: +" << fixed(redis_delta * 1024 / std::max(orders, 1.0), 0)
              << " bytes/order)";
  }
  std::cout << "\n";
  {
    // Waiting orders may slow intake down as they pile up: show the push rate at the start and
    // at the end of the memory run (whole seconds; the last, partial one left out).
    std::vector<double> per_second;
    if (auto it = memory->find("ok_per_second"); it != memory->end() && it->value().is_array()) {
      for (const auto& v : it->value().as_array()) per_second.push_back(v.to_number<double>());
    }
    if (per_second.size() >= 3) {
      std::cout << pad("", 14) << "push rate while they piled up: " << fixed(per_second.front(), 0)
                << "/s in the first second, " << fixed(per_second[per_second.size() - 2], 0)
                << "/s in the last whole second\n";
    }
    if (auto it = memory->find("count_limited");
        it != memory->end() && it->value().is_bool() && it->value().as_bool()) {
      std::cout << pad("", 14) << "time limit reached: " << fixed(orders, 0) << " of "
                << fixed(number_at(*memory, {"prepared"}), 0) << " orders pushed\n";
    }
  }
  if (soak_result)
    for (const auto& line : soak_lines(*soak_result)) std::cout << line << "\n";
  // Why the ratios are what they are: with the cores saturated in both runs, a scenario's ratio
  // is about the CPU an answer to /healthz costs over the CPU an order costs (all processes).
  const auto cost_of = [](const json::object& o) {
    return number_at(o, {"cpu", "topupd_us_per_op"}) + number_at(o, {"cpu", "redis_us_per_op"}) +
           number_at(o, {"cpu", "bench_us_per_op"});
  };
  const auto cost_parts = [](const json::object& o) {
    return fixed(number_at(o, {"cpu", "topupd_us_per_op"}), 1) + "/" +
           fixed(number_at(o, {"cpu", "redis_us_per_op"}), 1) + "/" +
           fixed(number_at(o, {"cpu", "bench_us_per_op"}), 1);
  };
  const double ceiling_cost = cost_of(*ceiling);
  const double intake_cost = cost_of(*intake);
  const double lifecycle_cost = cost_of(*lifecycle);
  if (ceiling_cost > 0 && intake_cost > 0 && lifecycle_cost > 0) {
    std::cout << pad("cpu/answer", 14) << "us of CPU, topupd/redis/bench: ceiling "
              << cost_parts(*ceiling) << " = " << fixed(ceiling_cost, 1) << "; intake "
              << cost_parts(*intake) << " = " << fixed(intake_cost, 1) << " ("
              << fixed(intake_cost / ceiling_cost, 1) << "x); lifecycle " << cost_parts(*lifecycle)
              << " = " << fixed(lifecycle_cost, 1) << " ("
              << fixed(lifecycle_cost / ceiling_cost, 1) << "x)\n"
              << pad("", 14) << "ratio ~ ceiling cost / order cost: intake_ratio 0.5 allows "
              << fixed(ceiling_cost / 0.5, 1) << " us an order, lifecycle_ratio 0.3 allows "
              << fixed(ceiling_cost / 0.3, 1) << " us\n";
  }
  if (redis_cost) {
    std::cout << pad("redis/order", 14) << "redis-server alone (topup-bench redis-cost, "
              << fixed(number_at(*redis_cost, {"orders"}), 0) << " orders each):";
    if (auto it = redis_cost->find("variants"); it != redis_cost->end() && it->value().is_array()) {
      const char* separator = " ";
      for (const auto& v : it->value().as_array()) {
        if (!v.is_object()) continue;
        const auto& o = v.as_object();
        std::cout << separator << json::value_to<std::string>(o.at("variant")) << " "
                  << fixed(number_at(o, {"redis_us_per_order"}), 1) << " us "
                  << fixed(number_at(o, {"aof_bytes_per_order"}), 0) << " B AOF";
        separator = ", ";
      }
    }
    std::cout << "\n";
  }
  // On a shared machine other work competes for the same cores: say so next to the figures.
  double worst = 0;
  std::string where;
  {
    for (const auto* scenario :
         {&ceiling, &intake, &intake_always, &intake_tls, &intake_replica, &lifecycle, &latency,
          &memory, &soak}) {
      if (!*scenario) continue;
      const double share = number_at(**scenario, {"cpu", "others_core_share"});
      if (share > worst)
        worst = share, where = json::value_to<std::string>((**scenario).at("scenario"));
    }
    if (worst > 0.25) {
      std::cout << "warning: other processes used up to " << fixed(worst * 100, 0)
                << "% of a core during the run (" << where
                << "): these figures understate what topupd does on a quiet machine\n";
    }
  }
  std::cout << "\n";

  struct target {
    std::string name;
    bool met;
    std::string text;
  };
  const std::vector<target> targets = {
      {"intake_ratio", intake_ratio >= 0.5, fixed(intake_ratio, 3) + " >= 0.5"},
      {"lifecycle_ratio", lifecycle_ratio >= 0.3, fixed(lifecycle_ratio, 3) + " >= 0.3"},
      {"push_p99_ms", push_p99_ms > 0 && push_p99_ms <= 2, fixed(push_p99_ms, 3) + " <= 2"},
      {"bytes_per_order", bytes_per_order > 0 && bytes_per_order <= 1024,
       fixed(bytes_per_order, 0) + " <= 1024"},
  };
  for (const auto& t : targets) {
    std::cout << "target " << pad(t.name, 16) << pad(t.text, 16) << (t.met ? "met" : "MISSED")
              << "\n";
  }

  char result[512];
  std::snprintf(result, sizeof result,
                "RESULT ceiling_rps=%.0f intake_rps=%.0f intake_ratio=%.3f lifecycle_rps=%.0f "
                "lifecycle_ratio=%.3f push_p99_ms=%.3f bytes_per_order=%.0f",
                ceiling_rps, intake_rps, intake_ratio, lifecycle_rps, lifecycle_ratio, push_p99_ms,
                bytes_per_order);

  // latest.json
  json::object figures;
  figures["ceiling_rps"] = std::round(ceiling_rps);
  figures["intake_rps"] = std::round(intake_rps);
  figures["intake_ratio"] = intake_ratio;
  figures["lifecycle_rps"] = std::round(lifecycle_rps);
  figures["lifecycle_ratio"] = lifecycle_ratio;
  figures["push_p99_ms"] = push_p99_ms;
  figures["push_p999_ms"] = push_p999_ms;
  figures["bytes_per_order"] = std::round(bytes_per_order);
  if (intake_tls) {
    // Not in the RESULT line (its fields stay as they were): full runs only.
    figures["intake_tls_rps"] = std::round(intake_tls_rps);
    figures["intake_tls_vs_plain"] = intake_rps > 0 ? intake_tls_rps / intake_rps : 0.0;
  }
  if (soak_result) figures["soak"] = soak_json(*soak_result);  // not in the RESULT line either
  json::object targets_json;
  for (const auto& t : targets)
    targets_json[t.name] = json::object{{"met", t.met}, {"rule", t.text}};
  json::object scenarios;
  scenarios["ceiling"] = *ceiling;
  scenarios["intake"] = *intake;
  if (intake_always) scenarios["intake_always"] = *intake_always;
  if (intake_tls) scenarios["intake_tls"] = *intake_tls;
  if (intake_replica) scenarios["intake_replica"] = *intake_replica;
  scenarios["lifecycle"] = *lifecycle;
  scenarios["latency"] = *latency;
  scenarios["memory"] = *memory;
  if (redis_cost) scenarios["redis_cost"] = *redis_cost;
  if (soak) scenarios["soak"] = *soak;
  json::object root;
  root["generated_at"] = now_utc();
  if (run) root["run"] = *run;
  root["machine"] = machine_json();
  root["result"] = std::move(figures);
  root["result_line"] = result;
  root["targets"] = std::move(targets_json);
  root["scenarios"] = std::move(scenarios);
  if (!write_file(paths.json_out, json::serialize(root) + "\n")) return 1;

  // The chart.
  std::vector<chart_row> chart;
  for (const auto& r : rows) {
    std::string label = r.name;
    if (label == "intake_always") label = "always";
    if (label == "intake_tls") label = "tls";
    if (label == "latency") label = "push@50%";
    chart.push_back({label, r.rate, r.lat});
  }
  const std::string title = chart_title(run);
  std::vector<std::string> footer;
  footer.push_back("memory: " + fixed(orders, 0) + " slow orders waiting in 6 -> " +
                   fixed(bytes_per_order, 0) + " bytes/order of topupd RSS");
  {
    // Two scenarios per line keeps the line inside the chart's width.
    std::string line = "cpu % of one core, topupd/redis/bench/others:";
    for (std::size_t i = 0; i < rows.size(); ++i) {
      line += " " + rows[i].name + " " + rows[i].cpu + (i + 1 < rows.size() ? "," : "");
      if (i % 3 == 2 && i + 1 < rows.size()) {
        footer.push_back(line);
        line = "   ";
      }
    }
    footer.push_back(line);
  }
  for (const auto& t : targets) {
    footer.push_back("target " + t.name + ": " + t.text + " -> " + (t.met ? "met" : "MISSED"));
  }
  if (worst > 0.25) {
    footer.push_back("shared machine: other processes used up to " + fixed(worst * 100, 0) +
                     "% of a core during " + where + "; figures are pessimistic");
  }
  footer.push_back(result);
  const chart_panel panel = soak ? soak_panel(*soak, *soak_result) : chart_panel{};
  if (!write_file(paths.svg_out, svg_chart(chart, title, footer, panel))) return 1;
  std::cout << "\nwrote " << paths.json_out << " and " << paths.svg_out << "\n";
  std::cout << result << std::endl;
  return 0;
}

}  // namespace topup::bench
