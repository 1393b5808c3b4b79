#pragma once
// How topupd connects to Redis, from the config's `redis` section (the server and `audit` alike).
#include "engine/config/config.hpp"
#include "engine/redis/connection.hpp"

namespace topup::app {

engine::redis::connection_options redis_options(const engine::config& cfg);

}  // namespace topup::app
