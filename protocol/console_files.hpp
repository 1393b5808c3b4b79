#pragma once
// The console's files (protocol/console/), compiled into the binary by cmake/embed_files.cmake:
// topupd serves them with nothing else to install and no build step to run.
#include <string_view>

namespace topup::protocol {

struct console_file {
  std::string_view name;          // path under protocol/console/, e.g. "vendor/uPlot.min.css"
  std::string_view content_type;  // from the extension
  std::string_view body;
};

/// The file at `name`, or null.
const console_file* find_console_file(std::string_view name) noexcept;

}  // namespace topup::protocol
