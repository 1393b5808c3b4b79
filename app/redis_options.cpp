#include "app/redis_options.hpp"

namespace topup::app {

engine::redis::connection_options redis_options(const engine::config& cfg) {
  engine::redis::connection_options o;
  o.host = cfg.redis.host;
  o.port = cfg.redis.port;
  o.password = cfg.redis.password;
  o.connect_timeout = std::chrono::milliseconds(cfg.redis.connect_timeout_ms);
  o.command_timeout = std::chrono::milliseconds(cfg.redis.command_timeout_ms);
  if (cfg.redis.cluster) o.cluster_nodes = cfg.redis.nodes;
  return o;
}

std::string redis_address(const engine::config& cfg) {
  if (!cfg.redis.cluster) return cfg.redis.host + ":" + std::to_string(cfg.redis.port);
  std::string nodes = "cluster ";
  for (std::size_t i = 0; i < cfg.redis.nodes.size(); ++i)
    nodes.append(i == 0 ? "" : ",").append(cfg.redis.nodes[i]);
  return nodes;
}

}  // namespace topup::app
