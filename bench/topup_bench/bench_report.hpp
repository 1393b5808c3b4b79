#pragma once
// Turns the per-scenario result files of one bench/run.sh run into the printed table, the
// RESULT line, bench/results/latest.json and an SVG chart.
#include <string>

namespace topup::bench {

struct report_paths {
  std::string results_dir;  ///< where run.sh left <scenario>.json (and run.json)
  std::string json_out;     ///< latest.json
  std::string svg_out;      ///< the chart
};

/// Prints the table, the targets and, as its very last line, the RESULT line to stdout; writes
/// the JSON and SVG files. Returns 0, or 1 when a required scenario file is missing or broken
/// (after saying which on stderr).
int write_report(const report_paths& paths);

}  // namespace topup::bench
