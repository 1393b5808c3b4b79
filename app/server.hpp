#pragma once
#include "engine/config/config.hpp"

namespace topup::app {

/// Runs topupd until SIGTERM/SIGINT; returns the process exit code.
int run_server(engine::config cfg);

}  // namespace topup::app
