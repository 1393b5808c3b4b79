#pragma once
// The soak scenario in the report: what its Redis series says (bench/README.md, "soak"), as
// lines under the table, figures in latest.json and a panel of the chart.
#include <boost/json/object.hpp>

#include <string>
#include <vector>

namespace topup::bench {

/// The figures of one soak result (the `redis_memory` series `topup-bench load --redis-memory`
/// writes). MiB are 2^20 bytes.
struct soak_figures {
  double seconds = 0;  ///< time of the last sample since the load started
  double rate = 0;     ///< pushes per second offered
  double retention_s = 0;
  double refused = 0;         ///< pushes not answered 0000 (or not answered at all)
  double max_send_lag_s = 0;  ///< how late the open loop sent its latest request
  double used_start_mib = 0;
  double used_end_mib = 0;
  double used_peak_mib = 0;
  double orders_level = 0;  ///< mean orders held over the last window
  double full_at_s = -1;    ///< first sample holding 90% of orders_level; -1: no sample did
  /// The last window: the last 60 s, or less when the retention window filled later than 60 s
  /// before the end (never filled: the last third).
  double window_s = 0;
  double used_growth_mib = 0;  ///< over the window, by least squares
  double orders_growth = 0;
  double log_entries_growth = 0;
  double log_entries_end = 0;
  /// used_memory fitted over the whole run (least squares) as base + bytes_per_order_held x
  /// orders + log_bytes_per_entry x log entries: what each part costs Redis in fact. Once the
  /// window is full the orders level while the log keeps growing, which tells the two apart;
  /// before that (fitted: false) log_bytes_per_entry is MEMORY USAGE's.
  bool fitted = false;
  double base_mib = 0;
  double bytes_per_order_held = 0;
  double log_bytes_per_entry = 0;
  /// The end's MEMORY USAGE of the logs / their entries. Redis estimates a stream's radix tree
  /// (a fixed overhead per node), and overstates it: compare log_bytes_per_entry.
  double memory_usage_log_bytes_per_entry = 0;
  double log_mib = 0;              ///< the end's split (MEMORY USAGE): the log streams
  double orders_mib = 0;           ///< `o`: records and order_no entries
  double time_index_mib = 0;       ///< `t`
  double other_mib = 0;            ///< every other merchant key (work, acct, ...)
  bool valid = false;              ///< false: the result has no series (or one sample)
};

soak_figures analyse_soak(const boost::json::object& soak);

/// The lines under the table, the first starting with "soak".
std::vector<std::string> soak_lines(const soak_figures& f);

/// latest.json's `result.soak`.
boost::json::object soak_json(const soak_figures& f);

/// Height of soak_panel_svg's fragment in pixels.
constexpr double k_soak_panel_height = 370;

/// An SVG fragment (no <svg> element) `width` wide from y = `top`: used_memory, the log's share of
/// it and the orders held over time, the retention window marked.
std::string soak_panel_svg(const boost::json::object& soak, const soak_figures& f, double top,
                           double width);

}  // namespace topup::bench
