#pragma once
// How topupd connects to Redis, from the config's `redis` section (the server and `audit` alike).
#include <string>

#include "engine/config/config.hpp"
#include "engine/redis/connection.hpp"

namespace topup::app {

engine::redis::connection_options redis_options(const engine::config& cfg);

/// Where Redis is, for messages: "host:port", or "cluster host:port,host:port" (the seeds).
std::string redis_address(const engine::config& cfg);

}  // namespace topup::app
