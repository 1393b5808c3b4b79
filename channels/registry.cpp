#include "channels/registry.hpp"

#include <memory>
#include <utility>

#include "channels/sim/sim_adapter.hpp"
#include "channels/wikeyun/wikeyun_adapter.hpp"

namespace topup::channels {

engine::channel_adapter_factory make_channel_factory(std::string public_url, unsigned shard) {
  return [public_url = std::move(public_url), shard](
             const engine::channel_config& cfg,
             boost::asio::io_context& io) -> std::unique_ptr<engine::channel_adapter> {
    if (cfg.kind == "sim") return make_sim_adapter(cfg, io, shard);
    if (cfg.kind == "wikeyun") return make_wikeyun_adapter(cfg, io, public_url);
    return nullptr;
  };
}

}  // namespace topup::channels
