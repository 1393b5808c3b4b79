#include "app/redis_options.hpp"

namespace topup::app {

engine::redis::connection_options redis_options(const engine::config& cfg) {
  engine::redis::connection_options o;
  o.host = cfg.redis.host;
  o.port = cfg.redis.port;
  o.password = cfg.redis.password;
  o.connect_timeout = std::chrono::milliseconds(cfg.redis.connect_timeout_ms);
  o.command_timeout = std::chrono::milliseconds(cfg.redis.command_timeout_ms);
  return o;
}

}  // namespace topup::app
