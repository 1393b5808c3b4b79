#pragma once
// One spdlog logger per library: "engine", "protocol", "channels.<kind>".
#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace topup {

/// Returns the named logger, creating it (stderr, shared level) on first use. Thread-safe.
std::shared_ptr<spdlog::logger> logger(const std::string& name);

/// Sets the level of every logger, present and future ("trace".."off"). Returns false if unknown.
bool set_log_level(const std::string& level);

}  // namespace topup
