#pragma once
#include <optional>

#include "engine/config/config.hpp"
#include "protocol/tls_server_context.hpp"

namespace topup::app {

/// Runs topupd until SIGTERM/SIGINT; returns the process exit code. `tls`: what
/// protocol::load_server_tls made of cfg.server.tls (nullopt: plain HTTP).
int run_server(engine::config cfg, std::optional<protocol::server_tls_credentials> tls);

}  // namespace topup::app
