#pragma once
// One spdlog logger per library: "engine", "protocol", "channels.<kind>".
#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace topup {

/// Returns the named logger, creating it (stderr, shared level) on first use. Thread-safe.
/// Every line it writes shows mobile numbers masked (`138****8000`, spec §8).
std::shared_ptr<spdlog::logger> logger(const std::string& name);

/// Sets the level of every logger, present and future ("trace".."off"). Returns false if unknown.
bool set_log_level(const std::string& level);

/// `inner` behind the mask every logger() line goes through (for tests of the mask itself).
spdlog::sink_ptr masking(spdlog::sink_ptr inner);

}  // namespace topup
