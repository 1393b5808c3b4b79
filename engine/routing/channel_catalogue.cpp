#include "engine/routing/channel_catalogue.hpp"

#include <algorithm>

namespace topup::engine {

channel_catalogue::channel_catalogue(const std::vector<channel_config>& channels) {
  entries_.reserve(channels.size());
  for (const auto& c : channels) entries_.push_back({&c, c.enabled});
}

bool channel_catalogue::configured_for(const entry& e, carrier c, std::int64_t money_yuan,
                                       int recharge_type) {
  const auto& cfg = *e.config;
  return std::ranges::find(cfg.carriers, c) != cfg.carriers.end() &&
         std::ranges::find(cfg.amounts, money_yuan) != cfg.amounts.end() &&
         std::ranges::find(cfg.recharge_types, recharge_type) != cfg.recharge_types.end();
}

bool channel_catalogue::amount_served(std::int64_t money_yuan) const {
  return std::ranges::any_of(entries_, [&](const entry& e) {
    return e.enabled && std::ranges::find(e.config->amounts, money_yuan) != e.config->amounts.end();
  });
}

bool channel_catalogue::order_served(carrier c, std::int64_t money_yuan, int recharge_type,
                                     std::string_view source, bool simulated_only) const {
  return std::ranges::any_of(entries_, [&](const entry& e) {
    return (source.empty() || e.config->id == source) && e.enabled &&
           (!simulated_only || e.config->simulated()) &&
           configured_for(e, c, money_yuan, recharge_type);
  });
}

std::vector<std::int64_t> channel_catalogue::amounts_for(carrier c, bool simulated_only) const {
  std::vector<std::int64_t> out;
  for (const auto& e : entries_) {
    if (!e.enabled || std::ranges::find(e.config->carriers, c) == e.config->carriers.end()) continue;
    if (simulated_only && !e.config->simulated()) continue;
    out.insert(out.end(), e.config->amounts.begin(), e.config->amounts.end());
  }
  std::ranges::sort(out);
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool channel_catalogue::set_enabled(std::string_view channel_id, bool enabled) {
  for (auto& e : entries_)
    if (e.config->id == channel_id) {
      e.enabled = enabled;
      return true;
    }
  return false;
}

bool channel_catalogue::exists(std::string_view channel_id) const {
  return std::ranges::any_of(entries_, [&](const entry& e) { return e.config->id == channel_id; });
}

bool channel_catalogue::enabled(std::string_view channel_id) const {
  return std::ranges::any_of(entries_, [&](const entry& e) {
    return e.config->id == channel_id && e.enabled;
  });
}

channel_catalogue::service channel_catalogue::channel_service(std::string_view channel_id,
                                                             carrier c, std::int64_t money_yuan,
                                                             int recharge_type) const {
  for (const auto& e : entries_) {
    if (e.config->id != channel_id) continue;
    if (!configured_for(e, c, money_yuan, recharge_type)) return service::never;
    return e.enabled ? service::serves : service::disabled;
  }
  return service::never;
}

}  // namespace topup::engine
